"""``faultlab data list|download|info`` through faultlab.cli.main (exit codes and messages)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from faultlab.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_csv_has_one_row_per_file(capsys) -> None:
    code, out, _ = run(capsys, "data", "list", "cwru", "--format", "csv")
    assert code == 0
    df = pd.read_csv(io.StringIO(out))
    assert len(df) == 161 and df["file"].is_unique
    for col in (
        "file",
        "condition",
        "fault_location",
        "fault_diameter_in",
        "load_hp",
        "rpm",
        "sampling_rate_hz",
        "fault_end",
        "available",
    ):
        assert col in df.columns


def test_list_filters_and_available(capsys, cwru_dir: Path) -> None:
    code, out, _ = run(
        capsys,
        "data",
        "list",
        "cwru",
        "--filter",
        "group=12k_DE",
        "-f",
        "fault_location=IR,B",
        "--format",
        "csv",
    )
    assert code == 0
    df = pd.read_csv(io.StringIO(out))
    assert len(df) == 32 and set(df["fault_location"]) == {"IR", "B"}

    code, out, _ = run(
        capsys,
        "data",
        "list",
        "cwru",
        "--available",
        "--format",
        "json",
        "--data-dir",
        str(cwru_dir.parent),
    )
    rows = json.loads(out)
    assert code == 0 and len(rows) == 37 and all(r["available"] for r in rows)
    assert rows[0]["file"] == 97 and rows[0]["fault_location"] is None


def test_list_table(capsys) -> None:
    code, out, _ = run(capsys, "data", "list", "cwru", "-f", "file=3001,97")
    assert code == 0
    assert "IR028_0" in out and "Normal_0" in out and "2 file(s)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "list", "cwru", "-f", "colour=red"], "catalogue has no column 'colour'"),
        (["data", "list", "cwru", "-f", "load_hp=9"], "no CWRU file has load_hp=9"),
        (["data", "list", "cwru", "-f", "fault_location=XX"], "no CWRU file has fault_location=XX"),
        (["data", "list", "cwru", "-f", "load_hp"], "'load_hp' must look like KEY=VALUE"),
        (["data", "list", "cwru", "--format", "xml"], "unknown format 'xml'"),
        (["data", "list", "paderborn"], "unknown dataset 'paderborn'"),
        (
            ["data", "download", "cwru", "--files", "105,4242"],
            "CWRU file 4242 is not in the catalogue",
        ),
        (["data", "download", "cwru"], "choose files with --filter"),
        (["data", "info", "/nonexistent/x.mat"], "/nonexistent/x.mat: file not found"),
    ],
)
def test_bad_input_is_one_error_line(capsys, argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_download_from_file_url(capsys, cwru_dir: Path, tmp_path: Path) -> None:
    base = cwru_dir.as_uri() + "/{file}.mat"
    args = [
        "data",
        "download",
        "cwru",
        "--files",
        "105,118",
        "--data-dir",
        str(tmp_path),
        "--base-url",
        base,
        "--no-progress",
    ]
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert (tmp_path / "cwru" / "105.mat").is_file() and (tmp_path / "cwru" / "118.mat").is_file()
    assert "2 file(s) ready: 2 downloaded, 0 already present" in out
    code, out, _ = run(capsys, *args)
    assert code == 0 and "0 downloaded, 2 already present" in out
    # a filter selection; a file the source lacks is a clean error naming it
    code, out, err = run(
        capsys,
        "data",
        "download",
        "cwru",
        "-f",
        "name=IR007_1",
        "-f",
        "group=12k_DE",
        "--data-dir",
        str(tmp_path),
        "--base-url",
        str(tmp_path / "nowhere"),
        "--no-progress",
    )
    assert code == 2 and "CWRU file 106: " in err and "does not exist" in err


def test_info_on_shared_file_and_number(capsys, cwru_dir: Path) -> None:
    code, out, _ = run(capsys, "data", "info", str(cwru_dir / "105.mat"))
    assert code == 0
    for text in (
        "X105_DE_time: float64 shape (121265, 1)",
        "DE: X105_DE_time (121265 samples)",
        "sampling rate: 12000 Hz (catalogue)",
        "rpm stored: 1797",
        "name: IR007_0",
        "sha256: matches the catalogue",
    ):
        assert text in out
    code, out, _ = run(capsys, "data", "info", "97", "--data-dir", str(cwru_dir.parent))
    assert code == 0 and "sampling rate: 48000 Hz" in out and "condition: normal" in out


def test_info_on_bad_files(capsys, tmp_path: Path, cwru_dir: Path) -> None:
    (tmp_path / "105.mat").write_bytes(b"\x00garbage" * 100)
    code, _, err = run(capsys, "data", "info", str(tmp_path / "105.mat"))
    assert code == 2 and "105.mat: not a readable .mat file" in err
    data = (cwru_dir / "118.mat").read_bytes()
    (tmp_path / "118.mat").write_bytes(data[: len(data) // 2])
    code, _, err = run(capsys, "data", "info", str(tmp_path / "118.mat"))
    assert code == 2 and "118.mat: not a readable .mat file (corrupt or truncated" in err
    shutil.copyfile(cwru_dir / "130.mat", tmp_path / "131.mat")  # right format, wrong content
    code, out, _ = run(capsys, "data", "info", str(tmp_path / "131.mat"))
    assert code == 0 and "sha256: DIFFERS from the catalogue" in out
    code, _, err = run(capsys, "data", "info", "98", "--data-dir", str(tmp_path))
    assert code == 2 and "CWRU file 98: not found" in err


def test_info_on_own_recording(capsys, tmp_path: Path) -> None:
    import numpy as np

    np.save(tmp_path / "x.npy", np.ones((2, 1000)))
    code, out, _ = run(capsys, "data", "info", str(tmp_path / "x.npy"), "--sampling-rate", "500")
    assert code == 0 and "channels: ch0, ch1" in out and "duration: 2.000 s" in out
    code, _, err = run(capsys, "data", "info", str(tmp_path / "x.npy"))
    assert code == 2 and "x.npy: no sampling rate" in err

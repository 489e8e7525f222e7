"""MFPT: the catalogue (every row), the shared files against their MANIFEST, download checks,
the NICE bearing, and reading the files' MATLAB struct with no conversion."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io

from faultlab.cli import main
from faultlab.data.bearings import BEARINGS
from faultlab.data.datasets import dataset_names, find_file, get_dataset
from faultlab.data.datasets.mfpt import read_mfpt
from faultlab.data.download import download, fetch, file_url
from faultlab.data.readers import read_recording
from faultlab.data.types import META_KEYS
from faultlab.errors import DataError

MFPT = get_dataset("mfpt")
CAT = MFPT.catalogue
ROWS = list(CAT.rows().values())

#: The public set as published: group -> (files, label, loads, rate, seconds).
PUBLISHED = {
    "baseline": ([f"baseline_{i}" for i in (1, 2, 3)], None, [270] * 3, 97656, 6),
    "OR_270": ([f"OuterRaceFault_{i}" for i in (1, 2, 3)], "OR", [270] * 3, 97656, 6),
    "OR_vload": (
        [f"OuterRaceFault_vload_{i}" for i in range(1, 8)],
        "OR",
        [25, 50, 100, 150, 200, 250, 300],
        48828,
        3,
    ),
    "IR_vload": (
        [f"InnerRaceFault_vload_{i}" for i in range(1, 8)],
        "IR",
        [0, 50, 100, 150, 200, 250, 300],
        48828,
        3,
    ),
}
EXPECTED = {
    f: (group, label, load, rate, secs)
    for group, (files, label, loads, rate, secs) in PUBLISHED.items()
    for f, load in zip(files, loads)
}


def test_catalogue_is_the_public_set() -> None:
    assert "mfpt" in dataset_names()
    assert CAT.counts_by_group() == {"baseline": 3, "OR_270": 3, "OR_vload": 7, "IR_vload": 7}
    assert sorted(CAT.rows()) == sorted(EXPECTED)
    df = CAT.load()
    assert len(df) == 20 and df["file"].is_unique


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_every_mfpt_row(row: dict) -> None:
    group, label, load, rate, secs = EXPECTED[row["file"]]
    assert row["group"] == group
    assert row["condition"] == ("normal" if label is None else "fault")
    assert row["fault_location"] == label
    assert row["fault_diameter_in"] is None  # MFPT publishes no fault size
    assert (row["load"], row["load_unit"]) == (load, "lbs")
    assert (row["sampling_rate_hz"], row["duration_s"]) == (rate, secs)
    assert (row["shaft_hz"], row["rpm"]) == (25.0, 1500)
    assert row["bearing"] == "NICE"
    assert row["url"].startswith("https://") and row["url"].endswith(f"/{row['file']}.mat")
    assert CAT.file_name(row["file"]) == f"{row['file']}.mat"
    assert CAT.path(row["file"], "/d") == Path("/d/mfpt") / f"{row['file']}.mat"
    assert file_url(row["file"], dataset="mfpt") == row["url"]
    if row["sha256"]:
        assert len(row["sha256"]) == 64 and row["n_samples"] == rate * secs
    else:  # the catalogue says how a download without a checksum is checked
        assert "sha256 unknown" in row["note"]


def test_filters_and_lookups() -> None:
    assert len(CAT.filter(["fault_location=IR"])) == 7
    assert len(CAT.filter(["load_lbs=270"])) == 6  # alias of load
    assert CAT.filter({"load": [0, 25]})["file"].tolist() == [
        "OuterRaceFault_vload_1",
        "InnerRaceFault_vload_1",
    ]
    assert CAT.entry("x/baseline_2.mat")["name"] == "N_270_2"
    with pytest.raises(DataError, match="MFPT file baseline_9 is not in the catalogue"):
        CAT.entry("baseline_9")
    with pytest.raises(DataError, match="no MFPT file has load=7"):
        CAT.parse_filters(["load=7"])
    assert find_file("/a/b/InnerRaceFault_vload_3.mat")[1]["load"] == 100
    assert find_file("/a/b/105.mat")[0].name == "cwru"
    assert find_file("/a/b/other.mat") is None


def test_nice_bearing_orders() -> None:
    freqs = BEARINGS["NICE"].frequencies(1500)  # the MFPT files' own values at 25 Hz
    assert freqs["BPFO"] == pytest.approx(81.125, abs=0.01)
    assert freqs["BPFI"] == pytest.approx(118.875, abs=0.01)
    assert freqs["BSF"] == pytest.approx(63.91, rel=2e-3)
    # the files' FTF (14.8375 Hz) is the cage rate relative to the inner race, fr/2 (1 + d/D);
    # BearingGeometry's FTF is the usual cage rate, fr/2 (1 - d/D)
    assert freqs["FTF"] == pytest.approx(12.5 * (1 - 0.235 / 1.245))
    assert pytest.approx(14.8375, rel=2e-3) == 12.5 * (1 + 0.235 / 1.245)


# ------------------------------------------------------------------ the shared files
def test_shared_files_match_the_manifest(mfpt_dir: Path) -> None:
    manifest = pd.read_csv(mfpt_dir / "MANIFEST.csv")
    assert len(manifest) == 2
    for m in manifest.to_dict("records"):
        e = CAT.entry(m["file"])
        assert e["fault_location"] == m["fault_location"], m["file"]
        assert e["load"] == m["load_lbs"], m["file"]
        assert e["sampling_rate_hz"] == m["sampling_rate_hz"], m["file"]
        assert e["shaft_hz"] == m["shaft_hz"], m["file"]
        assert e["sha256"] == m["sha256"], m["file"]
        rec = read_mfpt(m["file"], data_dir=mfpt_dir.parent)
        assert (
            rec.signal.shape == (1, e["n_samples"]) and rec.sampling_rate == m["sampling_rate_hz"]
        )
        assert rec.meta["fault_location"] == m["fault_location"]
        assert rec.meta["load"] == m["load_lbs"] and rec.meta["rpm"] == 60 * m["shaft_hz"]
        assert rec.meta["bearing"] == "NICE" and rec.meta["key"] == "bearing.gs"
        assert set(META_KEYS) <= set(rec.meta)
        raw = scipy.io.loadmat(mfpt_dir / m["file"])
        for name, order in (("BPFO", "BPFO"), ("BPFI", "BPFI"), ("BSF", "BSF")):
            stored = float(raw[name].ravel()[0])
            assert BEARINGS["NICE"].frequencies(rec.meta["rpm"])[order] == pytest.approx(
                stored, rel=2e-3
            )


def test_shared_files_read_as_plain_recordings(mfpt_dir: Path) -> None:
    rec = read_recording(mfpt_dir / "InnerRaceFault_vload_1.mat")  # no key, no rate given
    assert rec.channels == ["bearing.gs"] and rec.sampling_rate == 48828
    assert rec.meta["rate_key"] == "bearing.sr" and rec.n_samples == 146484
    with pytest.raises(
        DataError, match="struct 'bearing' has no field 'x'; fields: rate, load, gs, sr"
    ):
        read_recording(mfpt_dir / "InnerRaceFault_vload_1.mat", key="bearing.x")


def test_cli_list_and_info(capsys, mfpt_dir: Path) -> None:
    assert (
        main(["data", "list", "mfpt", "--format", "json", "--data-dir", str(mfpt_dir.parent)]) == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 20 and sum(r["available"] for r in rows) == 2
    assert main(["data", "info", str(mfpt_dir / "InnerRaceFault_vload_1.mat")]) == 0
    out = capsys.readouterr().out
    for text in (
        "bearing.gs: float64 shape (146484, 1)",
        "signal: bearing.gs (146484 samples)",
        "sampling rate: 48828 Hz (bearing.sr)",
        "label: fault IR (load 0 lbs, bearing NICE)",
        "sha256: matches the catalogue",
    ):
        assert text in out


def test_predict_on_mfpt_files_needs_no_conversion(tmp_path: Path, mfpt_dir: Path, capsys) -> None:
    from serving_support import untrained_run

    run = untrained_run(tmp_path, "mlp", {"location": ["IR", "OR"]})
    files = sorted(str(p) for p in mfpt_dir.glob("*.mat"))
    out = tmp_path / "p.json"
    assert main(["predict", str(run), *files, "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["recordings"]) == 2
    for rec in doc["recordings"]:
        assert rec["sampling_rate"] == 48828 and rec["n_windows"] == 35  # 3 s at 12 kHz
        assert rec["tasks"]["location"]["prediction"] in ("IR", "OR")


# ------------------------------------------------------------------ downloads
def _fake_mfpt(path: Path, rate: int, seconds: float, load: str = "270") -> None:
    n = int(rate * seconds)
    gs = np.random.default_rng(0).standard_normal((n, 1))
    bearing = {"gs": gs, "sr": np.array([[rate]]), "load": load, "rate": np.array([[25]])}
    scipy.io.savemat(path, {"bearing": bearing})


def test_download_checks_files_without_a_checksum(tmp_path: Path) -> None:
    src = tmp_path / "srv"
    src.mkdir()
    _fake_mfpt(src / "baseline_1.mat", 97656, 6)
    _fake_mfpt(src / "baseline_2.mat", 48828, 6)  # wrong rate
    _fake_mfpt(src / "baseline_3.mat", 97656, 1)  # too short
    data = tmp_path / "data"
    ok = fetch("baseline_1", data, str(src), dataset="mfpt")
    assert ok.status == "downloaded" and ok.path == data / "mfpt" / "baseline_1.mat"
    assert read_mfpt("baseline_1", data_dir=data).n_samples == 585936
    with pytest.raises(DataError, match=r"MFPT file baseline_2: .*failed its check.*48828 Hz"):
        fetch("baseline_2", data, str(src), dataset="mfpt")
    with pytest.raises(DataError, match=r"MFPT file baseline_3: .*97656 samples, expected about"):
        fetch("baseline_3", data, src.as_uri() + "/{file}.mat", dataset="mfpt")
    assert sorted(p.name for p in (data / "mfpt").iterdir()) == ["baseline_1.mat"]


def test_download_verifies_known_checksums(tmp_path: Path, mfpt_dir: Path) -> None:
    src = tmp_path / "srv"
    src.mkdir()
    shutil.copyfile(mfpt_dir / "InnerRaceFault_vload_1.mat", src / "InnerRaceFault_vload_1.mat")
    shutil.copyfile(mfpt_dir / "InnerRaceFault_vload_1.mat", src / "OuterRaceFault_vload_1.mat")
    data = tmp_path / "data"
    got = download("mfpt", ["InnerRaceFault_vload_1"], data, str(src))
    assert (
        got[0].status == "downloaded"
        and got[0].sha256 == CAT.entry("InnerRaceFault_vload_1")["sha256"]
    )
    assert download("mfpt", ["InnerRaceFault_vload_1"], data, str(src))[0].status == "cached"
    with pytest.raises(
        DataError, match="MFPT file OuterRaceFault_vload_1: the download .* has sha256"
    ):
        download("mfpt", ["OuterRaceFault_vload_1"], data, str(src))
    assert not (data / "mfpt" / "OuterRaceFault_vload_1.mat").exists()


def test_reading_a_missing_file_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="faultlab data download mfpt --files baseline_1"):
        read_mfpt("baseline_1", data_dir=tmp_path)


# ------------------------------------------------------------------ cross-machine transfer
def test_cwru_to_mfpt_envelope_contrast_names_both_recordings(
    tmp_path: Path, mfpt_dir: Path
) -> None:
    """The shipped cross-machine benchmark's data and split, trained on the CWRU rig, tested
    on the MFPT rig (another bearing, speed, sensor and rate): the decoy-contrast expert reads
    each rig's own defect orders, so it calls both MFPT recordings right. A raw-window model
    on the same split gives both recordings one class (README: 0.13-0.53)."""
    from faultlab.experiments.benchmark import load_benchmark
    from faultlab.experiments.runner import prepare, run_experiment

    bench = load_benchmark(Path(__file__).parents[1] / "configs" / "cwru-to-mfpt.yaml")
    model = next(m for m in bench.models if m.display_name == "envelope-contrast")
    cfg = bench.experiment(model)
    windows, splits = prepare(cfg)
    m = run_experiment(cfg, tmp_path / "run", windows=windows, split=splits[0], report=False)
    assert m["run"]["protocol"] == "cross-machine"
    loc = m["tasks"]["location"]
    rec = {r["recording_id"]: r for r in loc["recording"]["per_recording"]}
    assert set(rec) == {"InnerRaceFault_vload_1", "OuterRaceFault_vload_1"}
    assert loc["recording"]["majority_accuracy"] == 1.0
    assert all(r["n_windows"] == 35 and r["window_accuracy"] >= 0.9 for r in rec.values())
    assert loc["accuracy"] >= 0.95 and loc["roc_auc_ovr_macro"] >= 0.95

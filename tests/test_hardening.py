"""Hardening (issue 12): untrusted run directories, bounds, stale configs, recovery, service.

Everything runs on a tiny synthetic benchmark (one fold, rf + a 2-epoch mlp), built once per
module and copied for the tests that damage it.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from faultlab.cli import main
from faultlab.errors import ConfigError, DataError
from faultlab.experiments.benchmark import BenchmarkConfig, run_benchmark

TINY = {
    "name": "tiny",
    "data": {
        "dataset": "synthetic",
        "window": 256,
        "target_rate": None,
        "synthetic": {"duration_s": 1.0, "loads": [0, 1], "sizes": [0.007]},
    },
    "split": {"kind": "leave_one_out", "column": "load_hp", "folds": ["1"]},
    "models": [
        {"name": "rf", "params": {"n_estimators": 5, "n_jobs": 1}},
        {"name": "mlp", "params": {"hidden": [16]}, "training": {"epochs": 2, "batch_size": 64}},
    ],
    "seeds": [0],
    "training": {"progress": False, "num_threads": 1},
}
RF = Path("runs/rf/test-load_hp-1/seed0")
MLP = Path("runs/mlp/test-load_hp-1/seed0")


class Evil:
    """Unpickling this creates ``marker``: proof that a file's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


class Gadget:
    """A type outside faultlab's skops allow-list."""

    def __init__(self) -> None:
        self.payload = [1, 2, 3]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "bench"
    res = run_benchmark(BenchmarkConfig.model_validate(TINY), out, log=lambda _: None)
    assert (res["ran"], res["failed"]) == (2, 0)
    return out


@pytest.fixture
def bench(finished, tmp_path) -> Path:
    """A private copy of the finished benchmark, free to damage."""
    return Path(shutil.copytree(finished, tmp_path / "bench"))


def _exp_yaml(tmp_path: Path, model: int = 1) -> Path:
    """The tiny benchmark's data and split as an experiment config (``train``)."""
    exp = {k: v for k, v in TINY.items() if k not in ("models", "seeds", "name")}
    exp["model"] = TINY["models"][model]
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


def _one_line_error(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err, err
    return err


# -- 1. nothing executable is loaded from a run directory ---------------------------------------
def test_saved_models_hold_no_pickle(finished):
    assert (finished / RF / "model" / "model.skops").exists()
    assert not list(finished.glob("runs/**/*.joblib"))
    ckpt = torch.load(finished / MLP / "checkpoint.pt", weights_only=True)  # plain data only
    assert ckpt["epoch"] == 2 and isinstance(ckpt["rng"]["numpy"]["keys"], torch.Tensor)


def test_planted_model_joblib_never_runs(bench, tmp_path, capsys):
    from faultlab.serving.predict import Predictor
    from faultlab.serving.service import create_app

    marker = tmp_path / "pwned"
    model_dir = bench / RF / "model"
    (model_dir / "model.skops").unlink()
    (model_dir / "model.joblib").write_bytes(pickle.dumps(Evil(marker)))
    with pytest.raises(DataError, match="older faultlab"):
        Predictor(bench / RF)
    with pytest.raises(DataError, match="older faultlab"):
        create_app(bench / RF)
    np.save(tmp_path / "x.npy", np.zeros(2048, np.float32))
    err = _one_line_error(
        capsys, ["predict", str(bench / RF), str(tmp_path / "x.npy"), "--sampling-rate", "12000"]
    )
    assert "model.joblib" in err
    assert not marker.exists()


def test_skops_file_with_a_foreign_type_is_refused(bench, tmp_path):
    import skops.io as sio

    from faultlab.models.base import load_model

    (bench / RF / "model" / "model.skops").write_bytes(sio.dumps({"extractor": Gadget()}))
    with pytest.raises(DataError, match="allow-list"):
        load_model(bench / RF / "model")
    (bench / RF / "model" / "model.skops").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="unreadable model file"):
        load_model(bench / RF / "model")


def test_planted_torch_files_never_run(bench, tmp_path, capsys):
    from faultlab.models.base import load_model

    marker = tmp_path / "pwned"
    torch.save({"model": Evil(marker), "epoch": 1}, bench / MLP / "model" / "model.pt")
    with pytest.raises(ConfigError, match="unreadable weights"):
        load_model(bench / MLP / "model")
    # a plain `benchmark` resumes an unfinished run from its checkpoint
    (bench / MLP / "done.json").unlink()
    torch.save({"model": Evil(marker), "epoch": 1}, bench / MLP / "checkpoint.pt")
    res = run_benchmark(BenchmarkConfig.model_validate(TINY), bench, log=lambda _: None)
    assert (res["ran"], res["skipped"], res["failed"]) == (1, 1, 0)
    assert not marker.exists()
    assert (bench / MLP / "checkpoint.pt.corrupt").exists()
    notes = json.loads((bench / MLP / "metrics.json").read_text())["training"]["notes"]
    assert any("checkpoint not used" in n and "trained from scratch" in n for n in notes)
    # `train --resume` on a 0-byte checkpoint: a message, then training from scratch
    cfg = _exp_yaml(tmp_path)
    fold = tmp_path / "train" / "test-load_hp-1"
    fold.mkdir(parents=True)
    (fold / "checkpoint.pt").write_bytes(b"")
    assert main(["train", str(cfg), "--out", str(tmp_path / "train"), "--resume", "--quiet"]) == 0
    assert "checkpoint not used" in capsys.readouterr().err
    assert (fold / "checkpoint.pt.corrupt").exists() and (fold / "done.json").exists()


# -- 3. stale results ---------------------------------------------------------------------------
def test_changed_config_stops_or_reruns_never_mixes(bench, capsys):
    # a thread count or progress flag is not a change
    same = {**TINY, "training": {**TINY["training"], "num_threads": 2, "progress": True}}
    res = run_benchmark(BenchmarkConfig.model_validate(same), bench, log=lambda _: None)
    assert (res["ran"], res["skipped"]) == (0, 2)
    changed = {**TINY, "data": {**TINY["data"], "window": 128}}
    cfg = BenchmarkConfig.model_validate(changed)
    before = (bench / RF / "metrics.json").read_text()
    with pytest.raises(ConfigError, match=r"data\.window: 256 -> 128.*--rerun-changed"):
        run_benchmark(cfg, bench, only=["rf"], log=lambda _: None)
    assert (bench / RF / "metrics.json").read_text() == before
    assert yaml.safe_load((bench / "benchmark.yaml").read_text())["data"]["window"] == 256
    logs: list[str] = []
    res = run_benchmark(cfg, bench, only=["rf"], rerun_changed=True, log=logs.append)
    assert res["ran"] == 1 and any("config changed (data.window: 256 -> 128)" in x for x in logs)
    assert (bench / RF / "metrics.json.replaced").read_text() == before
    assert json.loads((bench / RF / "metrics.json").read_text())["data"]["window"] == 128
    # the mlp cell (not selected) ran with the old window: kept aside, not on the leaderboard
    assert (bench / MLP / "metrics.json.replaced").exists()
    board = (bench / "leaderboard.csv").read_text()
    assert "rf" in board and "mlp" not in board


# -- 4. recovery --------------------------------------------------------------------------------
def test_corrupt_and_half_written_runs_are_kept_aside_and_redone(bench, capsys):
    (bench / RF / "metrics.json").write_text('{"run": {"name": "tin')  # truncated
    for name in ("done.json", "report.md", "report.html"):  # killed after metrics.json
        (bench / MLP / name).unlink()
    assert main(["report", str(bench)]) == 0  # the leaderboard skips both, no traceback
    board = (bench / "leaderboard.md").read_text()
    assert "mlp" not in board.lower() and "runs/rf" not in board
    err = _one_line_error(capsys, ["report", str(bench / RF)])
    assert "metrics.json" in err
    res = run_benchmark(BenchmarkConfig.model_validate(TINY), bench, log=lambda _: None)
    assert (res["ran"], res["failed"]) == (2, 0)
    assert (bench / RF / "metrics.json.corrupt").exists()
    for run in (RF, MLP):
        assert (bench / run / "done.json").exists() and (bench / run / "report.html").exists()


# -- 2. bounds ----------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.001, 1e12, 1e300, 1e-300, 1.0])
def test_service_rates_are_bounded(finished, rate):
    from fastapi.testclient import TestClient

    from faultlab.serving.service import create_app

    client = TestClient(create_app(finished / RF))
    t0 = time.perf_counter()
    r = client.post("/predict", json={"samples": [0.1] * 2000, "sampling_rate": rate})
    assert r.status_code == 422 and "sampling_rate" in r.text
    assert time.perf_counter() - t0 < 5


def test_request_size_limits_and_cli_rates(finished, tmp_path, capsys):
    from fastapi.testclient import TestClient

    from faultlab.serving.service import create_app

    client = TestClient(create_app(finished / RF, max_samples=4000, max_windows=5))
    r = client.post("/predict", json={"samples": [0.1] * 5000, "sampling_rate": 12000})
    assert r.status_code == 422 and "samples" in r.text and "4000" in r.text
    r = client.post("/predict", json={"samples": [0.1] * 2000, "sampling_rate": 12000})
    assert r.status_code == 422 and "windows" in r.text
    np.save(tmp_path / "x.npy", np.zeros(4096, np.float32))
    for rate in ("1e12", "0.001", "nan", "1"):
        err = _one_line_error(
            capsys,
            ["predict", str(finished / RF), str(tmp_path / "x.npy"), "--sampling-rate", rate],
        )
        assert "sampling" in err
    for bad in (
        ["--set", "data.window=4"],
        ["--set", "data.window=1000000000"],
        ["--set", "data.target_rate=1e300"],
        ["--set", "data.stride=0"],
    ):
        err = _one_line_error(
            capsys, ["train", str(_exp_yaml(tmp_path)), "--out", str(tmp_path / "t"), *bad]
        )
        assert bad[1].split("=")[0] in err


# -- 5. silent cases become errors ----------------------------------------------------------------
def test_silent_cases_are_errors(tmp_path):
    import scipy.io

    from faultlab.data.build import cwru_selection
    from faultlab.data.config import DataConfig
    from faultlab.data.readers import read_recording
    from faultlab.experiments.config import load_yaml, parse_config
    from faultlab.serving.preprocess import load_input

    with pytest.raises(DataError, match=r"fault_location.*'Ball'.*values: B, IR"):
        cwru_selection(DataConfig(select={"fault_location": ["IR", "Ball"]}))
    with pytest.raises(DataError, match="matches no CWRU fault recording"):
        cwru_selection(
            DataConfig(
                select={
                    "fault_location": "IR",
                    "fault_diameter_in": 0.028,
                    "sampling_rate_hz": 48000,
                }
            )
        )
    (tmp_path / "dup.yaml").write_text("data:\n  window: 1024\n  window: 2048\n")
    with pytest.raises(ConfigError, match="line 3.*duplicate key 'window'"):
        load_yaml(tmp_path / "dup.yaml")
    with pytest.raises(ConfigError, match=r"seeds must be distinct; repeated: \[0\]"):
        parse_config(BenchmarkConfig, {**TINY, "seeds": [0, 0]}, "b.yaml")
    np.save(tmp_path / "counts.npy", (np.arange(4096) % 300).astype(np.int16))
    with pytest.raises(DataError, match="int16.*ADC counts"):
        read_recording(tmp_path / "counts.npy", sampling_rate=12000)
    scipy.io.savemat(tmp_path / "fe_only.mat", {"X777_FE_time": np.ones((5000, 1))})
    with pytest.raises(DataError, match="no DE channel; the file has FE: pass --channel FE"):
        load_input(tmp_path / "fe_only.mat", ["DE"], 12000)


# -- 6. tracebacks become one line ------------------------------------------------------------------
def test_former_tracebacks_are_one_line(finished, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    bench_yaml = tmp_path / "b.yaml"
    bench_yaml.write_text(yaml.safe_dump(TINY))
    exp = str(_exp_yaml(tmp_path))
    assert "a_file" in _one_line_error(capsys, ["train", exp, "--out", str(a_file)])
    assert "a_file" in _one_line_error(capsys, ["benchmark", str(bench_yaml), "--out", str(a_file)])
    assert "a_file" in _one_line_error(
        capsys, ["export", str(finished / MLP), "--out", str(a_file)]
    )
    err = _one_line_error(capsys, ["train", exp, "-p", "hidden=abc", "--out", str(tmp_path / "t")])
    assert "hidden" in err
    broken = Path(shutil.copytree(finished / RF, tmp_path / "broken"))
    (broken / "model" / "model.json").write_text("{not json")
    np.save(tmp_path / "x.npy", np.zeros(4096, np.float32))
    err = _one_line_error(
        capsys, ["predict", str(broken), str(tmp_path / "x.npy"), "--sampling-rate", "12000"]
    )
    assert "model.json" in err
    assert "--epochs" in _one_line_error(capsys, ["train", "--epochs", "abc"])
    # a file name that is not UTF-8, predictions written to CSV
    odd = os.fsdecode(bytes(tmp_path) + b"/rec\xff.npy")
    np.save(odd, np.sin(np.arange(4096, dtype=np.float32)))
    out = tmp_path / "x.csv"
    assert (
        main(["predict", str(finished / RF), odd, "--sampling-rate", "12000", "--out", str(out)])
        == 0
    )
    assert "rec\ufffd.npy" in out.read_text(encoding="utf-8")


# -- 7. service ---------------------------------------------------------------------------------------
def test_service_token_paths_and_offline_docs(finished, monkeypatch):
    from fastapi.testclient import TestClient

    from faultlab.serving.service import create_app, resolve_token

    client = TestClient(create_app(finished / RF, token="s3cret"))
    assert client.get("/health").status_code == 200
    assert client.get("/model").status_code == 401
    bad = client.post(
        "/predict",
        json={"samples": [0.0] * 4096, "sampling_rate": 12000},
        headers={"Authorization": "Bearer wrong"},
    )
    assert bad.status_code == 401
    m = client.get("/model", headers={"Authorization": "Bearer s3cret"})
    assert m.status_code == 200 and m.json()["run"] == "seed0"
    assert str(finished) not in m.text and str(finished) not in client.get("/openapi.json").text
    docs = client.get("/docs").text
    assert "cdn" not in docs.lower() and "/docs-static/swagger-ui-bundle.js" in docs
    assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200
    schema_url = docs.split("url: '")[1].split("'")[0]
    assert client.get(schema_url).json()["openapi"].startswith("3.")
    monkeypatch.delenv("FAULTLAB_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="needs a bearer token"):
        resolve_token("0.0.0.0", None)
    assert resolve_token("127.0.0.1", None) is None and resolve_token("::1", None) is None
    monkeypatch.setenv("FAULTLAB_TOKEN", "from-env")
    assert resolve_token("0.0.0.0", None) == "from-env"


def test_export_metadata_and_onnx_backend_leave_no_paths_or_folders(bench, tmp_path):
    from faultlab.serving.export import export_run
    from faultlab.serving.predict import Predictor

    res = export_run(bench / MLP, "onnx", tmp_path / "exp")
    assert str(bench) not in res.metadata_path.read_text()
    before = set(Path(tempfile.gettempdir()).glob("faultlab-onnx-*"))
    p = Predictor(bench / MLP, backend="onnx")
    assert p.predict_signal(np.zeros(4096, np.float32), 12000).n_windows == 16
    assert set(Path(tempfile.gettempdir()).glob("faultlab-onnx-*")) == before

"""The Python API: load_windows, splits, run (in memory = on disk = CLI), load_run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import faultlab
from faultlab.cli import main
from faultlab.errors import ConfigError, LeakageError

ROOT = Path(__file__).resolve().parents[1]
SYN = {"dataset": "synthetic", "synthetic": {"sizes": [0.014], "duration_s": 2.0}, "window": 512}
TRAIN = {"epochs": 2, "batch_size": 128, "progress": False, "num_threads": 1}


def experiment(**extra) -> dict:
    return {
        "name": "api-test",
        "data": SYN,
        "split": {"kind": "leave_one_out", "folds": ["3"]},
        "model": {"name": "mlp", "params": {"hidden": [32]}},
        "training": TRAIN,
        **extra,
    }


def benchmark() -> dict:
    return {
        "name": "api-bench",
        "data": SYN,
        "split": {"kind": "leave_one_out", "folds": ["2", "3"]},
        "models": [
            {"name": "mlp", "params": {"hidden": [32]}},
            {"name": "rf", "params": {"n_estimators": 20}},
        ],
        "seeds": [0],
        "training": TRAIN,
    }


def same_results(a, b) -> None:
    """Same scores, confusion matrices and predicted probabilities (timings aside)."""
    assert a.metrics["primary"] == b.metrics["primary"]
    for task, m in a.metrics["tasks"].items():
        assert m["confusion_matrix"] == b.metrics["tasks"][task]["confusion_matrix"]
        assert m["log_loss"] == pytest.approx(b.metrics["tasks"][task]["log_loss"], abs=1e-9)
    ws = faultlab.load_windows(**SYN)
    pa, pb = a.model.predict_proba(ws.X[:64]), b.model.predict_proba(ws.X[:64])
    for task in pa:
        np.testing.assert_allclose(pa[task], pb[task], atol=1e-6)


def test_public_names_load_lazily():
    code = "import sys, faultlab; print('faultlab.api' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src")},
        check=True,
    ).stdout.split()
    assert out == ["False", "False"]
    assert {"load_windows", "splits", "run", "load_run", "FaultClassifier"} <= set(dir(faultlab))
    assert faultlab.__all__ == ["__version__", *faultlab._LAZY]  # written out for pyright
    assert faultlab.__version__


def test_load_windows_and_leakage_checked_splits():
    ws = faultlab.load_windows(**SYN)
    assert ws.X.dtype == np.float32 and ws.X.shape[1:] == (1, 512)
    assert set(ws.y) == {"class", "detection", "location", "size"}
    assert (ws.groups == ws.recording_id).all() and len(ws.meta) == len(ws)
    ws.X[:] = 0  # a copy: the next call is not affected
    assert faultlab.load_windows(**SYN).X.std() > 0
    folds = faultlab.splits(ws, kind="leave_one_out", column="load_hp")
    assert [f.name for f in folds] == [f"test load_hp {v}" for v in range(4)]
    for f in folds:
        assert not set(ws.groups[np.r_[f.train, f.val]]) & set(ws.groups[f.test])
    with pytest.raises(ConfigError, match="window"):
        faultlab.load_windows(**{**SYN, "window": "big"})
    with pytest.raises(LeakageError), pytest.warns(UserWarning, match="LEAKY"):
        faultlab.splits(ws, kind="random_window", disjoint=True)


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory):
    """``experiment()`` run once into a folder: (its result, the folder)."""
    out = tmp_path_factory.mktemp("api") / "out"
    return faultlab.run(experiment(), out=out, verbose=False), out


def test_run_in_memory_writes_nothing_and_equals_run_on_disk(tmp_path, monkeypatch, on_disk):
    monkeypatch.chdir(tmp_path)
    mem = faultlab.run(experiment(), verbose=False)
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert mem.report_path is None and mem.runs[0].run_dir is None
    assert list(mem.history["epoch"]) == [1, 2]
    disk, out = on_disk
    assert disk.report_path == out / "test-load_hp-3" / "report.html"
    assert disk.report_path.exists()
    same_results(mem, disk)


@pytest.mark.slow
def test_run_benchmark_config_in_memory_equals_cli(tmp_path):
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(benchmark()))
    # the runs are compared, not their reports (tests/test_report.py covers those)
    assert (
        main(["benchmark", str(path), "--out", str(tmp_path / "cli"), "--quiet", "--no-report"])
        == 0
    )
    cli = faultlab.run(path, out=tmp_path / "cli", verbose=False)  # finished: read back
    mem = faultlab.run(path, verbose=False)
    assert len(mem.runs) == len(cli.runs) == 4
    assert cli.report_path == tmp_path / "cli" / "leaderboard.html"
    for run in mem.runs:
        same_results(run, cli.get(run.label, run.fold, run.seed))
    board = mem.leaderboard
    assert list(board["model"]) == list(cli.leaderboard["model"])
    assert {"roc_auc_macro_mean", "recording_accuracy_mean"} <= set(board.columns)
    with pytest.raises(ValueError, match="4 runs"):
        _ = mem.model
    only = faultlab.run(benchmark(), verbose=False, only=["rf"])
    assert {r.label for r in only.runs} == {"rf"}


def test_load_run_predicts_raw_recordings(tmp_path, on_disk):
    res, _ = on_disk
    model = faultlab.load_run(res.runs[0].run_dir)
    ws = faultlab.load_windows(**SYN)
    rid = ws.groups[-1]
    signal = ws.X[ws.groups == rid, 0, :].reshape(-1)  # the recording, re-joined
    pred = model.predict(signal, sampling_rate=12000)
    assert pred.prediction in ws.classes["class"] and 0 < pred.confidence <= 1
    assert pred.n_windows == int((ws.groups == rid).sum())
    in_memory = res.runs[0].predictor().predict(signal, sampling_rate=12000)
    np.testing.assert_allclose(in_memory.proba["class"], pred.proba["class"], atol=1e-6)
    with pytest.raises(ConfigError, match="not a finished faultlab run"):
        faultlab.load_run(tmp_path / "nothing")


def test_run_rejects_bad_configs(tmp_path):
    with pytest.raises(ConfigError, match="model.name"):
        faultlab.run({"model": {}})
    with pytest.raises(ConfigError, match="config file not found"):
        faultlab.run(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="expected a config"):
        faultlab.run(42)


@pytest.mark.shared
@pytest.mark.slow
def test_quick_config_api_equals_cli(tmp_path, shared_data):
    """configs/cwru-quick.yaml reduced to rf (20 trees: serialising 200 with skops takes
    seconds) + cnn1d for 2 epochs on the 0.007" faults (and the normal recordings), no time
    budget (a budget cuts training at a wall-clock moment, which no two runs share)."""
    raw = yaml.safe_load((ROOT / "configs" / "cwru-quick.yaml").read_text())
    raw["training"].update(epochs=2, time_budget_s=None)
    raw["data"]["select"]["fault_diameter_in"] = [0.007]
    raw["models"] = [m for m in raw["models"] if m["name"] in ("rf", "cnn1d")]
    for m in raw["models"]:
        if m["name"] == "rf":
            m["params"]["n_estimators"] = 20
    path = tmp_path / "quick.yaml"
    path.write_text(yaml.safe_dump(raw))
    # the runs are compared, not their reports (tests/test_report.py covers those)
    assert (
        main(["benchmark", str(path), "--out", str(tmp_path / "cli"), "--quiet", "--no-report"])
        == 0
    )
    cli = faultlab.run(path, out=tmp_path / "cli", verbose=False)
    mem = faultlab.run(path, verbose=False)
    assert sorted(r.label for r in mem.runs) == ["cnn1d", "rf"]
    for run in mem.runs:
        twin = cli.get(run.label, run.fold, run.seed)
        assert run.metrics["primary"] == twin.metrics["primary"]
        assert (
            run.metrics["tasks"]["class"]["confusion_matrix"]
            == twin.metrics["tasks"]["class"]["confusion_matrix"]
        )
        test = run.split.test[:200]
        ws = faultlab.load_windows(**raw["data"])
        np.testing.assert_allclose(
            run.model.predict_proba(ws.X[test])["class"],
            twin.model.predict_proba(ws.X[test])["class"],
            atol=1e-6,
        )

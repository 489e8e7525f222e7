"""MLflow tracking against a local file store: one MLflow run per faultlab run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import faultlab
from faultlab.cli import main
from faultlab.errors import ConfigError
from faultlab.experiments.tracking import final_metrics, flat_params

SYN = {"dataset": "synthetic", "synthetic": {"sizes": [0.014], "duration_s": 2.0}, "window": 512}
TRAIN = {"epochs": 2, "batch_size": 128, "progress": False, "num_threads": 1}


def test_flat_params_and_final_metrics():
    assert flat_params({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {
        "a.b": "1",
        "a.c": "[1, 2]",
        "d": "None",
    }
    m = {
        "primary": {"task": "class", "accuracy": 0.5, "macro_f1": None},
        "training": {"train_seconds": 2.0, "epochs": 3, "best_epoch": None},
        "speed": {"latency_ms_batch1": 0.1},
        "model": {"n_params": 10},
    }
    assert final_metrics(m) == {
        "test_accuracy": 0.5,
        "train_seconds": 2.0,
        "epochs": 3.0,
        "speed_latency_ms_batch1": 0.1,
        "model_n_params": 10.0,
    }


def test_missing_mlflow_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    cfg = {
        "data": SYN,
        "model": {"name": "rf"},
        "split": {"folds": ["3"]},
        "tracking": {"mlflow": {"uri": "file:/nowhere"}},
    }
    with pytest.raises(ConfigError, match="pip install 'faultlab\\[mlflow\\]'"):
        faultlab.run(cfg, verbose=False)


@pytest.fixture
def store(tmp_path: Path, monkeypatch):
    """A local file store (``file:`` URI). MLflow 3 keeps file stores in maintenance mode and
    refuses them unless MLFLOW_ALLOW_FILE_STORE is set; faultlab passes URIs through as
    they are (``sqlite:///...`` works the same: see the CLI test)."""
    pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'faultlab[mlflow]')")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    return uri, MlflowClient(tracking_uri=uri)


def test_in_memory_run_logs_params_history_metrics_and_model(store, tmp_path):
    uri, client = store
    cfg = {
        "name": "tracked",
        "data": SYN,
        "split": {"kind": "leave_one_out", "folds": ["3"]},
        "model": {"name": "mlp", "params": {"hidden": [16]}},
        "training": TRAIN,
        "tracking": {"mlflow": {"uri": uri, "artifacts": str(tmp_path / "art")}},
    }
    res = faultlab.run(cfg, verbose=False)
    exp = client.get_experiment_by_name("tracked")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["model.name"] == "mlp" and run.data.params["training.epochs"] == "2"
    assert run.data.tags["faultlab.fold"] == "test load_hp 3"
    assert run.data.metrics["test_accuracy"] == pytest.approx(res.metrics["primary"]["accuracy"])
    steps = client.get_metric_history(run.info.run_id, "train_loss")
    assert [s.step for s in steps] == [1, 2]
    assert [s.value for s in steps] == pytest.approx(list(res.history["train_loss"]))
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "model"} <= names
    assert len(list((tmp_path / "art").rglob("model.json"))) == 1  # artefacts where asked


@pytest.mark.slow
def test_benchmark_cli_with_mlflow_logs_one_run_per_cell(store, tmp_path):
    uri, client = store
    bench = {
        "name": "tracked-bench",
        "data": SYN,
        "split": {"kind": "leave_one_out", "folds": ["3"]},
        "models": [
            {"name": "rf", "params": {"n_estimators": 10}},
            {"name": "rf", "label": "rf-small", "params": {"n_estimators": 3}},
        ],
        "seeds": [0],
        "training": TRAIN,
    }
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(bench))
    assert main(["benchmark", str(path), "--out", str(tmp_path / "b"), "--mlflow", uri]) == 0
    exp = client.get_experiment_by_name("tracked-bench")
    runs = client.search_runs([exp.experiment_id])
    cells = sorted((r.data.tags["faultlab.label"], r.data.tags["faultlab.fold"]) for r in runs)
    assert cells == [("rf", "test load_hp 3"), ("rf-small", "test load_hp 3")]
    run = runs[0]
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "report.md", "metrics.json", "config.yaml", "model"} <= names
    assert Path(run.data.tags["faultlab.run_dir"]).is_relative_to(tmp_path / "b")
    # a finished benchmark is skipped on the second call: nothing is logged twice
    assert main(["benchmark", str(path), "--out", str(tmp_path / "b"), "--mlflow", uri]) == 0
    assert len(client.search_runs([exp.experiment_id])) == 2


def test_unreachable_store_fails_before_training(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cfg = {
        "data": SYN,
        "model": {"name": "rf"},
        "split": {"folds": ["3"]},
        "tracking": {"mlflow": {"uri": (blocker / "mlruns").as_uri()}},
    }
    with pytest.raises(ConfigError, match="tracking.mlflow.uri"):
        faultlab.run(cfg, out=tmp_path / "out", verbose=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_train_cli_with_mlflow(store, tmp_path):
    uri, client = store
    args = [
        "train",
        "--dataset",
        "synthetic",
        "--model",
        "rf",
        "-p",
        "n_estimators=20",
        "--fold",
        "3",
        "--quiet",
        "--set",
        "data.synthetic.sizes=[0.014]",
        "--set",
        "data.synthetic.duration_s=2.0",
        "--set",
        "data.window=512",
        "--out",
        str(tmp_path / "t"),
        "--mlflow",
        uri,
    ]
    assert main(args) == 0
    (run,) = client.search_runs([client.get_experiment_by_name("run").experiment_id])
    assert run.data.tags["faultlab.model"] == "rf" and "test_accuracy" in run.data.metrics

"""metrics.json as typed records (``contracts.Metrics``): the runner writes them, the run
report and the leaderboard read them, and older run directories still report."""

from __future__ import annotations

import json
import shutil

import pytest

from faultlab.contracts import METRICS, Metrics, RunSummary, read_metrics
from faultlab.experiments.config import ExperimentConfig, parse_config
from faultlab.experiments.runner import prepare, run_experiment
from faultlab.reporting.leaderboard import collect_runs, per_class_rows, render_leaderboard
from faultlab.reporting.run_report import render_run_report

CONFIG = {
    "name": "records",
    "data": {
        "dataset": "synthetic",
        "window": 512,
        "synthetic": {"duration_s": 1.0, "loads": [0, 1], "sizes": [0.014]},
    },
    "split": {"kind": "leave_one_out", "folds": ["1"]},
    "model": {"name": "rf", "params": {"n_estimators": 10, "n_jobs": 1}},
    "training": {"num_threads": 1, "progress": False},
}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """A benchmark directory with one finished run: ``out/runs/rf/<fold>/seed0``."""
    out = tmp_path_factory.mktemp("bench")
    cfg = parse_config(ExperimentConfig, CONFIG)
    windows, splits = prepare(cfg)
    run_dir = out / "runs" / "rf" / "fold" / "seed0"
    run_experiment(cfg, run_dir, windows=windows, split=splits[0], seed=0, report=False)
    return out, run_dir


def test_round_trip_keeps_every_key(bench):
    _, run_dir = bench
    data = json.loads((run_dir / METRICS).read_text())
    m = Metrics.from_json(data)
    assert isinstance(m.run, RunSummary) and m.run.model == "rf" and m.run.seed == 0
    assert m.primary.task == "class" and 0 <= (m.primary.accuracy or 0) <= 1
    assert m.speed.latency_ms_batch1 and "batch_size" in m.speed.extra
    assert m.training.epochs == 1 and m.model.family == "classical" and m.verdict
    assert m.to_json() == data
    assert read_metrics(run_dir) == m and read_metrics(run_dir / "nothing") is None


def _old_format(data: dict) -> dict:
    """metrics.json as runs wrote it before train/test data, roc_auc_macro and config_hash
    (and with a key this version does not know)."""
    old = json.loads(json.dumps(data))
    for key in ("train_data", "test_data", "train_machine", "test_machine", "config_hash"):
        old["run"].pop(key)
    old["run"]["fold"] = 1  # an int, as some old folds were
    old["primary"].pop("roc_auc_macro")
    old["primary"].pop("roc_auc")
    for key in ("resources", "data"):
        old.pop(key)
    old["legacy_block"] = {"x": 1}
    return old


def test_old_run_directories_still_report(bench, tmp_path):
    out, run_dir = bench
    data = json.loads((run_dir / METRICS).read_text())
    old_out = tmp_path / "old"
    old_run = old_out / "runs" / "rf" / "fold" / "seed0"
    shutil.copytree(run_dir, old_run)
    (old_run / METRICS).write_text(json.dumps(_old_format(data)))
    m = read_metrics(old_run)
    assert m is not None and m.extra == {"legacy_block": {"x": 1}}
    assert m.roc_auc == data["tasks"]["class"]["roc_auc_ovr_macro"]  # from the task block
    assert m.run.source("train_data") == "synthetic" and m.run.source("train_machine") == "?"
    text = render_run_report(old_run)["md"].read_text()
    assert "Test metrics" in text and "Primary task class" in text
    runs, failed = collect_runs(old_out)
    assert not failed and runs.loc[0, "fold"] == "1" and runs.loc[0, "train_data"] == "synthetic"
    assert runs.loc[0, "roc_auc"] == pytest.approx(m.roc_auc)
    assert per_class_rows(m) == per_class_rows(_old_format(data))
    board = render_leaderboard(old_out)
    assert "rf" in board["md"].read_text()


def test_leaderboard_and_report_read_the_new_runs(bench):
    out, run_dir = bench
    render_run_report(run_dir)
    runs, _ = collect_runs(out)
    m = read_metrics(run_dir)
    assert m is not None
    row = runs.iloc[0]
    assert row["model"] == "rf" and row["accuracy"] == m.primary.accuracy
    assert row["latency_ms_batch1"] == m.speed.latency_ms_batch1
    assert row["test_data"] == "synthetic" and row["verdict"] == m.verdict


def test_leaderboard_shows_validation_next_to_test(bench):
    """val accuracy / macro ROC-AUC (the run's val block) are carried per run and averaged,
    so a choice made on validation can be read beside the test scores."""
    import pandas as pd

    from faultlab.reporting.leaderboard import aggregate, run_row

    out, run_dir = bench
    data = json.loads((run_dir / METRICS).read_text())
    rows = []
    for acc, auc in ((0.5, 0.75), (0.7, 0.95)):
        data["val"] = {"primary": {"accuracy": acc, "roc_auc_macro": auc}}
        rows.append(run_row(run_dir, data, out))
    assert rows[0]["val_accuracy"] == 0.5 and rows[0]["val_roc_auc"] == 0.75
    board = aggregate(pd.DataFrame(rows))
    assert board.loc[0, "val_accuracy_mean"] == pytest.approx(0.6)
    assert board.loc[0, "val_roc_auc_mean"] == pytest.approx(0.85)
    data["val"] = {}  # a run without validation windows
    assert run_row(run_dir, data, out)["val_accuracy"] is None

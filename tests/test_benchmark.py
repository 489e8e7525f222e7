"""Benchmark grid end to end on real CWRU files: runs, resume, failures, leaderboard, CLI (the
process-executor check runs on synthetic recordings)."""

from __future__ import annotations

import csv
import json
import operator
from pathlib import Path

import pytest
import yaml

from faultlab.errors import ConfigError
from faultlab.experiments.benchmark import BenchmarkConfig, load_benchmark, run_benchmark
from faultlab.experiments.executors import (
    EXECUTORS,
    LocalExecutor,
    ProcessExecutor,
    TaskError,
    make_executor,
)
from report_support import CHROMIUM, SMALL_DATA, chromium_check  # registers toy_softmax

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

#: A real registered model, made small: 2 epochs of a narrow MLP train in seconds.
QUICK_MLP = {
    "name": "mlp",
    "params": {"hidden": [32]},
    "training": {"epochs": 2, "batch_size": 128, "progress": False, "num_threads": 1},
}


def tiny_grid(**extra) -> dict:
    return {
        "name": "tiny",
        "description": "two quick models on one load fold",
        "data": SMALL_DATA,
        "target": "flat",
        "split": {"kind": "leave_one_out", "folds": ["3"]},
        "models": [
            {"name": "toy_softmax", "label": "toy-a", "params": {"epochs": 6}},
            QUICK_MLP,
        ],
        "seeds": [0],
        **extra,
    }


@pytest.fixture
def bench(tmp_path: Path, shared_data) -> tuple[BenchmarkConfig, Path]:
    return BenchmarkConfig.model_validate(tiny_grid()), tmp_path / "bench"


@pytest.fixture(scope="module")
def finished(tmp_path_factory, shared_data) -> tuple[BenchmarkConfig, Path, dict, list[str]]:
    """The tiny grid, run once for the tests that only read its output."""
    cfg = BenchmarkConfig.model_validate(tiny_grid())
    out = tmp_path_factory.mktemp("bench") / "out"
    logs: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAULTLAB_DATA_DIR", str(shared_data))
        first = run_benchmark(cfg, out, log=logs.append)
    return cfg, out, first, logs


def test_grid_runs_writes_leaderboard_and_resumes(finished) -> None:
    cfg, out, first, logs = finished
    assert (first["ran"], first["failed"], first["skipped"]) == (2, 0, 0)
    metrics = sorted(out.glob("runs/*/*/seed0/metrics.json"))
    assert [p.relative_to(out / "runs").parts[:2] for p in metrics] == [
        ("mlp", "test-load_hp-3"),
        ("toy-a", "test-load_hp-3"),
    ]
    assert all((p.parent / "report.html").exists() for p in metrics)

    with open(out / "leaderboard.csv") as fh:
        rows = list(csv.DictReader(fh))
    need = {
        "model",
        "accuracy_mean",
        "accuracy_std",
        "macro_f1_mean",
        "macro_f1_std",
        "balanced_accuracy_mean",
        "recording_accuracy_mean",
        "train_seconds_mean",
        "latency_ms_batch1",
        "latency_ms_batched",
        "n_params",
        "n_runs",
        "rank",
    }
    assert need <= set(rows[0])
    assert sorted(r["model"] for r in rows) == ["mlp", "toy-a"]
    assert [int(r["rank"]) for r in rows] == [1, 2]
    assert float(rows[0]["accuracy_mean"]) >= float(rows[1]["accuracy_mean"])
    for r in rows:
        m = json.loads(
            (out / "runs" / r["model"] / "test-load_hp-3" / "seed0" / "metrics.json").read_text()
        )
        assert float(r["accuracy_mean"]) == pytest.approx(m["primary"]["accuracy"])
        assert float(r["accuracy_std"]) == 0.0 and r["n_runs"] == "1"
        assert int(r["n_params"]) == m["model"]["n_params"]

    md = (out / "leaderboard.md").read_text()
    assert md.startswith("# tiny: leaderboard")
    head = md.split("## Ranking")[0]
    assert "Load/condition split on load_hp" in head and "CWRU caveat" in head
    assert "## Per fold" in md and "test load_hp 3" in md
    assert (out / "plots" / "accuracy_vs_latency.png").exists()
    html = (out / "leaderboard.html").read_text()
    assert html.count("data:image/png;base64,") == 1 and 'href="runs/toy-a/' in html
    # the real model's run carries a layer table and learning curves
    mlp_md = (out / "runs" / "mlp" / "test-load_hp-3" / "seed0" / "report.md").read_text()
    assert "| Linear |" in mlp_md and "![learning curves]" in mlp_md

    # second invocation: everything finished, nothing re-run, metrics untouched
    stamp = [p.stat().st_mtime_ns for p in metrics]
    second = run_benchmark(cfg, out, log=logs.append)
    assert (second["ran"], second["skipped"]) == (0, 2)
    assert [p.stat().st_mtime_ns for p in metrics] == stamp
    assert any("2 finished earlier (skipped)" in line for line in logs)


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_leaderboard_html_renders_in_headless_chromium(finished, tmp_path: Path) -> None:
    _, out, _, _ = finished
    assert chromium_check(out / "leaderboard.html", tmp_path) == (
        "images=1 broken=0 errors=0 requests=0"
    )


def test_only_selects_models_and_unknown_names_fail(bench) -> None:
    cfg, out = bench
    res = run_benchmark(cfg, out, only=["toy-a"], log=lambda s: None, report=False)
    assert res["ran"] == 1
    assert not (out / "runs" / "mlp").exists()
    with pytest.raises(ConfigError, match="--only nope: not in this benchmark"):
        run_benchmark(cfg, out, only=["nope"], log=lambda s: None)


def test_a_failing_run_is_recorded_and_the_grid_goes_on(tmp_path: Path, shared_data) -> None:
    raw = tiny_grid()
    raw["models"][1] = {"name": "toy_softmax", "label": "broken", "params": {"fail": True}}
    out = tmp_path / "bench"
    res = run_benchmark(BenchmarkConfig.model_validate(raw), out, log=lambda s: None, report=False)
    assert (res["ran"], res["failed"]) == (1, 1)
    err = (out / "runs" / "broken" / "test-load_hp-3" / "seed0" / "error.txt").read_text()
    assert "RuntimeError: toy model asked to fail" in err
    md = (out / "leaderboard.md").read_text()
    assert "## Failed runs" in md and "toy model asked to fail" in md
    with open(out / "leaderboard.csv") as fh:
        assert [r["model"] for r in csv.DictReader(fh)] == ["toy-a"]


def test_cli_benchmark_then_report_on_the_benchmark_dir(tmp_path: Path, shared_data) -> None:
    from faultlab.cli import main

    cfg_path = tmp_path / "tiny.yaml"
    raw = tiny_grid()
    raw["models"] = raw["models"][:1]
    cfg_path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    assert (
        main(
            ["benchmark", str(cfg_path), "--out", str(out), "--quiet", "--no-report"]
            + ["--set", "seeds=[0, 1]"]
        )
        == 0
    )
    metrics = sorted(out.glob("runs/toy-a/*/seed*/metrics.json"))
    assert len(metrics) == 2
    # --no-report: finished runs without their reports; `faultlab report` renders one later
    for m in metrics:
        assert not (m.parent / "report.md").exists() and not (m.parent / "report.html").exists()
        assert json.loads((m.parent / "done.json").read_text())["report"] is False
    assert main(["report", str(metrics[0].parent)]) == 0
    assert (metrics[0].parent / "report.html").exists()
    with open(out / "leaderboard.csv") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["n_runs"] == "2" and row["n_seeds"] == "2"
    (out / "leaderboard.md").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "leaderboard.md").read_text().startswith("# tiny: leaderboard")


#: Small synthetic recordings (normal, IR, B, OR at one size; 4 loads) for the executor test:
#: what is under test is where the runs execute, not the data.
SYNTHETIC = {
    "dataset": "synthetic",
    "window": 512,
    "synthetic": {"duration_s": 1.0, "sizes": [0.007]},
}


@pytest.mark.slow
def test_processes_executor_runs_real_models_in_parallel(tmp_path: Path) -> None:
    raw = tiny_grid(seeds=[0, 1], data=SYNTHETIC)
    out = tmp_path / "bench"
    logs: list[str] = []
    res = run_benchmark(
        BenchmarkConfig.model_validate(raw),
        out,
        executor="processes",
        workers=2,
        only=["mlp"],
        log=logs.append,
        report=False,  # where the runs execute is under test, not their reports
    )
    assert (res["ran"], res["failed"]) == (2, 0), logs
    assert any("on executor processes" in line for line in logs)
    seeds = [
        json.loads(p.read_text())["run"]["seed"]
        for p in sorted(out.glob("runs/mlp/*/seed*/metrics.json"))
    ]
    assert seeds == [0, 1]


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    from faultlab.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"models": [{"name": "toy_softmax"}], "seeds": "x"}))
    assert main(["benchmark", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}: seeds")
    dup = tmp_path / "dup.yaml"
    dup.write_text(yaml.safe_dump({"models": [{"name": "toy_softmax"}, {"name": "toy_softmax"}]}))
    assert main(["benchmark", str(dup)]) == 2
    assert "model labels must be unique" in capsys.readouterr().err
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump({"models": [{"name": "toy_softmax"}]}))
    assert main(["benchmark", str(ok), "--executor", "ray9"]) == 2
    assert "unknown executor 'ray9'" in capsys.readouterr().err


def test_executors_share_one_interface() -> None:
    assert {"local", "processes"} <= set(EXECUTORS)
    tasks = [1, 2, 3, 4]
    seen: list[int] = []
    local = LocalExecutor().map(
        operator.add, tasks, shared=10, on_result=lambda i, r: seen.append(i)
    )
    assert local == [11, 12, 13, 14] and seen == [0, 1, 2, 3]
    procs = make_executor("processes", workers=2)
    assert isinstance(procs, ProcessExecutor)
    # results come back in task order; a task that raises comes back as a TaskError while the
    # others still finish
    for ex in (LocalExecutor(), procs):
        out = ex.map(operator.getitem, [{"a": 1}, {}, {"a": 3}, {"a": 4}], shared="a")
        assert out[0] == 1 and out[2:] == [3, 4]
        assert isinstance(out[1], TaskError) and out[1].message.startswith("KeyError")


@pytest.mark.parametrize(
    "name",
    [
        "cwru-quick",
        "cwru-lolo",
        "cwru-load-transfer",
        "cwru-held-out-size",
        "cwru-held-out-sensor",
        "steel-plates",
    ],
)
def test_shipped_configs_parse(name: str) -> None:
    cfg = load_benchmark(CONFIGS / f"{name}.yaml")
    assert cfg.models and cfg.seeds

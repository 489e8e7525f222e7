"""A real Ray cluster of two nodes on this machine (``ray start --head`` + ``ray start
--address``): a benchmark run with ``--address`` spreads its runs over both nodes and gives
the local executor's leaderboard; killing the extra node mid-benchmark loses no finished run
and duplicates none (its runs are retried on the head)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytest.importorskip("ray")

from cluster_support import child_env, hold_node, ray_cluster  # noqa: E402
from faultlab.experiments.benchmark import BenchmarkConfig, run_benchmark  # noqa: E402

pytestmark = pytest.mark.cluster

SEEDS = [0, 1, 2]
CONFIG = {
    "name": "two-node",
    "data": {
        "dataset": "synthetic",
        "window": 256,
        "synthetic": {
            "duration_s": 1.0,
            "locations": ["IR", "OR"],
            "sizes": [0.007],
            "snr_db": 0.0,
        },
    },
    "split": {"kind": "leave_one_out", "column": "load_hp", "folds": [3]},
    "models": [
        {"name": "mlp"},
        {"name": "cnn1d"},
    ],
    "seeds": SEEDS,
    "training": {
        "epochs": 3,
        "batch_size": 32,
        "num_threads": 1,
        "deterministic": True,
        "progress": False,
        "amp": False,
        "time_budget_s": None,
    },
}
N_RUNS = len(CONFIG["models"]) * len(SEEDS)


@pytest.fixture(scope="module")
def cluster():
    with ray_cluster(extra_nodes=1, num_cpus=1) as c:
        yield c


@pytest.fixture(scope="module")
def local_board(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    t0 = time.perf_counter()
    res = run_benchmark(BenchmarkConfig.model_validate(CONFIG), out, log=lambda s: None)
    assert res["ran"] == N_RUNS and res["failed"] == 0
    print(f"\nlocal executor: {N_RUNS} runs in {time.perf_counter() - t0:.1f} s")
    return _board(out)


def _board(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "leaderboard.csv").set_index("model").sort_index()


def _metrics(out: Path) -> list[dict]:
    found = []
    for p in sorted(out.glob("runs/*/*/*/metrics.json")):
        try:
            found.append(json.loads(p.read_text()))
        except (json.JSONDecodeError, FileNotFoundError):  # being unpacked right now
            continue
    return found


def _same_board(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.index) == list(b.index)
    for col in ("accuracy_mean", "macro_f1_mean", "n_runs"):
        assert a[col].tolist() == pytest.approx(b[col].tolist(), abs=1e-12), col


def _start_benchmark(cfg_path: Path, out: Path, address: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "faultlab",
        "benchmark",
        str(cfg_path),
        "--out",
        str(out),
        "--executor",
        "ray",
        "--address",
        address,
    ]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env()
    )


def test_benchmark_spreads_over_two_nodes(cluster, local_board, tmp_path):
    cfg_path = tmp_path / "bench.yaml"
    cfg_path.write_text(yaml.safe_dump(CONFIG))
    out = tmp_path / "two"
    t0 = time.perf_counter()
    proc = _start_benchmark(cfg_path, out, cluster.address)
    log, _ = proc.communicate(timeout=600)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, log[-3000:]
    runs = _metrics(out)
    assert len(runs) == N_RUNS
    nodes = [m["run"]["host"]["ray_node_id"] for m in runs]
    per_node = {n.name: nodes.count(n.node_id) for n in cluster.nodes}
    print(
        f"\ntwo-node benchmark: {N_RUNS} runs in {wall:.1f} s (CLI, incl. start-up); "
        f"runs per node {per_node}"
    )
    assert set(nodes) == {n.node_id for n in cluster.nodes}  # both nodes ran runs
    assert f"ran {N_RUNS}, failed 0" in log
    _same_board(local_board, _board(out))


def test_killing_a_node_mid_benchmark_loses_no_run(cluster, local_board, tmp_path):
    cfg_path = tmp_path / "bench.yaml"
    cfg_path.write_text(yaml.safe_dump(CONFIG))
    out = tmp_path / "kill"
    extra = cluster.node("extra")
    # The head's CPU is held by another job until the kill, so every run goes to the extra
    # node, one after another: the moment to kill it (one run finished there, the next one
    # started) comes for sure. With both nodes free it could be missed on a loaded machine:
    # the head could take every remaining run while the extra node's worker still started.
    with hold_node(cluster, "head") as release_head:
        proc = _start_benchmark(cfg_path, out, cluster.address)
        deadline = time.time() + 300
        before: list[dict] = []
        ready = False
        while time.time() < deadline and proc.poll() is None and not ready:
            before = _metrics(out)
            started = [
                d
                for d in out.glob("runs/*/*/*")
                if (d / "config.yaml").exists() and not (d / "metrics.json").exists()
            ]
            ready = len(before) >= 1 and len(started) == 1
            if not ready:
                time.sleep(0.1)
        assert ready, "the extra node never finished a run and started the next"
        assert {m["run"]["host"]["ray_node_id"] for m in before} == {extra.node_id}
        extra.kill()  # inside its second run (or later): one CPU, runs one at a time
        killed_at = time.time()
        release_head()  # the head takes the rest, the killed run again among them
    log, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, log[-3000:]
    runs = _metrics(out)
    dirs = sorted(out.glob("runs/*/*/*"))
    assert len(dirs) == N_RUNS and len(runs) == N_RUNS  # none lost, none twice
    finished_before = {(m["run"]["model_label"], m["run"]["seed"]) for m in before}
    finished_after = {(m["run"]["model_label"], m["run"]["seed"]) for m in runs}
    assert finished_before <= finished_after and len(finished_after) == N_RUNS
    on_extra = [m for m in runs if m["run"]["host"]["ray_node_id"] == extra.node_id]
    on_head = [m for m in runs if m["run"]["host"]["ray_node_id"] == cluster.node("head").node_id]
    assert len(on_extra) + len(on_head) == N_RUNS
    restarted = log.count("restarted after a lost attempt")
    # the killed run was run again, on the head, which saw its first attempt's files (the
    # kill came after its config.yaml was written, and took its worker with it)
    assert restarted >= 1, log[-3000:]
    print(
        f"\nnode-kill benchmark: extra node killed after {len(before)} finished run(s); "
        f"runs on extra {len(on_extra)}, on head {len(on_head)}, restarted {restarted}, "
        f"lost 0; finished {time.time() - killed_at:.1f} s after the kill"
    )
    assert f"ran {N_RUNS}, failed 0" in log
    _same_board(local_board, _board(out))

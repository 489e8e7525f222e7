"""Ray executor: a reduced benchmark on a local Ray gives the local executor's leaderboard, and
tuning workers run as Ray tasks on one shared study."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from faultlab.experiments.benchmark import BenchmarkConfig, run_benchmark  # noqa: E402
from faultlab.experiments.config import load_yaml  # noqa: E402
from faultlab.experiments.executors import EXECUTORS, TaskError, make_executor  # noqa: E402
from faultlab.experiments.ray_executor import RayExecutor, resources_for, runtime_env  # noqa: E402
from faultlab.experiments.tuning import TuneOptions, load_tune_config, make_storage, run_tuning  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = {
    "dataset": "synthetic",
    "window": 256,
    "synthetic": {"duration_s": 1.0, "locations": ["IR", "OR"], "sizes": [0.007], "snr_db": 0.0},
}
SPLIT = {
    "kind": "leave_one_out",
    "column": "load_hp",
    "folds": [3],
    "val": {"strategy": "recordings", "fraction": 0.34},
}
TRAINING = {
    "epochs": 2,
    "batch_size": 32,
    "num_threads": 1,
    "deterministic": True,
    "progress": False,
    "amp": False,
}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        runtime_env=runtime_env(),
        configure_logging=False,
        # no idle workers started ahead (the tests' tasks need their own runtime env anyway):
        # each Ray worker process costs a second or two of CPU
        _system_config={"enable_worker_prestart": False, "prestart_worker_first_driver": False},
    )
    yield ray
    ray.shutdown()


def test_make_executor_imports_ray_backend_on_first_use():
    import subprocess
    import sys
    from pathlib import Path

    code = "from faultlab.experiments.executors import make_executor; print(type(make_executor('ray', 2)).__name__)"
    src = str(Path(__file__).resolve().parents[1] / "src")
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": src},
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-1000:]
    assert res.stdout.strip() == "RayExecutor"


def test_registered_and_resources_from_config():
    assert EXECUTORS["ray"] is RayExecutor
    assert isinstance(make_executor("ray", workers=2), RayExecutor)
    cfg = BenchmarkConfig(
        data=DATA,
        split=SPLIT,
        models=[{"name": "lstm"}],
        training={**TRAINING, "device": "cuda", "num_threads": 3},
    )

    class Task:
        pass

    t = Task()
    t.cfg = cfg.experiment(cfg.models[0])
    assert resources_for(t, 1.0, 0.0) == {"num_cpus": 3.0, "num_gpus": 1.0}
    t.cfg = cfg.experiment(cfg.models[0]).model_copy(
        update={"training": cfg.training.model_copy(update={"device": "cpu", "num_threads": None})}
    )
    assert resources_for(t, 1.0, 1.0) == {"num_cpus": 1.0, "num_gpus": 0.0}


def test_map_keeps_order_and_isolates_failures(local_ray):
    def _fail_on_two(task, shared):  # nested: cloudpickle ships it by value to the workers
        if task == 2:
            raise ValueError("task two is bad")
        return task * shared

    got = []
    res = RayExecutor(workers=2).map(
        _fail_on_two, [1, 2, 3], shared=10, on_result=lambda i, r: got.append(i)
    )
    assert res[0] == 10 and res[2] == 30
    assert isinstance(res[1], TaskError) and "task two is bad" in res[1].message
    assert sorted(got) == [0, 1, 2]


def test_a_task_whose_worker_dies_is_retried(local_ray, tmp_path):
    def die_once(task, marker):  # nested: cloudpickle ships it by value to the workers
        """Kill this worker process on the first attempt (as a lost node would), then succeed."""
        from pathlib import Path

        p = Path(marker)
        n = int(p.read_text()) if p.exists() else 0
        p.write_text(str(n + 1))
        if n == 0:
            os._exit(1)
        return task * 2

    marker = tmp_path / "attempts"
    assert RayExecutor(workers=1).map(die_once, [21], shared=str(marker)) == [42]
    assert marker.read_text() == "2"
    marker = tmp_path / "no-retry"
    (res,) = RayExecutor(workers=1, max_retries=0).map(die_once, [21], shared=str(marker))
    assert isinstance(res, TaskError) and marker.read_text() == "1"


def _reduced_quick() -> BenchmarkConfig:
    """configs/cwru-quick.yaml cut to 2 models (LSTM, random forest), on the synthetic
    generator (2 fault types at one size: a unit test needs no shared data), 1 epoch and no
    wall-clock cap (a time cap would make results timing-dependent)."""
    raw = load_yaml(ROOT / "configs" / "cwru-quick.yaml")
    raw["data"] = dict(DATA)
    raw["models"] = [m for m in raw["models"] if m["name"] in ("lstm", "rf")]
    raw["training"].update(
        {"epochs": 1, "time_budget_s": None, "num_threads": 1, "deterministic": True, "amp": False}
    )
    for m in raw["models"]:
        if m["name"] == "rf":  # 20 trees: saving 200 with skops alone takes seconds
            m.setdefault("params", {}).update(n_jobs=1, n_estimators=20)
    return BenchmarkConfig.model_validate(raw)


#: In `make test-cluster` (and CI's .ci/run), not `make test`: the slowest test of the suite
#: (~45 s on 2 cores: two Ray workers each importing torch), and `make test` keeps the Ray
#: executor's own checks above and below, while test_cluster_ray.py compares a Ray
#: benchmark's leaderboard with the local one's on a real two-node cluster.
@pytest.mark.slow
@pytest.mark.cluster
def test_quick_benchmark_on_ray_matches_local(local_ray, tmp_path):
    cfg = _reduced_quick()
    assert [m.name for m in cfg.models] == ["lstm", "rf"]
    # the leaderboards are compared, not the runs' reports: none are rendered
    local = run_benchmark(
        cfg, tmp_path / "local", executor="local", log=lambda s: None, report=False
    )
    remote = run_benchmark(
        cfg, tmp_path / "ray", executor="ray", workers=2, log=lambda s: None, report=False
    )
    assert local["ran"] == remote["ran"] == 2 and remote["failed"] == 0
    a = pd.read_csv(tmp_path / "local" / "leaderboard.csv").set_index("model").sort_index()
    b = pd.read_csv(tmp_path / "ray" / "leaderboard.csv").set_index("model").sort_index()
    assert list(a.index) == list(b.index) == ["lstm", "rf"]
    for col in ("accuracy_mean", "macro_f1_mean", "n_params", "n_runs"):
        assert a[col].tolist() == pytest.approx(b[col].tolist(), abs=1e-12), col
    assert a["accuracy_mean"].between(0, 1).all()


def test_tuning_workers_as_ray_tasks_share_one_study(local_ray, tmp_path):
    raw = {
        "name": "rt",
        "data": DATA,
        "split": SPLIT,
        "model": {
            "name": "lstm",
            "params": {"layers": 1, "units": 8, "proj_dim": 8, "bidirectional": False},
        },
        "training": TRAINING,
        "tune": {
            "n_trials": 4,
            "budget_s": 120,
            "workers": 2,
            "pruner": {"kind": "none"},
            "resources": {"num_cpus": 1, "num_gpus": 0},
            "search": {"lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
        },
    }
    setup = load_tune_config(raw=raw)
    out = tmp_path / "tune"
    summary = run_tuning(
        setup, TuneOptions(out=out, executor="ray", report=False), log=lambda s: None
    )
    (m,) = summary["models"]
    workers = m["workers"]
    assert len(workers) == 2 and all("error" not in w for w in workers)
    assert len({w["pid"] for w in workers}) == 2  # two Ray worker processes
    mine = [set(w["trials"]) for w in workers]
    assert not mine[0] & mine[1]
    study = optuna.load_study(
        study_name=m["study"], storage=make_storage(f"sqlite:///{out / 'study.db'}")
    )
    numbers = sorted(t.number for t in study.trials)
    assert numbers == list(range(len(numbers))) and 4 <= len(numbers) <= 5
    assert mine[0] | mine[1] == set(numbers)
    assert m["tuned"]["test_accuracy"] >= 0.0


def test_unreachable_address_is_one_line_error_in_seconds():
    from faultlab.errors import ConfigError
    from faultlab.experiments.ray_executor import check_reachable

    with pytest.raises(ConfigError, match="no Ray cluster answers"):
        check_reachable("127.0.0.1:9", timeout=2)
    with pytest.raises(ConfigError, match="expected host:port"):
        check_reachable("nonsense")
    check_reachable(None)
    check_reachable("auto")

"""A shared Optuna study on a real PostgreSQL server (a throw-away cluster the test starts):
three ``faultlab tune --search-only`` processes on one study, one killed (SIGKILL) mid-trial,
then the final run. No trial twice, the count adds up, the dead worker's trial is FAIL (not a
RUNNING hole), and the final run reports the best trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import yaml

optuna = pytest.importorskip("optuna")
pytest.importorskip("psycopg")

from cluster_support import child_env, pg_bindir, postgres_server  # noqa: E402
from faultlab.experiments.tuning import make_storage  # noqa: E402

pytestmark = pytest.mark.cluster


N_TRIALS = 9
CONFIG = {
    "name": "pg",
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
    "split": {
        "kind": "leave_one_out",
        "column": "load_hp",
        "folds": [3],
        "val": {"fraction": 0.34},
    },
    "model": {"name": "mlp"},
    "training": {
        "epochs": 6,
        "batch_size": 16,
        "patience": None,
        "num_threads": 1,
        "progress": False,
        "amp": False,
    },
    "tune": {
        "budget_s": 300,
        "sampler": "random",
        "pruner": {"kind": "none"},
        "heartbeat_s": 1,
        "grace_s": 4,
        "search": {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}},
    },
}


@pytest.fixture(scope="module")
def pg_url():
    if pg_bindir() is None:
        pytest.fail("PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)")
    with postgres_server() as url:
        yield url


def _tune(cfg, url, out, *extra):
    cmd = [
        sys.executable,
        "-m",
        "faultlab",
        "tune",
        str(cfg),
        "--storage",
        url,
        "--study",
        "team",
        "--n-trials",
        str(N_TRIALS),
        "--out",
        str(out),
        *extra,
    ]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env()
    )


def test_three_workers_and_a_killed_one_share_a_postgres_study(pg_url, tmp_path):
    cfg = tmp_path / "tune.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    storage = make_storage(pg_url)
    workers = [
        _tune(cfg, pg_url, tmp_path / f"w{i}", "--search-only", "--seed", str(i)) for i in range(3)
    ]
    victim = workers[2]
    # kill worker 2 (SIGKILL: no cleanup) while one of its trials is running
    deadline, killed_trial = time.time() + 240, None
    while time.time() < deadline and killed_trial is None:
        assert victim.poll() is None, victim.communicate()[0][-3000:]
        try:
            study = optuna.load_study(study_name="team-mlp", storage=storage)
            running = [
                t
                for t in study.get_trials(deepcopy=False)
                if t.state.name == "RUNNING" and t.user_attrs.get("pid") == victim.pid
            ]
        except KeyError:  # study not created yet
            running = []
        if running:
            time.sleep(0.3)
            os.kill(victim.pid, signal.SIGKILL)
            killed_trial = running[0].number
        time.sleep(0.1)
    assert killed_trial is not None, "worker 2 never ran a trial"
    victim.wait(timeout=30)
    for w in workers[:2]:
        log, _ = w.communicate(timeout=600)
        assert w.returncode == 0, log[-3000:]
    final = _tune(cfg, pg_url, tmp_path / "final")
    log, _ = final.communicate(timeout=600)
    assert final.returncode == 0, log[-3000:]

    study = optuna.load_study(study_name="team-mlp", storage=storage)
    trials = study.get_trials(deepcopy=False)
    numbers = sorted(t.number for t in trials)
    assert numbers == list(range(len(trials)))  # no duplicate, no gap
    states = Counter(t.state.name for t in trials)
    assert states["RUNNING"] == 0 and states["WAITING"] == 0  # no hole blocks the study
    assert study.trials[killed_trial].state.name == "FAIL"
    finished = states["COMPLETE"] + states["PRUNED"]
    assert N_TRIALS <= finished <= N_TRIALS + 2  # study-wide cap; workers racing add <= 1 each
    assert len(trials) == finished + states["FAIL"]
    pids = Counter(t.user_attrs.get("pid") for t in trials)
    per_worker = {f"w{i}": pids.get(w.pid, 0) for i, w in enumerate(workers)}
    assert sum(per_worker.values()) == len(trials)  # every trial was one worker's
    assert per_worker["w0"] > 0 and per_worker["w1"] > 0 and per_worker["w2"] >= 1
    params = [t.params["lr"] for t in trials if t.state.name == "COMPLETE"]
    assert len(params) == len(set(params))  # no parameter set trained twice
    summary = json.loads((tmp_path / "final" / "tuning.json").read_text())
    (m,) = summary["models"]
    assert m["best"]["number"] == study.best_trial.number
    assert m["n_trials_total"] == len(trials)
    assert 0.0 <= m["tuned"]["test_accuracy"] <= 1.0
    print(
        f"\npostgres study: 3 workers (+ final run), trials per worker {per_worker}, states "
        f"{dict(states)}, killed trial {killed_trial} -> FAIL, duplicates 0"
    )

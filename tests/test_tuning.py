"""Tuning: search-space rules, shared-storage workers, pruning hook, end-to-end tune, CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

from faultlab.cli import main
from faultlab.errors import ConfigError
from faultlab.experiments.tuning import (
    TuneOptions,
    WorkerJob,
    apply_values,
    importances,
    load_trial_data,
    load_tune_config,
    make_storage,
    resolve_space,
    run_tuning,
)
from faultlab.experiments.tuning.objective import _train_trial

SRC = Path(__file__).resolve().parents[1] / "src"

# Small synthetic set: normal + IR + OR at one size, 4 loads, 1 s each -> 46 windows of 256 per
# recording; leave-one-load-out fold "load 3"; one training recording per class is validation.
RAW = {
    "name": "t",
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
    "model": {
        "name": "lstm",
        "params": {"layers": 1, "units": 8, "proj_dim": 8, "bidirectional": False},
    },
    "training": {
        "epochs": 2,
        "batch_size": 32,
        "patience": None,
        "num_threads": 1,
        "progress": False,
        "amp": False,
    },
    "tune": {
        "budget_s": 120,
        "seed": 0,
        "pruner": {"kind": "none"},
        "search": {
            "units": {"type": "categorical", "choices": [4, 8]},
            "lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
        },
    },
}


def _raw(**tune):
    raw = json.loads(json.dumps(RAW))
    raw["tune"].update(tune)
    return raw


# --- search space -------------------------------------------------------------------------------


def test_keys_map_to_model_params_or_training_fields():
    setup = load_tune_config(
        raw=_raw(
            search={
                "units": {"type": "categorical", "choices": [4, 8]},
                "dropout": {"type": "float", "low": 0.0, "high": 0.5},
                "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                "training.batch_size": {"type": "categorical", "choices": [16, 32]},
                "params.chunk": {"type": "int", "low": 8, "high": 32, "step": 8},
            }
        )
    )
    cfg, search = setup.studies[0]
    where = resolve_space(cfg, search)
    assert where["units"] == ("params", "units") and where["dropout"] == ("params", "dropout")
    assert where["lr"] == ("training", "lr")
    assert where["training.batch_size"] == ("training", "batch_size")
    tuned = apply_values(
        cfg,
        search,
        {"units": 4, "dropout": 0.2, "lr": 0.003, "training.batch_size": 16, "params.chunk": 16},
    )
    assert tuned.model.params["units"] == 4 and tuned.model.params["chunk"] == 16
    tr = tuned.effective_training()
    assert tr.lr == 0.003 and tr.batch_size == 16 and tr.epochs == 2  # untouched fields kept
    assert cfg.model.params["units"] == 8  # the default config is not modified


@pytest.mark.parametrize(
    ("search", "needle"),
    [
        ({"layers": {"type": "int", "low": 3, "high": 1}}, "low 3 > high 1"),
        ({"nonsense": {"type": "int", "low": 1, "high": 2}}, "nonsense"),
        ({"params.lr": {"type": "float", "low": 1e-4, "high": 1e-2}}, "no option 'lr'"),
        ({"units": {"type": "categorical"}}, "choices"),
        ({"lr": {"type": "float", "low": 0, "high": 1, "log": True}}, "log scale"),
        ({"training.seed": {"type": "int", "low": 0, "high": 3}}, "seed"),
        ({}, "empty search space"),
    ],
)
def test_bad_search_space_is_a_config_error(search, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        load_tune_config(raw=_raw(search=search))


def test_tail_validation_refused():
    raw = _raw()
    raw["split"]["val"]["strategy"] = "tail"
    with pytest.raises(ConfigError, match="split.val.strategy"):
        load_tune_config(raw=raw)


def test_cli_bad_search_space_one_line_error(tmp_path, capsys):
    raw = _raw(search={"layers": {"type": "int", "low": 3, "high": 1}})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    code = main(["tune", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and "\n" not in err and "tune.search.layers" in err
    assert "bad.yaml" in err
    assert not (tmp_path / "out").exists()


def test_cli_bad_storage_url_one_line_error(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(_raw()))
    code = main(["tune", str(path), "--out", str(tmp_path / "out"), "--storage", "not-a-url"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: --storage") and "\n" not in err


def test_missing_db_driver_is_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    hidden = ("pymysql", "MySQLdb", "psycopg", "psycopg2")
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in hidden else real(name, *a)
    )
    for mod in hidden:
        monkeypatch.setitem(sys.modules, mod, None)  # import fails as if not installed
    with pytest.raises(ConfigError, match="pymysql"):
        make_storage("mysql+pymysql://user:pw@127.0.0.1:1/optuna")
    with pytest.raises(ConfigError, match=r"faultlab\[postgres\]"):
        make_storage("postgresql://user:pw@127.0.0.1:1/optuna")


def test_bare_postgresql_url_uses_the_installed_driver():
    from faultlab.experiments.tuning import storage_url

    pytest.importorskip("psycopg")
    assert storage_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert storage_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert storage_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert storage_url("sqlite:///x.db") == "sqlite:///x.db"


# --- validation data never includes the test fold ---------------------------------------------


def test_trial_data_holds_out_training_recordings_not_test():
    setup = load_tune_config(raw=_raw())
    data = load_trial_data(setup.studies[0][0])
    loads_val = set(data.val.info["load_hp"].astype(float))
    assert 3.0 not in loads_val and 3.0 not in set(data.train.info["load_hp"].astype(float))
    assert data.n_val_recordings == 3  # one of the three training recordings per class
    assert not set(data.val.recording_id) & set(data.train.recording_id)


# --- pruning hook: the engine's epoch-end callback reports to Optuna ----------------------------


class _FakeTrial:
    def __init__(self, prune_at: int) -> None:
        self.reports: list[tuple[int, float]] = []
        self.prune_at = prune_at
        self.attrs: dict = {}

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return len(self.reports) >= self.prune_at

    def set_user_attr(self, k, v):
        self.attrs[k] = v


def test_epoch_callback_reports_and_prunes():
    setup = load_tune_config(raw=_raw())
    cfg = setup.studies[0][0]
    data = load_trial_data(cfg)
    training = cfg.effective_training().model_copy(update={"epochs": 3})
    trial = _FakeTrial(prune_at=2)
    with pytest.raises(optuna.TrialPruned):
        _train_trial(trial, cfg, training, data)
    assert [s for s, _ in trial.reports] == [1, 2]  # stopped after epoch 2 of 3
    assert all(0.0 <= v <= 1.0 for _, v in trial.reports)
    assert trial.attrs["pruned_at_epoch"] == 2

    trial = _FakeTrial(prune_at=99)
    res = _train_trial(trial, cfg, training, data)
    assert [s for s, _ in trial.reports] == [1, 2, 3]
    assert res["epochs"] == 3 and 0.0 <= res["val_accuracy"] <= 1.0 and res["n_params"] > 0


def test_importances_need_enough_trials():
    study = optuna.create_study(direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    imp, note = importances(study)
    assert imp == {} and "at least 3" in note
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + 0 * t.suggest_int("k", 0, 3), n_trials=6)
    imp, note = importances(study)
    assert note is None and set(imp) == {"x", "k"} and abs(sum(imp.values()) - 1) < 1e-6


# --- two worker processes share one SQLite study ----------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys, time, json
    from pathlib import Path
    from faultlab.experiments.tuning import WorkerJob, run_worker

    job = WorkerJob(**json.loads(sys.argv[1]))
    here = Path(sys.argv[2])

    def barrier():
        # start optimising together, however long each process took to import and load data
        (here / f"ready-{job.worker}").touch()
        t0 = time.time()
        while len(list(here.glob("ready-*"))) < 2 and time.time() - t0 < 60:
            time.sleep(0.05)

    def cheap(trial, cfg, training, data):
        if not (here / f"ready-{job.worker}").exists():
            barrier()
        # deterministic in the params; reports 3 "epochs" so pruning paths run too
        acc = 1.0 - abs(training.lr - 0.004) * 50 - (0.01 if cfg.model.params["units"] == 4 else 0)
        for e in range(1, 4):
            trial.report(acc * e / 3, e)
            time.sleep(0.05)
        return {"val_accuracy": acc, "val_macro_f1": acc, "train_seconds": 0.15}

    print(json.dumps(run_worker(job, train_fn=cheap)))
    """
)


@pytest.mark.slow
def test_two_worker_processes_complete_one_study(tmp_path):
    setup = load_tune_config(
        raw=_raw(
            search={
                "units": {"type": "categorical", "choices": [4, 8]},
                "lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
            },
            pruner={"kind": "median", "n_startup_trials": 2, "n_warmup_steps": 1},
        )
    )
    cfg, search = setup.studies[0]
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = []
    for worker in (0, 1):
        job = WorkerJob(
            experiment=cfg.model_dump(mode="json"),
            search={k: v.model_dump() for k, v in search.items()},
            tune=setup.tune.model_dump(mode="json"),
            storage=storage,
            study_name="shared",
            budget_s=60,
            n_trials=8,
            seed=worker,
            worker=worker,
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script), json.dumps(job.__dict__), str(tmp_path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**__import__("os").environ, "PYTHONPATH": str(SRC)},
            )
        )
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    study = optuna.load_study(study_name="shared", storage=make_storage(storage))
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))  # no duplicate or missing numbers
    mine = [set(o["trials"]) for o in outs]
    assert mine[0] and mine[1] and not mine[0] & mine[1]  # both workers ran trials, none twice
    assert mine[0] | mine[1] == set(numbers)
    finished = [
        t
        for t in trials
        if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]
    assert 8 <= len(finished) <= 9  # the study-wide cap (a race can add one)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    keys = [tuple(sorted(t.params.items())) for t in complete]
    assert len(keys) == len(set(keys))  # no parameter set trained twice
    assert study.best_value == pytest.approx(max(t.value for t in complete))


# --- the real objective, end to end -----------------------------------------------------------


@pytest.mark.slow
def test_tune_end_to_end_two_real_trials(tmp_path):
    setup = load_tune_config(raw=_raw(n_trials=2, final_seeds=[0]))
    out = tmp_path / "tune"
    summary = run_tuning(setup, TuneOptions(out=out), log=lambda s: None)
    (m,) = summary["models"]
    assert m["n_trials_total"] == 2 and m["trials"] == {"COMPLETE": 2}
    for kind in ("default", "tuned"):
        s = m[kind]
        assert 0.0 <= s["test_accuracy"] <= 1.0 and 0.0 <= s["val_accuracy"] <= 1.0
        assert s["n_params"] > 0 and s["train_seconds"] > 0
    best = m["best"]
    assert best["value"] == pytest.approx(best["attrs"]["val_accuracy"])  # time_weight 0
    tuned_dir = out / "lstm" / f"tuned-trial-{best['number']}" / "seed-0"
    tuned_cfg = yaml.safe_load((tuned_dir / "config.yaml").read_text())
    assert tuned_cfg["model"]["params"]["units"] == best["params"]["units"]
    assert tuned_cfg["training"]["lr"] == pytest.approx(best["params"]["lr"])
    metrics = json.loads((tuned_dir / "metrics.json").read_text())
    assert metrics["primary"]["accuracy"] == m["tuned"]["test_accuracy"]
    assert (out / "lstm" / "default" / "seed-0" / "metrics.json").exists()
    md = (out / "tuning_report.md").read_text()
    assert "Before / after" in md and "test accuracy" in md and "importances need at least 3" in md
    html = (out / "tuning_report.html").read_text()
    assert "data:image/png;base64," in html and "<table>" in html
    trials = (out / "lstm" / "trials.csv").read_text().splitlines()
    assert len(trials) == 3
    assert (out / "study.db").exists()
    # a second call joins the same study (load_if_exists) and adds trials up to the new cap
    summary2 = run_tuning(setup, TuneOptions(out=out, n_trials=3), log=lambda s: None)
    assert summary2["models"][0]["n_trials_total"] == 3
    assert np.isfinite(summary2["models"][0]["default"]["test_accuracy"])


def test_cli_search_only_joins_a_named_study(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(_raw()))
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    args = [
        "tune",
        str(path),
        "--out",
        str(tmp_path / "m1"),
        "--storage",
        storage,
        "--study",
        "team",
        "--n-trials",
        "1",
        "--search-only",
        "--seed",
        "7",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "trial 0 complete" in out and "best trial 0" in out
    study = optuna.load_study(study_name="team-lstm", storage=make_storage(storage))
    assert [t.state.name for t in study.trials] == ["COMPLETE"]
    assert not (tmp_path / "m1" / "tuning_report.md").exists()  # no final runs, no report

"""The whole ``faultlab tune`` command: search each model's study, then default vs tuned on the test fold."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faultlab.contracts import TRIALS, TUNING_SUMMARY, Metrics
from faultlab.errors import ConfigError
from faultlab.experiments.config import ExperimentConfig
from faultlab.experiments.tuning.config import Log
from faultlab.experiments.tuning.setup import TuneSetup
from faultlab.experiments.tuning.space import apply_values
from faultlab.experiments.tuning.storage import (
    default_storage,
    fail_stale,
    make_storage,
    open_study,
)
from faultlab.experiments.tuning.trial_data import pick_fold
from faultlab.experiments.tuning.worker import WorkerJob, run_worker


@dataclass
class TuneOptions:
    out: Path
    storage: str | None = None
    study: str | None = None
    budget_s: float | None = None
    n_trials: int | None = None
    executor: str = "local"
    address: str | None = None
    workers: int | None = None
    report: bool = True
    seed: int | None = None
    search_only: bool = False


def study_name_for(cfg: ExperimentConfig, prefix: str | None) -> str:
    base = prefix or cfg.name
    return f"{base}-{cfg.model.display_name}"


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """One plain dict per trial (number, state, value, params, attributes, seconds)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        dur = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None
        )
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "seconds": dur,
                "started": t.datetime_start.isoformat() if t.datetime_start else None,
                **{f"params_{k}": v for k, v in t.params.items()},
                **{f"attr_{k}": v for k, v in t.user_attrs.items()},
                "last_epoch": max(t.intermediate_values) if t.intermediate_values else None,
            }
        )
    return rows


def importances(study: Any) -> tuple[dict[str, float], str | None]:
    """Optuna parameter importances, or an empty dict and the reason when there are too few trials."""
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) < 3:
        return {}, f"only {len(done)} finished trial(s): importances need at least 3"
    varying = {k for k in done[0].params if len({repr(t.params.get(k)) for t in done}) > 1}
    if not varying:
        return {}, "no parameter varied across finished trials"
    try:
        imp = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, ZeroDivisionError) as exc:
        return {}, f"importances unavailable: {exc}"
    return {k: float(v) for k, v in imp.items()}, None


def _final_runs(
    cfg: ExperimentConfig,
    seeds: list[int],
    out: Path,
    kind: str,
    fold: str | None,
    log: Log,
    report: bool,
) -> list[dict[str, Any]]:
    """Train ``cfg`` on the tuning fold for each seed via run_experiment (test evaluated once)."""
    from faultlab.experiments import rundir
    from faultlab.experiments.runner import prepare, run_experiment

    windows, splits = prepare(cfg)
    split = pick_fold(splits, fold)
    results = []
    for seed in seeds:
        run_dir = out / kind / f"seed-{seed}"
        if rundir.is_complete(run_dir):
            log(f"  {kind} seed {seed}: finished earlier ({run_dir})")
            results.append(rundir.read_json(run_dir, rundir.METRICS))
            continue
        cfg_s = cfg.model_copy(
            update={"training": cfg.training.model_copy(update={"progress": False})}
        )
        m = run_experiment(cfg_s, run_dir, windows=windows, split=split, seed=seed, report=report)
        rec = Metrics.from_json(m)
        log(
            f"  {kind} seed {seed}: test accuracy {rec.primary.accuracy or math.nan:.4f} "
            f"val {_val_acc(m):.4f} ({rec.training.train_seconds or 0:.1f} s) -> {run_dir}"
        )
        results.append(m)
    return results


def _val_acc(m: dict[str, Any]) -> float:
    v = m.get("val") or {}
    prim = v.get("primary", v)
    return float(prim.get("accuracy", math.nan)) if isinstance(prim, dict) else math.nan


def summarise_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds of what the before/after table shows."""

    def mean(vals: Sequence[float | None]) -> float:
        ok = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
        return float(np.mean(ok)) if ok else math.nan

    recs = [Metrics.from_json(m) for m in runs]
    latencies = [r.speed.latency_ms_batch1 for r in recs]
    return {
        "n_seeds": len(recs),
        "val_accuracy": mean([_val_acc(m) for m in runs]),
        "test_accuracy": mean([r.primary.accuracy for r in recs]),
        "test_accuracy_per_seed": [r.primary.accuracy for r in recs],
        "val_accuracy_per_seed": [_val_acc(m) for m in runs],
        "test_macro_f1": mean([r.primary.macro_f1 for r in recs]),
        "train_seconds": mean([r.training.train_seconds for r in recs]),
        "epochs": mean([r.training.epochs for r in recs]),
        "n_params": int(recs[0].model.n_params or 0) if recs else 0,
        # best of seeds: latency is a property of the model, and the lowest measurement is
        # the one least disturbed by other processes on a shared machine
        "latency_ms_batch1": min(
            (math.nan if v is None else v for v in latencies), default=math.nan
        ),
        "fold": recs[0].run.fold if recs else None,
        "stopped_reason": [r.training.stopped_reason for r in recs],
    }


@dataclass
class _Plan:
    """The effective budget, trial cap, worker count and storage of one ``tune`` call."""

    budget: float | None
    n_trials: int | None
    workers: int
    storage: str


def _plan(setup: TuneSetup, opts: TuneOptions, log: Log) -> _Plan:
    """Command-line options over the tune block; fails early on a bad storage URL."""
    tune = setup.tune
    budget = opts.budget_s if opts.budget_s is not None else tune.budget_s
    n_trials = opts.n_trials if opts.n_trials is not None else tune.n_trials
    workers = opts.workers or tune.workers
    if not budget and not n_trials:
        raise ConfigError(f"{setup.source}: give a budget (--budget / tune.budget_s) or --n-trials")
    storage = opts.storage or default_storage(opts.out)
    if opts.executor not in ("local", "ray"):
        raise ConfigError(f"--executor {opts.executor!r}: tuning runs on 'local' or 'ray'")
    if opts.executor == "local" and workers > 1:
        log(f"note: {workers} workers requested; the local executor runs one (use --executor ray)")
        workers = 1
    make_storage(storage)  # fail early on a bad URL / missing driver
    return _Plan(budget, n_trials, workers, storage)


def _worker_jobs(
    cfg: ExperimentConfig, search: dict[str, Any], setup: TuneSetup, opts: TuneOptions, plan: _Plan
) -> list[WorkerJob]:
    """One job per worker on the same study; each worker gets its own sampler seed."""
    tune = setup.tune
    name = study_name_for(cfg, opts.study)
    return [
        WorkerJob(
            experiment=cfg.model_dump(mode="json"),
            search={k: v.model_dump() for k, v in search.items()},
            tune=tune.model_dump(mode="json"),
            storage=plan.storage,
            study_name=name,
            budget_s=plan.budget,
            n_trials=plan.n_trials,
            seed=(tune.seed if opts.seed is None else opts.seed) + i,
            worker=i,
        )
        for i in range(plan.workers)
    ]


def _search(
    jobs: list[WorkerJob], setup: TuneSetup, opts: TuneOptions, log: Log
) -> tuple[list[dict[str, Any]], float]:
    """Run the workers (here, or as Ray tasks); their summaries and the wall-clock seconds."""
    t0 = time.time()
    if opts.executor == "ray":
        from faultlab.experiments.tuning.distributed import run_tuning_workers

        results = run_tuning_workers(jobs, setup.tune.resources, address=opts.address, log=log)
    else:
        results = [run_worker(jobs[0], log=log)]
    return results, time.time() - t0


def _finished_study(storage: str, name: str, setup: TuneSetup, budget: Any, log: Log) -> Any:
    """The study after the search, dead workers' trials marked failed; at least one complete."""
    import optuna

    study = open_study(storage, name, setup.tune)
    stale = fail_stale(study)
    if stale:
        log(f"  trial(s) {stale} of dead workers marked failed")
    complete = optuna.trial.TrialState.COMPLETE
    if not any(t.state == complete for t in study.get_trials(deepcopy=False)):
        raise ConfigError(
            f"study {name!r}: no trial finished within the budget ({budget} s); raise --budget "
            "or lower epochs / trial_budget_s"
        )
    return study


def _tune_one(
    cfg: ExperimentConfig,
    search: dict[str, Any],
    setup: TuneSetup,
    opts: TuneOptions,
    plan: _Plan,
    summary: dict[str, Any],
    log: Log,
) -> dict[str, Any]:
    """Search one model's study, then (unless search-only) default vs tuned on the test fold."""
    tune, out = setup.tune, Path(opts.out)
    label, name = cfg.model.display_name, study_name_for(cfg, opts.study)
    mdir = out / _slug(label)
    log(
        f"study {name!r} ({label}): search {list(search)}; budget {plan.budget} s; storage {summary['storage']}"
    )
    worker_results, search_s = _search(
        _worker_jobs(cfg, search, setup, opts, plan), setup, opts, log
    )
    study = _finished_study(plan.storage, name, setup, plan.budget, log)
    rows = trial_rows(study)
    _write_csv(mdir / TRIALS, rows)
    best = study.best_trial
    tuned_cfg = apply_values(cfg, search, best.params)
    log(f"  best trial {best.number}: score {best.value:.4f} {best.params}")
    best_entry = {"number": best.number, "value": best.value, "params": best.params}
    if opts.search_only:  # one of several machines on a shared study: no final runs
        return {"label": label, "study": name, "best": best_entry}
    imp, imp_note = importances(study)
    log("  final runs on the test fold (default vs tuned):")
    seeds, fold = tune.final_seeds, tune.fold
    default_runs = _final_runs(cfg, seeds, mdir, "default", fold, log, opts.report)
    tuned = f"tuned-trial-{best.number}"
    tuned_runs = _final_runs(tuned_cfg, seeds, mdir, tuned, fold, log, opts.report)
    return {
        "label": label,
        "model": cfg.model.name,
        "study": name,
        "dir": str(mdir),
        **_search_record(search, search_s, rows, worker_results, best, best_entry),
        **_params_record(cfg, tuned_cfg),
        "importances": imp,
        "importances_note": imp_note,
        "default": summarise_runs(default_runs),
        "tuned": summarise_runs(tuned_runs),
        "fold": default_runs[0]["run"]["fold"],
        "val_recordings": default_runs[0].get("data", {}).get("n_windows", {}).get("val"),
    }


def _search_record(
    search: dict[str, Any],
    seconds: float,
    rows: list[dict[str, Any]],
    workers: list[dict[str, Any]],
    best: Any,  # optuna.trial.FrozenTrial
    best_entry: dict[str, Any],
) -> dict[str, Any]:
    """A study's part of the tuning summary: the space, time, workers, trial states, best."""
    states = [r["state"] for r in rows]
    return {
        "search": {k: v.model_dump(exclude_none=True) for k, v in search.items()},
        "search_seconds": seconds,
        "study_span_seconds": _span_seconds(rows),
        "workers": workers,
        "trials": {s: states.count(s) for s in sorted(set(states))},
        "n_trials_total": len(rows),
        "best": {**best_entry, "attrs": best.user_attrs},
    }


def _params_record(cfg: ExperimentConfig, tuned_cfg: ExperimentConfig) -> dict[str, Any]:
    """The default and the tuned options and training blocks (defaults filled in)."""
    from faultlab.models.base import get_spec

    defaults = get_spec(cfg.model.name).defaults
    return {
        "default_params": {**defaults, **cfg.model.params},
        "default_training": cfg.effective_training().model_dump(mode="json"),
        "tuned_params": {**defaults, **tuned_cfg.model.params},
        "tuned_training": tuned_cfg.model.training,
    }


def run_tuning(setup: TuneSetup, opts: TuneOptions, log: Log = print) -> dict[str, Any]:
    """Search every model's study, retrain default and best on the test fold, write the report."""
    from faultlab.utils.io import write_json

    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    tune = setup.tune
    plan = _plan(setup, opts, log)
    summary: dict[str, Any] = {
        "config": setup.source,
        "storage": plan.storage.split("@")[-1],
        "budget_s": plan.budget,
        "n_trials": plan.n_trials,
        "executor": opts.executor,
        "workers": plan.workers,
        "objective": tune.objective.model_dump(),
        "pruner": tune.pruner.model_dump(),
        "sampler": tune.sampler,
        "notes": list(setup.notes),
        "models": [],
    }
    for cfg, search in setup.studies:
        summary["models"].append(_tune_one(cfg, search, setup, opts, plan, summary, log))
        if not opts.search_only:
            write_json(out / TUNING_SUMMARY, summary)
    if opts.report and not opts.search_only:
        from faultlab.reporting.tuning_report import render_tuning_report

        paths = render_tuning_report(out)
        log(f"report: {paths[0]}")
    return summary


def _span_seconds(rows: list[dict[str, Any]]) -> float | None:
    """Wall clock from the first trial's start to the last trial's end (all invocations)."""
    import pandas as pd

    starts = pd.to_datetime([r["started"] for r in rows if r.get("started")])
    ends = [
        s + pd.Timedelta(seconds=r["seconds"])
        for s, r in zip(starts, [r for r in rows if r.get("started")])
        if r.get("seconds") is not None
    ]
    if len(starts) == 0 or not ends:
        return None
    return float((max(ends) - starts.min()).total_seconds())


def _slug(text: str) -> str:
    from faultlab.experiments.rundir import slug

    return slug(text)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    from faultlab.utils.io import atomic_path

    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)

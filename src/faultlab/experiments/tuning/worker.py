"""One tuning worker: join a study and optimise until the budget or the trial cap is used."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faultlab.experiments.config import ExperimentConfig
from faultlab.experiments.tuning.config import Log, ParamSpace, TuneConfig
from faultlab.experiments.tuning.objective import make_objective
from faultlab.experiments.tuning.storage import open_study
from faultlab.experiments.tuning.trial_data import load_trial_data


@dataclass
class WorkerJob:
    """Everything one tuning worker needs; plain data so it pickles to a process or Ray task."""

    experiment: dict[str, Any]
    search: dict[str, Any]
    tune: dict[str, Any]
    storage: str
    study_name: str
    budget_s: float | None
    n_trials: int | None
    seed: int
    worker: int = 0


def _trial_line(trial: Any) -> str:
    """What a finished trial did: its score, or the epoch it was pruned at, or its twin."""
    import optuna

    if trial.state == optuna.trial.TrialState.COMPLETE:
        return (
            f"score {trial.value:.4f} (val acc {trial.user_attrs.get('val_accuracy', math.nan):.4f}, "
            f"{trial.user_attrs.get('train_seconds', 0):.0f} s)"
        )
    if trial.intermediate_values:
        step = max(trial.intermediate_values)
        return f"at epoch {step} (val acc {trial.intermediate_values[step]:.4f})"
    return str(trial.user_attrs.get("duplicate_of", ""))


def _recorder(job: WorkerJob, mine: list[int], log: Log | None) -> Callable[[Any, Any], None]:
    """The Optuna callback that notes this worker's trial numbers (and logs each trial)."""

    def record(study: Any, trial: Any) -> None:
        mine.append(trial.number)
        if log:
            state = trial.state.name.lower()
            log(
                f"  [{job.study_name} w{job.worker}] trial {trial.number} {state} "
                f"{_trial_line(trial)} {trial.params}"
            )

    return record


def run_worker(
    job: WorkerJob, train_fn: Callable[..., dict[str, float]] | None = None, log: Log | None = None
) -> dict[str, Any]:
    """One tuning worker: join the study and optimise until the budget or trial count is used.

    Call it from several processes, Ray tasks or machines with the same storage and study
    name: each gets its own sampler seed (``job.seed``) and Optuna's storage serialises the
    trial numbers. ``n_trials`` is a study-wide cap (finished + pruned trials).
    """
    import optuna

    t0 = time.time()
    cfg = ExperimentConfig.model_validate(job.experiment)
    tune = TuneConfig.model_validate(job.tune)
    search = {k: ParamSpace.model_validate(v) for k, v in job.search.items()}
    threads = cfg.effective_training().num_threads
    if threads:
        import torch

        torch.set_num_threads(threads)
    study = open_study(job.storage, job.study_name, tune, seed=job.seed)
    data = load_trial_data(cfg, tune.fold)
    deadline = t0 + job.budget_s if job.budget_s else None
    timeout = max(1.0, deadline - time.time()) if deadline else None
    callbacks = []
    if job.n_trials:
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        callbacks.append(optuna.study.MaxTrialsCallback(job.n_trials, states=states))
        done = len(study.get_trials(deepcopy=False, states=states))
        if done >= job.n_trials:
            return {"worker": job.worker, "trials": [], "seconds": 0.0, "fold": data.fold}
    mine: list[int] = []
    record = _recorder(job, mine, log)
    objective = make_objective(cfg, search, tune, data, deadline, train_fn)
    study.optimize(
        objective,
        n_trials=job.n_trials,
        timeout=timeout,
        callbacks=[*callbacks, record],
        catch=(RuntimeError, ValueError),
        gc_after_trial=train_fn is None,  # frees torch memory between real trainings
    )
    return {
        "worker": job.worker,
        "trials": mine,
        "seconds": time.time() - t0,
        "fold": data.fold,
        "pid": os.getpid(),
    }

"""Hyperparameter search under a wall-clock budget (Optuna), then a before/after test run.

Why this shape:

* **One Optuna study per model**, kept in a storage URL (SQLite file by default, any
  SQLAlchemy URL such as PostgreSQL/MySQL accepted), opened with ``load_if_exists=True``:
  several worker processes - on one machine, on Ray tasks, on several machines - call
  :func:`run_worker` on the same study and Optuna's storage hands out the trials. No
  home-made distribution.
* **Trials never see the test split.** A trial trains on the training side of the tuning
  fold and scores on *validation recordings*: whole training recordings held out per class
  (``split.val.strategy: recordings``), or a whole held-out training condition
  (``condition``: e.g. one training fault size, so the search selects for the shift the test
  fold makes). The test fold is used only once, after the search,
  for the default configuration and the best one (via :func:`run_experiment`).
* **Pruning** from the validation accuracy the training engine reports after every epoch
  (an epoch-end callback), with Optuna's MedianPruner or HyperbandPruner.
* **Budget**: ``study.optimize(timeout=budget)`` stops starting trials, and every trial's
  ``training.time_budget_s`` is capped by the time left, so the search ends near the budget.
* **Objective** = validation metric - ``time_weight`` x training minutes.

Search-space keys (``tune.search``): ``training.X`` and ``params.X`` say where a value goes;
a bare key goes to the model's params when the model declares that option, else to the
training block when :class:`TrainConfig` has that field, else it is a ConfigError.

Modules, in the order a run uses them: ``config`` (the ``tune:`` block), ``space`` (where
each searched key goes), ``setup`` (reading a tune config), ``trial_data`` (the tuning
fold's windows), ``objective`` (one trial), ``storage`` (study storage, sampler, pruner),
``worker`` (one Optuna worker), ``distributed`` (workers as Ray tasks), ``run`` (the
whole command). This package re-exports their public names.
"""

from __future__ import annotations

from faultlab.experiments.tuning.config import (
    Log,
    ObjectiveConfig,
    ParamSpace,
    PrunerConfig,
    ResourcesConfig,
    TuneConfig,
    TuneModel,
)
from faultlab.experiments.tuning.distributed import run_tuning_workers
from faultlab.experiments.tuning.objective import make_objective, objective_score, worker_identity
from faultlab.experiments.tuning.run import (
    TuneOptions,
    importances,
    run_tuning,
    study_name_for,
    summarise_runs,
    trial_rows,
)
from faultlab.experiments.tuning.setup import TuneSetup, load_tune_config
from faultlab.experiments.tuning.space import apply_values, resolve_space, suggest
from faultlab.experiments.tuning.storage import (
    default_storage,
    fail_stale,
    make_storage,
    open_study,
    storage_url,
)
from faultlab.experiments.tuning.trial_data import TrialData, load_trial_data, pick_fold
from faultlab.experiments.tuning.worker import WorkerJob, run_worker
from faultlab.reporting.tuning_report import read_summary

__all__ = [
    "Log",
    "ObjectiveConfig",
    "ParamSpace",
    "PrunerConfig",
    "ResourcesConfig",
    "TrialData",
    "TuneConfig",
    "TuneModel",
    "TuneOptions",
    "TuneSetup",
    "WorkerJob",
    "apply_values",
    "default_storage",
    "fail_stale",
    "importances",
    "load_trial_data",
    "load_tune_config",
    "make_objective",
    "make_storage",
    "objective_score",
    "open_study",
    "pick_fold",
    "read_summary",
    "resolve_space",
    "run_tuning",
    "run_tuning_workers",
    "run_worker",
    "storage_url",
    "study_name_for",
    "suggest",
    "summarise_runs",
    "trial_rows",
    "worker_identity",
]

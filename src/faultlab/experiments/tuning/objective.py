"""The Optuna objective: one trial = train on the tuning fold, score on validation recordings."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

from faultlab.experiments.config import ExperimentConfig
from faultlab.experiments.tuning.config import ObjectiveConfig, ParamSpace, TuneConfig
from faultlab.experiments.tuning.space import apply_values, suggest
from faultlab.experiments.tuning.trial_data import TrialData, _scores
from faultlab.training.config import TrainConfig


def objective_score(metric_value: float, train_seconds: float, obj: ObjectiveConfig) -> float:
    return float(metric_value) - obj.time_weight * float(train_seconds) / 60.0


def _duplicate_of(trial: Any) -> int | None:
    """Number of an earlier trial (running or finished) with exactly these params, if any."""
    import optuna

    live = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING)
    for t in trial.study.get_trials(deepcopy=False, states=live):
        if t.number < trial.number and t.params == trial.params:
            return t.number
    return None


def make_objective(
    cfg: ExperimentConfig,
    search: dict[str, ParamSpace],
    tune: TuneConfig,
    data: TrialData,
    deadline: float | None,
    train_fn: Callable[..., dict[str, float]] | None = None,
) -> Callable[[Any], float]:
    """The Optuna objective; ``train_fn`` replaces real training (tests of the plumbing only)."""
    import optuna

    def objective(trial: optuna.Trial) -> float:
        for key, value in worker_identity().items():  # who ran it (shared studies)
            trial.set_user_attr(key, value)
        values = suggest(trial, search)
        dup = _duplicate_of(trial)
        if dup is not None:
            trial.set_user_attr("duplicate_of", dup)
            raise optuna.TrialPruned(f"same parameters as trial {dup}")
        tcfg = apply_values(cfg, search, values)
        training = tcfg.effective_training()
        limits = [v for v in (tune.trial_budget_s, training.time_budget_s) if v]
        if deadline is not None:
            limits.append(max(1.0, deadline - time.time()))
        update: dict[str, Any] = {"progress": False, "resume": False}
        if limits:
            update["time_budget_s"] = min(limits)
        training = training.model_copy(update=update)
        if train_fn is not None:
            result = train_fn(trial, tcfg, training, data)
        else:
            result = _train_trial(trial, tcfg, training, data)
        for k, v in result.items():
            trial.set_user_attr(k, v)
        return objective_score(
            result[tune.objective.metric], result["train_seconds"], tune.objective
        )

    return objective


def worker_identity() -> dict[str, Any]:
    """Host and process of this tuning worker, stored with each of its trials."""
    import socket

    return {"host": socket.gethostname(), "pid": os.getpid()}


def _train_trial(
    trial: Any, cfg: ExperimentConfig, training: TrainConfig, data: TrialData
) -> dict[str, Any]:
    """Fit on the tuning fold's training windows; report val accuracy per epoch for pruning."""
    import optuna

    from faultlab.models.base import build_model
    from faultlab.training.fit import fit_model

    model = build_model(
        cfg.model.name,
        classes=data.classes,
        input_shape=data.input_shape,
        params=cfg.model.params,
        training=training,
    )

    def on_epoch_end(epoch: int, row: dict[str, float]) -> bool:
        value = row.get("val_accuracy")
        if value is None or not math.isfinite(value):
            return False
        trial.report(float(value), epoch)
        if trial.should_prune():
            trial.set_user_attr("pruned_at_epoch", epoch)
            raise optuna.TrialPruned(f"val_accuracy {value:.4f} at epoch {epoch}")
        return False

    t0 = time.perf_counter()
    fit = fit_model(model, data.train, data.val, None, callbacks=[on_epoch_end])
    seconds = float(getattr(fit, "train_seconds", 0.0) or time.perf_counter() - t0)
    scores = _scores(model, data.val)
    net = getattr(model, "net", None)  # torch: count directly (describe() runs torchinfo)
    n_params = (
        sum(p.numel() for p in net.parameters()) if net is not None else model.describe().n_params
    )
    return {
        **scores,
        "train_seconds": seconds,
        "epochs": int(getattr(fit, "epochs", 0) or 0),
        "best_epoch": getattr(fit, "best_epoch", None),
        "stopped_reason": getattr(fit, "stopped_reason", "completed"),
        "n_params": int(n_params),
    }

"""The tuning fold's train and validation windows, loaded once per worker (never the test windows)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultlab.errors import ConfigError
from faultlab.experiments.config import ExperimentConfig


@dataclass
class TrialData:
    """Train and validation windows of the tuning fold; the test windows are not kept."""

    train: Any
    val: Any
    classes: dict[str, list[str]]
    input_shape: tuple[int, int]
    fold: str
    n_val_recordings: int


def load_trial_data(cfg: ExperimentConfig, fold: str | None = None) -> TrialData:
    """Windows of the tuning fold; validation = held-out training recordings (never test)."""
    from faultlab.experiments.runner import _roles, prepare

    windows, splits = prepare(cfg)
    split = pick_fold(splits, fold)
    if len(split.val) == 0:
        raise ConfigError(
            f"split {split.name!r}: no validation recordings (val strategy 'recordings' needs >= 2 "
            "training recordings per class; 'condition' >= 2 training values)"
        )
    assert not set(split.val) & set(split.test), "validation overlaps test"
    standardise = (
        cfg.data.standardise if cfg.data.standardise is not None else cfg.data.dataset == "table"
    )
    parts, _ = _roles(windows, split, standardise)
    return TrialData(
        train=parts["train"],
        val=parts["val"],
        classes=windows.classes,
        input_shape=(windows.n_channels, windows.window_length),
        fold=split.name,
        n_val_recordings=len(set(windows.recording_id[split.val].tolist())),
    )


def pick_fold(splits: list[Any], fold: str | None) -> Any:
    if fold is None:
        return splits[0]
    for s in splits:
        if s.name == str(fold) or s.name.split(" ")[-1] == str(fold):
            return s
    raise ConfigError(f"tune.fold: {fold!r} is none of the folds {[s.name for s in splits]}")


def _scores(model: Any, ws: Any) -> dict[str, float]:
    """Validation accuracy (mean over tasks, -1 labels ignored) and macro F1 of the first task."""
    from sklearn.metrics import f1_score

    pred = model.predict(ws.X)
    accs = []
    for task, p in pred.items():
        y = ws.y[task]
        ok = y != -1
        if ok.any():
            accs.append(float((p[ok] == y[ok]).mean()))
    task = next(iter(pred))
    ok = ws.y[task] != -1
    f1 = float(f1_score(ws.y[task][ok], pred[task][ok], average="macro")) if ok.any() else math.nan
    return {"val_accuracy": float(np.mean(accs)) if accs else math.nan, "val_macro_f1": f1}

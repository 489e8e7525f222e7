"""Small stateful training helpers whose state is saved in checkpoints (so resume is exact)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch

#: ``callback(epoch, history_row) -> True to stop``; runs after the epoch's checkpoint is written.
EpochCallback = Callable[[int, dict[str, float]], "bool | None"]


class EarlyStopping:
    """Track the monitored metric, keep a copy of the best weights, count epochs without gain."""

    def __init__(self, monitor: str, patience: int | None, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode = "max" if monitor.endswith("accuracy") else "min"
        self.patience = patience
        self.min_delta = float(min_delta)
        self.best = -math.inf if self.mode == "max" else math.inf
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "max":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def update(self, epoch: int, value: float, module: torch.nn.Module) -> bool:
        """Record ``value`` for ``epoch``; returns True when patience is exhausted."""
        if self.improved(value):
            self.best = value
            self.best_epoch = epoch
            self.bad_epochs = 0
            self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            self.bad_epochs += 1
        return self.patience is not None and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.bad_epochs = state["bad_epochs"]
        self.best_state = copy.copy(state["best_state"])

"""The ``tune:`` block and the tuning config file: search ranges, objective, pruner, resources."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from faultlab.errors import ConfigError
from faultlab.experiments.config import ModelConfig

Log = Callable[[str], None]


class ParamSpace(BaseModel):
    """One searched value: ``int``/``float`` in [low, high] (optional step, log) or ``categorical``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> ParamSpace:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical needs a non-empty 'choices' list")
            if self.low is not None or self.high is not None:
                raise ValueError("categorical takes 'choices', not low/high")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"{self.type} needs 'low' and 'high'")
        if self.choices is not None:
            raise ValueError(f"{self.type} takes low/high, not 'choices'")
        if self.low > self.high:
            raise ValueError(f"low {self.low:g} > high {self.high:g}")
        if self.log and self.low <= 0:
            raise ValueError("log scale needs low > 0")
        if self.log and self.step is not None:
            raise ValueError("log scale cannot have a step")
        if self.type == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("int bounds must be whole numbers")
        return self

    def bounds(self) -> tuple[float, float]:
        """(low, high) of an ``int``/``float`` space (the validator requires both)."""
        if self.low is None or self.high is None:
            raise ConfigError(f"a {self.type} search space has no low/high bounds")
        return self.low, self.high


class ObjectiveConfig(BaseModel):
    """score = metric on validation recordings - time_weight x training minutes (maximised)."""

    model_config = ConfigDict(extra="forbid")

    metric: Literal["val_accuracy", "val_macro_f1"] = "val_accuracy"
    time_weight: float = Field(default=0.0, ge=0, description="score lost per minute of training")


class PrunerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["median", "hyperband", "none"] = "median"
    n_startup_trials: int = Field(
        default=3, ge=0, description="median: trials finished before pruning"
    )
    n_warmup_steps: int = Field(
        default=2, ge=0, description="median: epochs before a trial can be pruned"
    )
    min_resource: int = Field(default=1, ge=1, description="hyperband: fewest epochs a trial gets")
    reduction_factor: int = Field(default=3, ge=2)


class ResourcesConfig(BaseModel):
    """What one trial (or one benchmark run) needs from a Ray cluster."""

    model_config = ConfigDict(extra="forbid")

    num_cpus: float = Field(default=1, ge=0)
    num_gpus: float = Field(default=0, ge=0)


class TuneModel(ModelConfig):
    """A model to tune: a model block plus its own search space (else ``tune.search``)."""

    search: dict[str, ParamSpace] | None = None


class TuneConfig(BaseModel):
    """The ``tune:`` block of a config."""

    model_config = ConfigDict(extra="forbid")

    budget_s: float | None = Field(
        default=600, gt=0, description="wall-clock seconds for the search, per model"
    )
    n_trials: int | None = Field(
        default=None, ge=1, description="most finished trials per study (all workers)"
    )
    trial_budget_s: float | None = Field(
        default=None, gt=0, description="training seconds per trial"
    )
    workers: int = Field(default=1, ge=1, description="parallel workers per study (ray executor)")
    seed: int = 0
    sampler: Literal["tpe", "random"] = "tpe"
    n_startup_trials: int = Field(
        default=5, ge=1, description="tpe: random trials before modelling"
    )
    pruner: PrunerConfig = Field(default_factory=PrunerConfig)
    objective: ObjectiveConfig = Field(default_factory=ObjectiveConfig)
    search: dict[str, ParamSpace] = Field(default_factory=dict)
    models: list[TuneModel] | None = Field(
        default=None, description="several models: one study each"
    )
    fold: str | None = Field(default=None, description="fold to tune on (default: the first)")
    final_seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    heartbeat_s: int = Field(
        default=30,
        ge=1,
        description="a running trial writes a heartbeat this often (shared storage)",
    )
    grace_s: int = Field(
        default=120,
        ge=1,
        description="a running trial silent this long belongs to a dead worker: failed",
    )

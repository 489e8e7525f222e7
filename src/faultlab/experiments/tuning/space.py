"""The search space: where each searched key goes (model params or training) and how a trial's values are applied."""

from __future__ import annotations

from typing import Any

from faultlab.errors import ConfigError
from faultlab.experiments.config import ExperimentConfig
from faultlab.experiments.tuning.config import ParamSpace
from faultlab.training.config import TrainConfig

_TRAIN_FIELDS = set(TrainConfig.model_fields)
_NOT_SEARCHABLE = {"seed", "device", "progress", "resume", "time_budget_s", "num_threads"}


def resolve_space(
    cfg: ExperimentConfig, search: dict[str, ParamSpace], source: str = "config"
) -> dict[str, tuple[str, str]]:
    """Search key -> (``params`` | ``training``, option name); unknown keys are a ConfigError."""
    from faultlab.models.base import get_spec

    options = set(get_spec(cfg.model.name).defaults)
    out: dict[str, tuple[str, str]] = {}
    for key in search:
        where, _, name = key.partition(".") if "." in key else ("", "", key)
        if where == "":
            where = "params" if name in options else "training" if name in _TRAIN_FIELDS else ""
        if where == "params" and name not in options:
            raise ConfigError(
                f"{source}: tune.search.{key}: model {cfg.model.name!r} has no option {name!r}; "
                f"options: {sorted(options)}"
            )
        if where == "training" and (name not in _TRAIN_FIELDS or name in _NOT_SEARCHABLE):
            raise ConfigError(
                f"{source}: tune.search.{key}: {name!r} is not a searchable training field"
            )
        if where not in ("params", "training"):
            raise ConfigError(
                f"{source}: tune.search.{key}: neither an option of model {cfg.model.name!r} nor a "
                "training field (prefix it with params. or training.; data keys cannot be searched)"
            )
        out[key] = (where, name)
    return out


def suggest(trial: Any, search: dict[str, ParamSpace]) -> dict[str, Any]:
    """Ask ``trial`` for one value per search key."""
    values: dict[str, Any] = {}
    for key, sp in search.items():
        if sp.type == "categorical":
            values[key] = trial.suggest_categorical(key, sp.choices)
        elif sp.type == "int":
            low, high = sp.bounds()
            step = int(sp.step) if sp.step else 1
            values[key] = trial.suggest_int(key, int(low), int(high), step=step, log=sp.log)
        else:
            low, high = sp.bounds()
            values[key] = trial.suggest_float(key, low, high, step=sp.step, log=sp.log)
    return values


def apply_values(
    cfg: ExperimentConfig, search: dict[str, ParamSpace], values: dict[str, Any]
) -> ExperimentConfig:
    """``cfg`` with searched values written into the model's params / training overrides."""
    where = resolve_space(cfg, search)
    params = dict(cfg.model.params)
    training = dict(cfg.model.training)
    for key, value in values.items():
        kind, name = where[key]
        (params if kind == "params" else training)[name] = value
    model = cfg.model.model_copy(update={"params": params, "training": training})
    out = cfg.model_copy(update={"model": model}, deep=True)
    out.effective_training()  # validates the training values now, not inside a worker
    return out

"""Reading a tune config file: the experiment, the ``tune:`` block, one study per model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faultlab.errors import ConfigError
from faultlab.experiments.config import ExperimentConfig, ModelConfig, load_yaml, parse_config
from faultlab.experiments.tuning.config import ParamSpace, TuneConfig, TuneModel
from faultlab.experiments.tuning.space import resolve_space
from faultlab.utils.validation import validate


@dataclass
class TuneSetup:
    """A parsed tune config: the experiment (one model per study) and the tune block."""

    experiment: ExperimentConfig
    tune: TuneConfig
    studies: list[tuple[ExperimentConfig, dict[str, ParamSpace]]]
    notes: list[str] = field(default_factory=list)
    source: str = "config"


def load_tune_config(
    path: str | Path | None = None, raw: dict[str, Any] | None = None, source: str | None = None
) -> TuneSetup:
    """Parse an experiment config with a ``tune:`` block; bad search spaces fail here."""
    source = source or (str(path) if path is not None else "config")
    raw = dict(load_yaml(path) if path is not None else raw or {})
    tune_raw = raw.pop("tune", None)
    if tune_raw is None:
        raise ConfigError(f"{source}: no 'tune:' block (it holds the search space)")
    if not isinstance(tune_raw, dict):
        raise ConfigError(f"{source}: tune: must be a mapping")
    notes: list[str] = []
    split_raw = raw.setdefault("split", {})
    val_raw = split_raw.setdefault("val", {}) if isinstance(split_raw, dict) else None
    if isinstance(val_raw, dict):
        strategy = val_raw.get("strategy", "recordings")
        if strategy not in ("recordings", "condition"):
            raise ConfigError(
                f"{source}: split.val.strategy: tuning validates on held-out training recordings; "
                f"use 'recordings' or 'condition', not {strategy!r}"
            )
        val_raw["strategy"] = strategy
    raw.setdefault("model", {"name": "lstm"})
    cfg = parse_config(ExperimentConfig, raw, source)
    tune = _parse_tune(tune_raw, source)
    studies = []
    models = tune.models or [TuneModel(**cfg.model.model_dump(), search=None)]
    for m in models:
        search = m.search if m.search is not None else tune.search
        mcfg = cfg.model_copy(
            update={"model": ModelConfig(**m.model_dump(exclude={"search"}))}, deep=True
        )
        if not search:
            raise ConfigError(
                f"{source}: tune.search: empty search space for model {m.display_name!r}"
            )
        resolve_space(mcfg, search, source)
        studies.append((mcfg, search))
    labels = [c.model.display_name for c, _ in studies]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{source}: tune.models: duplicate model labels {labels}; set 'label'")
    return TuneSetup(cfg, tune, studies, notes, source)


def _parse_tune(data: dict[str, Any], source: str) -> TuneConfig:
    """Validate the tune block; one line naming the key (``tune.search.layers``)."""
    return validate(TuneConfig, data, "tune", source)

"""One experiment = data + target + split + model + training; loaded from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from faultlab.data.config import DataConfig, SplitConfig
from faultlab.data.labels import Target
from faultlab.errors import ConfigError
from faultlab.experiments.tracking import TrackingConfig
from faultlab.training.config import TrainConfig
from faultlab.utils.validation import validate


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(
        default_factory=dict, description="per-model overrides of the training block"
    )
    label: str | None = Field(default=None, description="leaderboard name (default: name)")

    @field_validator("training")
    @classmethod
    def _training_keys(cls, over: dict[str, Any]) -> dict[str, Any]:
        """Keys of the training block only (their values are checked merged with it)."""
        unknown = sorted(set(over) - set(TrainConfig.model_fields))
        if unknown:
            known = ", ".join(TrainConfig.model_fields)
            raise ValueError(f"unknown key(s) {unknown} (known: {known})")
        return over

    @property
    def display_name(self) -> str:
        return self.label or self.name


class ExperimentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "run"
    data: DataConfig = Field(default_factory=DataConfig)
    target: Target = "flat"
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig = Field(default_factory=lambda: ModelConfig(name="cnn1d"))
    training: TrainConfig = Field(default_factory=TrainConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    def effective_training(self) -> TrainConfig:
        """The training block with the model's overrides (``adaptation`` merged key by key)."""
        base = self.training.model_dump()
        over = dict(self.model.training)
        if isinstance(over.get("adaptation"), dict):
            over["adaptation"] = {**base["adaptation"], **over["adaptation"]}
        return validate(TrainConfig, {**base, **over}, "model.training")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (YAML would keep the last)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            line = seen.get(key)
        except TypeError:  # an unhashable key: let the default constructor report it
            continue
        if line is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {line + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A config file as a dict; invalid YAML or a repeated key is one line naming the place."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    if not path.is_file():
        raise ConfigError(f"{path}: not a file")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise ConfigError(f"{path}:{where}: invalid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return resolve_paths(data, path.parent)


def _relative_to(value: Any, base: Path) -> Any:
    if not isinstance(value, str) or not value or Path(value).expanduser().is_absolute():
        return value
    beside = base / value
    # relative to the config file; a path that only exists from the working directory
    # (configs written before this rule) keeps working
    return str(beside) if beside.exists() or not Path(value).exists() else value


def resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Manifest paths in ``data`` (and ``data.sources``) relative to the config's folder."""
    data = raw.get("data")
    if not isinstance(data, dict):
        return raw
    data = dict(data)
    if "manifest" in data:
        data["manifest"] = _relative_to(data["manifest"], base)
    if isinstance(data.get("sources"), list):
        data["sources"] = [
            {**s, "manifest": _relative_to(s["manifest"], base)}
            if isinstance(s, dict) and "manifest" in s
            else s
            for s in data["sources"]
        ]
    return {**raw, "data": data}


def parse_config(cls: type[BaseModel], data: dict[str, Any], source: str = "config") -> Any:
    """Validate ``data`` as ``cls``; a bad value becomes one line naming its key."""
    return validate(cls, data, source=source)

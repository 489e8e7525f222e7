"""One experiment = data + target + split + model + training; loaded from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from faultlab.data.config import DataConfig, SplitConfig
from faultlab.errors import ConfigError
from faultlab.experiments.tracking import TrackingConfig
from faultlab.training.config import TrainConfig


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(
        default_factory=dict, description="per-model overrides of the training block"
    )
    label: str | None = Field(None, description="leaderboard name (default: name)")

    @property
    def display_name(self) -> str:
        return self.label or self.name


class ExperimentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "run"
    data: DataConfig = Field(default_factory=DataConfig)
    target: str = "flat"
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
        return TrainConfig(**{**base, **over})


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc.__class__.__name__})") from None
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
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{source}: {key}: {err['msg']}") from None

"""The model contract and registry.

Every model, torch or not, answers ``fit(train, val)``, ``predict_proba(X)`` and
``describe()``, and saves to / loads from a directory, so evaluation, reports and serving
never branch on the kind. A new model is one module that calls :func:`register_model`.
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from faultlab.contracts import MODEL_JSON, FitResult, ModelSummary
from faultlab.data.types import WindowSet
from faultlab.errors import ConfigError
from faultlab.training.config import TrainConfig
from faultlab.utils.io import write_json


class FaultModel(ABC):
    """Base class. ``classes`` maps task -> class names; inputs are ``[n, channels, length]``."""

    name: str = "model"
    family: str = "other"
    #: Whether ``fit`` accepts ``target=UnlabelledWindows`` (deep models: domain adaptation).
    supports_adaptation: bool = False

    def __init__(
        self,
        classes: dict[str, list[str]],
        input_shape: tuple[int, int],
        params: dict[str, Any] | None = None,
        training: TrainConfig | None = None,
    ) -> None:
        self.classes = {t: list(c) for t, c in classes.items()}
        self.input_shape = tuple(int(v) for v in input_shape)
        self.params = dict(params or {})
        self.training = training or TrainConfig()

    @property
    def tasks(self) -> list[str]:
        return list(self.classes)

    @abstractmethod
    def fit(
        self, train: WindowSet, val: WindowSet | None = None, run_dir: Path | None = None
    ) -> FitResult:
        """Train on ``train``; use ``val`` for early stopping; checkpoint into ``run_dir``."""

    @abstractmethod
    def predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Task -> ``[n, n_classes]`` probabilities for float32 windows ``X``."""

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        return {t: p.argmax(axis=1) for t, p in self.predict_proba(X).items()}

    @abstractmethod
    def describe(self) -> ModelSummary: ...

    @abstractmethod
    def _save_weights(self, directory: Path) -> None: ...

    @abstractmethod
    def _load_weights(self, directory: Path) -> None: ...

    def save(self, directory: str | Path) -> Path:
        """Write ``model.json`` (how to rebuild) plus the weights into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_weights(directory)
        write_json(
            directory / MODEL_JSON,
            {
                "name": self.name,
                "params": self.params,
                "classes": self.classes,
                "input_shape": list(self.input_shape),
                "training": self.training.model_dump(),
            },
        )
        return directory


@dataclass
class ModelSpec:
    name: str
    cls: type[FaultModel]
    description: str
    family: str
    defaults: dict[str, Any]
    #: the registered model this one is a variant of (``benchmark --only NAME`` runs both)
    variant_of: str | None = None


_REGISTRY: dict[str, ModelSpec] = {}

#: Modules that register models on import (one file per model family).
_MODEL_MODULES = [
    "faultlab.models.mlp",
    "faultlab.models.cnn1d",
    "faultlab.models.resnet1d",
    "faultlab.models.tcn",
    "faultlab.models.recurrent",
    "faultlab.models.transformer",
    "faultlab.models.inception",
    "faultlab.models.classical",
    "faultlab.models.minirocket",
    "faultlab.models.trivial",
    "faultlab.models.envelope",
    "faultlab.models.envelope_contrast",
    "faultlab.models.linenet",
]


def register_model(
    name: str,
    description: str,
    family: str,
    defaults: dict[str, Any] | None = None,
    variant_of: str | None = None,
) -> Callable[[type[FaultModel]], type[FaultModel]]:
    """Class decorator: make ``name`` buildable by :func:`build_model`."""

    def deco(cls: type[FaultModel]) -> type[FaultModel]:
        cls.name = name
        cls.family = family
        _REGISTRY[name] = ModelSpec(
            name, cls, description, family, dict(defaults or {}), variant_of
        )
        return cls

    return deco


def _load_all() -> None:
    for mod in _MODEL_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a model file not written yet, or an optional dep
            if exc.name and (exc.name == mod or not exc.name.startswith("faultlab")):
                continue
            raise


def registry() -> dict[str, ModelSpec]:
    _load_all()
    return dict(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    specs = registry()
    if name not in specs:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(sorted(specs))}")
    return specs[name]


def build_model(
    name: str,
    classes: dict[str, list[str]],
    input_shape: tuple[int, int],
    params: dict[str, Any] | None = None,
    training: TrainConfig | None = None,
) -> FaultModel:
    """Instantiate a registered model; unknown option names are a ConfigError."""
    spec = get_spec(name)
    params = dict(params or {})
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        raise ConfigError(
            f"model {name!r} has no option(s) {unknown}; options: {sorted(spec.defaults)}"
        )
    merged = {**spec.defaults, **params}
    try:
        return spec.cls(classes=classes, input_shape=input_shape, params=merged, training=training)
    except (TypeError, ValueError, OverflowError, RuntimeError) as exc:
        # e.g. -p hidden=abc: a value of the wrong type reaches the network's constructor
        given = {k: params[k] for k in params}
        first = " ".join(str(exc).split())[:160]
        raise ConfigError(
            f"model {name!r}: options {given} cannot build the model ({type(exc).__name__}: {first})"
        ) from None


def load_model(directory: str | Path) -> FaultModel:
    """Rebuild a saved model from ``directory/model.json`` and its weights."""
    directory = Path(directory)
    meta_path = directory / MODEL_JSON
    if not meta_path.exists():
        raise ConfigError(f"{meta_path}: no saved model here")
    try:
        meta = json.loads(meta_path.read_text())
        spec = get_spec(meta["name"])
        model = spec.cls(
            classes={str(t): [str(c) for c in cs] for t, cs in meta["classes"].items()},
            input_shape=cast(tuple[int, int], tuple(int(v) for v in meta["input_shape"])),
            params=dict(meta["params"]),
            training=TrainConfig(**meta.get("training", {})),
        )
    except ConfigError:
        raise
    except Exception as exc:  # bad JSON, missing keys, wrong types, invalid values
        first = " ".join(str(exc).split())[:160]
        raise ConfigError(
            f"{meta_path}: invalid saved model ({type(exc).__name__}: {first})"
        ) from None
    model._load_weights(directory)
    return model

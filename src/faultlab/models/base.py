"""The model contract and registry.

Every model, torch or not, is trained by ``faultlab.training.fit.fit_model(model, train,
val)`` (which calls ``fit`` of a model that fits itself and runs the loop for a deep one),
answers ``predict_proba(X)`` and ``describe()``, and saves to / loads from a directory, so
evaluation, reports and serving never branch on the kind. A new model is one module that calls :func:`register_model`.
"""

from __future__ import annotations

import importlib
import json
import types
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Annotated,
    Any,
    ClassVar,
    Generic,
    Literal,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
)

import numpy as np
from pydantic import BaseModel, ConfigDict

from faultlab.contracts import MODEL_JSON, FitResult, ModelSummary
from faultlab.contracts.training import TrainConfig
from faultlab.data.types import WindowSet
from faultlab.errors import ConfigError, DataError
from faultlab.utils.io import write_json
from faultlab.utils.validation import validate


class ModelParams(BaseModel):
    """A registered model's options (``model.params``): one typed field per option, its
    default and a short description; unknown keys are refused. Each model declares its
    subclass next to the model and hands it to :func:`register_model`. Params are the
    user's choices only: what ``fit`` resolves from the data is the model's fitted state."""

    model_config = ConfigDict(extra="forbid")


P = TypeVar("P", bound=ModelParams)


def parse_params(
    cls: type[P], data: Mapping[str, Any] | BaseModel | None, model: str, where: str = ""
) -> P:
    """``data`` validated as ``cls``; a bad key or value is one ConfigError line naming it
    (``model.params.dropuot: unknown key for cnn1d (known: ...)``); ``where``: the file."""
    if isinstance(data, cls):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump()
    return validate(cls, dict(data or {}), "model.params", source=where or None, owner=model)


class FaultModel(ABC, Generic[P]):
    """Base class. ``classes`` maps task -> class names; inputs are ``[n, channels, length]``;
    ``params`` is the model's :class:`ModelParams` subclass (``Params``), never changed by
    ``fit``."""

    name: str = "model"
    family: str = "other"
    #: The options' type (set by :func:`register_model`).
    Params: ClassVar[type[ModelParams]] = ModelParams
    #: Whether ``fit`` accepts ``target=UnlabelledWindows`` (deep models: domain adaptation).
    supports_adaptation: bool = False

    def __init__(
        self,
        classes: dict[str, list[str]],
        input_shape: tuple[int, int],
        params: Mapping[str, Any] | ModelParams | None = None,
        training: TrainConfig | None = None,
    ) -> None:
        self.classes = {t: list(c) for t, c in classes.items()}
        shape = tuple(int(v) for v in input_shape)
        self.input_shape: tuple[int, int] = (shape[0], shape[1])
        self.params: P = cast(P, parse_params(type(self).Params, params, self.name))
        self.training = training or TrainConfig()

    @classmethod
    def window_frontend(cls, params: Mapping[str, Any] | None) -> tuple[Any, dict[str, Any]]:
        """``(window front end or None, params for the model)`` from ``model.params``: the
        transform the runner applies to every window before ``fit`` (it needs each window's
        speed and bearing). A model that combines others (``ensemble``) overrides it."""
        from faultlab.features.window_frontend import split_frontend

        return split_frontend(cls.Params().model_dump(mode="json"), dict(params or {}))

    def refit_options(self) -> dict[str, Any]:
        """Options ``fit`` chose on the validation windows that a refit on train + val (which
        has none to choose on) must keep, as ``model.params`` keys; default: none."""
        return {}

    def params_dict(self) -> dict[str, Any]:
        """The options as plain JSON values (``model.json``, summaries, metadata)."""
        return self.params.model_dump(mode="json")

    @property
    def tasks(self) -> list[str]:
        return list(self.classes)

    def fit(
        self, train: WindowSet, val: WindowSet | None = None, run_dir: Path | None = None
    ) -> FitResult:
        """Train on ``train`` (``val``: early stopping or calibration; ``run_dir``: checkpoints).

        Models that fit themselves (features + scikit-learn, rules) override this. A deep
        model has no loop of its own: :func:`faultlab.training.fit.fit_model`, the floor
        above, trains its network through its hooks. Callers use ``fit_model`` for any model.
        """
        raise TypeError(
            f"model {self.name!r} is trained by faultlab.training.fit.fit_model(model, train, val)"
        )

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
                "params": self.params_dict(),
                "classes": self.classes,
                "input_shape": list(self.input_shape),
                "training": self.training.model_dump(),
            },
        )
        return directory


class JsonStateModel(FaultModel[P]):
    """A model whose fitted state is a small JSON document (the physics models): saved as
    ``weights_file``, read back through :meth:`_set_state`; nothing executable is loaded."""

    #: the file in the model directory, and what its absence is called in the error
    weights_file: str = "weights.json"
    weights_what: str = "model weights"

    @abstractmethod
    def _state(self) -> dict[str, Any]: ...

    @abstractmethod
    def _set_state(self, state: dict[str, Any]) -> None: ...

    def _save_weights(self, directory: Path) -> None:
        write_json(Path(directory) / self.weights_file, self._state())

    def _load_weights(self, directory: Path) -> None:
        path = Path(directory) / self.weights_file
        if not path.exists():
            raise DataError(f"{path}: {self.weights_what} not found")
        self._set_state(json.loads(path.read_text()))


#: ``fit(model, train, val) -> FitResult``: how a model built of others (``ensemble``) trains
#: each member; :func:`faultlab.training.fit.fit_model` hands itself down through the model's
#: ``fit_members``, so a deep member gets the loop while the models never import it.
MemberFit = Callable[[FaultModel, WindowSet, "WindowSet | None"], FitResult]


@dataclass
class ModelSpec:
    name: str
    cls: type[FaultModel]
    description: str
    family: str
    params: type[ModelParams]
    #: the registered model this one is a variant of (``benchmark --only NAME`` runs both)
    variant_of: str | None = None

    @property
    def defaults(self) -> dict[str, Any]:
        """Every option with its default, as plain JSON values."""
        return self.params().model_dump(mode="json")

    def options(self) -> list[tuple[str, str, Any, str]]:
        """``(name, type, default, description)`` per option, in declaration order."""
        defaults = self.defaults
        return [
            (key, type_name(f.annotation), defaults[key], f.description or "")
            for key, f in self.params.model_fields.items()
        ]


def type_name(annotation: Any) -> str:
    """``int``, ``list[int]``, ``'relu' | 'gelu'``, ``float | None`` (for option tables;
    bounds are left out)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return type_name(args[0])
    if origin is Union or origin is types.UnionType:
        return " | ".join(type_name(a) for a in args)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if annotation is type(None):
        return "None"
    if origin is not None:
        return f"{getattr(origin, '__name__', origin)}[{', '.join(type_name(a) for a in args)}]"
    return getattr(annotation, "__name__", str(annotation))


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
    "faultlab.models.ensemble",
]


M = TypeVar("M", bound=FaultModel)


def register_model(
    name: str,
    description: str,
    family: str,
    params: type[ModelParams],
    variant_of: str | None = None,
) -> Callable[[type[M]], type[M]]:
    """Class decorator: make ``name`` buildable by :func:`build_model` with ``params`` (a
    :class:`ModelParams` subclass declared beside the model) as its options."""

    def deco(cls: type[M]) -> type[M]:
        cls.name = name
        cls.family = family
        cls.Params = params
        _REGISTRY[name] = ModelSpec(name, cls, description, family, params, variant_of)
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
    params: Mapping[str, Any] | ModelParams | None = None,
    training: TrainConfig | None = None,
) -> FaultModel:
    """Instantiate a registered model; ``params`` are checked against its ``Params`` first
    (an unknown key or a value of the wrong type is a one-line ConfigError)."""
    spec = get_spec(name)
    typed = parse_params(spec.params, params, name)
    try:
        return spec.cls(classes=classes, input_shape=input_shape, params=typed, training=training)
    except (TypeError, ValueError, OverflowError, RuntimeError) as exc:
        # values each valid alone that do not fit together or the input (a kernel longer
        # than the window, ...)
        given = typed.model_dump(mode="json", exclude_defaults=True)
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
        # options a newer version dropped are ignored, ones it added take their defaults
        saved = {k: v for k, v in dict(meta["params"]).items() if k in spec.params.model_fields}
        model = spec.cls(
            classes={str(t): [str(c) for c in cs] for t, cs in meta["classes"].items()},
            input_shape=cast(tuple[int, int], tuple(int(v) for v in meta["input_shape"])),
            params=parse_params(spec.params, saved, spec.name, where=str(meta_path)),
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

"""Classical baselines: hand-crafted features -> StandardScaler -> a scikit-learn classifier.

Registered as ``rf`` (random forest), ``svm`` (RBF SVC, probabilities calibrated by
cross-validation) and ``hist_gb`` (histogram gradient boosting). Each task gets its own
``Pipeline(features -> scale -> estimator)`` fitted on the training windows where that task's
label applies (``!= -1``); the feature step is shared, so features are computed once per call.
The sampling rate and shaft speed the features need are taken from the training WindowSet
into the fitted feature extractor (``params`` stay what the user chose), so a saved model
predicts on bare ``X`` arrays.
"""

from __future__ import annotations

import contextlib
import copy
import time
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar, cast

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from faultlab.contracts import FitResult, ModelSummary
from faultlab.data.bearings import BEARINGS, CWRU_BEARING_AT
from faultlab.data.bearings import resolve as resolve_bearing
from faultlab.data.types import NOT_APPLICABLE, WindowSet
from faultlab.errors import ConfigError, DataError
from faultlab.features.extract import GROUPS, FeatureExtractor
from faultlab.limits import RATE_MAX_HZ, RATE_MIN_HZ, RPM_MAX, RPM_MIN
from faultlab.models.base import FaultModel, ModelParams, register_model
from faultlab.utils.io import atomic_path

Rate = Annotated[float, Field(ge=RATE_MIN_HZ, le=RATE_MAX_HZ, allow_inf_nan=False)]
Rpm = Annotated[float, Field(ge=RPM_MIN, le=RPM_MAX, allow_inf_nan=False)]
#: scikit-learn's class_weight: balanced, or class index -> weight.
ClassWeight = Literal["balanced"] | dict[int, float] | None


class ClassicalParams(ModelParams):
    """Options every scikit-learn pipeline model has."""

    scale: bool = Field(default=True, description="StandardScaler before the classifier")
    chunk_size: PositiveInt = Field(default=2048, description="windows per feature batch")


class FeatureParams(ClassicalParams):
    """Options of the hand-crafted feature front end (``auto`` values are resolved at fit)."""

    features: str | list[str] = Field(
        default="auto",
        description="feature groups (list or comma string); auto = time + spectral "
        "(raw columns for tables)",
    )
    # 64 beat 32 on CWRU leave-one-load-out (99.75 vs 99.37 %, rf, 3 seeds)
    n_bands: PositiveInt = Field(default=64, description="log band powers of the spectrum")
    bearing: str | list[str] = Field(
        default="auto",
        description="bearing key (one per channel); auto = the training windows' bearing, "
        "else each channel's CWRU bearing (DE 6205, FE 6203)",
    )
    harmonics: PositiveInt = Field(default=3, description="envelope: defect-line harmonics")
    tolerance: PositiveFloat = Field(
        default=0.05, description="envelope: relative width around each line"
    )
    envelope_nfft: PositiveInt | None = Field(default=None, description="envelope: FFT length")
    sampling_rate: Rate | None = Field(
        default=None, description="Hz; None = the training windows' rate"
    )
    rpm: Rpm | None = Field(
        default=None, description="shaft speed; None = median of the training windows' rpm"
    )
    # A window's mean is the sensor chain's DC offset, a fingerprint of the recording rather
    # than of the bearing: with it, svm leave-one-load-out on CWRU falls from 99.7 to 91.7 %.
    drop_features: list[str] = Field(
        default_factory=lambda: ["mean"],
        description="feature names to leave out (ones the groups do not produce are ignored)",
    )


CP = TypeVar("CP", bound=ClassicalParams)
FP = TypeVar("FP", bound=FeatureParams)

WEIGHTS_FILE = "model.skops"
#: What older versions wrote: a pickle, which runs code on load. Never read.
LEGACY_WEIGHTS_FILE = "model.joblib"

#: Types a saved pipeline may hold beyond the ones skops trusts by itself (numpy, builtins and
#: scikit-learn's public estimators). Anything else in a file is refused, never constructed.
TRUSTED_TYPES: list[str] = [
    "faultlab.features.extract.FeatureExtractor",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.calibration._TemperatureScaling",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.tree._tree.Tree",
]


def resolve_groups(value: Any, train: WindowSet) -> list[str]:
    """``auto`` -> raw columns for tabular sets (feature_names), else time + spectral."""
    if value in (None, "auto"):
        return ["raw"] if train.feature_names else ["time", "spectral"]
    groups = [g.strip() for g in value.split(",")] if isinstance(value, str) else list(value)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ConfigError(
            f"option features: unknown group(s) {unknown}; choose from {sorted(GROUPS)}"
        )
    return groups


def training_rate_and_rpm(
    train: WindowSet, rate: float | None, rpm: float | None
) -> tuple[float | None, float | None]:
    """The options where given, else the training windows' rate and median shaft speed."""
    if rate is None and train.sampling_rate:
        rate = float(train.sampling_rate)
    if rpm is None and "rpm" in train.info.columns:
        values = np.asarray(train.info["rpm"], dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            rpm = float(np.median(values))
    return rate, rpm


def resolve_physics(p: FeatureParams, train: WindowSet, groups: list[str]) -> dict[str, Any]:
    """``{sampling_rate, rpm, bearing}``: the options, with what they leave open taken from
    the training windows (``params`` themselves are left as given)."""
    rate, rpm = training_rate_and_rpm(train, p.sampling_rate, p.rpm)
    bearing = _training_bearing(train) if p.bearing == "auto" else p.bearing
    bearings = [bearing] if isinstance(bearing, str) else bearing
    unknown = [b for b in bearings if not _known_bearing(b)]
    if unknown:
        raise ConfigError(f"option bearing: unknown {unknown}; known: {sorted(BEARINGS)}")
    if "envelope" in groups and (not rate or not rpm):
        raise ConfigError(
            "feature group 'envelope' needs the sampling rate and shaft speed: the training "
            "windows have none (set model options sampling_rate and rpm)"
        )
    return {"sampling_rate": rate, "rpm": rpm, "bearing": bearing}


def _known_bearing(name: str) -> bool:
    try:
        resolve_bearing(name)
    except DataError:
        return False
    return True


def _training_bearing(train: WindowSet) -> str | list[str]:
    """The training windows' own bearing (``info["bearing"]``, one value); else each sensor's
    CWRU bearing (DE -> 6205, FE -> 6203; unknown channels: 6205)."""
    if "bearing" in train.info.columns:
        named = train.info["bearing"].dropna().astype(str).unique().tolist()
        if len(named) == 1 and len(train.channels) <= 1:
            return named[0]
    ends = [CWRU_BEARING_AT.get(c, "6205") for c in train.channels] or ["6205"]
    return ends[0] if len(set(ends)) == 1 else ends


def task_mask(labels: np.ndarray) -> np.ndarray:
    return labels != NOT_APPLICABLE


def full_proba(proba: np.ndarray, seen: np.ndarray, n_classes: int) -> np.ndarray:
    """Expand columns for the classes seen in training to all ``n_classes`` (others get 0)."""
    if proba.shape[1] == n_classes and np.array_equal(seen, np.arange(n_classes)):
        return proba.astype(np.float32, copy=False)
    out = np.zeros((len(proba), n_classes), dtype=np.float32)
    out[:, np.asarray(seen, dtype=int)] = proba
    return out


def log_loss_rows(proba: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(proba[np.arange(len(labels)), labels], 1e-7, 1.0)
    return float(-np.log(p).mean())


def count_params(est: Any) -> tuple[int, str]:
    """Learned numbers of a fitted estimator and what was counted."""
    if hasattr(est, "count_params"):
        return est.count_params()
    if isinstance(est, Pipeline):
        counts = [count_params(s) for _, s in est.steps]
        return sum(c for c, _ in counts), "; ".join(w for _, w in counts if w)
    if isinstance(est, StandardScaler):
        scaler: Any = est
        return int(np.size(scaler.mean_) + np.size(scaler.scale_)), "scaler mean+scale"
    if isinstance(est, RandomForestClassifier):
        return int(sum(t.tree_.node_count for t in est.estimators_)), "tree nodes"
    if isinstance(est, HistGradientBoostingClassifier):
        preds = getattr(est, "_predictors", [])
        return int(sum(len(p.nodes) for it in preds for p in it)), "tree nodes"
    if isinstance(est, CalibratedClassifierCV):
        total = 0
        calibrated: list[Any] = list(est.calibrated_classifiers_ or ())
        for cc in calibrated:
            svc: Any = cc.estimator
            total += int(svc.support_vectors_.size + svc.dual_coef_.size + svc.intercept_.size)
            total += 2 * len(cc.calibrators or ())
        return total, "support-vector coordinates + dual coefs + intercepts + calibrators"
    if hasattr(est, "coef_"):
        return int(est.coef_.size + np.size(est.intercept_)), "linear coefs + intercepts"
    if isinstance(est, DummyClassifier):
        return int(np.size(est.class_prior_)), "class priors"
    return 0, ""


@contextlib.contextmanager
def nonfinite_features_are_data_errors(name: str):
    """scikit-learn's "Input X contains NaN/infinity" on new windows (constant or extreme
    input) becomes a DataError: bad input, not a crash (the service answers 422)."""
    try:
        yield
    except ValueError as exc:
        text = str(exc)
        if "NaN" not in text and "infinity" not in text:
            raise
        raise DataError(
            f"model {name!r}: the features of some windows are not finite (constant or "
            "extreme input values)"
        ) from None


class FeatureModel(FaultModel[CP]):
    """Shared machinery of the scikit-learn pipelines: a fitted front end (``extractor``)
    and one head per task; subclasses build the front end and the estimator. What ``fit``
    takes from the training windows (groups, rate, speed, bearing) is fitted state
    (``resolved``, the extractor), never written back into ``params``."""

    family = "classical"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extractor: Any = None
        self.pipelines: dict[str, Pipeline] = {}
        self.n_train: dict[str, int] = {}
        #: the options ``fit`` resolved from the training windows (for summaries)
        self.resolved: dict[str, Any] = {}

    # -- what subclasses provide ---------------------------------------------------------

    def make_extractor(self, train: WindowSet) -> Any:
        """The unfitted front end (a scikit-learn transformer) for ``train``; it may set
        ``self.resolved``."""
        raise NotImplementedError

    def make_estimator(self, n_classes: int) -> Any:
        raise NotImplementedError

    def step_name(self) -> str:
        return "clf"

    # -- fit / predict --------------------------------------------------------------------

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Feature matrix of windows ``X`` (the first pipeline step)."""
        if self.extractor is None:
            raise RuntimeError(f"model {self.name!r} is not fitted")
        return self.extractor.transform(X)

    def head(self, n_classes: int) -> list[tuple[str, Any]]:
        steps: list[tuple[str, Any]] = []
        if self.params.scale:
            steps.append(("scale", StandardScaler()))
        steps.append((self.step_name(), self.make_estimator(n_classes)))
        return steps

    def threads(self) -> contextlib.AbstractContextManager:
        """Cap OpenMP/BLAS threads at ``training.num_threads`` (None: library defaults)."""
        n = self.training.num_threads
        return threadpool_limits(limits=n) if n else contextlib.nullcontext()

    def fit(
        self, train: WindowSet, val: WindowSet | None = None, run_dir: Path | None = None
    ) -> FitResult:
        with self.threads():
            return self._fit(train, val)

    #: name of the first pipeline step (the transform shared by every task)
    first_step_name = "features"

    def _fit(self, train: WindowSet, val: WindowSet | None) -> FitResult:
        t0 = time.perf_counter()
        if len(train) == 0:
            raise DataError("training set is empty")
        self.extractor = self.make_extractor(train)
        self.extractor.fit(train.X)  # stateless for FeatureExtractor; MiniRocket fits biases
        F = self.transform(train.X)
        self.pipelines, self.n_train, notes = {}, {}, []
        for task in self.tasks:
            if task not in train.y:
                raise DataError(f"training windows have no labels for task {task!r}")
            mask = task_mask(train.y[task])
            if not mask.any():
                raise DataError(f"task {task!r}: no training window has a label")
            labels = train.y[task][mask]
            if len(np.unique(labels)) < 2:
                head = Pipeline([("clf", DummyClassifier(strategy="prior"))])
                notes.append(f"task {task}: one class in training; predicts its prior")
            else:
                head = Pipeline(self.head(len(self.classes[task])))
            head.fit(F[mask], labels)
            self.pipelines[task] = Pipeline([(self.first_step_name, self.extractor), *head.steps])
            self.n_train[task] = int(mask.sum())
        fit_seconds = time.perf_counter() - t0
        row = {"epoch": 1.0, **self._scores("train", F, train)}
        if val is not None and len(val):
            F_val = self.transform(val.X)
            self.after_fit(F_val, val)
            row.update(self._scores("val", F_val, val))
        return FitResult(
            history=[row],
            epochs=1,
            best_epoch=1,
            train_seconds=fit_seconds,
            notes=notes,
        )

    def after_fit(self, F_val: np.ndarray, val: WindowSet) -> None:
        """Hook: adjust fitted heads with validation features (e.g. a temperature)."""

    #: Below this many windows, predict on one thread: joblib's thread start-up for an
    #: ``n_jobs=-1`` forest costs 10-40 ms, a hundred times the trees' own work on one window.
    serial_below = 64

    def _proba_from_features(self, F: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for task, pipe in self.pipelines.items():
            head = pipe[1:]
            last: Any = head[-1]
            if len(F) < self.serial_below and getattr(last, "n_jobs", 1) not in (None, 1):
                est = copy.copy(last)  # shallow: shares the fitted trees, thread-safe
                est.n_jobs = 1
                head = Pipeline([*head.steps[:-1], (head.steps[-1][0], est)])
            proba = head.predict_proba(F)
            out[task] = full_proba(proba, head.classes_, len(self.classes[task]))
        return out

    def _scores(self, role: str, F: np.ndarray, ws: WindowSet) -> dict[str, float]:
        """Mean accuracy and log loss over tasks (windows where the task applies)."""
        accs, losses = [], []
        for task, proba in self._proba_from_features(F).items():
            if task not in ws.y:
                continue
            mask = task_mask(ws.y[task])
            if mask.any():
                labels = ws.y[task][mask]
                accs.append(float((proba[mask].argmax(1) == labels).mean()))
                losses.append(log_loss_rows(proba[mask], labels))
        if not accs:
            return {}
        return {f"{role}_loss": float(np.mean(losses)), f"{role}_accuracy": float(np.mean(accs))}

    def predict_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        if not self.pipelines:
            raise RuntimeError(f"model {self.name!r} is not fitted")
        with self.threads(), nonfinite_features_are_data_errors(self.name):
            return self._proba_from_features(self.transform(X))

    # -- describe / save ------------------------------------------------------------------

    def importances(self) -> dict[str, list[float]]:
        """Impurity importances per task (forests only; others have none built in)."""
        out = {}
        for task, pipe in self.pipelines.items():
            est: Any = pipe[-1]
            if hasattr(est, "feature_importances_"):
                out[task] = [float(v) for v in est.feature_importances_]
        return out

    def feature_names(self) -> list[str]:
        """Names of the feature columns the estimators see (for importances in reports)."""
        return list(self.extractor.feature_names) if self.extractor is not None else []

    def n_features(self) -> int:
        return len(self.feature_names())

    def describe(self) -> ModelSummary:
        layers, total, counted = [], 0, set()
        names = self.feature_names()
        n_features = self.n_features()
        for i, (task, pipe) in enumerate(self.pipelines.items()):
            step0, first = pipe.steps[0]
            n0, what0 = count_params(first)
            if i == 0:  # the feature step is shared by every task: count it once
                total += n0
                if what0:
                    counted.add(what0)
            layers.append(
                {
                    "name": f"{task}.{step0}",
                    "type": type(first).__name__,
                    "output_shape": [n_features],
                    "params": n0,
                }
            )
            for step, est in pipe.steps[1:]:
                n, what = count_params(est)
                total += n
                if what:
                    counted.add(what)
                shape = [n_features] if step == "scale" else [len(self.classes[task])]
                layers.append(
                    {
                        "name": f"{task}.{step}",
                        "type": type(est).__name__,
                        "output_shape": shape,
                        "params": n,
                    }
                )
        size = len(self._dumps()) if self.pipelines else 0
        text = "\n".join(f"[{t}] {p!r}" for t, p in self.pipelines.items())
        return ModelSummary(
            name=self.name,
            family=self.family,
            n_params=total,
            trainable_params=total,
            size_bytes=size,
            layers=layers,
            text=text,
            extra={
                "params_counted": sorted(counted),
                "n_features": n_features,
                "feature_names": names,
                "feature_importances": self.importances(),
                "n_train_windows": dict(self.n_train),
                "sampling_rate": self.resolved.get("sampling_rate"),
                "rpm": self.resolved.get("rpm"),
            },
        )

    def _state(self) -> dict[str, Any]:
        return {
            "extractor": self.extractor,
            "pipelines": self.pipelines,
            "n_train": self.n_train,
            "resolved": self.resolved,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.extractor = state["extractor"]
        self.pipelines = state["pipelines"]
        self.n_train = state.get("n_train", {})
        # runs saved before ``resolved`` existed wrote the resolved values into their params
        old = self.params.model_dump()
        self.resolved = state.get("resolved") or {
            k: old[k] for k in ("features", "sampling_rate", "rpm", "bearing") if k in old
        }

    #: skops type allow-list of this model (subclasses with their own estimators extend it)
    trusted_types: list[str] = TRUSTED_TYPES

    def _dumps(self) -> bytes:
        import skops.io as sio

        return sio.dumps(self._state())

    def _save_weights(self, directory: Path) -> None:
        if not self.pipelines:
            raise RuntimeError(f"model {self.name!r} is not fitted: nothing to save")
        with atomic_path(Path(directory) / WEIGHTS_FILE) as tmp:
            tmp.write_bytes(self._dumps())
        (Path(directory) / LEGACY_WEIGHTS_FILE).unlink(missing_ok=True)

    def _load_weights(self, directory: Path) -> None:
        self._set_state(load_skops(Path(directory) / WEIGHTS_FILE, self.trusted_types))


def load_skops(path: Path, trusted: list[str]) -> Any:
    """Read a skops file constructing only allow-listed types (no pickle, no ``trusted=True``)."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    legacy = path.with_name(LEGACY_WEIGHTS_FILE)
    if not path.exists() and legacy.exists():
        raise DataError(
            f"{legacy}: a pickle from an older faultlab, not loaded (loading a pickle can run "
            "any code); retrain the run to save the model in the safe skops format"
        )
    if not path.exists():
        raise DataError(f"{path}: model weights not found")
    try:
        return sio.load(path, trusted=list(trusted))
    except UntrustedTypesFoundException as exc:
        found = str(exc).splitlines()[0] if str(exc) else "untrusted types"
        raise DataError(f"{path}: not loaded, outside faultlab's allow-list: {found}") from None
    except Exception as exc:  # a truncated/corrupt zip, a schema error, ...
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise DataError(f"{path}: unreadable model file ({type(exc).__name__}: {first})") from None


class HandcraftedModel(FeatureModel[FP], Generic[FP]):
    """A classifier on the hand-crafted features (:class:`FeatureParams`)."""

    def make_extractor(self, train: WindowSet) -> FeatureExtractor:
        p = self.params
        groups = resolve_groups(p.features, train)
        physics = resolve_physics(p, train, groups)
        self.resolved = {"features": groups, **physics}
        bearing = physics["bearing"]
        raw_names = train.feature_names if "raw" in groups and train.n_channels == 1 else None
        fx = FeatureExtractor(
            groups=tuple(groups),
            n_bands=p.n_bands,
            sampling_rate=physics["sampling_rate"],
            rpm=physics["rpm"],
            bearing=bearing if isinstance(bearing, str) else tuple(bearing),
            harmonics=p.harmonics,
            tolerance=p.tolerance,
            envelope_nfft=p.envelope_nfft,
            channels=tuple(train.channels) if train.n_channels > 1 and train.channels else None,
            raw_names=tuple(raw_names) if raw_names else None,
            chunk_size=p.chunk_size,
        )
        # names the chosen groups do not produce (mean without the time group) are ignored
        produced = set(fx._all_names(train.window_length))
        fx.drop = tuple(n for n in p.drop_features if n in produced)
        return fx


class ForestParams(FeatureParams):
    n_estimators: PositiveInt = Field(default=300, description="trees")
    max_depth: PositiveInt | None = Field(default=None, description="None: grow until pure")
    min_samples_leaf: PositiveInt = Field(default=1, description="windows per leaf, at least")
    max_features: Literal["sqrt", "log2"] | PositiveInt | PositiveFloat | None = Field(
        default="sqrt", description="features tried per split (count, fraction or rule)"
    )
    class_weight: ClassWeight | Literal["balanced_subsample"] = Field(
        default=None, description="balanced, balanced_subsample, {class index: weight}"
    )
    n_jobs: int | None = Field(default=-1, description="threads (-1: all)")


@register_model(
    "rf",
    "Random forest on time, spectral (and optionally envelope) features",
    "classical",
    ForestParams,
)
class RandomForestModel(HandcraftedModel[ForestParams]):
    def make_estimator(self, n_classes: int) -> Any:
        p = self.params
        return RandomForestClassifier(
            n_estimators=p.n_estimators,
            max_depth=p.max_depth,
            min_samples_leaf=p.min_samples_leaf,
            max_features=cast(Any, p.max_features),  # sklearn's stub: str only
            class_weight=p.class_weight,
            n_jobs=p.n_jobs,
            random_state=self.training.seed,
        )


class SVMParams(FeatureParams):
    C: PositiveFloat = Field(default=10.0, description="inverse regularisation")
    gamma: Literal["scale", "auto"] | PositiveFloat = Field(
        default="scale", description="RBF kernel width"
    )
    class_weight: ClassWeight = Field(default=None, description="balanced, {class index: weight}")
    calibration: Literal["sigmoid", "temperature", "isotonic"] = Field(
        default="sigmoid", description="how decision values become probabilities"
    )
    calibration_cv: int = Field(default=3, ge=2, description="folds of the calibration")


@register_model(
    "svm",
    "RBF support-vector machine on scaled features (probabilities calibrated by CV)",
    "classical",
    SVMParams,
)
class SVMModel(HandcraftedModel[SVMParams]):
    def make_estimator(self, n_classes: int) -> Any:
        p = self.params
        svc = SVC(
            kernel="rbf",
            C=p.C,
            gamma=cast(Any, p.gamma),  # sklearn's stub: str only
            class_weight=p.class_weight,
            random_state=self.training.seed,
        )
        return CalibratedClassifierCV(
            svc,
            method=p.calibration,
            cv=p.calibration_cv,
            ensemble=cast(Any, False),  # sklearn's stub: str only
        )


class HistGBParams(FeatureParams):
    max_iter: PositiveInt = Field(default=200, description="boosting iterations")
    # feature subsampling per split, small trees: leave-one-load-out on CWRU (load 0 held
    # out) rose from 88.6 % with sklearn's defaults (all features, 31 leaves, rate 0.1) to
    # 99.7 %: without it the trees lean on a few load-dependent features
    learning_rate: PositiveFloat = Field(default=0.05, description="shrinkage")
    max_leaf_nodes: int | None = Field(default=15, ge=2, description="leaves per tree")
    max_depth: PositiveInt | None = Field(default=None, description="None: no limit")
    max_features: float = Field(
        default=0.1, gt=0, le=1, description="fraction of features tried per split"
    )
    l2_regularization: NonNegativeFloat = Field(default=0.0, description="on leaf values")
    early_stopping: Literal["auto"] | bool = Field(
        default="auto", description="on an internal split of the training windows"
    )
    class_weight: ClassWeight = Field(default=None, description="balanced, {class index: weight}")


@register_model(
    "hist_gb",
    "Histogram gradient boosting on time, spectral (and optionally envelope) features",
    "classical",
    HistGBParams,
)
class HistGBModel(HandcraftedModel[HistGBParams]):
    def make_estimator(self, n_classes: int) -> Any:
        p = self.params
        return HistGradientBoostingClassifier(
            max_iter=p.max_iter,
            learning_rate=p.learning_rate,
            max_leaf_nodes=cast(Any, p.max_leaf_nodes),  # sklearn's stubs: int, str
            max_depth=p.max_depth,
            max_features=p.max_features,
            l2_regularization=p.l2_regularization,
            early_stopping=cast(Any, p.early_stopping),
            class_weight=p.class_weight,
            random_state=self.training.seed,
        )

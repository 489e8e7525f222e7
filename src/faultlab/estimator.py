"""``FaultClassifier``: any registered faultlab model as a scikit-learn classifier.

So a model drops into ``Pipeline``, ``cross_val_score(..., groups=ws.groups,
cv=GroupKFold(4))``, ``GridSearchCV`` and ``clone``. The constructor takes real, named
arguments (scikit-learn's ``get_params``/``clone`` contract has no room for ``**kwargs``):
the registry name, the model's options as one ``params`` dict, the usual training knobs
(``epochs``, ``batch_size``, ``lr``, ``random_state``) and any other ``TrainConfig`` key in
``training``. ``set_params`` also accepts ``params__<option>`` and ``training__<key>``, so a
grid can search one model option (``{"params__n_estimators": [100, 300]}``).

``X`` is ``[n, channels, length]`` windows or ``[n, length]`` (one channel). With
``tabular=True`` the columns of a 2-D ``X`` are features, not samples of a signal: no shift
augmentation, per-feature input normalisation, and the classical models use them as they
are. ``y`` holds any class labels (ints or strings); ``classes_`` keeps their order.

Not applicable here: the experiment runner's validation carving, recording-level vote and
reports (use :func:`faultlab.run` for those). ``fit`` trains on all of ``X`` for ``epochs``
(no early stopping: scikit-learn passes no validation set).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from faultlab.data.types import WindowSet
from faultlab.errors import ConfigError

#: The task name the estimator's single label array is trained as.
TASK = "label"


class FaultClassifier(ClassifierMixin, BaseEstimator):
    """A faultlab model (``cnn1d``, ``rf``, ``lstm``, ... see ``faultlab models``) with
    ``fit`` / ``predict`` / ``predict_proba`` / ``score``.

    Parameters
    ----------
    model : registry name of the model.
    params : the model's options (``faultlab models NAME`` lists them); None = its defaults.
    epochs, batch_size, lr : training knobs of deep models (None = TrainConfig defaults:
        30 epochs, batch 64, lr 1e-3); classical models ignore them.
    training : any other ``TrainConfig`` key (``optimizer``, ``schedule``, ``device``,
        ``num_threads``, ``augment``, ...); the explicit arguments above win.
    tabular : treat the columns of a 2-D ``X`` as features (see the module docstring).
    sampling_rate : Hz of the windows, for the classical models' physical feature axes
        (band edges, envelope lines); None = normalised frequency.
    random_state : seed of weight initialisation, shuffling and forests.
    verbose : show progress bars and per-epoch lines while fitting.

    Example::

        from sklearn.model_selection import GroupKFold, cross_val_score
        ws = faultlab.load_windows(dataset="cwru", window=1024)
        clf = faultlab.FaultClassifier(model="cnn1d", epochs=3)
        cross_val_score(clf, ws.X, ws.y["class"], groups=ws.groups, cv=GroupKFold(4))
    """

    def __init__(
        self,
        model: str = "cnn1d",
        params: dict[str, Any] | None = None,
        *,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        training: dict[str, Any] | None = None,
        tabular: bool = False,
        sampling_rate: float | None = None,
        random_state: int | None = 0,
        verbose: bool = False,
    ) -> None:
        self.model = model
        self.params = params
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.training = training
        self.tabular = tabular
        self.sampling_rate = sampling_rate
        self.random_state = random_state
        self.verbose = verbose

    # -- scikit-learn plumbing --------------------------------------------------------------
    def set_params(self, **kwargs: Any) -> FaultClassifier:
        """Like BaseEstimator's, plus ``params__<option>`` and ``training__<key>``."""
        nested = {k: v for k, v in kwargs.items() if k.startswith(("params__", "training__"))}
        for key, value in nested.items():
            attr, name = key.split("__", 1)
            setattr(self, attr, {**(getattr(self, attr) or {}), name: value})
        rest = {k: v for k, v in kwargs.items() if k not in nested}
        return super().set_params(**rest) if rest else self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    def _check_X(self, X: Any) -> np.ndarray:
        """Prediction input as float32 ``[n, C, L]``; its window shape must be fit's.

        ``n_features_in_`` is ``C * L``: a 2-D ``X`` is checked by scikit-learn's own
        feature-count test, a 3-D one against ``input_shape_``.
        """
        shape = getattr(X, "shape", None)
        if shape is None and isinstance(X, list | tuple):
            shape = np.shape(X)
        if shape is not None and len(shape) == 3:
            X = check_array(X, allow_nd=True, dtype=np.float32)  # pyright: ignore[reportArgumentType]  # sklearn unannotated: its default read as str
        else:
            X = validate_data(self, X, reset=False, dtype=np.float32)  # pyright: ignore[reportArgumentType]  # sklearn unannotated: its default read as str
        X = X[:, None, :] if X.ndim == 2 else X
        if tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"X has windows of shape {tuple(X.shape[1:])} (channels, length), but "
                f"{type(self).__name__} was fitted on {self.input_shape_}"
            )
        return np.ascontiguousarray(X)

    def _train_config(self) -> Any:
        from faultlab.experiments.config import parse_config
        from faultlab.training.config import TrainConfig

        explicit = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr}
        seed = self.random_state
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        cfg = {
            "progress": bool(self.verbose),
            **(self.training or {}),
            **{k: v for k, v in explicit.items() if v is not None},
            "seed": int(seed),
        }
        return parse_config(TrainConfig, cfg, f"{type(self).__name__} training")

    def _windows(self, X: np.ndarray, codes: np.ndarray) -> WindowSet:
        n, c, length = X.shape
        return WindowSet(
            X=X,
            y={TASK: codes.astype(np.int64)},
            classes={TASK: [str(k) for k in self.classes_]},
            recording_id=np.arange(n).astype(str),
            info=pd.DataFrame(index=pd.RangeIndex(n)),
            sampling_rate=self.sampling_rate,
            channels=[f"ch{i}" for i in range(c)],
            feature_names=[f"x{i}" for i in range(length)] if self.tabular else None,
        )

    # -- the estimator ----------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> FaultClassifier:
        """Train a fresh model on windows ``X`` with labels ``y``."""
        from faultlab.models.base import build_model
        from faultlab.training.fit import fit_model

        X, y = validate_data(
            self, X, y, allow_nd=True, dtype=np.float32, ensure_min_samples=2, y_numeric=False
        )
        X = X[:, None, :] if X.ndim == 2 else X
        if X.ndim != 3:
            raise ValueError(f"X must be [n, length] or [n, channels, length], got shape {X.shape}")
        if self.tabular and X.shape[1] != 1:
            raise ValueError("tabular=True needs 2-D X ([n_samples, n_features])")
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class: {self.classes_[0]!r}"
            )
        self.input_shape_ = (int(X.shape[1]), int(X.shape[2]))
        self.n_features_in_ = int(X.shape[1] * X.shape[2])
        try:
            model = build_model(
                self.model,
                classes={TASK: [str(k) for k in self.classes_]},
                input_shape=self.input_shape_,
                params=self.params,
                training=self._train_config(),
            )
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        result = fit_model(model, self._windows(np.ascontiguousarray(X), codes), None)
        self.model_ = model
        self.history_ = pd.DataFrame(result.history)
        self.fit_notes_ = list(result.notes)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """``[n, n_classes]`` class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "model_")
        X = self._check_X(X)
        return self.model_.predict_proba(X)[TASK]

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of every window (labels as given to ``fit``)."""
        proba = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[proba.argmax(axis=1)]

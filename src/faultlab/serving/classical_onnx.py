"""ONNX export of the classical (feature) models: a numpy front end plus a classifier graph.

A feature model is ``windows -> features -> (scaler ->) classifier`` per task. The classifier
part becomes one ONNX graph (input ``features [batch, F]`` float32, outputs ``proba_<task>``):
skl2onnx converts forests, SVMs (with their calibration) and gradient boosting; the MiniRocket
ridge head (softmax with a fitted temperature) and single-class priors are written directly
with ``onnx.helper``. The front end (time/spectral/envelope features, or MiniRocket's random
convolutions) stays numpy/numba code, described in ``metadata.json`` by a JSON config (and,
for MiniRocket, its fitted dilations and biases in ``frontend.npz``, plain arrays loaded
without pickle), so a deployed model needs neither the pickled pipeline nor the training code
path: :class:`FrontEnd` rebuilds it from those files alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from faultlab.errors import ConfigError, DataError, FaultlabError
from faultlab.features.extract import FeatureExtractor


class ExportError(FaultlabError):
    """The model cannot be exported in the requested format (the message says which it can)."""


FRONTEND_FILE = "frontend.npz"
#: ONNX opsets of the classifier graph (default domain, ai.onnx.ml for trees and SVMs).
OPSETS = {"": 17, "ai.onnx.ml": 3}
#: MiniRocket's fitted parameters, in aeon's tuple order.
ROCKET_KEYS = (
    "n_channels_per_combination",
    "channel_indices",
    "dilations",
    "n_features_per_dilation",
    "biases",
)


def is_feature_model(model: Any) -> bool:
    return bool(getattr(model, "pipelines", None)) and getattr(model, "extractor", None) is not None


# -- front end -------------------------------------------------------------------------------------
def extractor_config(fx: FeatureExtractor) -> dict[str, Any]:
    """The FeatureExtractor's constructor fields as JSON values."""
    out = {}
    for f in dataclasses.fields(fx):
        if not f.init:
            continue
        v = getattr(fx, f.name)
        out[f.name] = list(v) if isinstance(v, tuple | list) else v
    return out


def frontend_spec(model: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(JSON description, arrays for ``frontend.npz``) of the model's feature step."""
    from faultlab.models.minirocket import ChunkedMiniRocket

    ext = model.extractor
    if isinstance(ext, FeatureExtractor):
        return {
            "kind": "features",
            "config": extractor_config(ext),
            "n_features": len(ext.feature_names),
        }, {}
    if isinstance(ext, ChunkedMiniRocket):
        arrays = {k: np.asarray(v) for k, v in zip(ROCKET_KEYS, ext.rocket_.parameters)}
        spec = {
            "kind": "minirocket",
            "normalise": ext.normalise,
            "input": ext.input,
            "n_features": int(ext.n_features_out_),
            "file": FRONTEND_FILE,
        }
        return spec, arrays
    raise ConfigError(f"model {model.name!r}: no ONNX front end for {type(ext).__name__}")


class FrontEnd:
    """Windows ``[n, C, L]`` -> float32 features ``[n, F]``, rebuilt from an export's files.

    Large batches are cut into ``threads`` parts computed in parallel (numpy and numba
    release the GIL), so the front end uses the same cores as ONNX Runtime does.
    """

    def __init__(
        self, spec: dict[str, Any], directory: Path | None = None, threads: int = 1
    ) -> None:
        self.spec = spec
        self.threads = max(1, int(threads or 1))
        self.kind = spec.get("kind")
        if self.kind == "features":
            cfg: dict[str, Any] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in spec["config"].items()
            }
            try:
                self.extractor = FeatureExtractor(**cfg)
            except TypeError as exc:  # a field this version does not know
                raise ConfigError(f"metadata.json: exports.onnx.frontend.config: {exc}") from None
        elif self.kind == "minirocket":
            path = Path(directory or ".") / spec.get("file", FRONTEND_FILE)
            if not path.exists():
                raise DataError(f"{path}: MiniRocket parameters not found")
            with np.load(path, allow_pickle=False) as z:
                self.rocket = tuple(z[k] for k in ROCKET_KEYS)
        else:
            raise ConfigError(f"unknown ONNX front end {self.kind!r} in metadata.json")
        multi = self.threads > 1 and self.kind == "features"
        self._pool = ThreadPoolExecutor(self.threads) if multi else None

    def _one(self, X: np.ndarray) -> np.ndarray:
        if self.kind == "features":
            return self.extractor.transform(X)
        from faultlab.models.minirocket import prepare, rocket_transform

        return rocket_transform(
            prepare(X, self.spec["normalise"], self.spec["input"]), self.rocket, n_jobs=self.threads
        )

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        # numba parallelises MiniRocket over windows itself (its default threading layer
        # must not be entered from several Python threads at once)
        if self._pool is None or self.kind != "features" or len(X) < 64 * self.threads:
            return self._one(X)
        parts = np.array_split(X, self.threads)
        return np.concatenate(list(self._pool.map(self._one, parts)))


# -- classifier graph ------------------------------------------------------------------------------
def _skl2onnx_head(head: Any, n_features: int) -> tuple[Any, str]:
    """skl2onnx graph of a fitted (scaler ->) classifier; returns (model, probabilities output)."""
    from onnx import ModelProto
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.calibration import CalibratedClassifierCV

    clf = head[-1] if hasattr(head, "steps") else head
    method = getattr(clf, "method", None)
    if isinstance(clf, CalibratedClassifierCV) and method != "sigmoid":
        # skl2onnx 1.20's isotonic calibration is off by 0.06-0.33 in probability (measured) against
        # scikit-learn 1.9's, and it has no converter for temperature scaling
        raise ExportError(
            f"{method} calibration has no faithful ONNX conversion (skl2onnx); train with "
            "calibration=sigmoid to export, or serve this run with --backend native"
        )
    try:
        with _int_attributes():
            onx = convert_sklearn(
                head,
                initial_types=[("features", FloatTensorType([None, n_features]))],
                options={id(clf): {"zipmap": False}},
                target_opset=dict(OPSETS),
            )
    except Exception as exc:  # a converter missing for this estimator or option
        raise ExportError(f"skl2onnx cannot convert {type(clf).__name__}: {exc}") from None
    assert isinstance(onx, ModelProto)  # intermediate=False: the model, not (model, topology)
    return onx, onx.graph.output[-1].name


@contextlib.contextmanager
def _int_attributes() -> Iterator[None]:
    """skl2onnx 1.20 passes HistGradientBoosting's ``missing_go_to_left`` flags as booleans,
    which onnx's ``make_attribute`` rejects for an ints attribute: cast them to int."""
    from skl2onnx.common import _container

    make_node = _container.make_node

    def fixed(*args: Any, **attrs: Any) -> Any:
        for k, v in attrs.items():
            if isinstance(v, list) and any(isinstance(x, bool | np.bool_) for x in v):
                attrs[k] = [int(x) for x in v]
        return make_node(*args, **attrs)

    _container.make_node = fixed
    try:
        yield
    finally:
        _container.make_node = make_node


def _linear_softmax_head(head: Any, n_features: int) -> Any:
    """(scaler ->) SoftmaxRidge: ``softmax((x - mean) / scale @ W.T + b) / T)``, scaler folded in."""
    from onnx import TensorProto, helper, numpy_helper

    clf = head[-1]
    W = np.atleast_2d(np.asarray(clf.coef_, np.float64))  # [k or 1, F]
    b = np.atleast_1d(np.asarray(clf.intercept_, np.float64))
    if W.shape[0] == 1:  # binary ridge: decision d -> [-d/2, d/2]
        W, b = np.vstack([-W / 2, W / 2]), np.r_[-b / 2, b / 2]
    if len(head.steps) > 1:
        sc = head[0]
        scale = np.where(sc.scale_ > 0, sc.scale_, 1.0) if sc.scale_ is not None else 1.0
        mean = sc.mean_ if sc.mean_ is not None else 0.0
        W = W / scale
        b = b - W @ np.broadcast_to(mean, (n_features,))
    t = float(clf.temperature_)
    inits = [
        numpy_helper.from_array((W.T / t).astype(np.float32), "W"),
        numpy_helper.from_array((b / t).astype(np.float32), "b"),
    ]
    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["z0"]),
        helper.make_node("Add", ["z0", "b"], ["z"]),
        helper.make_node("Softmax", ["z"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "softmax_ridge",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, W.shape[0]])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSETS[""])])


def _ovo_coefficients(svc: Any) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """libsvm's one-vs-one layout as a matrix: decision = K(x, SV) @ C + intercept.

    For the pair (i, j) the support vectors of class i carry ``dual_coef_[j - 1]`` and those
    of class j carry ``dual_coef_[i]`` (a loop over class pairs, at export time only).
    """
    k = len(svc.classes_)
    starts = np.r_[0, np.cumsum(svc.n_support_)]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    C = np.zeros((int(starts[-1]), len(pairs)))
    for p, (i, j) in enumerate(pairs):
        C[starts[i] : starts[i + 1], p] = svc.dual_coef_[j - 1, starts[i] : starts[i + 1]]
        C[starts[j] : starts[j + 1], p] = svc.dual_coef_[i, starts[j] : starts[j + 1]]
    return C, np.asarray(svc.intercept_, np.float64), pairs


def _svm_sigmoid_head(head: Any, n_features: int) -> Any:
    """(scaler ->) sigmoid-calibrated RBF SVC as matrix products.

    ONNX Runtime's SVMClassifier evaluates the kernel row by row (1.5k windows/s for 375
    support vectors here); written as ``|x|^2 - 2 x.SV + |SV|^2`` it is one sgemm (5-6x
    faster). Then scikit-learn's steps: one-vs-one decisions, their one-vs-rest votes plus
    ``conf / (3 (|conf| + 1))``, a sigmoid per class, normalised to sum to one.
    """
    from onnx import TensorProto, helper

    cal = head[-1].calibrated_classifiers_[0]
    svc = cal.estimator
    k = len(svc.classes_)
    C, b, pairs = _ovo_coefficients(svc)
    inits, nodes = _rbf_decision_nodes(head, svc, C, b, n_features)
    if k > 2:  # one-vs-rest from one-vs-one, as sklearn's _ovr_decision_function
        more_inits, more_nodes = _ovr_nodes(pairs, k)
        inits += more_inits
        nodes += more_nodes
    else:
        nodes.append(helper.make_node("Identity", ["dec"], ["ovr"]))
    more_inits, more_nodes = _sigmoid_proba_nodes(cal, k)
    graph = helper.make_graph(
        nodes + more_nodes,
        "svm_sigmoid",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, k])],
        inits + more_inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSETS[""])])


def _f32(value: Any, name: str) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value, np.float32), name)


def _rbf_decision_nodes(
    head: Any, svc: Any, C: np.ndarray, b: np.ndarray, n_features: int
) -> tuple[list[Any], list[Any]]:
    """``features`` -> (scaled ->) RBF kernel against the support vectors -> ``dec``, the
    one-vs-one decision values ``K @ C + b``."""
    from onnx import TensorProto, helper

    SV = np.asarray(svc.support_vectors_, np.float64)
    inits = [
        _f32(-2 * SV.T, "m2SVT"),
        _f32((SV * SV).sum(1), "svsq"),
        _f32(-float(svc._gamma), "ng"),
        _f32(C, "C"),
        _f32(b, "b"),
        _f32([1], "one1"),
        helper.make_tensor("ax1", TensorProto.INT64, [1], [1]),
    ]
    x = "features"
    nodes = []
    if len(head.steps) > 1:
        sc = head[0]
        inits += [
            _f32(sc.mean_ if sc.mean_ is not None else np.zeros(n_features), "mu"),
            _f32(sc.scale_ if sc.scale_ is not None else np.ones(n_features), "sd"),
        ]
        nodes += [
            helper.make_node("Sub", [x, "mu"], ["xc"]),
            helper.make_node("Div", ["xc", "sd"], ["xs"]),
        ]
        x = "xs"
    nodes += [
        helper.make_node("Mul", [x, x], ["x2"]),
        helper.make_node("ReduceSum", ["x2", "ax1"], ["xx"], keepdims=1),
        helper.make_node("MatMul", [x, "m2SVT"], ["cross"]),
        helper.make_node("Add", ["cross", "xx"], ["d0"]),
        helper.make_node("Add", ["d0", "svsq"], ["d"]),
        helper.make_node("Mul", ["d", "ng"], ["gd"]),
        helper.make_node("Exp", ["gd"], ["K"]),
        helper.make_node("MatMul", ["K", "C"], ["dec0"]),
        helper.make_node("Add", ["dec0", "b"], ["dec"]),
    ]
    return inits, nodes


def _ovr_nodes(pairs: list[tuple[int, int]], k: int) -> tuple[list[Any], list[Any]]:
    """``dec`` (one-vs-one) -> ``ovr``: votes plus ``conf / (3 (|conf| + 1))`` per class."""
    from onnx import TensorProto, helper

    A = np.zeros((len(pairs), k))
    votes_j = np.zeros(k)
    for p, (i, j) in enumerate(pairs):
        A[p, i], A[p, j] = 1, -1
        votes_j[j] += 1
    inits = [_f32(A, "A"), _f32(votes_j, "vj"), _f32([0], "zero"), _f32([3], "three")]
    nodes = [
        helper.make_node("GreaterOrEqual", ["dec", "zero"], ["pos"]),
        helper.make_node("Cast", ["pos"], ["posf"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["posf", "A"], ["v0"]),
        helper.make_node("Add", ["v0", "vj"], ["votes"]),
        helper.make_node("MatMul", ["dec", "A"], ["conf"]),
        helper.make_node("Abs", ["conf"], ["aconf"]),
        helper.make_node("Add", ["aconf", "one1"], ["aconf1"]),
        helper.make_node("Mul", ["aconf1", "three"], ["den3"]),
        helper.make_node("Div", ["conf", "den3"], ["tconf"]),
        helper.make_node("Add", ["votes", "tconf"], ["ovr"]),
    ]
    return inits, nodes


def _sigmoid_proba_nodes(cal: Any, k: int) -> tuple[list[Any], list[Any]]:
    """``ovr`` -> the calibrators' sigmoids -> ``probabilities`` (normalised; two classes:
    ``[1 - p, p]``)."""
    from onnx import helper

    a_ = np.array([c.a_ for c in cal.calibrators])
    b_ = np.array([c.b_ for c in cal.calibrators])
    inits = [_f32(-a_, "na"), _f32(-b_, "nb")]
    nodes = [
        helper.make_node("Mul", ["ovr", "na"], ["s0"]),
        helper.make_node("Add", ["s0", "nb"], ["s1"]),
        helper.make_node("Sigmoid", ["s1"], ["p"]),
    ]
    if k > 2:
        nodes += [
            helper.make_node("ReduceSum", ["p", "ax1"], ["psum"], keepdims=1),
            helper.make_node("Div", ["p", "psum"], ["probabilities"]),
        ]
    else:
        nodes += [
            helper.make_node("Sub", ["one1", "p"], ["q"]),
            helper.make_node("Concat", ["q", "p"], ["probabilities"], axis=1),
        ]
    return inits, nodes


def _is_rbf_sigmoid_svm(clf: Any) -> bool:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    if not isinstance(clf, CalibratedClassifierCV) or clf.method != "sigmoid":
        return False
    cals = getattr(clf, "calibrated_classifiers_", [])
    return (
        len(cals) == 1
        and isinstance(cals[0].estimator, SVC)
        and cals[0].estimator.kernel == "rbf"
        and np.array_equal(cals[0].classes, cals[0].estimator.classes_)
    )


def _prior_head(prior: np.ndarray, n_features: int) -> Any:
    """A single-class task: the training prior for every window."""
    from onnx import TensorProto, helper, numpy_helper

    k = len(prior)
    inits = [
        numpy_helper.from_array(np.zeros((n_features, k), np.float32), "Z"),
        numpy_helper.from_array(np.asarray(prior, np.float32), "prior"),
    ]
    nodes = [
        helper.make_node("MatMul", ["features", "Z"], ["z"]),
        helper.make_node("Add", ["z", "prior"], ["probabilities"]),
    ]
    graph = helper.make_graph(
        nodes,
        "prior",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, k])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSETS[""])])


def uses_skl2onnx(clf: Any) -> bool:
    """Whether the graph of ``clf`` comes from skl2onnx (the others are written here)."""
    from sklearn.dummy import DummyClassifier

    from faultlab.models.minirocket import SoftmaxRidge

    return not (isinstance(clf, DummyClassifier | SoftmaxRidge) or _is_rbf_sigmoid_svm(clf))


def _task_head(pipe: Any, n_features: int) -> tuple[Any, str]:
    from sklearn.dummy import DummyClassifier

    from faultlab.models.minirocket import SoftmaxRidge

    head = pipe[1:]
    clf = head[-1]
    if isinstance(clf, DummyClassifier):
        return _prior_head(np.asarray(clf.class_prior_), n_features), "probabilities"
    if isinstance(clf, SoftmaxRidge):
        return _linear_softmax_head(head, n_features), "probabilities"
    if _is_rbf_sigmoid_svm(clf):
        return _svm_sigmoid_head(head, n_features), "probabilities"
    return _skl2onnx_head(head, n_features)


def head_graph(model: Any, n_features: int) -> Any:
    """One ONNX model: input ``features``, one ``proba_<task>`` output per task (all classes)."""
    import onnx
    from onnx import TensorProto, compose, helper, numpy_helper

    nodes, inits, outputs, opsets = [], [], [], dict(OPSETS)
    for i, (task, pipe) in enumerate(model.pipelines.items()):
        sub, prob = _task_head(pipe, n_features)
        prefix = f"t{i}_"
        sub = compose.add_prefix(sub, prefix)
        for op in sub.opset_import:
            opsets[op.domain] = max(opsets.get(op.domain, 0), op.version)
        nodes.append(helper.make_node("Identity", ["features"], [f"{prefix}features"]))
        nodes += list(sub.graph.node)
        inits += list(sub.graph.initializer)
        seen = np.asarray(pipe[-1].classes_, dtype=int)
        n_classes = len(model.classes[task])
        out = f"proba_{task}"
        if np.array_equal(seen, np.arange(n_classes)):
            nodes.append(helper.make_node("Identity", [prefix + prob], [out]))
        else:  # classes unseen in training get probability 0: a [seen, all] 0/1 matrix
            expand = np.zeros((len(seen), n_classes), np.float32)
            expand[np.arange(len(seen)), seen] = 1
            inits.append(numpy_helper.from_array(expand, f"{prefix}expand"))
            nodes.append(helper.make_node("MatMul", [prefix + prob, f"{prefix}expand"], [out]))
        outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [None, n_classes]))
    graph = helper.make_graph(
        nodes,
        f"faultlab_{model.name}",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_features])],
        outputs,
        inits,
    )
    onx = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()]
    )
    onx.ir_version = min(onx.ir_version, 9)
    onnx.checker.check_model(onx)
    return onx


def sample_windows(model: Any, n: int = 32, seed: int = 1) -> np.ndarray:
    """Noise windows over three decades of amplitude: features across a wide range."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, *model.input_shape))
    X *= np.exp(rng.uniform(np.log(0.01), np.log(3.0), (n, 1, 1)))
    return X.astype(np.float32)

"""ONNX export of the classical models: numpy front end + skl2onnx/hand-built classifier graph.

Every export path (forest, calibrated SVM, histogram boosting, MiniRocket's ridge and logistic
heads, a single-class prior, classes unseen in training) must answer like ``predict_proba``
(<= 1e-4, same labels) when run from the exported files alone, on windows it never saw.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from faultlab.data.types import NOT_APPLICABLE, WindowSet
from faultlab.models.base import build_model, load_model
from faultlab.serving.export import export_run
from faultlab.serving.predict import OnnxBackend, Predictor
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model
from faultlab.utils.io import write_json

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

L = 256
RATE = 12000.0


def _signals(n: int, kind: np.ndarray, seed: int) -> np.ndarray:
    """Noise (0), noise + 1.5 kHz tone (1), noise + periodic impacts (2); random gains."""
    rng = np.random.default_rng(seed)
    t = np.arange(L) / RATE
    X = rng.normal(0, 1, (n, 1, L))
    X[kind == 1] += 2 * np.sin(
        2 * np.pi * 1500 * t + rng.uniform(0, 6, (int((kind == 1).sum()), 1, 1))
    )
    imp = np.zeros(L)
    imp[::40] = 8
    X[kind == 2] += imp
    X *= np.exp(rng.uniform(-1, 1, (n, 1, 1)))
    return X.astype(np.float32)


def _windowset(classes: dict[str, list[str]], y: dict[str, np.ndarray], kind: np.ndarray, seed=0):
    n = len(kind)
    info = pd.DataFrame({"rpm": np.full(n, 1750.0)})
    return WindowSet(
        _signals(n, kind, seed),
        y,
        classes,
        np.arange(n).astype(str),
        info,
        sampling_rate=RATE,
        channels=["DE"],
    )


def _run(tmp_path, name: str, params: dict, classes=None, y=None, kind=None):
    kind = np.repeat([0, 1, 2], 30) if kind is None else kind
    classes = classes or {"class": ["normal", "tone", "impacts"]}
    y = y or {"class": kind.astype(np.int64)}
    ws = _windowset(classes, y, kind)
    model = build_model(name, classes, (1, L), params, TrainConfig(progress=False, seed=0))
    fit_model(model, ws, _windowset(classes, y, kind, seed=1))
    run = tmp_path / name
    model.save(run / "model")
    write_json(
        run / "preprocess.json",
        {
            "dataset": "cwru",
            "channels": ["DE"],
            "sampling_rate": RATE,
            "target_rate": RATE,
            "window": L,
            "stride": L,
            "normalise": "none",
            "standardiser": None,
            "target": "flat",
            "classes": classes,
            "feature_names": None,
        },
    )
    return run


def _check(run, n_tasks: int = 1):
    res = export_run(run, "onnx")
    assert res.exporter in ("skl2onnx", "onnx.helper") and res.max_abs_diff <= 1e-4
    meta = json.loads(res.metadata_path.read_text())
    entry = meta["exports"]["onnx"]
    assert entry["graph_input"]["name"] == "features" and entry["frontend"]["kind"]
    backend = OnnxBackend(res.model_path, meta["tasks"], threads=2, frontend=entry["frontend"])
    assert len(backend.output_names) == n_tasks
    kind = np.tile([0, 1, 2], 70)  # 210 windows: the front end splits them over 2 threads
    X = _signals(len(kind), kind, seed=7)
    ref = load_model(run / "model").predict_proba(X)
    for batch in (1, 5, len(X)):
        got = backend.predict_proba(X[:batch])
        for task in ref:
            np.testing.assert_allclose(got[task], ref[task][:batch], atol=1e-4)
            np.testing.assert_array_equal(got[task].argmax(1), ref[task][:batch].argmax(1))
    return meta


@pytest.mark.parametrize(
    "name,params",
    [
        ("rf", {"n_estimators": 20, "features": ["time", "spectral"], "n_bands": 16}),
        ("svm", {"n_bands": 16}),
        ("hist_gb", {"max_iter": 15, "n_bands": 16}),
        ("trivial", {}),
        ("minirocket", {"n_kernels": 168, "n_jobs": 1}),
        ("minirocket", {"n_kernels": 168, "n_jobs": 1, "head": "logistic", "input": "signal"}),
    ],
)
def test_classical_onnx_export_answers_like_the_model(tmp_path, name, params):
    meta = _check(_run(tmp_path, name, params))
    kind = meta["exports"]["onnx"]["frontend"]["kind"]
    assert kind == ("minirocket" if name == "minirocket" else "features")
    if name == "minirocket":
        assert (tmp_path / name / "export" / "frontend.npz").exists()


def test_envelope_features(tmp_path):
    params = {"features": ["time", "envelope"], "rpm": 1750.0}
    meta = _check(_run(tmp_path, "svm", params))
    assert "envelope" in meta["exports"]["onnx"]["frontend"]["config"]["groups"]


@pytest.mark.parametrize("calibration", ["isotonic", "temperature"])
def test_svm_calibrations_skl2onnx_gets_wrong_are_refused(tmp_path, calibration):
    from faultlab.serving.export import ExportError

    run = _run(tmp_path, "svm", {"calibration": calibration, "n_bands": 16})
    with pytest.raises(ExportError, match=f"{calibration} calibration"):
        export_run(run, "onnx")


def test_multitask_prior_and_unseen_classes(tmp_path):
    """detection (2 classes), location with one class never in training (column of zeros),
    and a task with a single training class (the DummyClassifier prior)."""
    kind = np.repeat([0, 1, 2], 30)
    classes = {
        "detection": ["normal", "fault"],
        "location": ["tone", "impacts", "never"],
        "single": ["a", "b"],
    }
    y = {
        "detection": (kind > 0).astype(np.int64),
        "location": np.where(kind == 0, NOT_APPLICABLE, kind - 1).astype(np.int64),
        "single": np.zeros(len(kind), np.int64),
    }
    run = _run(tmp_path, "rf", {"n_estimators": 10, "n_bands": 8}, classes, y, kind)
    _check(run, n_tasks=3)


def test_predictor_onnx_backend_matches_native_from_raw_signal(tmp_path):
    """predict --backend onnx exports on first use and gives the native verdicts, end to end."""
    run = _run(tmp_path, "hist_gb", {"max_iter": 10, "n_bands": 16})
    sig = _signals(1, np.array([2]), seed=3).reshape(1, -1)
    sig = np.tile(sig, 8)  # 8 windows of one recording
    a = Predictor(run, backend="native").predict_signal(sig, RATE)
    b = Predictor(run, backend="onnx", threads=1).predict_signal(sig, RATE)
    np.testing.assert_allclose(a.proba["class"], b.proba["class"], atol=1e-4)
    assert a.verdicts["class"].prediction == b.verdicts["class"].prediction


def test_binary_svm(tmp_path):
    """Two classes: one decision column, p0 = 1 - p1 (the matrix-product SVM graph)."""
    kind = np.repeat([0, 2], 30)
    classes = {"class": ["normal", "impacts"]}
    run = _run(
        tmp_path, "svm", {"n_bands": 16}, classes, {"class": (kind > 0).astype(np.int64)}, kind
    )
    assert export_run(run, "onnx").exporter == "onnx.helper"
    _check(run)

"""Deep-model inference paths: chunked streams (onnx) and OpenVINO give PyTorch's answers."""

from __future__ import annotations

import importlib.util
import json
import threading

import numpy as np
import pytest

from faultlab.errors import ConfigError
from faultlab.models.base import load_model
from faultlab.serving.export import export_run
from faultlab.serving.predict import Predictor
from faultlab.serving.streams import Streams
from serving_support import untrained_run

pytest.importorskip("onnxruntime")

SIZES = (1, 15, 37, 300)  # one call, below two minimum chunks, two streams, many chunks


@pytest.fixture(scope="module")
def cnn1d_run(tmp_path_factory):
    return untrained_run(tmp_path_factory.mktemp("backends"), "cnn1d")


def _windows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = np.geomspace(0.05, 2, n)[:, None, None]  # labels spread over the classes
    return (rng.standard_normal((n, 1, 1024)) * scale).astype(np.float32)


def _same_answers(got: dict, ref: dict) -> None:
    for task, p in ref.items():
        assert got[task].shape == p.shape
        assert np.abs(got[task] - p).max() <= 1e-4
        assert (got[task].argmax(1) == p.argmax(1)).all()


@pytest.mark.parametrize("streams,chunk", [(1, 8), (2, 8), (3, 5), (2, 128)])
def test_streams_keep_every_window_in_order(streams, chunk):
    calls = []

    def fn(x):
        calls.append(len(x))
        return [x[:, 0, :2] * 2, x[:, 0, 2]]

    run = Streams(fn, streams, chunk)
    for n in (1, 16, 31, 32, 33, 100):
        X = np.arange(n * 3, dtype=np.float32).reshape(n, 1, 3)
        a, b = run(X)
        np.testing.assert_array_equal(a, X[:, 0, :2] * 2)
        np.testing.assert_array_equal(b, X[:, 0, 2])
    assert max(calls) <= chunk


def test_onnx_backend_matches_torch_at_every_batch_size_and_under_concurrency(cnn1d_run):
    onnx = Predictor(cnn1d_run, backend="onnx", threads=2)
    model = load_model(cnn1d_run / "model")
    for n in SIZES:
        X = _windows(n, seed=n)
        _same_answers(onnx.backend.predict_proba(X), model.predict_proba(X))
    # four callers at once (the service's worker threads) share the streams
    X = _windows(300, seed=9)
    ref, out = model.predict_proba(X), {}

    def call(i):
        out[i] = onnx.backend.predict_proba(X)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        _same_answers(out[i], ref)


def test_openvino_backend_matches_torch_in_f32(cnn1d_run):
    pytest.importorskip("openvino")
    ov = Predictor(cnn1d_run, backend="openvino", threads=2)
    assert ov.backend_name == "openvino" and ov.backend.precision == "f32"
    model = load_model(cnn1d_run / "model")
    for n in SIZES:
        X = _windows(n, seed=n)
        _same_answers(ov.backend.predict_proba(X), model.predict_proba(X))
    signal = np.random.default_rng(1).normal(0, 0.3, (1, 12000)).astype(np.float32)
    a = ov.predict_signal(signal, 12000.0)
    b = Predictor(cnn1d_run, backend="torch").predict_signal(signal, 12000.0)
    assert a.prediction == b.prediction and abs(a.confidence - b.confidence) <= 1e-4


def test_openvino_missing_is_one_clear_error(cnn1d_run, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name)
    )
    with pytest.raises(ConfigError, match=r"pip install 'faultlab\[openvino\]'"):
        Predictor(cnn1d_run, backend="openvino")


def test_openvino_refuses_a_feature_models_graph(tmp_path):
    pytest.importorskip("openvino")
    run = untrained_run(tmp_path, "cnn1d")
    res = export_run(run, "onnx")
    meta = json.loads(res.metadata_path.read_text())
    meta["exports"]["onnx"]["frontend"] = {"kind": "features"}  # as a feature model's export
    res.metadata_path.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="use --backend onnx"):
        Predictor(run, backend="openvino")

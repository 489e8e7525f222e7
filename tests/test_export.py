"""``faultlab export``: ONNX / TorchScript files that answer like the model, with metadata."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from faultlab.cli import main
from faultlab.models.base import load_model
from faultlab.serving.export import ExportError, export_run
from faultlab.serving.predict import Predictor
from faultlab.serving.preprocess import Preprocessing, prepare_file
from faultlab.training.fit import fit_model
from serving_support import untrained_run

ort = pytest.importorskip("onnxruntime")

torch.set_num_threads(2)

#: Deep models checked (small settings keep the export quick; the graph ops are the same).
#: ``model:variant`` keys check a non-default option set of the same model.
MODELS = {
    "cnn1d": {},
    "cnn1d:spectrum": {"input": "spectrum", "spectrum_log": "log1p"},
    "lstm": {"layers": 1, "units": 32},
    "lstm:stft": {"layers": 1, "units": 32, "frontend": "stft", "frame": 128, "hop": 64},
    "lstm:chunk": {"layers": 1, "units": 32, "frontend": "chunk"},
    "gru": {"layers": 1, "units": 32},
    "resnet1d": {},
    "tcn": {},
}


def _untrained(tmp_path, key):
    return untrained_run(tmp_path, key.split(":")[0], params=MODELS[key])


@pytest.fixture(scope="module")
def real_windows(shared_data):
    """Model input replayed from two real recordings (inner race 0.007 and ball 0.021)."""
    pre = Preprocessing.from_dict(
        {"channels": ["DE"], "window": 1024, "target_rate": 12000, "classes": {}}
    )
    X = [prepare_file(pre, shared_data / "cwru" / f"{n}.mat").X[:24] for n in (108, 225)]
    return np.concatenate(X)


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_matches_predict_proba(tmp_path, real_windows, name):
    run = _untrained(tmp_path, name)
    res = export_run(run, "onnx")
    assert res.model_path == run / "export" / "model.onnx" and res.max_abs_diff <= 1e-4
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(res.model_path), opts, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["windows"]
    assert [o.name for o in sess.get_outputs()] == ["proba_class"]
    ref = load_model(run / "model").predict_proba(real_windows)["class"]
    for batch in (1, 7, len(real_windows)):  # the batch axis is dynamic
        got = sess.run(None, {"windows": real_windows[:batch]})[0]
        np.testing.assert_allclose(got, ref[:batch], atol=1e-4)
    meta = json.loads(res.metadata_path.read_text())
    assert meta["exports"]["onnx"]["opset"] >= 17
    assert meta["classes"] == {"class": ["normal", "IR", "B", "OR"]}
    assert meta["input"]["shape"] == ["batch", 1, 1024] and meta["sampling_rate"] == 12000
    assert meta["outputs"] == {"class": "proba_class"} and meta["channels"] == ["DE"]


@pytest.mark.parametrize("name", ["cnn1d", "lstm", "lstm:stft"])
def test_torchscript_matches_predict_proba(tmp_path, real_windows, name):
    run = _untrained(tmp_path, name)
    assert main(["export", str(run), "--format", "torchscript", "--out", str(tmp_path / "ts")]) == 0
    with warnings.catch_warnings():  # torch 2.13 marks torch.jit deprecated; it still loads
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(tmp_path / "ts" / "model.ts"))
    ref = load_model(run / "model").predict_proba(real_windows)["class"]
    with torch.no_grad():
        got = module(torch.from_numpy(real_windows))[0].numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4)
    meta = json.loads((tmp_path / "ts" / "metadata.json").read_text())
    assert meta["exports"]["torchscript"]["file"] == "model.ts"
    assert meta["preprocessing"]["window"] == 1024


def test_multitask_export_and_both_formats_in_one_metadata(tmp_path, real_windows):
    classes = {"detection": ["normal", "fault"], "location": ["IR", "B", "OR"], "size": ["a", "b"]}
    run = untrained_run(tmp_path, "cnn1d", classes)
    export_run(run, "onnx")
    export_run(run, "torchscript")
    meta = json.loads((run / "export" / "metadata.json").read_text())
    assert set(meta["exports"]) == {"onnx", "torchscript"}
    assert meta["tasks"] == ["detection", "location", "size"]
    sess = ort.InferenceSession(
        str(run / "export" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    outs = dict(
        zip([o.name for o in sess.get_outputs()], sess.run(None, {"windows": real_windows}))
    )
    ref = load_model(run / "model").predict_proba(real_windows)
    for task in classes:
        np.testing.assert_allclose(outs[f"proba_{task}"], ref[task], atol=1e-4)


def test_onnx_backend_predicts_like_the_torch_backend(tmp_path, shared_data):
    run = untrained_run(tmp_path, "cnn1d")
    f = shared_data / "cwru" / "237.mat"
    a = Predictor(run, backend="torch").predict_file(f)
    b = Predictor(run, backend="onnx").predict_file(f)  # exports to a temporary folder itself
    np.testing.assert_allclose(a.proba["class"], b.proba["class"], atol=1e-4)
    assert a.verdicts["class"].prediction == b.verdicts["class"].prediction


def test_sklearn_model_says_which_formats_it_supports(tmp_path, capsys):
    """A feature pipeline (rf) has no TorchScript; ONNX it has (see test_export_classical)."""
    from faultlab.data.types import WindowSet
    from faultlab.models.base import build_model
    from faultlab.utils.io import write_json

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 1, 256)).astype(np.float32)
    X[20:] *= 3
    y = np.r_[np.zeros(20), np.ones(20)].astype(np.int64)
    import pandas as pd

    ws = WindowSet(
        X,
        {"class": y},
        {"class": ["a", "b"]},
        np.arange(40).astype(str),
        pd.DataFrame(index=range(40)),
        sampling_rate=12000.0,
        channels=["DE"],
    )
    model = build_model("rf", ws.classes, (1, 256), {"features": ["time"], "n_estimators": 10})
    fit_model(model, ws)
    model.save(tmp_path / "run" / "model")
    write_json(
        tmp_path / "run" / "preprocess.json",
        {"channels": ["DE"], "window": 256, "target_rate": 12000, "classes": ws.classes},
    )
    assert main(["export", str(tmp_path / "run"), "--format", "torchscript"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model 'rf'") and "cannot be exported as torchscript" in err
    assert "formats it supports: onnx" in err and "--backend native" in err
    assert main(["export", str(tmp_path / "run"), "--format", "onnx"]) == 0
    assert "via skl2onnx" in capsys.readouterr().out
    with pytest.raises(ExportError, match="unknown export format"):
        export_run(tmp_path / "run", "tflite")

"""ONNX graph rewrites: 1-D convolutions run as 2-D give the same probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faultlab.models.base import load_model
from faultlab.serving.export import export_run
from faultlab.serving.onnx_passes import conv1d_as_conv2d
from serving_support import untrained_run

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def _run(model_or_path, X: np.ndarray, name: str = "windows") -> list[np.ndarray]:
    src = (
        model_or_path.SerializeToString() if hasattr(model_or_path, "graph") else str(model_or_path)
    )
    sess = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    return sess.run(None, {name: X})


@pytest.mark.parametrize(
    "name,params",
    [
        ("cnn1d", {}),
        ("resnet1d", {"stages": [8, 16]}),
        ("inception", {"filters": 8, "depth": 3}),  # Concat of lifted branches
        ("tcn", {"channels": [8, 8], "kernel": 3}),  # dilations, causal padding
    ],
)
def test_exported_conv_models_run_2d_and_match(tmp_path, name, params):
    run = untrained_run(tmp_path, name, params=params, window=512)
    res = export_run(run, "onnx")
    meta = json.loads(res.metadata_path.read_text())
    assert res.max_abs_diff <= 1e-4
    graph = onnx.load(str(res.model_path)).graph
    weights = {i.name: len(i.dims) for i in graph.initializer}
    conv_ranks = [weights[n.input[1]] for n in graph.node if n.op_type == "Conv"]
    assert conv_ranks and all(r == 4 for r in conv_ranks), conv_ranks
    assert any("run as 2-D" in n for n in json.dumps(meta).split('"')), meta["exports"]
    # against the graph before the rewrite, on windows over three decades of amplitude
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((16, 1, 512)) * np.geomspace(0.01, 3, 16)[:, None, None]).astype(
        np.float32
    )
    ref = load_model(run / "model").predict_proba(X)["class"]
    np.testing.assert_allclose(_run(res.model_path, X)[0], ref, atol=1e-4)


def _conv_graph():
    """x [N, 2, 32] -> Conv1d -> Relu -> (+ x's Conv1d skip) -> MaxPool -> ReduceMean (3-D)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(rng.standard_normal((4, 2, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.standard_normal((4, 2, 1)).astype(np.float32), "w2"),
        numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b1"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1], dilations=[1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["x", "w2"], ["c2"]),
        helper.make_node("Add", ["r1", "c2"], ["s"]),
        helper.make_node("MaxPool", ["s"], ["p"], kernel_shape=[2], strides=[2]),
        helper.make_node("ReduceMean", ["p"], ["y"], axes=[2], keepdims=0),
        helper.make_node("Identity", ["s"], ["s_out"]),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 32])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4]),
            helper.make_tensor_value_info("s_out", TensorProto.FLOAT, ["N", 4, 32]),
        ],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_residual_add_and_3d_readers_are_squeezed_back():
    model = _conv_graph()
    lifted, count = conv1d_as_conv2d(model)
    assert count == 3  # two convolutions and the pool
    X = np.random.default_rng(2).standard_normal((5, 2, 32)).astype(np.float32)
    for a, b in zip(_run(model, X, "x"), _run(lifted, X, "x")):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-5)
    # the original is untouched (the pass works on a copy)
    assert [len(i.dims) for i in model.graph.initializer][:2] == [3, 3]


def test_graph_without_1d_convolutions_is_returned_unchanged():
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    out, count = conv1d_as_conv2d(model)
    assert count == 0 and out.SerializeToString() == model.SerializeToString()


# -- input normalisation folded into the first convolution ----------------------------------------
def _norm_graph(mean: np.ndarray, std: np.ndarray, pads: list[int], channels: int = 1):
    """windows [N, C, 32] -> Sub(mean) -> Div(std) -> Conv(k=5, stride 2) -> Relu."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    inits = [
        numpy_helper.from_array(mean.astype(np.float32), "mean"),
        numpy_helper.from_array(std.astype(np.float32), "std"),
        numpy_helper.from_array(rng.standard_normal((4, channels, 5)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b"),
    ]
    nodes = [
        helper.make_node("Sub", ["windows", "mean"], ["c"]),
        helper.make_node("Div", ["c", "std"], ["z"]),
        helper.make_node("Conv", ["z", "w", "b"], ["y0"], pads=pads, strides=[2]),
        helper.make_node("Relu", ["y0"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("windows", TensorProto.FLOAT, ["N", channels, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, "L"])],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _ops(model) -> list[str]:
    return [n.op_type for n in model.graph.node]


@pytest.mark.parametrize("pads", [[2, 2], [0, 0], [4, 0]])
def test_global_norm_folds_into_the_conv_and_pads_with_the_mean(pads):
    from faultlab.serving.onnx_passes import fold_input_norm

    model = _norm_graph(np.full((1, 32), 0.7), np.full((1, 32), 0.3), pads)
    folded, ok = fold_input_norm(model)
    assert ok and "Sub" not in _ops(folded) and "Div" not in _ops(folded)
    assert ("Pad" in _ops(folded)) == any(pads)
    X = (np.random.default_rng(4).standard_normal((6, 1, 32)) + 0.7).astype(np.float32)
    np.testing.assert_allclose(_run(folded, X)[0], _run(model, X)[0], atol=1e-5)


def test_norm_that_varies_along_the_window_or_by_channel_with_padding_stays():
    from faultlab.serving.onnx_passes import fold_input_norm

    ramp = np.linspace(0.1, 1.0, 32)[None]  # "feature" normalisation: one value per sample
    assert not fold_input_norm(_norm_graph(ramp, np.ones((1, 32)), [2, 2]))[1]
    two = np.array([[0.5] * 32, [-0.5] * 32])  # two channels, two means: no one Pad value
    assert not fold_input_norm(_norm_graph(two, np.ones((2, 32)), [2, 2], channels=2))[1]
    # ... but without padding the shift goes into the bias exactly
    model = _norm_graph(two, np.array([[0.2] * 32, [2.0] * 32]), [0, 0], channels=2)
    folded, ok = fold_input_norm(model)
    X = np.random.default_rng(5).standard_normal((3, 2, 32)).astype(np.float32)
    assert ok and _ops(folded) == ["Conv", "Relu"]
    np.testing.assert_allclose(_run(folded, X)[0], _run(model, X)[0], atol=1e-5)


def test_exported_cnn1d_has_its_norm_folded_and_matches_on_offset_windows(tmp_path):
    """A mean far from zero makes wrong padding visible at the window's edges."""
    run = untrained_run(tmp_path, "cnn1d")
    m = load_model(run / "model")
    rng = np.random.default_rng(6)
    m.net.norm.fit((0.3 * rng.standard_normal((64, 1, 1024)) + 1.5).astype(np.float32), "global")
    m.save(run / "model")
    res = export_run(run, "onnx")
    ops = _ops(onnx.load(str(res.model_path)))
    assert ops[0] == "Pad" and "Sub" not in ops and "Div" not in ops
    X = (0.3 * rng.standard_normal((32, 1, 1024)) + 1.5).astype(np.float32)
    ref = load_model(run / "model").predict_proba(X)["class"]
    got = _run(res.model_path, X)[0]
    np.testing.assert_allclose(got, ref, atol=1e-4)
    assert (got.argmax(1) == ref.argmax(1)).all()

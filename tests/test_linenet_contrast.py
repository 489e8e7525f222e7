"""``linenet`` on the decoy-contrast block: each family's patch, races sharing one detector
and the ball its own, trained on two fault sizes and tested on the third."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faultlab.data.labels import LOCATION_ORDER
from faultlab.data.synthetic import SyntheticConfig, generate
from faultlab.data.windowing import make_windows
from faultlab.errors import ConfigError
from faultlab.features.order_envelope import OrderEnvelopeConfig
from faultlab.features.window_frontend import WindowFrontend
from faultlab.models.base import build_model, load_model
from faultlab.models.linenet import family_patches
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model

torch.set_num_threads(1)

FE = {"kind": "order_envelope", "contrast": True, "harmonics": 1, "half_width": 0.0}
PARAMS = {"frontend": FE, "blocks": ["contrast"], "ball_detector": "own", "hidden": [32, 16]}


def _windows(sizes, seed):
    recs = generate(
        SyntheticConfig(duration_s=1.0, sizes=sizes, loads=[0, 3], normal=False, seed=seed)
    )
    return WindowFrontend(FE).apply(make_windows(recs, 1024).select_tasks(["location"]))


def test_each_family_reads_its_own_contrast_columns_and_kurtosis():
    fe = OrderEnvelopeConfig.model_validate(FE)
    names = fe.names()
    patches = family_patches(fe, 1, 2, ["contrast"])
    families = ("BSF", "BPFO", "BPFI")  # fault families in the front end's order
    assert patches.shape == (3, 3)
    for row, fam in zip(patches, families):
        assert [names[i] for i in row] == [
            f"contrast:line:{fam}",
            f"contrast:period:{fam}",
            "contrast:log_kurtosis",
        ]
    fe2 = OrderEnvelopeConfig.model_validate({**FE, "harmonics": 2})
    both = family_patches(fe2, 2, 1, ["spectrum", "contrast"])  # two channels: both read
    assert both.shape == (3, 2 * (1 + 3)) and both.max() >= fe2.n_outputs


def test_races_share_a_detector_and_the_ball_has_its_own():
    model = build_model("linenet", {"location": list(LOCATION_ORDER)}, (1, 12), PARAMS)
    det = model.net.backbone
    x = torch.randn(4, 1, 12)
    ref = det(x)
    with torch.no_grad():
        det.own[-1].bias += 1.0  # the ball's detector moves only the ball's score (BSF, col 0)
    moved = det(x) - ref
    assert torch.allclose(moved[:, 0], torch.ones(4)) and torch.allclose(
        moved[:, 1:], torch.zeros(4, 2)
    )
    idx = det.idx
    swapped = x.clone()  # BPFO's and BPFI's evidence swapped: their scores swap (one detector)
    swapped[:, 0, idx[1]], swapped[:, 0, idx[2]] = x[:, 0, idx[2]], x[:, 0, idx[1]]
    assert torch.allclose(det(swapped)[:, [2, 1]], det(x)[:, [1, 2]], atol=1e-6)


def test_trained_on_two_sizes_it_diagnoses_the_third(tmp_path):
    train, test = _windows([0.007, 0.021], seed=0), _windows([0.014], seed=1)
    model = build_model(
        "linenet",
        train.classes,
        train.X.shape[1:],
        PARAMS,
        TrainConfig(seed=0, num_threads=1, epochs=15, batch_size=32, lr=0.01, progress=False),
    )
    fit_model(model, train)
    proba = model.predict_proba(test.X)["location"]
    assert (proba.argmax(1) == test.y["location"]).mean() >= 0.9
    model.save(tmp_path / "m")
    np.testing.assert_allclose(
        load_model(tmp_path / "m").predict_proba(test.X)["location"], proba, atol=1e-6
    )
    pytest.importorskip("onnxruntime")
    from faultlab.serving.export import export_onnx

    _, diff, _ = export_onnx(model, tmp_path / "m.onnx", model.tasks)
    assert diff <= 1e-4


def test_contrast_blocks_need_the_contrast_front_end():
    with pytest.raises(ConfigError, match="contrast: true"):
        build_model("linenet", {"location": list(LOCATION_ORDER)}, (1, 5), {"blocks": ["contrast"]})
    with pytest.raises(ConfigError, match="blocks"):
        build_model("linenet", {"location": list(LOCATION_ORDER)}, (1, 5), {"blocks": []})


def test_ball_kurtosis_false_leaves_kurtosis_out_of_the_balls_patch_only(tmp_path):
    params = {**PARAMS, "ball_kurtosis": False}
    model = build_model("linenet", {"location": list(LOCATION_ORDER)}, (1, 12), params)
    det = model.net.backbone
    x = torch.randn(4, 1, 12)
    kurt = OrderEnvelopeConfig.model_validate(FE).names().index("contrast:log_kurtosis")
    bumped = x.clone()
    bumped[:, 0, kurt] += 5.0
    moved = det(bumped) - det(x)
    assert torch.allclose(moved[:, 0], torch.zeros(4))  # the ball (BSF) does not read it
    assert (moved[:, 1:].abs() > 0).any()  # the races still do
    assert "keep" not in det.state_dict()  # rebuilt from params: old saved models still load
    default = build_model("linenet", {"location": list(LOCATION_ORDER)}, (1, 12), PARAMS)
    assert (default.net.backbone.keep == 1).all()
    pytest.importorskip("onnxruntime")
    from faultlab.serving.export import export_onnx

    model.net.eval()
    _, diff, _ = export_onnx(model, tmp_path / "m.onnx", model.tasks)
    assert diff <= 1e-4  # the mask is exported with the network


def test_kurtosis_gate_appends_evidence_times_kurtosis_to_every_patch(tmp_path):
    params = {**PARAMS, "ball_detector": "shared", "class_bias": True, "kurtosis_gate": True}
    model = build_model("linenet", {"location": list(LOCATION_ORDER)}, (1, 12), params)
    det = model.net.backbone
    names = OrderEnvelopeConfig.model_validate(FE).names()
    # each patch reads line, period, kurtosis; the gate appends line x kurt, period x kurt
    assert det.gate_ev.tolist() == [0, 1] and det.gate_k.tolist() == [2, 2]
    assert det.mlp[0].in_features == 5
    x = torch.randn(4, 1, 12)
    kurt = names.index("contrast:log_kurtosis")
    flat = x.reshape(4, -1)
    patches = flat[:, det.idx]
    ref = torch.cat([patches, patches[..., :2] * flat[:, kurt, None, None]], -1)
    assert torch.allclose(det(x), det.mlp(ref).squeeze(-1), atol=1e-6)
    assert not any(k.startswith("gate") for k in det.state_dict())  # rebuilt from params
    with pytest.raises(ConfigError, match="kurtosis_gate needs blocks"):
        build_model("linenet", {"location": list(LOCATION_ORDER)}, (1, 12), {"kurtosis_gate": True})
    pytest.importorskip("onnxruntime")
    from faultlab.serving.export import export_onnx

    model.net.eval()
    _, diff, _ = export_onnx(model, tmp_path / "m.onnx", model.tasks)
    assert diff <= 1e-4  # the products are exported with the network

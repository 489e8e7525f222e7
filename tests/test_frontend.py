"""The order-domain envelope front end end to end: runner, preprocess.json, predict replay,
ONNX parity, the envelope expert, and the cross-rig synthetic transfer it exists for."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from faultlab.data.labels import LOCATION_ORDER
from faultlab.data.synthetic import SyntheticConfig, generate
from faultlab.data.windowing import make_windows
from faultlab.errors import ConfigError
from faultlab.experiments.config import ExperimentConfig
from faultlab.experiments.runner import prepare as prepare_experiment
from faultlab.experiments.runner import run_experiment
from faultlab.features.window_frontend import WindowFrontend, split_frontend
from faultlab.models.base import build_model, get_spec
from faultlab.serving.predict import Predictor
from faultlab.serving.preprocess import prepare
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model

torch.set_num_threads(1)

SYN = {"duration_s": 1.0, "sizes": [0.014], "snr_db": 0.0, "loads": [0, 3]}
FE = {"kind": "order_envelope"}


def _run(tmp_path, model: dict, report: bool = True, **training) -> tuple:
    """One run into ``tmp_path/run``; ``report=False`` where a test never reads the report
    (1-3 s of plotting)."""
    cfg = ExperimentConfig.model_validate(
        {
            "name": "fe-test",
            "target": "location",
            "data": {"dataset": "synthetic", "window": 1024, "synthetic": SYN},
            "model": model,
            "split": {"kind": "leave_one_out", "column": "load_hp", "folds": [3]},
            "training": {
                "epochs": 2,
                "batch_size": 32,
                "num_threads": 1,
                "progress": False,
                **training,
            },
        }
    )
    windows, splits = prepare_experiment(cfg)
    run_dir = tmp_path / "run"
    metrics = run_experiment(cfg, run_dir, windows=windows, split=splits[0], report=report)
    return run_dir, metrics


def test_cnn1d_with_the_front_end_replays_in_predict_and_exports_to_onnx(tmp_path):
    run_dir, metrics = _run(tmp_path, {"name": "cnn1d", "params": {"frontend": FE}})
    pre = json.loads((run_dir / "preprocess.json").read_text())
    assert pre["frontend"]["kind"] == "order_envelope" and pre["frontend_bearing"] == ["6205"]
    assert metrics["data"]["rpm_source"] == {"option": 6}  # the generator's own speeds
    model_json = json.loads((run_dir / "model" / "model.json").read_text())
    assert "frontend" not in model_json["params"]  # the runner owns it, not the network
    assert model_json["input_shape"] == [1, WindowFrontend(FE).cfg.n_outputs]
    assert (run_dir / "evidence.json").exists() and (
        run_dir / "plots" / "envelope_evidence.png"
    ).exists()
    assert "Envelope evidence" in (run_dir / "report.md").read_text()

    # predict on a held-out recording replays windowing + front end: same input as the runner
    rec = next(
        r for r in generate(SyntheticConfig(**SYN)) if r.recording_id == "syn-IR-0.014-L3-r0"
    )
    predictor = Predictor(run_dir)
    prepared = prepare(predictor.pre, rec.signal, rec.sampling_rate, "ir", meta=rec.meta)
    ws = make_windows([rec], 1024)
    expected = WindowFrontend(pre["frontend"]).apply(ws).X
    np.testing.assert_allclose(prepared.X, expected, atol=1e-5)
    assert prepared.rpm == rec.meta["rpm"] and prepared.rpm_source == "option"
    rp = predictor.predict_prepared(prepared)
    assert rp.summary()["shaft_rpm"] == rec.meta["rpm"]

    # without metadata the speed is estimated from the signal, and predict says so (the
    # estimator's accuracy is tested in test_signals: this rig has only 2 shaft harmonics)
    blind = prepare(predictor.pre, rec.signal, rec.sampling_rate, "ir")
    assert blind.rpm_source == "estimated" and blind.rpm > 0
    told = prepare(predictor.pre, rec.signal, rec.sampling_rate, "ir", rpm=1730.0)
    assert told.rpm_source == "option"
    np.testing.assert_allclose(told.X, expected, atol=1e-5)

    # ONNX: the exported network answers like predict on the replayed input
    from faultlab.serving.export import export_run

    pytest.importorskip("onnxruntime")
    res = export_run(run_dir, "onnx")
    assert res.max_abs_diff <= 1e-4
    onnx = Predictor(run_dir, backend="onnx").predict_prepared(prepared)
    np.testing.assert_allclose(onnx.proba["location"], rp.proba["location"], atol=1e-4)


def test_envelope_model_reports_its_evidence(tmp_path):
    run_dir, metrics = _run(tmp_path, {"name": "envelope"}, report=False)
    assert metrics["primary"]["accuracy"] >= 0.95  # IR / B / OR lines on the synthetic rig
    rec = next(
        r for r in generate(SyntheticConfig(**SYN)) if r.recording_id == "syn-OR-0.014-L3-r0"
    )
    predictor = Predictor(run_dir)
    rp = predictor.predict_prepared(
        prepare(predictor.pre, rec.signal, rec.sampling_rate, "or", meta=rec.meta)
    )
    ev = rp.summary()["evidence"]
    assert ev["verdict"] == {"location": "OR"} and ev["lines"][0]["line"].endswith("BPFO")
    assert ev["lines"][0]["times_floor"] > 3 and "pre-whitening" in ev["band"]
    assert ev["periods"][0]["period"] == "BPFO"  # the impact period too
    from faultlab.reporting.evidence import recording_evidence_plot

    assert recording_evidence_plot(rp, tmp_path / "ev").name == "or_evidence.png"


def test_linenet_scores_each_family_with_one_detector_and_exports(tmp_path):
    run_dir, metrics = _run(tmp_path, {"name": "linenet"}, report=False, epochs=10, lr=0.01)
    assert metrics["primary"]["accuracy"] >= 0.9
    model_json = json.loads((run_dir / "model" / "model.json").read_text())
    assert model_json["params"]["frontend"]["periodicity"] == 3  # it reads the layout
    from faultlab.models.base import load_model

    net = load_model(run_dir / "model").net
    # one detector, three families: a class's logit moves only with its own family's score
    scores = torch.tensor([[0.0, 5.0, 0.0]])  # families BSF, BPFO, BPFI
    logits = net.heads(scores)["location"][0]
    assert int(logits.argmax()) == LOCATION_ORDER.index("OR")
    from faultlab.serving.export import export_run

    pytest.importorskip("onnxruntime")
    assert export_run(run_dir, "onnx").max_abs_diff <= 1e-4


def test_frontend_options_are_checked_and_owned_by_the_runner():
    with pytest.raises(ConfigError, match="band"):
        WindowFrontend({"kind": "order_envelope", "band": "wavelet"})
    with pytest.raises(ConfigError, match="axis"):
        WindowFrontend({"kind": "order_envelope", "axis": "time"})
    fe, params = split_frontend(get_spec("rf").defaults, {"frontend": FE, "n_estimators": 10})
    assert fe is not None and params == {"n_estimators": 10}
    fe, params = split_frontend(get_spec("lstm").defaults, {"frontend": "chunk"})
    assert fe is None and params == {"frontend": "chunk"}  # the recurrent net's own layer
    fe, params = split_frontend(get_spec("envelope").defaults, {})
    assert fe is not None and params["frontend"]["axis"] == "defect"


def _domain(bearing, fs, rpm_scale, window, seed):
    rpm = {0: 1797.0 * rpm_scale, 3: 1730.0 / rpm_scale}
    recs = generate(
        SyntheticConfig(
            bearing=bearing,
            sampling_rate=fs,
            rpm=rpm,
            loads=[0, 3],
            duration_s=1.0,
            normal=False,
            sizes=[0.007, 0.021],
            resonance_hz=3500.0 if fs < 20000 else 5200.0,
            seed=seed,
        )
    )
    ws = make_windows(recs, window)
    return ws.select_tasks(["location"])


@pytest.mark.parametrize("name", ["rf", "envelope", "linenet", "envelope-contrast"])
def test_trained_on_one_rig_diagnoses_another(name):
    """Train 6205 @ 12 kHz (1024 samples), test 6203 @ 48 kHz (4096) at +20 % / -17 % speed."""
    train = _domain("6205", 12000.0, 1.0, 1024, 0)
    test = _domain("6203", 48000.0, 1.2, 4096, 1)
    own = get_spec(name).defaults.get("frontend")  # envelope, linenet: their own layout
    fe = WindowFrontend(own if isinstance(own, dict) else FE)
    train, test = fe.apply(train), fe.apply(test)
    params = {"n_estimators": 100} if name == "rf" else {}
    model = build_model(
        name,
        {"location": list(LOCATION_ORDER)},
        train.X.shape[1:],
        params,
        TrainConfig(seed=0, num_threads=1, epochs=15, batch_size=32, progress=False),
    )
    fit_model(model, train)
    acc = (model.predict_proba(test.X)["location"].argmax(1) == test.y["location"]).mean()
    assert acc >= 0.95

"""``ensemble``: soft voting over registered models trained on the same windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from faultlab.data.synthetic import SyntheticConfig, generate
from faultlab.data.windowing import make_windows
from faultlab.errors import ConfigError
from faultlab.features.window_frontend import WindowFrontend
from faultlab.models.base import build_model, get_spec, load_model
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model

torch.set_num_threads(1)

FE = {"kind": "order_envelope", "contrast": True, "harmonics": 1, "half_width": 0.0}
PHYSICS = {"name": "envelope-contrast", "params": {"frontend": FE}}
DEEP = {
    "name": "linenet",
    "params": {"frontend": FE, "blocks": ["contrast"], "ball_detector": "own", "hidden": [8]},
}
FAST = TrainConfig(seed=0, num_threads=1, epochs=4, batch_size=32, lr=0.01, progress=False)


def _windows(sizes, seed):
    recs = generate(
        SyntheticConfig(duration_s=1.0, sizes=sizes, loads=[0, 3], normal=False, seed=seed)
    )
    return WindowFrontend(FE).apply(make_windows(recs, 1024).select_tasks(["location"]))


@pytest.fixture(scope="module")
def data():
    return _windows([0.007], 0), _windows([0.021], 1), _windows([0.014], 2)


def _ensemble(ws, **params):
    return build_model(
        "ensemble", ws.classes, ws.X.shape[1:], {"members": [PHYSICS, DEEP], **params}, FAST
    )


def test_soft_vote_is_the_weighted_mean_and_round_trips(data, tmp_path):
    train, val, test = data
    model = _ensemble(train, weights=[3, 1])
    fit = fit_model(model, train, val)
    assert model.weights == [0.75, 0.25] and fit.best_epoch is not None
    members = [m.predict_proba(test.X)["location"] for m in model.members]
    proba = model.predict_proba(test.X)["location"]
    np.testing.assert_allclose(proba, 0.75 * members[0] + 0.25 * members[1], atol=1e-6)
    assert (proba.argmax(1) == test.y["location"]).mean() >= 0.9
    model.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "ensemble.json").read_text())["weights"] == [0.75, 0.25]
    again = load_model(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(test.X)["location"], proba, atol=1e-6)
    assert again.describe().n_params == model.describe().n_params > 7


def test_geometric_mean_and_weights_chosen_on_validation(data):
    train, val, test = data
    geo = _ensemble(train, combine="mean_logproba")
    fit_model(geo, train)
    members = [m.predict_proba(test.X)["location"] for m in geo.members]
    ref = np.sqrt(members[0] * members[1])
    ref /= ref.sum(1, keepdims=True)
    np.testing.assert_allclose(geo.predict_proba(test.X)["location"], ref, atol=1e-5)
    chosen = _ensemble(train, weights="val")
    fit = fit_model(chosen, train, val)
    assert chosen.weights_source == "val" and abs(sum(chosen.weights) - 1) < 1e-9
    assert any("chosen on the" in n and "validation windows" in n for n in fit.notes)
    no_val = _ensemble(train, weights="val")  # the refit: nothing to choose on, equal
    assert (
        "no validation windows" in fit_model(no_val, train).notes[-1]
        and no_val.weights == [0.5] * 2
    )


def test_seed_offsets_average_seeds_and_weights_can_count_the_ranking(data):
    """Members of one spec differ only by their seed offset (equal offsets: identical nets);
    weights_score adds the macro ROC-AUC to the balanced accuracy the grid maximises."""
    train, val, test = data
    same = _ensemble(train, members=[DEEP, DEEP])
    seeds = _ensemble(
        train,
        members=[DEEP, {**DEEP, "seed_offset": 1}],
        weights="val",
        weights_score="balanced_accuracy+roc_auc",
    )
    fit_model(same, train)
    fit = fit_model(seeds, train, val)
    assert [m.training.seed for m in seeds.members] == [0, 1]
    p = [m.predict_proba(test.X)["location"] for m in same.members]
    np.testing.assert_allclose(p[0], p[1], atol=1e-6)
    q = [m.predict_proba(test.X)["location"] for m in seeds.members]
    assert np.abs(q[0] - q[1]).max() > 1e-3
    note = next(n for n in fit.notes if "chosen on the" in n)
    score = float(note.split("balanced_accuracy+roc_auc ")[1].split(",")[0])
    assert 1.0 < score <= 2.0  # balanced accuracy + AUROC (each in [0, 1])


def test_the_contrast_block_does_not_depend_on_the_spectrum_scale(data):
    """Why envelope-contrast can take linenet's front end (scale: log) in one ensemble: it
    reads only the contrast columns, which the scale does not touch."""
    recs = generate(SyntheticConfig(duration_s=0.5, sizes=[0.014], loads=[0], normal=False))
    ws = make_windows(recs, 1024).select_tasks(["location"])
    log, lin = WindowFrontend(FE), WindowFrontend({**FE, "scale": "linear"})
    cols = [i for i, n in enumerate(log.names()) if n.startswith("contrast:")]
    assert log.names() == lin.names() and len(cols) == 7
    np.testing.assert_array_equal(log.apply(ws).X[..., cols], lin.apply(ws).X[..., cols])


def test_bad_members_are_one_line_errors(data):
    train = data[0]
    with pytest.raises(ConfigError, match=r"members\[1\]: unknown model 'nope'"):
        _ensemble(train, members=[PHYSICS, {"name": "nope"}])
    with pytest.raises(ConfigError, match="dropuot"):
        _ensemble(train, members=[PHYSICS, {"name": "mlp", "params": {"dropuot": 0.1}}])
    with pytest.raises(ConfigError, match="3 value"):
        _ensemble(train, weights=[1, 2, 3])
    with pytest.raises(ConfigError, match="at least one"):
        _ensemble(train, members=[])
    other = {"name": "envelope-contrast"}  # its default front end has scale: linear
    with pytest.raises(ConfigError, match="different window front ends .*scale"):
        _ensemble(train, members=[other, DEEP])
    with pytest.raises(ConfigError, match="raw windows"):
        get_spec("ensemble").cls.window_frontend({"members": [PHYSICS, {"name": "mlp"}]})


def test_a_run_predicts_from_its_directory_and_export_says_why_not(tmp_path):
    from faultlab.experiments.config import ExperimentConfig
    from faultlab.experiments.runner import prepare as prepare_experiment
    from faultlab.experiments.runner import run_experiment
    from faultlab.serving.export import ExportError, export_run
    from faultlab.serving.predict import Predictor
    from faultlab.serving.preprocess import prepare

    syn = {"duration_s": 1.0, "sizes": [0.007, 0.014, 0.021], "loads": [0, 3], "normal": False}
    cfg = ExperimentConfig.model_validate(
        {
            "name": "ensemble-test",
            "target": "location",
            "data": {"dataset": "synthetic", "window": 1024, "synthetic": syn},
            "model": {
                "name": "ensemble",
                "params": {"members": [PHYSICS, DEEP], "weights": "val"},
            },
            "split": {
                "kind": "leave_one_out",
                "column": "fault_diameter_in",
                "folds": [0.014],
                "val": {"strategy": "condition", "refit": True},
            },
            "training": {"epochs": 4, "batch_size": 32, "lr": 0.01, "progress": False},
        }
    )
    windows, splits = prepare_experiment(cfg)
    # the run directory is replayed; its report is never read
    metrics = run_experiment(cfg, tmp_path / "run", windows=windows, split=splits[0], report=False)
    assert metrics["primary"]["accuracy"] >= 0.9
    notes = " ".join(metrics["training"]["notes"])
    assert "validation windows" in notes and "chosen on validation kept: {'weights'" in notes
    rec = next(r for r in generate(SyntheticConfig(**syn)) if r.recording_id.startswith("syn-IR"))
    predictor = Predictor(tmp_path / "run")
    rp = predictor.predict_prepared(
        prepare(predictor.pre, rec.signal, rec.sampling_rate, "ir", meta=rec.meta)
    )
    assert rp.prediction == "IR"
    ev = rp.summary()["evidence"]  # the physics member's z-scores, the ensemble's verdict
    assert ev["member"] == "envelope-contrast" and ev["verdict"] == {"location": "IR"}
    assert ev["z_vs_decoys"]["BPFI"]["line"] > 3
    with pytest.raises(ExportError, match="cannot be exported as onnx.*natively"):
        export_run(tmp_path / "run", "onnx")

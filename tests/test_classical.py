"""Classical models (rf, svm, hist_gb, minirocket) on real CWRU windows and the steel plates table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from threadpoolctl import threadpool_limits

from faultlab.data.build import build_windows
from faultlab.data.config import DataConfig
from faultlab.data.types import WindowSet
from faultlab.errors import ConfigError
from faultlab.models.base import build_model, load_model
from faultlab.models.minirocket import fit_temperature
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model

# five classes: normal (97.mat, cut into load blocks), IR/B/OR 0.007 in, IR 0.021 in
FILES = [97, 105, 106, 107, 118, 119, 120, 130, 131, 132, 209, 210, 211]
WINDOW = 1024
PER_RECORDING = 60  # windows kept per recording (test speed on a shared 2-core machine)


def _windows(cwru_dir: Path) -> WindowSet:
    """Drive-end windows of FILES via the project's dataset builder, loads 0-2 only."""
    ws = build_windows(DataConfig(files=FILES, data_dir=str(cwru_dir.parent)))
    keep = (ws.info["position"].to_numpy() < PER_RECORDING) & (ws.info["load_hp"].to_numpy() < 3)
    return ws.subset(np.flatnonzero(keep))


@pytest.fixture(autouse=True)
def _one_thread():
    """OpenMP/BLAS on one thread: spin-waiting threads crawl on a shared 2-core machine."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def cwru(cwru_dir) -> tuple[WindowSet, WindowSet]:
    ws = _windows(cwru_dir)
    load = ws.info["load_hp"].to_numpy()
    return ws.subset(np.flatnonzero(load < 2)), ws.subset(np.flatnonzero(load == 2))


def flat(ws: WindowSet) -> WindowSet:
    return ws.select_tasks(["class"])


FAST = {
    "rf": {"n_estimators": 100},
    "svm": {},
    "hist_gb": {"max_iter": 30},
    "minirocket": {"n_kernels": 2016},
}
# measured on this split (train loads 0-1, test load 2, 5 classes, seeds 0-2): rf 1.00,
# svm 1.00, hist_gb 1.00 (30 iterations), minirocket 1.00 (2016 kernels, logspec); thresholds leave
# a margin for seeds and library versions
THRESHOLD = {"rf": 0.97, "svm": 0.97, "hist_gb": 0.95, "minirocket": 0.95}


@pytest.mark.parametrize("name", ["rf", "svm", "hist_gb", "minirocket"])
def test_trains_on_two_loads_and_generalises_to_a_third(name, cwru, tmp_path):
    train, test = (flat(w) for w in cwru)
    assert len(train.classes["class"]) == 5
    training = TrainConfig(seed=0, num_threads=1)
    model = build_model(name, train.classes, (1, WINDOW), FAST[name], training)
    result = fit_model(model, train, val=test)
    proba = model.predict_proba(test.X)["class"]
    assert proba.shape == (len(test), 5)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-4)
    acc = float((proba.argmax(1) == test.y["class"]).mean())
    assert acc >= THRESHOLD[name], f"{name}: accuracy {acc:.3f}"
    row = result.history[0]
    assert row["train_accuracy"] >= 0.99 and row["val_accuracy"] == pytest.approx(acc)
    assert result.train_seconds > 0
    # the physics the features need is fitted state (params stay as given), so bare X works
    # after a reload
    assert model.resolved["sampling_rate"] == 12000.0
    assert model.resolved["rpm"] == pytest.approx(np.median(train.info["rpm"]))
    assert model.params == type(model.params).model_validate(FAST[name])
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "model.skops").exists()
    saved = json.loads((tmp_path / "m" / "model.json").read_text())
    assert saved["params"]["sampling_rate"] is None
    again = load_model(tmp_path / "m")
    assert again.resolved == model.resolved
    reloaded = again.predict_proba(test.X)["class"]
    np.testing.assert_allclose(reloaded, proba, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(reloaded.argmax(1), proba.argmax(1))

    summary = model.describe()
    assert summary.n_params > 0 and summary.size_bytes > 1000
    assert summary.layers[0]["name"] == "class." + (
        "minirocket" if name == "minirocket" else "features"
    )
    assert summary.layers[-1]["output_shape"] == [5]
    if name == "minirocket":
        assert "minirocket biases" in summary.extra["params_counted"]
        assert summary.layers[0]["params"] == model.n_features() > 1000


def test_rf_importances_and_feature_names(cwru):
    train, _ = (flat(w) for w in cwru)
    model = build_model("rf", train.classes, (1, WINDOW), {"n_estimators": 50})
    fit_model(model, train)
    s = model.describe()
    names, imp = s.extra["feature_names"], s.extra["feature_importances"]["class"]
    assert (
        len(names) == len(imp) == model.transform(train.X[:2]).shape[1] == 17 + 64 + 8
    )  # "mean" dropped by default
    assert sum(imp) == pytest.approx(1.0)
    assert s.extra["params_counted"] == ["scaler mean+scale", "tree nodes"]
    nodes = sum(t.tree_.node_count for t in model.pipelines["class"][-1].estimators_)
    assert s.n_params == nodes + 2 * len(names)


def test_scaler_fitted_on_training_windows_only(cwru):
    train, test = (flat(w) for w in cwru)
    model = build_model("svm", train.classes, (1, WINDOW), {"features": ["time"]})
    fit_model(model, train)
    scaler = model.pipelines["class"]["scale"]
    F_train, F_test = model.transform(train.X), model.transform(test.X)
    np.testing.assert_allclose(scaler.mean_, F_train.mean(0), rtol=1e-4, atol=1e-6)
    assert not np.allclose(scaler.mean_, F_test.mean(0), rtol=1e-2)


def test_multitask_labels_with_not_applicable(cwru):
    train, test = (w.select_tasks(["detection", "location", "size"]) for w in cwru)
    assert (train.y["location"] == -1).sum() > 0  # normal windows have no location
    model = build_model("rf", train.classes, (1, WINDOW), {"n_estimators": 100})
    fit_model(model, train)
    assert model.n_train["detection"] == len(train)
    assert model.n_train["location"] == int((train.y["location"] != -1).sum()) < len(train)
    proba = model.predict_proba(test.X)
    assert {t: p.shape[1] for t, p in proba.items()} == {"detection": 2, "location": 3, "size": 2}
    for task, p in proba.items():
        mask = test.y[task] != -1
        acc = (p[mask].argmax(1) == test.y[task][mask]).mean()
        assert acc >= 0.95, (task, acc)


def test_envelope_group_uses_training_rpm_and_defect_lines(cwru):
    train, test = (flat(w) for w in cwru)
    model = build_model(
        "rf", train.classes, (1, WINDOW), {"features": ["envelope"], "n_estimators": 100}
    )
    fit_model(model, train)
    names = model.describe().extra["feature_names"]
    assert names[0] == "env_BPFO_h1" and model.extractor.bearing == "6205"
    acc = (model.predict(test.X)["class"] == test.y["class"]).mean()
    assert acc > 0.85  # defect lines alone reach 0.96-1.00 here (chance: 0.2)


def test_bad_options_and_missing_physics(cwru):
    train, _ = (flat(w) for w in cwru)
    with pytest.raises(ConfigError, match="n_trees"):
        build_model("rf", train.classes, (1, WINDOW), {"n_trees": 10})
    with pytest.raises(ConfigError, match="wavelet"):
        fit_model(build_model("rf", train.classes, (1, WINDOW), {"features": ["wavelet"]}), train)
    bare = train.subset(np.arange(len(train)))
    bare.info = bare.info.drop(columns=["rpm"])
    with pytest.raises(ConfigError, match="rpm"):
        fit_model(build_model("rf", train.classes, (1, WINDOW), {"features": ["envelope"]}), bare)
    with pytest.raises(ConfigError, match="cepstrum"):
        fit_model(
            build_model("minirocket", train.classes, (1, WINDOW), {"input": "cepstrum"}), train
        )
    with pytest.raises(ConfigError, match="softmax"):
        fit_model(build_model("minirocket", train.classes, (1, WINDOW), {"head": "softmax"}), train)


def test_single_class_task_predicts_its_prior(cwru):
    train, test = (w.select_tasks(["detection"]) for w in cwru)
    faults = train.subset(np.flatnonzero(train.y["detection"] == 1))
    model = build_model("rf", train.classes, (1, WINDOW), {"n_estimators": 10})
    result = fit_model(model, faults)
    assert any("one class" in n for n in result.notes)
    p = model.predict_proba(test.X)["detection"]
    assert p.shape == (len(test), 2)
    np.testing.assert_allclose(p[:, 1], 1.0)


def test_tabular_features_used_as_is(steel_csv):
    """Tabular sets (``feature_names`` set) go straight to the estimator: group ``raw``."""
    df = pd.read_csv(steel_csv)
    faults = [c for c in df.columns if c.endswith("_Fault") or c == "Other_Faults"]
    assert len(faults) == 7
    feats = [c for c in df.columns if c not in faults]
    y = df[faults].to_numpy().argmax(1)
    X = df[feats].to_numpy(np.float32)[:, None, :]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(df))
    tr, te = order[:1400], order[1400:]
    ws = WindowSet(
        X=X, y={"label": y}, classes={"label": faults}, recording_id=np.arange(len(df)).astype(str),
        info=pd.DataFrame(index=range(len(df))), feature_names=feats,
    )  # fmt: skip
    model = build_model("rf", ws.classes, (1, len(feats)), {"n_estimators": 200})
    fit_model(model, ws.subset(tr))
    assert model.resolved["features"] == ["raw"] and model.params.features == "auto"
    assert model.describe().extra["feature_names"] == feats
    acc = (model.predict(X[te])["label"] == y[te]).mean()
    assert acc > 0.70  # published random-forest accuracy on this table is ~0.75-0.80


def test_fit_temperature_recovers_the_generating_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(4000, 4))
    p = softmax(logits / 2.5, axis=1)
    y = (p.cumsum(1) > rng.random((4000, 1))).argmax(1)
    assert fit_temperature(logits, y, np.arange(4)) == pytest.approx(2.5, rel=0.1)


def test_minirocket_chunked_prediction_and_val_temperature(cwru):
    train, test = (flat(w) for w in cwru)
    opts = {"n_kernels": 168, "input": "signal"}
    model = build_model("minirocket", train.classes, (1, WINDOW), opts)
    fit_model(model, train)
    t_train = model.pipelines["class"][-1].temperature_
    whole = model.predict_proba(test.X)["class"]
    model.params.chunk_size = 37
    model.extractor.chunk_size = 11
    np.testing.assert_allclose(model.predict_proba(test.X)["class"], whole, rtol=1e-5, atol=1e-6)
    # validation windows with a third of the labels scrambled: the temperature fitted on them
    # must be softer (higher) than the one fitted on the (perfectly fitted) training windows
    val = test.subset(np.arange(len(test)))
    rng = np.random.default_rng(0)
    scramble = rng.random(len(val)) < 0.33
    val.y = {"class": np.where(scramble, rng.integers(0, 5, len(val)), val.y["class"])}
    again = build_model("minirocket", train.classes, (1, WINDOW), opts)
    fit_model(again, train, val=val)
    assert again.pipelines["class"][-1].temperature_ > 3 * t_train


def test_minirocket_logistic_head(cwru):
    train, test = (flat(w) for w in cwru)
    opts = {"n_kernels": 336, "head": "logistic"}
    model = build_model("minirocket", train.classes, (1, WINDOW), opts)
    fit_model(model, train)
    proba = model.predict_proba(test.X)["class"]
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-5)
    assert (proba.argmax(1) == test.y["class"]).mean() >= 0.95
    assert type(model.pipelines["class"][-1]).__name__ == "LogisticRegression"


def test_minirocket_threads_respect_numba_pool(monkeypatch):
    """n_jobs (-1: every core) is capped by numba's pool size: a machine or scheduler that
    sets NUMBA_NUM_THREADS=1 made every minirocket run fail with "The number of threads must
    be between 1 and 1"."""
    import numba

    from faultlab.models.minirocket import numba_threads

    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 1)
    assert numba_threads(-1) == numba_threads(None) == numba_threads(8) == 1
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 64)
    assert numba_threads(1) == 1 and 1 <= numba_threads(-1) <= 64


def test_minirocket_runs_with_a_one_thread_numba_pool(tmp_path):
    """The real failure, in a fresh process whose numba pool has one thread."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from faultlab.models.minirocket import ChunkedMiniRocket\n"
        "X = np.random.default_rng(0).standard_normal((8, 1, 256)).astype(np.float32)\n"
        "r = ChunkedMiniRocket(n_kernels=84, input='signal', n_jobs=-1).fit(X)\n"
        "print(r.transform(X).shape[0])\n"
    )
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "PYTHONPATH": "src"}
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "8"

"""Classical models (rf, svm, hist_gb, minirocket) on real CWRU windows and the steel plates table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.signal import resample_poly

from faultlab.data.labels import recording_labels
from faultlab.data.readers import find_channel, load_mat
from faultlab.data.types import WindowSet
from faultlab.errors import ConfigError
from faultlab.models.base import build_model, load_model
from faultlab.training.config import TrainConfig

# five classes, loads 0-2: normal (97.mat blocks), IR/B/OR 0.007 in, IR 0.021 in
FILES = ["97.mat", "105.mat", "106.mat", "107.mat", "118.mat", "119.mat", "120.mat",
         "130.mat", "131.mat", "132.mat", "209.mat", "210.mat", "211.mat"]  # fmt: skip
WINDOW = 1024
PER_RECORDING = 60  # windows kept per recording (test speed on a shared 2-core machine)


def _windows(cwru_dir: Path) -> WindowSet:
    """Drive-end windows straight from the .mat files (97.mat: 48 -> 12 kHz, 4 load blocks)."""
    man = pd.read_csv(cwru_dir / "MANIFEST.csv").set_index("file").loc[FILES].reset_index()
    recs = []
    for row in man.itertuples():
        path = cwru_dir / row.file
        sig = find_channel(load_mat(path), "DE", path)
        base = {
            "condition": row.condition,
            "fault_location": row.fault_location if isinstance(row.fault_location, str) else None,
            "fault_diameter_in": row.fault_diameter_in,
            "rpm": float(row.rpm_recorded),
        }
        if row.sampling_rate_hz != 12000:
            sig = resample_poly(sig.astype(np.float64), 1, 4).astype(np.float32)
            for b, block in enumerate(np.array_split(sig, 4)[:3]):
                recs.append({**base, "recording_id": f"97#b{b}", "load_hp": b, "sig": block})
        else:
            recs.append({**base, "recording_id": row.file, "load_hp": int(row.load_hp), "sig": sig})
    meta = pd.DataFrame([{k: v for k, v in r.items() if k != "sig"} for r in recs])
    codes, classes = recording_labels(meta)
    X, idx = [], []
    for i, r in enumerate(recs):
        n = min(len(r["sig"]) // WINDOW, PER_RECORDING)
        X.append(r["sig"][: n * WINDOW].reshape(n, 1, WINDOW))
        idx += [i] * n
    idx = np.array(idx)
    info = meta.iloc[idx].reset_index(drop=True)
    return WindowSet(
        X=np.concatenate(X).astype(np.float32),
        y={t: c[idx] for t, c in codes.items()},
        classes=classes,
        recording_id=info["recording_id"].to_numpy(),
        info=info,
        sampling_rate=12000.0,
        channels=["DE"],
    )


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
    "hist_gb": {"max_iter": 100},
    "minirocket": {"n_kernels": 2016},
}
# measured on this split (train loads 0-1, test load 2, 5 classes): rf 1.00, svm 1.00,
# hist_gb 0.992, minirocket 1.00 (seeds 0-2); thresholds leave a margin for seeds and library versions
THRESHOLD = {"rf": 0.97, "svm": 0.97, "hist_gb": 0.95, "minirocket": 0.95}


@pytest.mark.parametrize("name", ["rf", "svm", "hist_gb", "minirocket"])
def test_trains_on_two_loads_and_generalises_to_a_third(name, cwru, tmp_path):
    train, test = (flat(w) for w in cwru)
    assert len(train.classes["class"]) == 5
    model = build_model(name, train.classes, (1, WINDOW), FAST[name], TrainConfig(seed=0))
    result = model.fit(train, val=test)
    proba = model.predict_proba(test.X)["class"]
    assert proba.shape == (len(test), 5)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-4)
    acc = float((proba.argmax(1) == test.y["class"]).mean())
    assert acc >= THRESHOLD[name], f"{name}: accuracy {acc:.3f}"
    row = result.history[0]
    assert row["train_accuracy"] >= 0.99 and row["val_accuracy"] == pytest.approx(acc)
    assert result.train_seconds > 0
    # the physics the features need is stored, so bare X works after a reload
    assert model.params["sampling_rate"] == 12000.0
    assert model.params["rpm"] == pytest.approx(np.median(train.info["rpm"]))
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "model.joblib").exists()
    saved = json.loads((tmp_path / "m" / "model.json").read_text())
    assert saved["params"]["sampling_rate"] == 12000.0
    again = load_model(tmp_path / "m")
    np.testing.assert_array_equal(again.predict_proba(test.X[:50])["class"], proba[:50])

    summary = model.describe()
    assert summary.n_params > 0 and summary.size_bytes > 1000
    assert summary.layers[0]["name"] == "class." + (
        "minirocket" if name == "minirocket" else "features"
    )
    assert summary.layers[-1]["output_shape"] == [5]


def test_rf_importances_and_feature_names(cwru):
    train, _ = (flat(w) for w in cwru)
    model = build_model("rf", train.classes, (1, WINDOW), {"n_estimators": 50})
    model.fit(train)
    s = model.describe()
    names, imp = s.extra["feature_names"], s.extra["feature_importances"]["class"]
    assert len(names) == len(imp) == model.transform(train.X[:2]).shape[1] == 18 + 32 + 8
    assert sum(imp) == pytest.approx(1.0)
    assert s.extra["params_counted"] == ["scaler mean+scale", "tree nodes"]
    nodes = sum(t.tree_.node_count for t in model.pipelines["class"][-1].estimators_)
    assert s.n_params == nodes + 2 * len(names)


def test_scaler_fitted_on_training_windows_only(cwru):
    train, test = (flat(w) for w in cwru)
    model = build_model("svm", train.classes, (1, WINDOW), {"features": ["time"]})
    model.fit(train)
    scaler = model.pipelines["class"]["scale"]
    F_train, F_test = model.transform(train.X), model.transform(test.X)
    np.testing.assert_allclose(scaler.mean_, F_train.mean(0), rtol=1e-4, atol=1e-6)
    assert not np.allclose(scaler.mean_, F_test.mean(0), rtol=1e-2)


def test_multitask_labels_with_not_applicable(cwru):
    train, test = (w.select_tasks(["detection", "location", "size"]) for w in cwru)
    assert (train.y["location"] == -1).sum() > 0  # normal windows have no location
    model = build_model("rf", train.classes, (1, WINDOW), {"n_estimators": 100})
    model.fit(train)
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
        "hist_gb", train.classes, (1, WINDOW), {"features": ["envelope"], "max_iter": 50}
    )
    model.fit(train)
    names = model.describe().extra["feature_names"]
    assert names[0] == "env_BPFO_h1" and model.extractor.bearing == "6205"
    acc = (model.predict(test.X)["class"] == test.y["class"]).mean()
    assert acc > 0.85  # defect lines alone reach 0.957 here (chance: 0.2)


def test_bad_options_and_missing_physics(cwru):
    train, _ = (flat(w) for w in cwru)
    with pytest.raises(ConfigError, match="n_trees"):
        build_model("rf", train.classes, (1, WINDOW), {"n_trees": 10})
    with pytest.raises(ConfigError, match="wavelet"):
        build_model("rf", train.classes, (1, WINDOW), {"features": ["wavelet"]}).fit(train)
    bare = train.subset(np.arange(len(train)))
    bare.info = bare.info.drop(columns=["rpm"])
    with pytest.raises(ConfigError, match="rpm"):
        build_model("rf", train.classes, (1, WINDOW), {"features": ["envelope"]}).fit(bare)
    with pytest.raises(ConfigError, match="softmax"):
        build_model("minirocket", train.classes, (1, WINDOW), {"head": "softmax"}).fit(train)


def test_single_class_task_predicts_its_prior(cwru):
    train, test = (w.select_tasks(["detection"]) for w in cwru)
    faults = train.subset(np.flatnonzero(train.y["detection"] == 1))
    model = build_model("rf", train.classes, (1, WINDOW), {"n_estimators": 10})
    result = model.fit(faults)
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
    model.fit(ws.subset(tr))
    assert model.params["features"] == ["raw"]
    assert model.describe().extra["feature_names"] == feats
    acc = (model.predict(X[te])["label"] == y[te]).mean()
    assert acc > 0.70  # published random-forest accuracy on this table is ~0.75-0.80

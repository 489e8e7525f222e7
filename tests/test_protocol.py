"""The held-out-condition protocol on synthetic data: condition validation (and refit), the
fit diagnosis that says what validation measured, the trivial baseline and the leaderboard
(macro ROC-AUC, baseline marks, per class x held-out size)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from faultlab.data.config import DataConfig, SplitConfig
from faultlab.data.datasets import build_windows, for_target
from faultlab.data.splits import check_no_leakage, condition_val_value, make_splits
from faultlab.errors import ConfigError
from faultlab.evaluation.diagnosis import VERDICTS, diagnose_fit
from faultlab.experiments import rundir
from faultlab.experiments.benchmark import load_benchmark
from faultlab.experiments.config import ModelConfig
from faultlab.models.base import build_model, registry
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SYNTH = {
    "dataset": "synthetic",
    "window": 1024,
    "synthetic": {"duration_s": 1.5, "loads": [0, 2], "seed": 3},
}


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def synth():
    """Every class at 3 sizes x 2 loads, plus normal (no size): 21 recordings."""
    return build_windows(DataConfig(**SYNTH))


def _size(ws, idx) -> set:
    return set(ws.info["fault_diameter_in"].iloc[idx].dropna())


def test_condition_val_value_is_the_nearest_training_value_ties_to_the_larger():
    assert condition_val_value([0.007, 0.014], [0.021]) == 0.014
    assert condition_val_value([0.014, 0.021], [0.007]) == 0.014
    assert condition_val_value([0.007, 0.021], [0.014]) == 0.021
    assert condition_val_value([0, 1, 2], [3]) == 2
    assert condition_val_value([1, 2, 3], [0]) == 1
    assert condition_val_value([0, 2, 3], [1]) == 2


def test_leave_one_size_out_validates_on_a_whole_training_size(synth):
    ws = for_target(synth, "location")
    folds = make_splits(
        ws,
        SplitConfig(
            kind="leave_one_out", column="fault_diameter_in", val={"strategy": "condition"}
        ),
    )
    expect = {0.007: 0.014, 0.014: 0.021, 0.021: 0.014}  # test size -> validation size
    assert len(folds) == 3
    for f in folds:
        (test_size,) = _size(ws, f.test)
        assert _size(ws, f.val) == {expect[test_size]}
        assert _size(ws, f.train) == {0.007, 0.014, 0.021} - {test_size, expect[test_size]}
        check_no_leakage(f, ws)
        assert set(ws.recording_id[f.val]).isdisjoint(ws.recording_id[f.train])
        assert f.val_kind == "condition" and "nearest the test values" in f.val_description
        # every location is in validation: it is a real shift, not a missing class
        assert set(ws.y["location"][f.val]) == {0, 1, 2}
        assert f.to_dict()["validation"]["kind"] == "condition"


def test_recordings_without_a_value_give_their_tail_and_explicit_values_work(synth):
    # flat target keeps normal (no fault size): its recordings are distributed to train/test;
    # the training ones give their last 15 % to validation so validation has every class
    cfg = SplitConfig(
        kind="condition",
        column="fault_diameter_in",
        train=[0.007, 0.014],
        test=[0.021],
        val={"strategy": "condition", "value": 0.007},
    )
    (f,) = make_splits(synth, cfg)
    assert _size(synth, f.val) == {0.007} and _size(synth, f.train) == {0.014}
    normal = synth.info["condition"].to_numpy() == "normal"
    val_normal, train_normal = f.val[normal[f.val]], f.train[normal[f.train]]
    assert len(val_normal) and len(train_normal)
    assert set(synth.recording_id[val_normal]) <= set(synth.recording_id[train_normal])
    assert "without a fault_diameter_in value give their last 15%" in f.val_description
    bad = cfg.model_copy(update={"val": cfg.val.model_copy(update={"value": 0.5})})
    with pytest.raises(ConfigError, match="must be some but not all"):
        make_splits(synth, bad)


def test_condition_val_falls_back_to_tail_with_a_single_training_value(synth):
    ws = for_target(synth, "location")
    folds = make_splits(
        ws, SplitConfig(kind="transfer", column="fault_diameter_in", val={"strategy": "condition"})
    )
    assert folds and all(f.val_kind == "tail" for f in folds)
    assert any("fell back to the tail" in n for n in folds[0].notes)


# --- the fit diagnosis says what validation measured -------------------------------------------


def _good_curves() -> list[dict]:
    e = np.arange(1, 13)
    return [
        {
            "epoch": int(i),
            "train_loss": 0.05 + np.exp(-i / 2),
            "val_loss": 0.06 + np.exp(-i / 2),
            "train_accuracy": 1.0,
            "val_accuracy": 1.0,
        }
        for i in e
    ]


def test_tail_validation_under_a_held_out_size_is_never_a_good_fit():
    h = _good_curves()
    assert diagnose_fit(h)["verdict"] == "good fit"
    # issue 14: validation (tail of training recordings) 1.0, test (unseen bearing) 0.26
    d = diagnose_fit(
        h,
        validation={
            "kind": "tail",
            "test_protocol": "held-out size",
            "val_accuracy": 1.0,
            "test_accuracy": 0.26,
        },
    )
    assert d["verdict"] == "fails the test shift" and d["verdict_on_validation"] == "good fit"
    assert "100.0 % vs test 26.0 %" in d["recommendations"][0]
    assert "split.val.strategy: condition" in d["recommendations"][0]
    assert d["comparison"]["comparable"] is False and "NOT comparable" in d["comparison"]["text"]
    # close scores, but validation still does not measure the shift: qualified, not "good fit"
    d = diagnose_fit(
        h,
        validation={
            "kind": "tail",
            "test_protocol": "held-out size",
            "val_accuracy": 0.99,
            "test_accuracy": 0.95,
        },
    )
    assert d["verdict"] == "good fit on validation only"
    # a held-out training condition measures the same kind of shift
    d = diagnose_fit(
        h,
        validation={
            "kind": "condition",
            "test_protocol": "held-out size",
            "val_accuracy": 0.97,
            "test_accuracy": 0.95,
        },
    )
    assert d["verdict"] == "good fit" and d["comparison"]["comparable"] is True
    # the same tail validation is fine for a leaky window split
    d = diagnose_fit(
        h,
        validation={
            "kind": "tail",
            "test_protocol": "leaky",
            "val_accuracy": 1.0,
            "test_accuracy": 1.0,
        },
    )
    assert d["verdict"] == "good fit"
    assert {"fails the test shift", "good fit on validation only"} <= set(VERDICTS)


def test_one_shot_models_get_the_shift_warning_too():
    d = diagnose_fit(
        [{"epoch": 1, "train_accuracy": 1.0, "val_accuracy": 1.0}],
        validation={
            "kind": "tail",
            "test_protocol": "condition",
            "val_accuracy": 1.0,
            "test_accuracy": 0.5,
        },
    )
    assert d["verdict"] == "fails the test shift"


def test_the_shift_advice_names_the_failing_class_and_fits_the_front_end():
    """envelope-gated's 0.014 in fold: validation 0.999, test 0.627, the whole loss in the
    outer race (called ball); that model already reads the order-domain front end, so the
    advice points at the class's evidence, not at a front end it has."""
    cm = {"classes": ["IR", "B", "OR"], "matrix": [[443, 29, 0], [28, 446, 1], [0, 472, 2]]}
    validation = {
        "kind": "condition",
        "test_protocol": "held-out size",
        "val_accuracy": 0.999,
        "test_accuracy": 0.627,
        "test_confusion": cm,
        "frontend": "order_envelope",
    }
    d = diagnose_fit(
        [{"epoch": 1, "train_accuracy": 1.0, "val_accuracy": 1.0}], validation=validation
    )
    rec = d["recommendations"][0]
    assert "the loss is in OR (recall 0.4 %, called B)" in rec and "IR (" not in rec
    assert "already reads the order-domain front end" in rec and "augment" not in rec
    assert "test_confusion" not in d["comparison"]  # the matrix is in the task metrics already
    raw = diagnose_fit(
        [{"epoch": 1, "train_accuracy": 1.0, "val_accuracy": 1.0}],
        validation={**validation, "frontend": None},
    )
    assert "frontend: order_envelope" in raw["recommendations"][0]


# --- trivial baseline, refit, leaderboard ------------------------------------------------------


def test_trivial_is_registered_and_reads_only_mean_and_std(synth):
    assert registry()["trivial"].family == "baseline"
    model = build_model(
        "trivial",
        synth.classes,
        (1, 1024),
        {"n_estimators": 20, "n_jobs": 1},
        TrainConfig(num_threads=1),
    )
    fit_model(model, synth)
    assert model.feature_names() == ["mean", "std"]
    with pytest.raises(ConfigError, match="option statistics"):
        fit_model(build_model("trivial", synth.classes, (1, 1024), {"statistics": ["nope"]}), synth)


@pytest.mark.slow
def test_leave_one_size_out_leaderboard_marks_the_baseline_and_tabulates_classes(tmp_path):
    from faultlab.experiments.runner import prepare, run_experiment
    from faultlab.reporting import render_leaderboard

    cfg = load_benchmark(CONFIGS / "cwru-held-out-size.yaml").model_copy(
        update={
            "data": DataConfig(**SYNTH, normal=False),
            "split": SplitConfig(
                kind="leave_one_out",
                column="fault_diameter_in",
                val={"strategy": "condition", "refit": True},
            ),
            "training": TrainConfig(num_threads=1, progress=False),
        }
    )
    windows, splits = prepare(cfg.experiment(cfg.models[0]))
    for name in ("trivial", "rf"):  # run reports skipped: the leaderboard is under test
        exp = cfg.experiment(ModelConfig(name=name, params={"n_estimators": 20, "n_jobs": 1}))
        for split in splits if name == "trivial" else splits[-1:]:  # rf: held-out 0.021 only
            run_experiment(
                exp,
                tmp_path / "runs" / name / rundir.slug(split.name) / "seed0",
                windows=windows,
                split=split,
                seed=0,
                report=False,
            )
    render_leaderboard(tmp_path)
    with open(tmp_path / "leaderboard.csv") as fh:
        rows = {r["model"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"trivial", "rf"}
    assert float(rows["trivial"]["vs_baseline"]) == 0.0
    for r in rows.values():
        assert 0 <= float(r["roc_auc_mean"]) <= 1 and r["roc_auc_std"] != ""
    md = (tmp_path / "leaderboard.md").read_text()
    assert "trivial (baseline)" in md and "macro ROC-AUC" in md
    assert "## Per class x held-out fault_diameter_in" in md
    assert "a shift like the test's" in md  # the protocol says what validation measured
    with open(tmp_path / "per_class.csv") as fh:
        per = list(csv.DictReader(fh))
    assert len(per) == (3 + 1) * 3  # (trivial's 3 folds + rf's 1) x locations
    m = json.loads(next(tmp_path.glob("runs/rf/*0.021/seed0/metrics.json")).read_text())
    assert m["run"]["validation"]["kind"] == "condition"
    assert any("refit on train + val" in n for n in m["training"]["notes"])
    assert m["primary"]["roc_auc"] is not None
    assert m["diagnosis"]["comparison"]["comparable"] is True


@pytest.mark.parametrize(
    "name",
    [
        "cwru-quick",
        "cwru-lolo",
        "cwru-load-transfer",
        "cwru-held-out-size",
        "steel-plates",
        "mfpt",
        "cwru-to-mfpt",
    ],
)
def test_every_shipped_benchmark_shows_the_trivial_baseline(name):
    cfg = load_benchmark(CONFIGS / f"{name}.yaml")
    assert "trivial" in {m.name for m in cfg.models}


def test_held_out_size_config_is_leave_one_size_out_with_condition_validation():
    cfg = load_benchmark(CONFIGS / "cwru-held-out-size.yaml")
    assert (cfg.split.kind, cfg.split.column) == ("leave_one_out", "fault_diameter_in")
    assert cfg.split.val.strategy == "condition" and cfg.split.val.refit
    assert cfg.target == "location"
    assert len(cfg.seeds) == 3
    listed = {m.name for m in cfg.models}
    shipped = {n for n, spec in registry().items() if spec.family != "test"}  # not test-only toys
    assert listed >= shipped - {"envelope"}

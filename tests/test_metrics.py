"""Metrics on hand-made predictions (exact values) and the recording-level vote."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from faultlab.data.types import WindowSet
from faultlab.evaluation.metrics import evaluate_predictions, recording_accuracy, task_metrics

# 8 windows, 4 recordings; the last window's class label is not applicable.
Y_CLASS = np.array([0, 0, 0, 1, 1, 2, 2, -1])
RECORDINGS = np.array(["r0", "r0", "r0", "r1", "r1", "r2", "r2", "r3"])
# predicted: a a b | b a | c c | (ignored)
P_CLASS = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.7, 0.2, 0.1],
        [0.3, 0.6, 0.1],
        [0.05, 0.9, 0.05],
        [0.6, 0.4, 0.0],
        [0.1, 0.1, 0.8],
        [0.2, 0.1, 0.7],
        [0.3, 0.3, 0.4],
    ]
)


def _windows() -> WindowSet:
    n = len(Y_CLASS)
    return WindowSet(
        X=np.zeros((n, 1, 8), dtype=np.float32),
        y={"class": Y_CLASS, "detection": np.ones(n, dtype=np.int64)},
        classes={"class": ["a", "b", "c"], "detection": ["normal", "fault"]},
        recording_id=RECORDINGS,
        info=pd.DataFrame({"recording_id": RECORDINGS}),
    )


def _proba() -> dict[str, np.ndarray]:
    det = np.tile([0.2, 0.8], (len(Y_CLASS), 1))
    det[0] = [0.7, 0.3]  # one healthy call on an all-fault task
    return {"class": P_CLASS, "detection": det}


def test_window_level_scores_exact() -> None:
    out = evaluate_predictions(_windows(), _proba())
    m = out["tasks"]["class"]
    assert m["n"] == 7  # the not-applicable row is skipped
    assert m["accuracy"] == pytest.approx(5 / 7)
    # recalls a 2/3, b 1/2, c 1; precisions a 2/3, b 1/2, c 1
    assert m["balanced_accuracy"] == pytest.approx(13 / 18)
    assert m["macro_precision"] == pytest.approx(13 / 18)
    assert m["macro_recall"] == pytest.approx(13 / 18)
    assert m["macro_f1"] == pytest.approx(13 / 18)
    # weighted by support 3, 2, 2
    assert m["weighted_f1"] == pytest.approx((3 * 2 / 3 + 2 * 0.5 + 2 * 1) / 7)
    assert m["confusion_matrix"] == [[2, 1, 0], [1, 1, 0], [0, 0, 2]]
    assert m["confusion_labels"] == ["a", "b", "c"]
    assert m["per_class"]["b"]["recall"] == pytest.approx(0.5)
    assert m["per_class"]["c"]["support"] == 2
    expected_auc = roc_auc_score(Y_CLASS[:7], P_CLASS[:7], multi_class="ovr", average="macro")
    assert m["roc_auc_ovr_macro"] == pytest.approx(expected_auc)
    # per class one-vs-rest: where a macro AUROC is lost; their mean is the macro score
    for i, c in enumerate(["a", "b", "c"]):
        ovr = roc_auc_score(Y_CLASS[:7] == i, P_CLASS[:7, i])
        assert m["roc_auc_ovr"][c] == pytest.approx(ovr)
    assert np.mean(list(m["roc_auc_ovr"].values())) == pytest.approx(expected_auc)


def test_single_class_task_has_no_auc_and_primary_is_first_task() -> None:
    out = evaluate_predictions(_windows(), _proba())
    det = out["tasks"]["detection"]
    assert det["roc_auc_ovr_macro"] is None  # only "fault" in y_true: undefined, not an error
    assert det["roc_auc_ovr"] == {}
    assert det["accuracy"] == pytest.approx(7 / 8)
    assert out["primary"]["task"] == "class"
    assert out["primary"]["accuracy"] == pytest.approx(5 / 7)
    assert out["primary"]["macro_f1"] == pytest.approx(13 / 18)
    assert out["primary"]["recording_accuracy"] == pytest.approx(2 / 3)
    json.dumps(out)  # plain Python all the way down (no numpy scalars)


def test_recording_vote_majority_and_mean_probability() -> None:
    rec = evaluate_predictions(_windows(), _proba())["tasks"]["class"]["recording"]
    assert rec["n_recordings"] == 3  # r3 only has a not-applicable window
    # r1 votes b, a: a tie goes to the lowest index (a) -> wrong; its mean probability says b
    assert rec["majority_accuracy"] == pytest.approx(2 / 3)
    assert rec["mean_proba_accuracy"] == pytest.approx(1.0)
    by_id = {r["recording_id"]: r for r in rec["per_recording"]}
    assert by_id["r1"]["majority"] == 0 and by_id["r1"]["mean_proba"] == 1
    assert by_id["r0"]["window_accuracy"] == pytest.approx(2 / 3)
    assert by_id["r0"]["n_windows"] == 3


def test_recording_vote_matches_a_per_recording_reference() -> None:
    rng = np.random.default_rng(0)
    n_rec, per, k = 60, 25, 4
    truth = rng.integers(0, k, n_rec)
    y = np.repeat(truth, per)
    rid = np.repeat([f"rec{i:02d}" for i in range(n_rec)], per)
    proba = rng.dirichlet(np.ones(k), size=len(y))
    proba[np.arange(len(y)), y] += rng.random(len(y)) * 0.4  # better than chance
    out = recording_accuracy(y, proba, rid)
    pred = proba.argmax(1)
    ref_major = [np.bincount(pred[rid == r], minlength=k).argmax() for r in np.unique(rid)]
    ref_mean = [proba[rid == r].mean(0).argmax() for r in np.unique(rid)]
    assert out["majority_accuracy"] == pytest.approx(np.mean(np.array(ref_major) == truth))
    assert out["mean_proba_accuracy"] == pytest.approx(np.mean(np.array(ref_mean) == truth))
    assert out["majority_accuracy"] > 0.5  # the vote beats single windows here
    assert out["n_recordings"] == n_rec


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="probabilities of shape"):
        task_metrics(np.array([0, 1]), np.ones((3, 2)) / 2, ["a", "b"])


def test_unknown_task_in_predictions_is_an_error() -> None:
    with pytest.raises(KeyError, match="unknown task"):
        evaluate_predictions(_windows(), {"size": np.ones((8, 2))})


class _SleepyModel:
    """Stands in for a FaultModel: fixed cost per call plus a tiny cost per window."""

    def __init__(self, per_call: float) -> None:
        self.per_call = per_call
        self.calls: list[int] = []

    def predict_proba(self, X):
        import time

        self.calls.append(len(X))
        time.sleep(self.per_call)
        return {"class": np.full((len(X), 2), 0.5)}


def test_measure_inference_reports_batch1_and_batched_latency() -> None:
    from faultlab.evaluation.speed import measure_inference

    model = _SleepyModel(per_call=0.002)
    X = np.zeros((40, 1, 16), dtype=np.float32)
    out = measure_inference(model, X, batch_size=100, repeats=6, warmup=2)
    assert set(model.calls) == {1, 100}  # a batch bigger than X is filled with repeats of X
    assert model.calls.count(1) == 2 + 6 and out["repeats_batch1"] == 6
    assert out["batch_size"] == 100
    assert out["latency_ms_batch1"] >= 2.0  # at least the sleep
    # per window when batched: the per-call cost is shared by 100 windows
    assert out["latency_ms_batched"] == pytest.approx(out["batch_ms"] / 100)
    assert out["latency_ms_batched"] < out["latency_ms_batch1"] / 10
    assert out["throughput_windows_s"] == pytest.approx(100 / (out["batch_ms"] / 1e3))
    json.dumps(out)


def test_measure_inference_is_bounded_for_a_slow_model() -> None:
    from faultlab.evaluation.speed import measure_inference

    model = _SleepyModel(per_call=0.25)
    out = measure_inference(model, np.zeros((4, 1, 16), np.float32), max_seconds=1.0)
    # 20 repeats x 2 modes would take 10 s; the cap stops each mode after about its budget
    assert out["repeats_batch1"] < 20 and out["repeats_batched"] < 20
    assert out["seconds"] < 3.5

"""Fit diagnosis on synthetic learning curves: each verdict and the numbers behind it."""

from __future__ import annotations

import numpy as np
import pytest

from faultlab.evaluation.diagnosis import VERDICTS, diagnose_fit


def curves(train_loss, val_loss, train_acc, val_acc) -> list[dict]:
    return [
        {"epoch": i + 1, "train_loss": tl, "val_loss": vl, "train_accuracy": ta, "val_accuracy": va}
        for i, (tl, vl, ta, va) in enumerate(zip(train_loss, val_loss, train_acc, val_acc))
    ]


def test_overfitting_val_loss_rises_while_train_loss_falls() -> None:
    e = np.arange(1, 21)
    train_loss = np.exp(-e / 5)
    val_loss = np.where(e <= 7, 1.0 - 0.1 * e, 0.3 + 0.15 * (e - 7) / 13)  # min 0.3 at epoch 7
    h = curves(train_loss, val_loss, np.minimum(1, 0.6 + 0.03 * e), np.full(20, 0.93))
    d = diagnose_fit(h)
    assert d["verdict"] == "overfitting"
    ev = d["evidence"]
    assert ev["best_epoch"] == 7
    assert ev["val_loss_rise"] == pytest.approx(0.5)
    assert ev["train_loss_drop_after_best"] > 0.9
    rec = d["recommendations"][0]
    assert "rose 50 % after epoch 7" in rec and "dropout" in rec and "patience" in rec
    assert "20%" in d["rule"] or "20 %" in d["rule"]


def test_overfitting_from_accuracy_gap() -> None:
    h = curves(
        [0.5, 0.2, 0.1, 0.05],
        [0.6, 0.55, 0.55, 0.56],
        [0.9, 0.97, 0.99, 1.0],
        [0.80, 0.82, 0.82, 0.82],
    )
    d = diagnose_fit(h)
    assert d["verdict"] == "overfitting"
    assert d["evidence"]["accuracy_gap"] == pytest.approx(0.18)
    assert any("gap 18.0 points" in r for r in d["recommendations"])


def test_underfitting_flat_low_training_accuracy() -> None:
    n = 15
    h = curves(
        np.full(n, 1.02) - np.linspace(0, 0.02, n),
        np.full(n, 1.05),
        np.full(n, 0.71),
        np.full(n, 0.69),
    )
    h[-1]["val_loss"] = 1.04  # best at the last epoch but by < 2 %: not "still improving"
    d = diagnose_fit(h)
    assert d["verdict"] == "underfitting"
    assert any("training accuracy 71.0 %" in r and "capacity" in r for r in d["recommendations"])


def test_still_improving_at_last_epoch() -> None:
    e = np.arange(1, 9)
    h = curves(1.5 / e, 1.6 / e, 0.5 + 0.04 * e, 0.45 + 0.04 * e)
    d = diagnose_fit(h)
    assert d["verdict"] == "still improving"
    assert d["evidence"]["best_epoch"] == 8
    assert any("raise epochs (e.g. to 16)" in r for r in d["recommendations"])


def test_good_fit_converged() -> None:
    e = np.arange(1, 21)
    train_loss = 0.05 + np.exp(-e / 2)
    val_loss = 0.08 + np.exp(-e / 2)
    val_loss[-3:] = [0.081, 0.0805, 0.0809]  # plateau: best near the end, flat
    h = curves(train_loss, val_loss, np.full(20, 0.985), np.full(20, 0.975))
    d = diagnose_fit(h)
    assert d["verdict"] == "good fit"
    assert any("no change needed" in r for r in d["recommendations"])


def test_saturated_accuracy_with_falling_loss_is_a_good_fit() -> None:
    e = np.arange(1, 9)
    h = curves(1 / e, 1 / e, np.ones(8), np.ones(8))
    assert diagnose_fit(h)["verdict"] == "good fit"


def test_not_applicable_without_curves() -> None:
    assert diagnose_fit([])["verdict"] == "not applicable"
    short = diagnose_fit(curves([1, 0.5], [1, 0.6], [0.5, 0.7], [0.5, 0.6]))
    assert short["verdict"] == "not applicable"
    assert "only 2 epoch(s)" in short["recommendations"][0]
    no_val = diagnose_fit([{"epoch": i, "train_loss": 1 / i} for i in range(1, 6)])
    assert no_val["verdict"] == "not applicable" and no_val["reason"] == "no validation curve"


def test_speed_recommendations_quote_the_numbers() -> None:
    d = diagnose_fit(
        [],
        speed={"latency_ms_batch1": 42.0, "latency_ms_batched": 0.5},
        training={
            "seconds_per_epoch": 95.0,
            "device": "cpu",
            "stopped_reason": "time_budget",
            "epochs": 4,
        },
    )
    recs = " | ".join(d["recommendations"])
    assert "42.00 ms" in recs and "84x" in recs and "95.0 s per epoch on cpu" in recs
    assert "time budget after 4 epochs" in recs
    assert d["speed_checked"] is True
    assert diagnose_fit([])["speed_checked"] is False


def test_every_verdict_is_a_known_one() -> None:
    for h in ([], curves([1, 0.9, 0.8], [1, 0.9, 0.8], [0.5] * 3, [0.5] * 3)):
        assert diagnose_fit(h)["verdict"] in VERDICTS

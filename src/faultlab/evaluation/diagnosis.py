"""Fit diagnosis from learning curves: a verdict, the rule that gave it, and what to change.

The rule is explicit (thresholds in :class:`FitRules`) so a report can print it and a reader
can check the verdict against the curves; recommendations quote the numbers they come from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

VERDICTS = (
    "good fit",
    "good fit on validation only",  # converged, but validation does not measure the test shift
    "fails the test shift",  # validation >> test under a held-out condition
    "overfitting",
    "underfitting",
    "still improving",
    "not applicable",
)

#: What each validation strategy measures, and the test protocols it is comparable to
#: (``reporting.protocol`` / ``provenance.protocol_of`` labels).
VAL_KINDS = {
    "tail": ("the last part of each training recording (same recordings as training)", {"leaky"}),
    "recordings": (
        "whole held-out training recordings (same conditions as training)",
        {"leaky", "recording", "grouped k-fold"},
    ),
    "condition": (
        "a whole held-out training condition (a shift like the test's)",
        {"leaky", "recording", "grouped k-fold", "condition", "held-out size"},
    ),
}
#: Test protocols that are a shift (another condition, physical bearing or machine).
SHIFTS = {"condition", "held-out size", "cross-machine"}


@dataclass(frozen=True)
class FitRules:
    """Thresholds of the diagnosis (fractions, not percent)."""

    min_epochs: int = 3
    overfit_loss_rise: float = 0.20  # final val loss this far above its minimum ...
    overfit_gap: float = 0.10  # ... or train accuracy this far above val accuracy
    improving_window: int = 3  # epochs looked back on for "still improving"
    improving_drop: float = 0.02  # val loss fell at least this much over that window ...
    saturated_accuracy: float = 0.99  # ... while validation accuracy is still below this
    underfit_train_accuracy: float = 0.90
    shift_gap: float = 0.10  # validation accuracy this far above test under a shift: warn
    slow_latency_ms: float = 20.0
    slow_epoch_s: float = 60.0

    def text(self) -> str:
        return (
            f"Needs >= {self.min_epochs} epochs with validation. "
            f"Overfitting if the final validation loss is >= {self.overfit_loss_rise:.0%} above "
            f"its minimum while training loss kept falling after that epoch, or if final "
            f"training accuracy exceeds validation accuracy by >= {self.overfit_gap * 100:.0f} "
            f"points; else still improving if the best validation loss is at the last epoch and "
            f"fell >= {self.improving_drop:.0%} over the last {self.improving_window} epochs "
            f"with validation accuracy < {self.saturated_accuracy:.0%}; "
            f"else underfitting if final training accuracy < "
            f"{self.underfit_train_accuracy:.0%}; else good fit - but only 'good fit on "
            f"validation only' when validation is not the kind of shift the test makes, and "
            f"'fails the test shift' when, under a held-out condition, validation accuracy "
            f"exceeds test accuracy by >= {self.shift_gap * 100:.0f} points."
        )


DEFAULT_RULES = FitRules()


def _column(history: list[dict[str, Any]], key: str) -> np.ndarray:
    vals = []
    for row in history:
        v = row.get(key)
        try:
            vals.append(math.nan if v is None else float(v))
        except (TypeError, ValueError):
            vals.append(math.nan)
    return np.asarray(vals, dtype=float)


def _last(a: np.ndarray) -> float | None:
    ok = a[~np.isnan(a)]
    return float(ok[-1]) if len(ok) else None


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %"


def _pct1(x: float) -> str:
    return f"{x * 100:.1f} %"


def speed_recommendations(
    speed: dict[str, Any] | None, training: dict[str, Any] | None, rules: FitRules = DEFAULT_RULES
) -> list[str]:
    """Advice from inference latency and training time (numbers from metrics.json)."""
    recs: list[str] = []
    speed, training = speed or {}, training or {}
    b1, bb = speed.get("latency_ms_batch1"), speed.get("latency_ms_batched")
    if b1 is not None and b1 > rules.slow_latency_ms:
        recs.append(
            f"batch-1 latency {b1:.2f} ms per window (> {rules.slow_latency_ms:.0f} ms): for "
            "on-line use pick a smaller model or export to ONNX"
        )
    if b1 and bb and bb > 0 and b1 / bb >= 10:
        recs.append(
            f"batching cuts the cost per window {b1 / bb:.0f}x ({b1:.2f} -> {bb:.3f} ms): "
            "score stored recordings in batches"
        )
    spe = training.get("seconds_per_epoch")
    if spe is not None and spe > rules.slow_epoch_s:
        recs.append(
            f"{spe:.1f} s per epoch on {training.get('device', 'cpu')}: a GPU, a larger batch "
            "or a shorter window would shorten training"
        )
    if str(training.get("stopped_reason", "")).startswith("time"):
        recs.append(
            f"training was cut by the time budget after {training.get('epochs')} epochs: "
            "raise time_budget_s to let it converge"
        )
    return recs


def compare_validation(
    validation: dict[str, Any] | None, rules: FitRules = DEFAULT_RULES
) -> dict[str, Any] | None:
    """Whether validation measures the test's shift, and how far apart their accuracies are.

    ``validation``: ``kind`` (tail | recordings | condition | none), ``description``,
    ``test_protocol`` (leaky | recording | grouped k-fold | condition | held-out size),
    ``val_accuracy`` and ``test_accuracy`` (the model's final scores; reporting only - the
    diagnosis never selects anything on test).
    """
    if not validation or validation.get("kind") in (None, "", "none"):
        return None
    kind, proto = validation["kind"], validation.get("test_protocol") or "?"
    what, comparable_to = VAL_KINDS.get(kind, (kind, set()))
    va, te = validation.get("val_accuracy"), validation.get("test_accuracy")
    gap = va - te if va is not None and te is not None else None
    out: dict[str, Any] = {
        "val_kind": kind,
        "val_measures": validation.get("description") or what,
        "test_protocol": proto,
        "comparable": proto in comparable_to,
        "val_accuracy": va,
        "test_accuracy": te,
        "val_minus_test": gap,
        "shift_gap": bool(proto in SHIFTS and gap is not None and gap >= rules.shift_gap),
        "frontend": validation.get("frontend"),
    }
    out["text"] = f"validation measured {out['val_measures']} ({kind}); the test is {proto}: " + (
        "comparable"
        if out["comparable"]
        else "NOT comparable - validation scores say nothing about this test's shift"
    )
    return out


def worst_classes(confusion: dict[str, Any] | None, below: float = 0.5) -> list[str]:
    """``"OR (recall 0.0 %, called B)"`` for each test class whose recall is under ``below``,
    worst first: where a shift's loss sits (one class of an unseen bearing, or all)."""
    if not confusion or not confusion.get("matrix"):
        return []
    cm = np.asarray(confusion["matrix"], dtype=float)
    classes = list(confusion.get("classes") or range(len(cm)))
    n = cm.sum(1)
    out = []
    for i in np.argsort(np.where(n > 0, np.diag(cm) / np.maximum(n, 1), np.inf)):
        if n[i] == 0 or cm[i, i] / n[i] >= below:
            continue
        off = cm[i].copy()
        off[i] = -1
        out.append(
            f"{classes[i]} (recall {_pct1(cm[i, i] / n[i])}, called {classes[int(off.argmax())]})"
        )
    return out


def _shift_advice(cmp: dict[str, Any], confusion: dict[str, Any] | None) -> str:
    advice = (
        "hold out a whole training condition for validation (split.val.strategy: condition) "
        "so early stopping selects for it"
        if cmp["val_kind"] != "condition"
        else "the held-out training condition did not predict it either"
    )
    worst = worst_classes(confusion)
    where = f"; the loss is in {', '.join(worst)}" if worst else ""
    if cmp.get("frontend") == "order_envelope":
        tail = (
            "the model already reads the order-domain front end: check the failing class's "
            "defect evidence (Envelope evidence), a recording without its family's lines or "
            "impulsiveness cannot be diagnosed from them"
        )
    else:
        tail = (
            "try shift-aimed augmentation (training.augment: speed_jitter, noise_snr_db, "
            "bandpass) or a speed-normalised front end (model.params.frontend: order_envelope)"
        )
    return (
        f"validation accuracy {_pct1(cmp['val_accuracy'])} vs test {_pct1(cmp['test_accuracy'])} "
        f"under a {cmp['test_protocol']} split ({cmp['val_minus_test'] * 100:.1f} points): the "
        f"model fits its training conditions but does not transfer{where}; {advice}; {tail}"
    )


def _apply_comparison(
    out: dict[str, Any], cmp: dict[str, Any] | None, confusion: dict[str, Any] | None
) -> None:
    """Qualify a verdict by what validation measured (see :func:`compare_validation`);
    ``confusion``: the test's, to name where a shift's loss sits."""
    if cmp is None:
        return
    out["comparison"] = cmp
    if cmp["shift_gap"]:
        out["recommendations"].insert(0, _shift_advice(cmp, confusion))
        if out["verdict"] in ("good fit", "still improving", "not applicable"):
            out["verdict_on_validation"] = out["verdict"]
            out["verdict"] = "fails the test shift"
    elif out["verdict"] == "good fit" and not cmp["comparable"]:
        out["verdict"] = "good fit on validation only"
        out["recommendations"].append(cmp["text"])


def diagnose_fit(
    history: list[dict],
    *,
    speed: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    validation: dict[str, Any] | None = None,
    rules: FitRules = DEFAULT_RULES,
) -> dict[str, Any]:
    """Verdict on per-epoch rows (epoch, train_loss, train_accuracy, val_loss, val_accuracy).

    ``speed`` (measure_inference output) and ``training`` (the metrics.json ``training``
    block) are optional and only add speed-related recommendations. ``validation`` (see
    :func:`compare_validation`) says what validation measured against the test's shift: a
    run is not called a good fit when the two are not comparable.
    """
    out = _diagnose_curves(history, speed, training, rules)
    confusion = (validation or {}).get("test_confusion")
    _apply_comparison(out, compare_validation(validation, rules), confusion)
    return out


@dataclass
class _Curves:
    """What the verdict reads off the curves (monitor = val loss, else 1 - val accuracy)."""

    best_i: int
    last_i: int
    best_epoch: int
    last_epoch: int
    monitor: str
    best_val: float
    last_val: float
    rise: float  # relative rise of the monitor from its best to the last epoch
    train_drop: float | None  # relative fall of the training loss after the best epoch
    k: int  # epochs the recent improvement is measured over
    recent: float  # relative fall of the monitor over the last k epochs
    ta_last: float | None
    va_last: float | None
    gap: float | None  # final train - val accuracy


def _curves(epochs, tl, vl, ta, va, rules: FitRules) -> _Curves:
    # monitor: validation loss, or 1 - validation accuracy when no loss is logged
    mon = vl if not np.isnan(vl).all() else 1.0 - va
    n = len(mon)
    best_i = int(np.nanargmin(mon))
    last_i = n - 1
    best_val, last_val = float(mon[best_i]), float(mon[last_i])
    rise = (
        (last_val - best_val) / abs(best_val)
        if best_val != 0
        else (math.inf if last_val > 0 else 0.0)
    )
    tl_best, tl_last = tl[best_i], tl[last_i]
    train_drop = (
        float((tl_best - tl_last) / abs(tl_best))
        if not np.isnan(tl_best + tl_last) and tl_best
        else None
    )
    k = min(rules.improving_window, last_i)
    ref = float(mon[last_i - k])
    recent = (ref - last_val) / abs(ref) if ref else 0.0
    ta_last, va_last = _last(ta), _last(va)
    gap = ta_last - va_last if ta_last is not None and va_last is not None else None
    return _Curves(
        best_i=best_i,
        last_i=last_i,
        best_epoch=int(epochs[best_i]),
        last_epoch=int(epochs[last_i]),
        monitor="val_loss" if mon is vl else "1 - val_accuracy",
        best_val=best_val,
        last_val=last_val,
        rise=rise,
        train_drop=train_drop,
        k=k,
        recent=recent,
        ta_last=ta_last,
        va_last=va_last,
        gap=gap,
    )


def _overfit_recs(c: _Curves, rules: FitRules) -> list[str] | None:
    """Recommendations when the curves overfit (None when they do not)."""
    train_drop = c.train_drop or 0.0
    loss_overfit = c.best_i < c.last_i and c.rise >= rules.overfit_loss_rise and train_drop > 0
    ta, va, gap = c.ta_last, c.va_last, c.gap
    gap_rec = None
    if ta is not None and va is not None and gap is not None and gap >= rules.overfit_gap:
        gap_rec = (
            f"training accuracy {_pct1(ta)} vs validation {_pct1(va)} "
            f"(gap {gap * 100:.1f} points): regularise (dropout, weight decay) or train on "
            "more recordings / with augmentation"
        )
    if not (loss_overfit or gap_rec):
        return None
    recs = []
    if loss_overfit:
        patience = max(2, min(5, (c.last_epoch - c.best_epoch) // 2))
        recs.append(
            f"validation loss rose {_pct(c.rise)} after epoch {c.best_epoch} "
            f"({c.best_val:.4g} -> {c.last_val:.4g}) while training loss fell {_pct(train_drop)}: "
            f"add dropout / weight decay or augmentation, or stop earlier "
            f"(patience {patience}) and keep the epoch-{c.best_epoch} weights"
        )
    if gap_rec:
        recs.append(gap_rec)
    return recs


def _verdict(c: _Curves, rules: FitRules) -> tuple[str, list[str]]:
    """overfitting > still improving > underfitting > good fit, with what to change."""
    recs = _overfit_recs(c, rules)
    if recs is not None:
        return "overfitting", recs
    ta_last, last_epoch = c.ta_last, c.last_epoch
    if (
        c.best_i == c.last_i
        and c.recent >= rules.improving_drop
        and (c.va_last is None or c.va_last < rules.saturated_accuracy)
    ):
        recs = [
            f"still improving at the last epoch ({last_epoch}): validation loss fell "
            f"{_pct1(c.recent)} over the last {c.k} epochs; raise epochs (e.g. to {2 * last_epoch})"
        ]
        if ta_last is not None and ta_last < rules.underfit_train_accuracy:
            recs.append(
                f"training accuracy {_pct1(ta_last)}: also consider a higher learning rate or "
                "more capacity"
            )
        return "still improving", recs
    if ta_last is not None and ta_last < rules.underfit_train_accuracy:
        return "underfitting", [
            f"training accuracy {_pct1(ta_last)} (< {_pct(rules.underfit_train_accuracy)}) and "
            f"flat (validation loss changed {_pct1(-c.recent)} over the last {c.k} epochs): "
            "increase capacity (wider/deeper layers) or epochs, or raise the learning rate"
        ]
    return "good fit", [
        f"converged: best validation loss at epoch {c.best_epoch} of {last_epoch}, final "
        f"within {_pct(max(c.rise, 0.0))} of it"
        + (f", training accuracy {_pct1(ta_last)}" if ta_last is not None else "")
        + ": no change needed"
    ]


def _diagnose_curves(
    history: list[dict],
    speed: dict[str, Any] | None,
    training: dict[str, Any] | None,
    rules: FitRules,
) -> dict[str, Any]:
    history = list(history or [])
    n = len(history)
    epochs = _column(history, "epoch")
    if n and np.isnan(epochs).all():
        epochs = np.arange(1, n + 1, dtype=float)
    tl, vl = _column(history, "train_loss"), _column(history, "val_loss")
    ta, va = _column(history, "train_accuracy"), _column(history, "val_accuracy")
    speed_recs = speed_recommendations(speed, training, rules)
    out: dict[str, Any] = {
        "rule": rules.text(),
        "evidence": {"epochs": n},
        # tells a report whether speed advice is already in the recommendations
        "speed_checked": speed is not None or training is not None,
    }

    has_val = n > 0 and (not np.isnan(vl).all() or not np.isnan(va).all())
    if n < rules.min_epochs or not has_val:
        why = (
            "no per-epoch history (one-shot model)"
            if n == 0
            else "no validation curve"
            if not has_val
            else f"only {n} epoch(s)"
        )
        recs = []
        if 0 < n < rules.min_epochs:
            recs.append(f"only {n} epoch(s) were run: too few to judge the fit; raise epochs")
        out.update(verdict="not applicable", reason=why, recommendations=recs + speed_recs)
        return out

    c = _curves(epochs, tl, vl, ta, va, rules)
    out["evidence"].update(
        best_epoch=c.best_epoch,
        last_epoch=c.last_epoch,
        monitor=c.monitor,
        best_val_loss=c.best_val,
        final_val_loss=c.last_val,
        val_loss_rise=float(c.rise),
        train_loss_drop_after_best=c.train_drop,
        recent_val_improvement=float(c.recent),
        final_train_accuracy=c.ta_last,
        final_val_accuracy=c.va_last,
        accuracy_gap=c.gap,
    )
    verdict, recs = _verdict(c, rules)
    out.update(verdict=verdict, recommendations=recs + speed_recs)
    return out

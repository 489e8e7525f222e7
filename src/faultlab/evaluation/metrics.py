"""Classification metrics per task, at window level and at recording level.

Window-level scores say how often one 1024-sample snippet is classified right; a maintenance
decision is taken on a whole recording, so every task also gets a recording-level accuracy
(majority vote of its windows, and the argmax of their mean probability). Everything returned
is plain Python (floats, ints, lists) so it goes straight into ``metrics.json``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn import metrics as skm

from faultlab.data.types import NOT_APPLICABLE, WindowSet


def _f(x: Any) -> float | None:
    """Plain float, or None where undefined (NaN)."""
    if x is None:
        return None
    x = float(x)
    return None if np.isnan(x) else x


def _roc_auc_ovr_macro(y: np.ndarray, proba: np.ndarray) -> float | None:
    """Mean one-vs-rest ROC-AUC over the classes present in ``y`` (None if < 2 present)."""
    present = np.unique(y)
    if len(present) < 2:
        return None
    scores = [float(skm.roc_auc_score(y == c, proba[:, c])) for c in present]
    return float(np.mean(scores))


def roc_auc_per_class(y: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict[str, float]:
    """One-vs-rest ROC-AUC of each class present in ``y`` (empty if < 2 present): where a
    macro AUROC is lost (one class's ranking, or the scale between folds)."""
    present = np.unique(y)
    if len(present) < 2:
        return {}
    return {classes[c]: float(skm.roc_auc_score(y == c, proba[:, c])) for c in present}


def _vote(codes: np.ndarray, groups: np.ndarray, n_groups: int, k: int) -> np.ndarray:
    """Per group, the most frequent code (ties go to the lowest class index)."""
    counts = np.zeros((n_groups, k), dtype=np.int64)
    np.add.at(counts, (groups, codes), 1)
    return counts.argmax(axis=1)


def recording_accuracy(
    y: np.ndarray, proba: np.ndarray, recording_id: np.ndarray
) -> dict[str, Any]:
    """Accuracy of one decision per recording: majority vote and mean-probability vote.

    ``y``/``proba``/``recording_id`` must already exclude not-applicable rows.
    """
    k = proba.shape[1]
    rec_names, groups = np.unique(np.asarray(recording_id).astype(str), return_inverse=True)
    n_rec = len(rec_names)
    if n_rec == 0:
        return {
            "n_recordings": 0,
            "majority_accuracy": None,
            "mean_proba_accuracy": None,
            "per_recording": [],
        }
    pred = proba.argmax(axis=1)
    truth = _vote(y, groups, n_rec, k)
    majority = _vote(pred, groups, n_rec, k)
    sums = np.zeros((n_rec, k), dtype=np.float64)
    np.add.at(sums, groups, proba)
    n_win = np.bincount(groups, minlength=n_rec)
    mean_vote = (sums / n_win[:, None]).argmax(axis=1)
    win_correct = np.bincount(groups, weights=(pred == y).astype(float), minlength=n_rec)
    per_rec = [
        {
            "recording_id": str(rec_names[i]),
            "true": int(truth[i]),
            "majority": int(majority[i]),
            "mean_proba": int(mean_vote[i]),
            "n_windows": int(n_win[i]),
            "window_accuracy": float(win_correct[i] / n_win[i]),
        }
        for i in range(n_rec)
    ]
    return {
        "n_recordings": int(n_rec),
        "majority_accuracy": float((majority == truth).mean()),
        "mean_proba_accuracy": float((mean_vote == truth).mean()),
        "per_recording": per_rec,
    }


def task_metrics(
    y: np.ndarray, proba: np.ndarray, classes: list[str], recording_id: np.ndarray | None = None
) -> dict[str, Any]:
    """All scores of one task; ``y`` may contain ``NOT_APPLICABLE`` rows (they are skipped)."""
    y = np.asarray(y, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    k = len(classes)
    if proba.ndim != 2 or proba.shape[0] != len(y) or proba.shape[1] != k:
        raise ValueError(
            f"probabilities of shape {proba.shape} for {len(y)} labels and {k} classes"
        )
    keep = y != NOT_APPLICABLE
    y, proba = y[keep], proba[keep]
    rec = None if recording_id is None else np.asarray(recording_id)[keep]
    n = int(len(y))
    out: dict[str, Any] = {"n": n, "classes": list(classes)}
    if n == 0:
        out.update(accuracy=None, balanced_accuracy=None, macro_f1=None)
        return out
    out.update(_scores(y, proba, classes))
    if rec is not None:
        out["recording"] = recording_accuracy(y, proba, rec)
    return out


def _scores(y: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro/weighted precision-recall-F1, ROC-AUC, log loss, per-class report and
    confusion matrix of labels ``y`` (all applicable) against probabilities ``proba``."""
    k = len(classes)
    pred = proba.argmax(axis=1)
    present = np.union1d(np.unique(y), np.unique(pred))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on classes absent from y_true
        p_ma, r_ma, f_ma, _ = skm.precision_recall_fscore_support(
            y,
            pred,
            average="macro",
            zero_division=0,  # pyright: ignore[reportArgumentType]  # sklearn unannotated: default "warn" read as str
        )
        p_w, r_w, f_w, _ = skm.precision_recall_fscore_support(
            y,
            pred,
            average="weighted",
            zero_division=0,  # pyright: ignore[reportArgumentType]  # sklearn unannotated: default "warn" read as str
        )
        bal = skm.balanced_accuracy_score(y, pred)
        report = skm.classification_report(
            y,
            pred,
            labels=present,
            target_names=[classes[i] for i in present],
            output_dict=True,
            zero_division=0,  # pyright: ignore[reportArgumentType]  # sklearn unannotated: default "warn" read as str
        )
        assert isinstance(report, dict)  # output_dict=True
        logloss = skm.log_loss(y, np.clip(proba, 1e-12, 1.0), labels=np.arange(k))
    cm = skm.confusion_matrix(y, pred, labels=np.arange(k))
    return dict(
        accuracy=float((pred == y).mean()),
        balanced_accuracy=float(bal),
        macro_precision=float(p_ma),
        macro_recall=float(r_ma),
        macro_f1=float(f_ma),
        weighted_precision=float(p_w),
        weighted_recall=float(r_w),
        weighted_f1=float(f_w),
        roc_auc_ovr_macro=_f(_roc_auc_ovr_macro(y, proba)),
        roc_auc_ovr=roc_auc_per_class(y, proba, classes),
        log_loss=float(logloss),
        per_class={
            name: {m: float(v) for m, v in vals.items()} if isinstance(vals, dict) else float(vals)
            for name, vals in report.items()
        },
        confusion_matrix=cm.astype(int).tolist(),
        confusion_labels=list(classes),
    )


def evaluate_predictions(windows: WindowSet, proba: dict[str, np.ndarray]) -> dict[str, Any]:
    """Scores per task of ``proba`` (task -> ``[n, k]``) against ``windows``' labels.

    Returns ``{"tasks": {task: {...}}, "primary": {...}}``; the primary task is the first
    task that has predictions. Rows labelled ``NOT_APPLICABLE`` are skipped per task.
    """
    tasks = [t for t in windows.tasks if t in proba]
    missing = [t for t in proba if t not in windows.y]
    if missing:
        raise KeyError(f"predictions for unknown task(s) {missing}; windows have {windows.tasks}")
    per_task = {
        t: task_metrics(windows.y[t], proba[t], windows.classes[t], windows.recording_id)
        for t in tasks
    }
    primary: dict[str, Any] = {"task": tasks[0] if tasks else None}
    if tasks:
        m = per_task[tasks[0]]
        primary.update(
            accuracy=m.get("accuracy"),
            balanced_accuracy=m.get("balanced_accuracy"),
            macro_f1=m.get("macro_f1"),
            roc_auc=m.get("roc_auc_ovr_macro"),
            recording_accuracy=(m.get("recording") or {}).get("majority_accuracy"),
            roc_auc_macro=m.get("roc_auc_ovr_macro"),
        )
    return {"tasks": per_task, "primary": primary}

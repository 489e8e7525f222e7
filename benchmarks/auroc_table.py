"""Where a benchmark's macro ROC-AUC is lost: one-vs-rest ROC-AUC per fold x class.

Reads every finished run under a benchmark output directory (``runs/**/metrics.json``) and
prints, per model, a table of fold (held-out value) x class: test one-vs-rest ROC-AUC, test
recall, and the same on validation (the held-out training condition, before any refit), each
the mean over seeds; then the model's mean validation and test accuracy / macro ROC-AUC.
A class whose ranking is poor in one fold only points at that bearing; every class a little
low in every fold points at calibration across folds (the macro average is per fold, so
scale alone does not lower it).

    PYTHONPATH=src .venv/bin/python benchmarks/auroc_table.py runs/cwru-held-out-size [--model M]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from faultlab.contracts import read_metrics


def _task_rows(block: dict, where: str) -> list[dict]:
    """Per class of the primary task of a metrics block: one-vs-rest AUROC and recall."""
    task = (block.get("primary") or {}).get("task")
    tm = (block.get("tasks") or {}).get(task) or {}
    auc = tm.get("roc_auc_ovr") or {}
    cm, classes = tm.get("confusion_matrix"), tm.get("classes") or []
    rows = []
    for i, c in enumerate(classes):
        n = sum(cm[i]) if cm else 0
        if n == 0:
            continue
        rows.append({"set": where, "class": c, "auroc": auc.get(c, np.nan), "recall": cm[i][i] / n})
    return rows


def collect(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per class rows, per run rows) of every finished run under ``out``."""
    per_class, per_run = [], []
    for path in sorted(Path(out).glob("runs/**/metrics.json")):
        m = read_metrics(path.parent)
        if m is None:
            continue
        key = {"model": m.run.label, "fold": str(m.run.fold), "seed": m.run.seed}
        test = {"primary": m.primary.to_json(), "tasks": m.tasks}
        for block, where in ((test, "test"), (m.val, "val")):
            per_class += [{**key, **r} for r in _task_rows(block, where)]
        vp = m.val.get("primary") or {}
        per_run.append(
            {
                **key,
                "test_acc": m.primary.accuracy,
                "test_auc": m.roc_auc,
                "val_acc": vp.get("accuracy"),
                "val_auc": vp.get("roc_auc_macro", vp.get("roc_auc")),
            }
        )
    return pd.DataFrame(per_class), pd.DataFrame(per_run)


def report(pc: pd.DataFrame, pr: pd.DataFrame, model: str | None = None) -> str:
    lines = []
    for name in sorted(pr["model"].unique()) if model is None else [model]:
        lines.append(f"== {name}")
        g = pc[pc["model"] == name]
        table = (
            g.groupby(["fold", "set", "class"])[["auroc", "recall"]]
            .mean()
            .unstack("class")
            .round(3)
        )
        lines.append(table.to_string())
        r = pr[pr["model"] == name]
        per_fold = r.groupby("fold")[["val_acc", "val_auc", "test_acc", "test_auc"]].mean()
        lines.append(per_fold.round(3).to_string())
        means = r[["val_acc", "val_auc", "test_acc", "test_auc"]].mean()
        lines.append(
            f"mean over {len(r)} runs: val acc {means.val_acc:.3f}, val AUROC "
            f"{means.val_auc:.3f}, test acc {means.test_acc:.3f}, test AUROC {means.test_auc:.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="a benchmark output directory")
    ap.add_argument("--model", default=None, help="one model label (default: all)")
    a = ap.parse_args()
    pc, pr = collect(a.out)
    if pr.empty:
        raise SystemExit(f"error: no finished runs under {a.out}/runs")
    pd.set_option("display.width", 200)
    print(report(pc, pr, a.model))


if __name__ == "__main__":
    main()

"""The held-out fault size table of a finished benchmark: every model, one row each.

Reads ``leaderboard.csv`` and ``per_class.csv`` that ``faultlab benchmark`` writes and
prints a Markdown table: test accuracy and macro ROC-AUC (mean ± std over
folds x seeds), recording accuracy, validation accuracy and ROC-AUC (the held-out TRAINING
size, before the refit), the selection score (val accuracy + val ROC-AUC) / 2, and the
accuracy of each class on each held-out size (mean over seeds); then each model's accuracy
and macro ROC-AUC on each held-out size (``runs.csv``, mean over seeds). Then the entry
validation selects: the only choice a user may make without looking at test data.

    faultlab benchmark configs/cwru-held-out-size.yaml --out runs/cwru-held-out-size
    PYTHONPATH=src .venv/bin/python benchmarks/held_out_size_table.py runs/cwru-held-out-size
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

SIZES = ("0.007", "0.014", "0.021")


def model_table(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard's own means and stds (``leaderboard.csv``), one row per model, plus
    the selection score."""
    t = board.set_index("model").rename(
        columns={
            "accuracy_mean": "acc",
            "accuracy_std": "acc_sd",
            "roc_auc_macro_mean": "auroc",
            "roc_auc_macro_std": "auroc_sd",
            "recording_accuracy_mean": "rec",
            "val_accuracy_mean": "val_acc",
            "val_roc_auc_mean": "val_auroc",
            "n_runs": "runs",
        }
    )
    t["selection"] = (t["val_acc"] + t["val_auroc"]) / 2
    return t.sort_values("acc", ascending=False)


def class_cells(per_class: pd.DataFrame) -> pd.Series:
    """(model, class, held-out size) -> accuracy, mean over seeds."""
    pc = per_class.assign(size=per_class["fold"].str.extract(r"([0-9.]+)$")[0])
    return pc.groupby(["model", "class", "size"])["accuracy"].mean()


def render(t: pd.DataFrame, cells: pd.Series, classes: list[str]) -> str:
    def cell(m: str, c: str) -> str:
        return " / ".join(f"{cells.get((m, c, s), float('nan')):.2f}" for s in SIZES)

    head = ["model", "family", "accuracy", "macro ROC-AUC", "rec. acc.", "val acc."]
    head += ["val ROC-AUC", "selection", *classes, "runs"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m, r in t.iterrows():
        row = [f"`{m}`", r["family"], f"{r['acc']:.3f} ± {r['acc_sd']:.3f}"]
        row += [f"{r['auroc']:.3f} ± {r['auroc_sd']:.3f}", f"{r['rec']:.3f}"]
        row += [f"{r['val_acc']:.3f}", f"{r['val_auroc']:.3f}", f"{r['selection']:.3f}"]
        row += [cell(str(m), c) for c in classes] + [str(int(r["runs"]))]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def selected(t: pd.DataFrame) -> str:
    """The row validation selects (best selection score) and its test scores, one line."""
    best = t["selection"].idxmax()
    r = t.loc[best]
    return (
        f"selected on validation: {best} (val acc. {r['val_acc']:.3f}, val ROC-AUC "
        f"{r['val_auroc']:.3f}); its test: accuracy {r['acc']:.3f}, macro ROC-AUC {r['auroc']:.3f}"
    )


def size_table(runs: pd.DataFrame, order: list[str]) -> str:
    """Accuracy / macro ROC-AUC per model x held-out size (mean over seeds), from runs.csv."""
    r = runs.assign(size=runs["fold"].str.extract(r"([0-9.]+)$")[0])
    m = r.groupby(["model", "size"])[["accuracy", "roc_auc_macro"]].mean()
    head = ["model", *(f"{s} in: acc. / ROC-AUC" for s in SIZES)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in order:
        cells = []
        for s in SIZES:
            a, u = m.loc[(model, s)] if (model, s) in m.index else (float("nan"),) * 2
            cells.append(f"{a:.3f} / {u:.3f}")
        lines.append("| " + " | ".join([f"`{model}`", *cells]) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="benchmark output directory")
    args = ap.parse_args()
    per_class = pd.read_csv(args.out / "per_class.csv")
    t = model_table(pd.read_csv(args.out / "leaderboard.csv"))
    classes = list(dict.fromkeys(per_class["class"]))
    print(f"Accuracy per class: held-out size {' / '.join(SIZES)} in\n")
    print(render(t, class_cells(per_class), classes))
    if (args.out / "runs.csv").is_file():
        print("\nPer held-out size (mean over seeds)\n")
        print(size_table(pd.read_csv(args.out / "runs.csv"), [str(m) for m in t.index]))
    print("\n" + selected(t))


if __name__ == "__main__":
    main()

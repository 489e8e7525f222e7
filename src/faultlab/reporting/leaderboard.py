"""Benchmark leaderboard: one row per model, mean ± std over seeds and folds.

Reads every finished run (``runs/**/metrics.json``) under a benchmark directory and writes
``leaderboard.csv`` (one row per model), ``runs.csv`` (one row per run), ``leaderboard.md``
and a self-contained ``leaderboard.html`` with the split protocol stated first, an
accuracy-vs-latency scatter plot and a per-fold table.

The ``trivial`` model (a forest on each window's mean and std) is the baseline: the board
marks it and flags every model that does not beat it - such a model has learned no more
than a recording's level and offset. On a held-out fault size the board adds accuracy per
class x held-out value (``per_class.csv`` holds it for every benchmark).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import yaml

import faultlab.reporting.plots as plots
from faultlab.contracts import (
    CONFIG,
    DONE,
    PLOTS,
    REPORT_HTML,
    SPLIT,
    Metrics,
    read_metrics,
)
from faultlab.reporting.document import (
    Bullets,
    Callout,
    Document,
    Heading,
    Image,
    Para,
    Table,
    fmt,
    fmt_int,
    fmt_ms,
    fmt_pm,
    fmt_s,
    write_document,
)
from faultlab.reporting.protocol import Protocol
from faultlab.utils.io import atomic_path

if TYPE_CHECKING:  # scipy loads only when a leaderboard has statistics to show
    from faultlab.evaluation.statistics import Comparison

#: ``roc_auc`` and ``roc_auc_macro`` are the same score (macro one-vs-rest ROC-AUC of the
#: primary task), kept under both names that two branches introduced.
SCORES = [
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "roc_auc",
    "recording_accuracy",
    "roc_auc_macro",
]

#: Validation scores (the run's ``val`` block: the model validation selected, before any
#: refit): shown next to test so a selection made on validation can be checked.
VAL_SCORES = ["val_accuracy", "val_roc_auc"]

#: Registry name of the sanity baseline every leaderboard compares against.
BASELINE = "trivial"

#: leaderboard.csv columns, in order.
COLUMNS = [
    "rank",
    "model",
    "model_name",
    "family",
    "accuracy_mean",
    "accuracy_std",
    "macro_f1_mean",
    "macro_f1_std",
    "balanced_accuracy_mean",
    "balanced_accuracy_std",
    "roc_auc_mean",
    "roc_auc_std",
    "recording_accuracy_mean",
    "recording_accuracy_std",
    "roc_auc_macro_mean",
    "roc_auc_macro_std",
    "val_accuracy_mean",
    "val_accuracy_std",
    "val_roc_auc_mean",
    "val_roc_auc_std",
    "vs_baseline",
    "train_seconds_mean",
    "epochs_mean",
    "latency_ms_batch1",
    "latency_ms_batched",
    "throughput_windows_s",
    "n_params",
    "size_bytes",
    "peak_rss_mb",
    "n_runs",
    "n_folds",
    "n_seeds",
    "verdicts",
    "train_data",
    "test_data",
    "train_machine",
    "test_machine",
]

#: Which machine(s) trained and tested a run (``metrics.json`` ``run``; "?" for old runs).
DATA_KEYS = ("train_data", "test_data", "train_machine", "test_machine")


def _record(metrics: Metrics | dict[str, Any]) -> Metrics:
    return metrics if isinstance(metrics, Metrics) else Metrics.from_json(metrics)


def run_row(
    run_dir: Path, metrics: Metrics | dict[str, Any], root: Path | None = None
) -> dict[str, Any]:
    """One flat row of a finished run's metrics.json (the typed record or its dict)."""
    m = _record(metrics)
    run, prim, tr, sp, mod = m.run, m.primary, m.training, m.speed, m.model
    scores = {k: getattr(prim, k) for k in SCORES}
    scores["roc_auc"] = scores["roc_auc_macro"] = m.roc_auc
    val = m.val.get("primary") or {}
    scores["val_accuracy"] = val.get("accuracy")
    scores["val_roc_auc"] = val.get("roc_auc_macro", val.get("roc_auc"))
    return {
        "model": run.label,
        "model_name": run.model,
        "family": mod.family,
        "fold": str(run.fold),
        "seed": run.seed,
        "task": prim.task,
        **scores,
        "train_seconds": tr.train_seconds,
        "epochs": tr.epochs,
        "latency_ms_batch1": sp.latency_ms_batch1,
        "latency_ms_batched": sp.latency_ms_batched,
        "throughput_windows_s": sp.throughput_windows_s,
        "n_params": mod.n_params,
        "size_bytes": mod.size_bytes,
        "peak_rss_mb": m.peak_rss_mb,
        "verdict": m.verdict,
        "protocol": run.protocol,
        **{k: run.source(k) for k in DATA_KEYS},
        "run_dir": os.path.relpath(run_dir, root) if root else str(run_dir),
    }


def per_class_rows(metrics: Metrics | dict[str, Any]) -> list[dict[str, Any]]:
    """One row per class of a run's primary task: its test accuracy (recall) and support."""
    m = _record(metrics)
    task_m = m.primary_task
    per = task_m.get("per_class") or {}
    cm = task_m.get("confusion_matrix")
    out = []
    for i, name in enumerate(task_m.get("classes") or []):
        n = int(sum(cm[i])) if cm else int((per.get(name) or {}).get("support", 0))
        if n == 0:
            continue  # not in this fold's test set
        recall = cm[i][i] / n if cm else per[name]["recall"]  # n > 0: the class is in per
        out.append(
            {
                "model": m.run.label,
                "fold": str(m.run.fold),
                "seed": m.run.seed,
                "class": name,
                "accuracy": float(recall),
                "n": n,
            }
        )
    return out


def collect_runs(
    out_dir: Path, run_dirs: list[Path] | None = None
) -> tuple[pd.DataFrame, list[Path]]:
    """Rows of finished runs, and the run dirs that failed (error.txt, no metrics.json)."""
    out_dir = Path(out_dir)
    if run_dirs is None:
        run_dirs = sorted(
            {p.parent for p in (out_dir / "runs").glob("**/metrics.json")}
            | {p.parent for p in (out_dir / "runs").glob("**/error.txt")}
        )
    rows, failed = [], []
    for d in run_dirs:
        d = Path(d)
        metrics = _finished_metrics(d)
        if metrics is not None:
            rows.append(run_row(d, metrics, out_dir))
        elif (d / "error.txt").exists():
            failed.append(d)
    return pd.DataFrame(rows), failed


def _finished_metrics(run_dir: Path) -> Metrics | None:
    """metrics.json of a finished run (its report written: ``done.json``, or report.html for
    runs from before the marker); None for unfinished runs and unreadable files, so the
    leaderboard never links to a report that is not there."""
    if not ((run_dir / DONE).exists() or (run_dir / REPORT_HTML).exists()):
        return None
    return read_metrics(run_dir)


def collect_per_class(out_dir: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`per_class_rows` of every finished run in ``runs``."""
    rows: list[dict[str, Any]] = []
    for rel in runs["run_dir"] if "run_dir" in runs.columns else []:  # none: no runs
        m = read_metrics(Path(out_dir) / rel)
        rows += per_class_rows(m) if m is not None else []
    return pd.DataFrame(rows, columns=["model", "fold", "seed", "class", "accuracy", "n"])


def _std(s: pd.Series) -> float:
    s = pd.Series(pd.to_numeric(s, errors="coerce")).dropna()
    return float(cast(float, s.std(ddof=1))) if len(s) > 1 else 0.0  # a Series' std: a scalar


def aggregate(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per model: mean and sample std (0 for a single run) over seeds x folds."""
    if runs.empty:
        return pd.DataFrame(columns=COLUMNS)
    out = []
    for model, g in runs.groupby("model", sort=False):
        row: dict[str, Any] = {
            "model": model,
            "model_name": g["model_name"].iloc[0],
            "family": g["family"].iloc[0],
        }
        for k in SCORES + VAL_SCORES:
            vals = pd.Series(pd.to_numeric(g[k], errors="coerce"))
            row[f"{k}_mean"] = float(vals.mean()) if vals.notna().any() else np.nan
            row[f"{k}_std"] = _std(vals)
        for k, agg in [("train_seconds", "mean"), ("epochs", "mean")]:
            row[f"{k}_{agg}"] = float(pd.Series(pd.to_numeric(g[k], errors="coerce")).mean())
        for k in ("latency_ms_batch1", "latency_ms_batched", "throughput_windows_s", "peak_rss_mb"):
            row[k] = float(pd.Series(pd.to_numeric(g[k], errors="coerce")).median())
        for k in ("n_params", "size_bytes"):
            vals = pd.Series(pd.to_numeric(g[k], errors="coerce")).dropna()
            row[k] = int(vals.max()) if len(vals) else None
        row["n_runs"] = int(len(g))
        row["n_folds"] = int(g["fold"].nunique())
        row["n_seeds"] = int(g["seed"].nunique())
        for k in DATA_KEYS:
            row[k] = " | ".join(dict.fromkeys(str(v) for v in g[k].fillna("?")))
        row["verdicts"] = "; ".join(
            f"{v} x{c}" for v, c in g["verdict"].fillna("?").value_counts().items()
        )
        out.append(row)
    df = pd.DataFrame(out)
    df = df.sort_values(["accuracy_mean", "macro_f1_mean"], ascending=False, na_position="last")
    df["rank"] = np.arange(1, len(df) + 1)
    base = df.loc[df["model_name"] == BASELINE, "accuracy_mean"]
    # accuracy points above the baseline (NaN when the benchmark has no baseline)
    df["vs_baseline"] = df["accuracy_mean"] - float(base.max()) if len(base) else np.nan
    return df.loc[:, COLUMNS].reset_index(drop=True)


def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return path


def _protocol_from_runs(out_dir: Path, runs: pd.DataFrame) -> tuple[Protocol | None, list[str]]:
    """Protocol and data notes from the first finished run's split.json / config.yaml."""
    if runs.empty:
        return None, []
    d = out_dir / runs["run_dir"].iloc[0]
    split = json.loads((d / SPLIT).read_text()) if (d / SPLIT).exists() else {}
    config = yaml.safe_load((d / CONFIG).read_text()) if (d / CONFIG).exists() else {}
    metrics = _finished_metrics(d) or Metrics()
    from faultlab.reporting.run_report import run_protocol

    notes = [*split.get("notes", []), *metrics.data.notes]
    return run_protocol(metrics, split, config or {}), list(dict.fromkeys(notes))


def _tuples(df: pd.DataFrame) -> Iterable[Any]:
    """``df.itertuples()``: namedtuples with the columns as attributes (pandas types them as
    plain tuples)."""
    return df.itertuples()


def _verdict(row: Any) -> str:
    if not row.significant:
        return "no significant difference"
    return f"{row.model_a if row.mean_diff > 0 else row.model_b} better"


def _statistics(doc: Document, runs: pd.DataFrame, out_dir: Path, paths: dict[str, Path]) -> None:
    """Friedman + Nemenyi CD diagram and pairwise Wilcoxon/Holm tests on test accuracy."""
    from faultlab.evaluation.statistics import compare

    doc.add(Heading("Statistics: which differences are real?"))
    res = compare(runs, "accuracy")
    if isinstance(res, str):
        doc.add(Para(f"No significance tests: {res}."))
        return
    fried = (
        f" Friedman test over all models: χ² = {res.friedman_statistic:.2f}, "
        f"p = {res.friedman_p:.3g}; Nemenyi critical difference at α = {res.alpha:g}: "
        f"CD = {res.critical_difference:.2f} mean ranks."
        if res.critical_difference is not None
        else ""
    )
    doc.add(
        Para(
            f"Test accuracy of {len(res.models)} models on the {len(res.blocks)} (fold, seed) "
            "blocks every one of them finished: in a block all models saw the same test windows "
            f"and seed, so scores are paired.{fried} Models joined by a bar in the diagram are "
            "not significantly different; rank 1 is the best. The pairwise table tests each pair "
            "with a two-sided Wilcoxon signed-rank test; p-values are Holm-corrected for the "
            f"{len(res.pairwise)} pairs."
        )
    )
    if res.left_out:
        doc.add(Para(f"Left out (fewer finished runs than the others): {', '.join(res.left_out)}."))
    if res.critical_difference is not None:
        _cd_diagram(doc, res, res.critical_difference, out_dir)
    paths["pairwise_csv"] = _write_csv(res.pairwise, out_dir / "pairwise_tests.csv")
    doc.add(_pairwise_table(res))


def _cd_diagram(doc: Document, res: Comparison, cd: float, out_dir: Path) -> None:
    """The critical-difference diagram (Friedman + Nemenyi) as a report image."""
    p = plots.critical_difference(
        res.scores,
        res.models,
        cd,
        out_dir / PLOTS / "critical_difference.png",
        alpha=res.alpha,
    )
    doc.add(
        Image(
            p,
            f"plots/{p.name}",
            "critical difference diagram",
            caption="Mean rank per model (Friedman + Nemenyi; bars join models "
            "whose ranks differ by less than CD)",
        )
    )


def _pairwise_table(res: Comparison) -> Table:
    """One row per pair of models: mean difference, wins/ties/losses, Wilcoxon and Holm p."""
    header = [
        "model A",
        "model B",
        "mean diff (A - B)",
        "wins / ties / losses",
        "Wilcoxon p",
        "Holm p",
        "verdict",
    ]
    rows = [
        [
            r.model_a,
            r.model_b,
            f"{r.mean_diff:+.4f}",
            f"{r.wins} / {r.ties} / {r.losses}",
            f"{r.p_value:.3g}",
            f"{r.p_holm:.3g}",
            _verdict(r),
        ]
        for r in _tuples(res.pairwise)
    ]
    return Table(
        header,
        rows,
        caption=f"Pairwise tests on test accuracy over {len(res.blocks)} blocks "
        f"(significant: Holm p < {res.alpha:g})",
    )


def _baseline_text(board: pd.DataFrame) -> Callout | None:
    """Which models do not beat the trivial baseline (None when it is not in the board)."""
    base = board[board["model_name"] == BASELINE]
    if base.empty:
        return None
    b = base.iloc[0]
    losers = board[(board["model_name"] != BASELINE) & ~(board["vs_baseline"] > 0)]
    head = (
        f"Baseline: {b.model} (a random forest on each window's mean and standard deviation) "
        f"scores {fmt_pm(b.accuracy_mean, b.accuracy_std)}. A model that does not beat it has "
        "learned no more than a recording's level and offset."
    )
    if losers.empty:
        return Callout(f"{head} Every model beats it.", "info")
    names = ", ".join(f"{r.model} ({fmt(r.accuracy_mean)})" for r in losers.itertuples())
    return Callout(f"{head} Not better than the baseline: {names}.", "warning")


def _data_section(doc: Document, runs: pd.DataFrame) -> None:
    """Which dataset and machine trained and which tested (one row per distinct pairing)."""
    if runs.empty or "train_data" not in runs:
        return
    pairs = runs[list(DATA_KEYS)].fillna("?").drop_duplicates()
    doc.add(Heading("Data: machines of train and test"))
    doc.add(
        Table(
            ["train data", "train machine", "test data", "test machine"],
            [
                [r.train_data, r.train_machine, r.test_data, r.test_machine]
                for r in pairs.itertuples()
            ],
        )
    )


def _mark(r: Any) -> str:
    if r.model_name == BASELINE:
        return f"{r.model} (baseline)"
    return r.model if not r.vs_baseline <= 0 else f"{r.model} (≤ baseline)"


def _ranking(doc: Document, runs: pd.DataFrame, board: pd.DataFrame) -> None:
    doc.add(Heading("Ranking"))
    doc.add(
        Para(
            f"{len(runs)} finished run(s) of {len(board)} model(s); scores are test-set means ± "
            "sample standard deviation over seeds x folds (0 for a single run) on the primary "
            "task; ROC-AUC is the one-vs-rest macro average over the classes in each test set; "
            "'vs baseline' is accuracy points above the trivial baseline; latency is the "
            "median over runs, per window, through predict_proba; 'val' columns: the same "
            "scores on the validation windows (before any refit), where the run had them."
        )
    )
    callout = _baseline_text(board)
    if callout is not None:
        doc.add(callout)
    rows = [
        [
            r.rank,
            _mark(r),
            r.family or "–",
            fmt_pm(r.accuracy_mean, r.accuracy_std),
            fmt_pm(r.roc_auc_mean, r.roc_auc_std),
            fmt_pm(r.macro_f1_mean, r.macro_f1_std),
            fmt(r.balanced_accuracy_mean),
            fmt(r.recording_accuracy_mean),
            fmt(r.val_accuracy_mean),
            fmt(r.val_roc_auc_mean),
            "–" if pd.isna(r.vs_baseline) else f"{r.vs_baseline * 100:+.1f}",
            fmt_s(r.train_seconds_mean),
            fmt_ms(r.latency_ms_batch1),
            fmt_ms(r.latency_ms_batched),
            fmt_int(r.n_params),
            r.n_runs,
        ]
        for r in _tuples(board)
    ]
    headers = [
        "rank",
        "model",
        "family",
        "accuracy",
        "macro ROC-AUC",
        "macro F1",
        "balanced acc.",
        "recording acc.",
        "val acc.",
        "val ROC-AUC",
        "vs baseline",
        "train s",
        "ms/window b1",
        "ms/window batched",
        "params",
        "runs",
    ]
    doc.add(Table(headers, rows))


def _accuracy_stats(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean, sample std and count of ``accuracy`` per group of ``by`` (its index)."""
    # a list of functions: pandas returns a frame (its annotation admits a Series too)
    return cast(pd.DataFrame, df.groupby(by)["accuracy"].agg(["mean", _std, "count"]))


def _cell(per: pd.DataFrame, key: tuple) -> str:
    if key not in per.index:
        return "–"
    v = per.loc[key]
    return fmt_pm(v["mean"], v["_std"]) if v["count"] > 1 else fmt(v["mean"])


def _per_fold(doc: Document, runs: pd.DataFrame, board: pd.DataFrame) -> None:
    doc.add(Heading("Per fold"))
    folds = list(dict.fromkeys(runs["fold"]))
    per = _accuracy_stats(runs, ["model", "fold"])
    frows = [[m, *(_cell(per, (m, f)) for f in folds)] for m in board["model"]]
    doc.add(
        Table(["model", *folds], frows, caption="Test accuracy per fold (mean ± std over seeds)")
    )


def _per_class(
    doc: Document, runs: pd.DataFrame, pc: pd.DataFrame, board: pd.DataFrame, column: str
) -> None:
    """Accuracy per class x held-out value (fold), each model: where generalisation breaks."""
    if pc.empty:
        return
    folds = list(dict.fromkeys(runs["fold"]))
    per = _accuracy_stats(pc, ["model", "class", "fold"])
    overall = cast(pd.Series, pc.groupby(["model", "class"])["accuracy"].mean())  # one column
    rows = []
    for m in board["model"]:
        for c in dict.fromkeys(pc.loc[pc["model"] == m, "class"]):
            rows.append([m, c, *(_cell(per, (m, c, f)) for f in folds), fmt(overall[(m, c)])])
    doc.add(Heading(f"Per class x held-out {column}"))
    doc.add(
        Table(
            ["model", "class", *folds, "mean"],
            rows,
            caption=f"Test accuracy (recall) of each class on each held-out {column} "
            "(mean ± std over seeds)",
        )
    )


def _runs_table(doc: Document, runs: pd.DataFrame) -> None:
    doc.add(Heading("Runs"))
    links = {}
    rrows = []
    for i, r in enumerate(_tuples(runs.sort_values(["model", "fold", "seed"]))):
        rrows.append(
            [
                r.model,
                r.fold,
                r.seed,
                fmt(r.accuracy),
                fmt(r.roc_auc),
                fmt(r.macro_f1),
                fmt(r.recording_accuracy),
                fmt_s(r.train_seconds),
                r.verdict or "–",
                "report",
            ]
        )
        links[(i, 9)] = f"{r.run_dir}/report.html"
    headers = [
        "model",
        "fold",
        "seed",
        "accuracy",
        "ROC-AUC",
        "macro F1",
        "recording acc.",
        "train s",
        "fit",
        "report",
    ]
    doc.add(Table(headers, rrows, links=links))


def _header(doc: Document, protocol: Protocol | None, notes: list[str], description: str | None):
    if description:
        doc.add(Para(description))
    doc.add(Heading("Split protocol"))
    if protocol is not None:
        doc.add(
            Callout(f"{protocol.title}. {protocol.text}", "warning" if protocol.warning else "info")
        )
    else:
        doc.add(Para("No finished run yet."))
    if notes:
        doc.add(Para("Data notes:"), Bullets(notes))


def render_leaderboard(
    out_dir: str | Path,
    run_dirs: list[Path] | None = None,
    *,
    title: str | None = None,
    description: str | None = None,
    protocol: Protocol | None = None,
) -> dict[str, Path]:
    """Write leaderboard.{csv,md,html}, runs.csv, per_class.csv and plots/accuracy_vs_latency.png."""
    out_dir = Path(out_dir)
    runs, failed = collect_runs(out_dir, run_dirs)
    board = aggregate(runs)
    per_class = collect_per_class(out_dir, runs)
    paths = {
        "csv": _write_csv(board, out_dir / "leaderboard.csv"),
        "runs_csv": _write_csv(runs, out_dir / "runs.csv"),
        "per_class_csv": _write_csv(per_class, out_dir / "per_class.csv"),
    }
    proto_runs, notes = _protocol_from_runs(out_dir, runs)
    protocol = protocol or proto_runs

    doc = Document(title or f"Leaderboard: {out_dir.name}")
    _header(doc, protocol, notes, description)
    _data_section(doc, runs)
    _ranking(doc, runs, board)
    if not board.empty:
        p = plots.accuracy_vs_latency(
            board["model"].tolist(),
            board["latency_ms_batch1"].tolist(),
            board["accuracy_mean"].tolist(),
            board["accuracy_std"].tolist(),
            out_dir / PLOTS / "accuracy_vs_latency.png",
        )
        doc.add(
            Image(
                p,
                f"plots/{p.name}",
                "accuracy vs latency",
                caption="Mean test accuracy (± std) vs batch-1 latency per window",
            )
        )
        _statistics(doc, runs, out_dir, paths)
        _per_fold(doc, runs, board)
        if protocol is not None and protocol.label == "held-out size":
            _per_class(doc, runs, per_class, board, _split_column(out_dir, runs))
        _runs_table(doc, runs)
    if failed:
        doc.add(Heading("Failed runs"))
        doc.add(
            Bullets(
                [
                    f"{os.path.relpath(d, out_dir)}: "
                    + (d / "error.txt").read_text().strip().splitlines()[-1][:300]
                    for d in failed
                ]
            )
        )
    paths.update(write_document(doc, out_dir / "leaderboard.md", out_dir / "leaderboard.html"))
    return paths


def _split_column(out_dir: Path, runs: pd.DataFrame) -> str:
    d = out_dir / runs["run_dir"].iloc[0]
    split = json.loads((d / SPLIT).read_text()) if (d / SPLIT).exists() else {}
    return str((split.get("rule") or {}).get("column") or "value")

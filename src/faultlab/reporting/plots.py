"""Report figures (matplotlib, Agg backend: no display needed), each written atomically as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from faultlab.utils.io import atomic_path  # noqa: E402

DPI = 110


def save(fig, path: Path, *, crop: bool = False) -> Path:
    """Lay ``fig`` out (``tight_layout``) and write it as PNG, drawing it once.

    ``crop``: trim to the drawn content instead (``bbox_inches="tight"``, one more draw), for
    figures whose layout is not a grid of axes (the critical-difference diagrams, whose
    labels and title lie outside the axes). Laying out and then cropping every figure drew
    each one three times (the report plots were a third of a small run's CPU time).
    """
    path = Path(path)
    if not crop:
        fig.tight_layout()
        # tight_layout leaves a placeholder engine behind, for which savefig draws the
        # figure once more before drawing it for the file; the layout is final already
        fig.set_layout_engine(None)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight" if crop else None)
    plt.close(fig)
    return path


def learning_curves(history: list[dict[str, Any]], path: Path) -> Path | None:
    """Loss and accuracy per epoch, training vs validation (None if nothing to plot)."""
    if not history:
        return None

    def col(key: str) -> np.ndarray:
        return np.array(
            [float(r[key]) if r.get(key) not in (None, "") else np.nan for r in history]
        )

    epochs = col("epoch") if "epoch" in history[0] else np.arange(1, len(history) + 1)
    panels = [
        (m, [k for k in (f"train_{m}", f"val_{m}") if k in history[0]])
        for m in ("loss", "accuracy")
    ]
    panels = [
        (m, keys) for m, keys in panels if keys and any(np.isfinite(col(k)).any() for k in keys)
    ]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.6), squeeze=False)
    for ax, (metric, keys) in zip(axes[0], panels):
        for key in keys:
            ax.plot(epochs, col(key), marker="o", ms=3, label=key.split("_")[0])
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric}: train vs validation")
        ax.grid(alpha=0.3)
        ax.legend()
    return save(fig, path)


def confusion_matrix(cm: list[list[int]], labels: list[str], title: str, path: Path) -> Path:
    """Counts, coloured by row-normalised recall so small classes stay readable."""
    cm_arr = np.asarray(cm, dtype=float)
    rows = cm_arr.sum(axis=1, keepdims=True)
    norm = np.divide(cm_arr, rows, out=np.zeros_like(cm_arr), where=rows > 0)
    k = len(labels)
    size = max(3.6, 0.55 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 0.8, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(k):
        for j in range(k):
            if cm_arr[i, j]:
                ax.text(
                    j,
                    i,
                    f"{int(cm_arr[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if norm[i, j] > 0.6 else "black",
                )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="row fraction (recall)")
    return save(fig, path)


def bar(labels: list[str], values: list[float], title: str, xlabel: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, max(2.2, 0.35 * len(labels) + 1)))
    ax.barh(range(len(labels)), values, color="#4c78a8")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return save(fig, path)


def accuracy_vs_latency(
    names: list[str],
    latency_ms: list[float],
    acc: list[float],
    acc_std: list[float],
    path: Path,
    *,
    xlabel: str = "latency per window, batch 1 (ms, log scale)",
    ylabel: str = "test accuracy",
) -> Path:
    """One point per model, error bars = std over seeds/folds."""
    fig, ax = plt.subplots(figsize=(7, 4.6))
    x = np.asarray(latency_ms, dtype=float)
    y = np.asarray(acc, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
    ax.errorbar(
        x[ok],
        y[ok],
        yerr=np.nan_to_num(np.asarray(acc_std, dtype=float)[ok]),
        fmt="o",
        capsize=3,
        color="#e45756",
    )
    for name, xi, yi, good in zip(names, x, y, ok):
        if good:
            ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if ok.any() and x[ok].max() / x[ok].min() >= 10:  # latencies span decades: log scale
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        xlabel = xlabel.replace(", log scale", "")
    ax.margins(x=0.15, y=0.1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title("accuracy vs latency (up-left is better)")
    ax.grid(alpha=0.3, which="both")
    return save(fig, path)


def nemenyi_cliques(ranks: dict[str, float], cd: float) -> list[list[str]]:
    """Maximal groups of models whose mean ranks lie within ``cd`` of each other."""
    names = sorted(ranks, key=lambda n: ranks[n])
    groups: list[list[str]] = []
    for i, a in enumerate(names):
        group = [b for b in names[i:] if ranks[b] - ranks[a] < cd]
        if len(group) > 1 and not any(set(group) <= set(g) for g in groups):
            groups.append(group)
    return groups


def _cd_matplotlib(ranks: dict[str, float], cd: float, title: str) -> Any:
    """Demšar's diagram drawn directly: rank axis, CD bar, cliques as thick lines."""
    names = sorted(ranks, key=lambda n: ranks[n])
    k = len(names)
    half = (k + 1) // 2
    fig, ax = plt.subplots(figsize=(7, 1.6 + 0.32 * half))
    ax.set_xlim(0.5, k + 0.5)
    ax.set_ylim(-(half + 1.5), 2.2)
    ax.axis("off")
    ax.hlines(0, 1, k, color="k", lw=1)
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.25, color="k", lw=1)
        ax.text(r, 0.45, str(r), ha="center", va="bottom", fontsize=9)
    ax.hlines(1.4, 1, 1 + cd, color="k", lw=1.5)
    ax.text(1 + cd / 2, 1.55, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)
    for i, name in enumerate(names):
        left = i < half
        row = -(i if left else k - 1 - i) - 1.0
        x_end = 0.6 if left else k + 0.4
        ax.plot([ranks[name], ranks[name], x_end], [0, row, row], color="k", lw=0.8)
        label = f"{name} ({ranks[name]:.2f})"
        ax.text(x_end, row, label, ha="right" if left else "left", va="center", fontsize=9)
    for j, group in enumerate(nemenyi_cliques(ranks, cd)):
        y = -0.35 - 0.25 * j
        ax.hlines(y, ranks[group[0]] - 0.05, ranks[group[-1]] + 0.05, color="k", lw=3)
    ax.set_title(title, fontsize=10)
    return fig


def critical_difference(
    scores: np.ndarray,
    labels: list[str],
    cd: float,
    path: Path,
    *,
    alpha: float = 0.05,
    title: str | None = None,
) -> Path:
    """The critical-difference diagram of ``scores`` (blocks x models, higher is better).

    Drawn by aeon's ``plot_critical_difference`` (Nemenyi cliques) when aeon is installed,
    else by :func:`_cd_matplotlib` with the same ranks and cliques. Rank 1 is the best.
    """
    title = title or f"mean rank (1 = best); Friedman + Nemenyi, CD = {cd:.2f} at α = {alpha:g}"
    try:
        from aeon.visualisation import plot_critical_difference
    except ImportError:
        plot_critical_difference = None
    if plot_critical_difference is not None:
        drawn = plot_critical_difference(  # (fig, ax); p-values only when asked for
            np.asarray(scores, dtype=float),
            list(labels),
            test="nemenyi",
            correction="none",
            alpha=alpha,
            width=7,
            textspace=1.8,
        )
        fig, ax = drawn[0], drawn[1]
        ax.set_title(title, fontsize=10, pad=12)
        return save(fig, path, crop=True)
    ranks = np.apply_along_axis(_rankdata_desc, 1, np.asarray(scores, dtype=float)).mean(0)
    return save(_cd_matplotlib(dict(zip(labels, ranks.tolist())), cd, title), path, crop=True)


def _rankdata_desc(row: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(-row)

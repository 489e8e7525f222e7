"""Is one model really better than another? Tests over the (fold, seed) runs of a benchmark.

Every (fold, seed) pair that all compared models finished is one *block* (the "data set" of
Demšar 2006): models are compared on the same test windows with the same seed, so scores are
paired. Two analyses, both standard for classifier comparisons:

- **pairwise Wilcoxon signed-rank tests** (two-sided, ``scipy.stats.wilcoxon``) on the
  per-block score differences of every pair, with **Holm's** step-down correction for the
  number of pairs;
- the **Friedman** test on the per-block ranks of all models, and the **Nemenyi** critical
  difference (CD): two models whose mean ranks differ by less than CD are not
  distinguishable at level ``alpha``. This is what a critical-difference diagram draws.

With fewer than :data:`MIN_BLOCKS` blocks no test can come out significant (with 5 pairs the
smallest two-sided Wilcoxon p-value is 0.0625), so :func:`compare` then returns the reason
instead of tests.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Fewest shared (fold, seed) blocks for the tests (6 lets a Wilcoxon test reach p < 0.05).
MIN_BLOCKS = 6


@dataclass
class Comparison:
    """The tests of one score over ``blocks`` x ``models`` (``scores[i, j]``)."""

    score: str
    alpha: float
    models: list[str]
    blocks: list[str]
    scores: np.ndarray
    mean_ranks: dict[str, float]
    pairwise: pd.DataFrame
    friedman_statistic: float | None
    friedman_p: float | None
    critical_difference: float | None
    left_out: list[str]


def score_matrix(runs: pd.DataFrame, score: str = "accuracy") -> tuple[pd.DataFrame, list[str]]:
    """Blocks x models table of ``score`` (block = "fold / seed N"), keeping only the blocks
    every model has; models with no run in a block that others share are left out."""
    df = runs.dropna(subset=[score]).copy()
    if df.empty:
        return pd.DataFrame(), []
    df["block"] = df["fold"].astype(str) + " / seed " + df["seed"].astype(str)
    table = df.pivot_table(index="block", columns="model", values=score, aggfunc="mean")
    order = list(dict.fromkeys(df["model"]))
    table = table[[m for m in order if m in table.columns]]
    # a model with fewer finished blocks than the others (failed runs) is left out, so
    # one failure does not remove that block from every other comparison
    counts = table.notna().sum()
    left_out = [str(m) for m in table.columns if counts[m] < counts.max()]
    table = table[[m for m in table.columns if str(m) not in left_out]]
    return table.dropna(), left_out


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control)."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adjusted = np.empty(m)
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        adjusted[j] = running
    return adjusted


def _wilcoxon(a: np.ndarray, b: np.ndarray) -> float:
    d = a - b
    if np.allclose(d, 0.0):
        return 1.0  # identical on every block: no evidence of a difference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ties / zero differences: scipy switches method
        res = stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided")
    return float(res.pvalue)  # pyright: ignore[reportAttributeAccessIssue]  # scipy's result bunch is untyped


def pairwise_tests(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """One row per model pair: mean difference, wins/ties/losses, Wilcoxon p, Holm p."""
    models = list(table.columns)
    rows = []
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            x, y = table[a].to_numpy(float), table[b].to_numpy(float)
            d = x - y
            rows.append(
                {
                    "model_a": a,
                    "model_b": b,
                    "n_blocks": len(d),
                    "mean_diff": float(d.mean()),
                    "wins": int((d > 1e-12).sum()),
                    "ties": int((np.abs(d) <= 1e-12).sum()),
                    "losses": int((d < -1e-12).sum()),
                    "p_value": _wilcoxon(x, y),
                }
            )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["p_holm"] = holm(out["p_value"].to_numpy())
    out["significant"] = out["p_holm"] < alpha
    return out


def mean_ranks(table: pd.DataFrame) -> pd.Series:
    """Mean rank per model over blocks (1 = best score in a block; ties share ranks)."""
    ranks = np.apply_along_axis(stats.rankdata, 1, -table.to_numpy(float))
    return pd.Series(ranks.mean(axis=0), index=table.columns)


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Critical difference of mean ranks for ``k`` models over ``n`` blocks (Demšar 2006)."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


def friedman(table: pd.DataFrame) -> tuple[float | None, float | None]:
    """Friedman chi-square and p over the blocks (needs >= 3 models; None otherwise)."""
    if table.shape[1] < 3:
        return None, None
    cols = [table[c].to_numpy(float) for c in table.columns]
    if all(np.allclose(c, cols[0]) for c in cols):
        return 0.0, 1.0
    res = stats.friedmanchisquare(*cols)
    return float(res.statistic), float(res.pvalue)


def compare(
    runs: pd.DataFrame, score: str = "accuracy", alpha: float = 0.05, min_blocks: int = MIN_BLOCKS
) -> Comparison | str:
    """The tests over a benchmark's runs (columns model, fold, seed, ``score``), or the
    one-line reason they are not shown."""
    if runs.empty or score not in runs:
        return "no finished runs to compare"
    n_models = runs["model"].nunique()
    if n_models < 2:
        return "statistics compare models: this benchmark has one"
    table, left_out = score_matrix(runs, score)
    if table.shape[0] < min_blocks or table.shape[1] < 2:
        return (
            f"statistics need at least {min_blocks} (fold, seed) pairs finished by every model "
            f"(below that no test can reach p < {alpha:g}); this benchmark has "
            f"{table.shape[0]} — add folds or seeds"
        )
    stat, p = friedman(table)
    cd = nemenyi_cd(table.shape[1], table.shape[0], alpha) if table.shape[1] >= 3 else None
    return Comparison(
        score=score,
        alpha=alpha,
        models=[str(m) for m in table.columns],
        blocks=[str(b) for b in table.index],
        scores=table.to_numpy(float),
        mean_ranks={str(k): float(v) for k, v in mean_ranks(table).items()},
        pairwise=pairwise_tests(table, alpha),
        friedman_statistic=stat,
        friedman_p=p,
        critical_difference=cd,
        left_out=left_out,
    )

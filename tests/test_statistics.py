"""Significance tests over a benchmark's (fold, seed) runs, and the leaderboard that shows them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faultlab.evaluation.statistics import MIN_BLOCKS, compare, holm, mean_ranks, nemenyi_cd
from faultlab.reporting import plots, render_leaderboard

BASE = {"good": 0.97, "also-good": 0.965, "weak": 0.80, "weaker": 0.70}


def fake_runs(n_folds: int = 4, n_seeds: int = 2, base: dict | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {"model": m, "fold": f"fold {f}", "seed": s, "accuracy": b + 0.01 * rng.standard_normal()}
        for f in range(n_folds)
        for s in range(n_seeds)
        for m, b in (base or BASE).items()
    ]
    return pd.DataFrame(rows)


def test_holm_matches_the_textbook_procedure():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 with running maximum
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    assert holm(np.array([0.5, 0.9])).max() <= 1.0


def test_nemenyi_critical_difference_matches_demsar():
    # Demšar (2006), table 5: q_0.05 = 2.728 for k = 5 classifiers
    assert nemenyi_cd(5, 10) == pytest.approx(2.728 * np.sqrt(5 * 6 / 60), rel=1e-3)
    assert nemenyi_cd(3, 10) == pytest.approx(2.343 * np.sqrt(3 * 4 / 60), rel=1e-3)


def test_compare_separates_real_from_noise_differences():
    res = compare(fake_runs())
    assert not isinstance(res, str)
    assert len(res.blocks) == 8 and res.models == list(BASE)
    ranks = res.mean_ranks
    assert ranks["weaker"] == 4.0 and ranks["weak"] == 3.0
    pw = res.pairwise.set_index(["model_a", "model_b"])
    assert pw.loc[("good", "weaker"), "significant"]  # 8 wins of 8: p = 0.0078, Holm x6
    assert pw.loc[("good", "weaker"), "wins"] == 8
    assert not pw.loc[("good", "also-good"), "significant"]  # 0.005 apart, noise 0.01
    assert res.friedman_p < 1e-3 and res.critical_difference == pytest.approx(nemenyi_cd(4, 8))


def test_too_few_blocks_give_the_reason_not_tests():
    reason = compare(fake_runs(n_folds=1, n_seeds=MIN_BLOCKS - 1))
    assert isinstance(reason, str) and f"at least {MIN_BLOCKS}" in reason
    assert "one" in compare(fake_runs(base={"only": 0.9}))


def test_a_model_with_failed_runs_is_left_out_not_the_blocks():
    runs = fake_runs()
    runs = runs[~((runs["model"] == "weak") & (runs["fold"] == "fold 0"))]
    res = compare(runs)
    assert res.left_out == ["weak"] and len(res.blocks) == 8


def test_mean_ranks_share_ties():
    table = pd.DataFrame({"a": [1.0, 0.9], "b": [1.0, 0.8], "c": [0.5, 0.95]})
    # block 1: a, b tie for ranks 1-2 (1.5 each), c is 3; block 2: c 1, a 2, b 3
    assert mean_ranks(table).to_dict() == {"a": 1.75, "b": 2.25, "c": 2.0}


@pytest.mark.parametrize("aeon", [True, False])
def test_critical_difference_png(tmp_path, monkeypatch, aeon):
    if not aeon:  # the matplotlib drawing used when aeon is not installed
        monkeypatch.setitem(sys.modules, "aeon.visualisation", None)
    else:
        pytest.importorskip("aeon.visualisation")
    res = compare(fake_runs())
    p = plots.critical_difference(
        res.scores, res.models, res.critical_difference, tmp_path / "cd.png"
    )
    assert p.stat().st_size > 5000 and p.read_bytes()[:4] == b"\x89PNG"
    assert plots.nemenyi_cliques({"a": 1.0, "b": 1.5, "c": 3.5}, 1.0) == [["a", "b"]]


def write_run(root: Path, model: str, fold: str, seed: int, acc: float) -> None:
    d = root / "runs" / model / fold.replace(" ", "-") / f"seed{seed}"
    d.mkdir(parents=True)
    metrics = {
        "run": {
            "model": model,
            "model_label": model,
            "fold": fold,
            "seed": seed,
            "split_kind": "group_kfold",
            "protocol": "recording",
        },
        "primary": {
            "task": "class",
            "accuracy": acc,
            "macro_f1": acc,
            "balanced_accuracy": acc,
            "recording_accuracy": 1.0,
            "roc_auc_macro": 0.99,
        },
        "training": {"train_seconds": 1.0, "epochs": 1},
        "speed": {"latency_ms_batch1": 0.1},
        "model": {"family": "classical", "n_params": 10},
    }
    (d / "metrics.json").write_text(json.dumps(metrics))
    (d / "split.json").write_text(
        json.dumps({"kind": "group_kfold", "rule": {"kind": "group_kfold"}})
    )
    (d / "done.json").write_text(json.dumps({"config_hash": "0" * 16}))  # a finished run


def test_leaderboard_shows_tests_diagram_and_new_columns(tmp_path):
    for r in fake_runs().itertuples():
        write_run(tmp_path, r.model, r.fold, r.seed, r.accuracy)
    paths = render_leaderboard(tmp_path)
    board = pd.read_csv(paths["csv"])
    assert {"roc_auc_macro_mean", "recording_accuracy_mean"} <= set(board.columns)
    assert board["roc_auc_macro_mean"].tolist() == pytest.approx([0.99] * 4)
    md = paths["md"].read_text()
    assert "Statistics: which differences are real?" in md
    assert (
        "plots/critical_difference.png" in md
        and (tmp_path / "plots" / "critical_difference.png").exists()
    )
    assert "good better" in md and "no significant difference" in md
    pairs = pd.read_csv(tmp_path / "pairwise_tests.csv")
    assert len(pairs) == 6 and {"p_value", "p_holm", "significant"} <= set(pairs.columns)


def test_leaderboard_says_why_there_are_no_tests(tmp_path):
    for r in fake_runs(n_folds=1, n_seeds=2).itertuples():
        write_run(tmp_path, r.model, r.fold, r.seed, r.accuracy)
    md = render_leaderboard(tmp_path)["md"].read_text()
    assert "No significance tests: statistics need at least" in md

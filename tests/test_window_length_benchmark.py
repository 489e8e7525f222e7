"""``benchmarks/window_length.py``: every (model, window length) row of the held-out-size
table in one, and the pair validation selects (never the best test score)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("window_length", BENCH / "window_length.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(d: Path, rows: dict[str, tuple[float, float, float]]) -> None:
    """A benchmark's two CSVs: model -> (test accuracy, val accuracy, val ROC-AUC)."""
    d.mkdir(parents=True)
    board = [
        {"model": m, "family": "physics", "accuracy_mean": acc, "accuracy_std": 0.1,
         "roc_auc_macro_mean": 0.9, "roc_auc_macro_std": 0.05, "recording_accuracy_mean": 0.8,
         "val_accuracy_mean": va, "val_roc_auc_mean": vr, "n_runs": 3}
        for m, (acc, va, vr) in rows.items()
    ]  # fmt: skip
    pd.DataFrame(board).to_csv(d / "leaderboard.csv", index=False)
    per_class = [
        {"model": m, "class": c, "fold": f"test fault_diameter_in {s}", "accuracy": acc}
        for m, (acc, _, _) in rows.items()
        for c in ("IR", "B", "OR")
        for s in ("0.007", "0.014", "0.021")
    ]
    pd.DataFrame(per_class).to_csv(d / "per_class.csv", index=False)


def test_rows_per_length_and_selection_by_validation(bench, tmp_path):
    _write(tmp_path / "w1024", {"a": (0.95, 0.60, 0.70), "b": (0.70, 0.70, 0.80)})
    _write(tmp_path / "w4096", {"a": (0.99, 0.65, 0.75), "b": (0.80, 0.75, 0.85)})
    t, cells, classes = bench.combined(tmp_path, [1024, 4096])
    assert set(t.index) == {"a @ 1024", "b @ 1024", "a @ 4096", "b @ 4096"}
    assert classes == ["IR", "B", "OR"]
    assert cells[("b @ 4096", "OR", "0.014")] == pytest.approx(0.80)
    # validation picks b @ 4096 (0.80), not a @ 4096, the best test accuracy
    assert t["selection"].idxmax() == "b @ 4096"
    assert "`a @ 1024`" in bench.render(t, cells, classes)

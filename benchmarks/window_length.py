"""How long a snippet must an unseen bearing be heard for? The held-out-size table per
window length, and the (model, window length) pair that validation selects.

A window is what a model hears at once: 1024 samples at 12 kHz are 85 ms, about 2.5 shaft
turns and a dozen inner-race impacts. Longer windows hold more impacts and a finer order
axis, so evidence that one window leaves in doubt can stand out of the next. The window
length is a deployment choice (how long to record before a verdict), so it is chosen like a
model: on validation that holds out a whole training size, never on test data.

For each length, runs ``faultlab benchmark CONFIG --set data.window=N`` into ``OUT/wN``
(finished runs are skipped, so an interrupted study resumes), then prints every
(model, length) row of :mod:`held_out_size_table` and the pair with the best validation
score. Accuracies of different lengths count different windows (a 4096-sample window is
four 1024-sample ones), so compare them as "one verdict per snippet of that length".

    PYTHONPATH=src .venv/bin/python benchmarks/window_length.py configs/cwru-held-out-size.yaml \
        --only envelope-gated,envelope-contrast --windows 1024,2048,4096 --out runs/window
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from held_out_size_table import class_cells, model_table, render, selected  # noqa: E402


def run_length(config: Path, out: Path, window: int, only: str | None, extra: list[str]) -> None:
    """One benchmark at one window length (the CLI, so it resumes and writes the same files)."""
    cmd = [sys.executable, "-m", "faultlab", "benchmark", str(config), "--out", str(out)]
    cmd += ["--set", f"data.window={window}", *extra]
    if only:
        cmd += ["--only", only]
    subprocess.run(cmd, check=True)


def combined(out: Path, windows: list[int]) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Every length's table as one, rows named ``model @ N``."""
    tables, cells, classes = [], [], []
    for w in windows:
        d = out / f"w{w}"
        t = model_table(pd.read_csv(d / "leaderboard.csv"))
        t.index = [f"{m} @ {w}" for m in t.index]
        tables.append(t)
        pc = pd.read_csv(d / "per_class.csv")
        pc["model"] = pc["model"] + f" @ {w}"
        cells.append(class_cells(pc))
        classes += [c for c in dict.fromkeys(pc["class"]) if c not in classes]
    t = pd.concat(tables).sort_values("selection", ascending=False)
    return t, pd.Series(pd.concat(cells)), classes


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--windows", default="1024,2048,4096", help="comma-separated lengths")
    ap.add_argument("--only", default=None, help="the config's model labels, comma-separated")
    ap.add_argument("--table-only", action="store_true", help="read OUT, run nothing")
    ap.add_argument("--set", action="append", default=[], help="more --set overrides")
    args = ap.parse_args()
    windows = [int(w) for w in args.windows.split(",")]
    extra = [a for s in args.set for a in ("--set", s)]
    if not args.table_only:
        for w in windows:
            run_length(args.config, args.out / f"w{w}", w, args.only, extra)
    t, cells, classes = combined(args.out, windows)
    print("Accuracy per class: held-out size 0.007 / 0.014 / 0.021 in; rows by validation score\n")
    print(render(t, cells, classes))
    print("\n" + selected(t))


if __name__ == "__main__":
    main()

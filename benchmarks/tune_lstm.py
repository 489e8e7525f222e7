"""Tune the LSTM on CWRU under a wall-clock budget and print the before/after table.

    PYTHONPATH=src python benchmarks/tune_lstm.py --budget 600 --out runs/tune-lstm
    PYTHONPATH=src python benchmarks/tune_lstm.py --protocol size --budget 600 --out runs/tune-lstm-size

``--protocol load`` (configs/tune-lstm.yaml as is): leave-one-load-out, fold test load 3, 10
classes. ``--protocol size``: a harder one - train on fault sizes 0.007/0.021 in, test on the
unseen 0.014 in, target = fault location (normal/IR/B/OR). Trials score on held-out
*training* recordings in both; the test column is touched only by the two final runs.
Timings depend on how busy the machine is (a shared 2-core box is pessimistic).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from faultlab.experiments.config import load_yaml
from faultlab.experiments.tuning import TuneOptions, load_tune_config, run_tuning
from faultlab.reporting.tuning_report import before_after_rows

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "tune-lstm.yaml"

PROTOCOLS = {
    "load": {},
    "size": {
        "name": "tune-lstm-size",
        "target": "location",
        "split": {
            "kind": "condition",
            "column": "fault_diameter_in",
            "train": [0.007, 0.021],
            "test": [0.014],
            "unassigned": "distribute",
            "val": {"strategy": "recordings", "fraction": 0.34},
        },
    },
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=600.0, help="search seconds")
    ap.add_argument("--n-trials", type=int, default=None)
    ap.add_argument("--protocol", choices=sorted(PROTOCOLS), default="load")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--config", type=Path, default=CONFIG)
    args = ap.parse_args()

    raw = load_yaml(args.config)
    raw.update(PROTOCOLS[args.protocol])
    setup = load_tune_config(raw=raw, source=f"{args.config} ({args.protocol} protocol)")
    out = args.out or Path("runs") / f"tune-lstm-{args.protocol}"
    t0 = time.time()
    summary = run_tuning(setup, TuneOptions(out=out, budget_s=args.budget, n_trials=args.n_trials))
    total = time.time() - t0
    for m in summary["models"]:
        print(
            f"\n{m['label']} ({args.protocol} protocol, fold {m['fold']!r}): "
            f"{m['n_trials_total']} trials {m['trials']} in {m['search_seconds']:.0f} s search, "
            f"{total:.0f} s in all"
        )
        print(f"best trial {m['best']['number']}: {m['best']['params']}")
        print(f"{'':<52} {'default':>10} {'tuned':>10} {'change':>10}")
        for name, d, t, delta in before_after_rows(m, formatted=True):
            print(f"{name:<52} {d:>10} {t:>10} {delta:>10}")
    print(f"\nreport: {out / 'tuning_report.md'}")


if __name__ == "__main__":
    main()

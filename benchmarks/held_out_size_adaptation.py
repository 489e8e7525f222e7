"""Held-out fault size with unsupervised adaptation to the unlabelled 0.021 in windows.

Fault location (IR / B / OR) learnt from 0.007 + 0.014 in faults; the 0.021 in recordings
(other physical bearings) are the target: whole target recordings per class adapt
(unlabelled: two of the four loads per class), the other two are tested. Writes (and prints)
recall per class and accuracy for source-only and each method, and the gain over
source-only; cells run like ``load_transfer.py`` (``--jobs``, ``--device``, ``--time-limit``,
``OUT/results.json`` + ``OUT/table.md``).

    PYTHONPATH=src FAULTLAB_DATA_DIR=/path/to/data python benchmarks/held_out_size_adaptation.py \\
        --methods none,jmmd,dann,cdan+e --seeds 0 --epochs 20
    ... --device cuda --jobs 8 --seeds 0,1,2 --time-limit 120 --out runs/held-out-size-adapt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adaptation_grid import (  # noqa: E402
    METHOD_ORDER,
    add_grid_args,
    configure,
    parse_list,
    run_main,
    timing_lines,
)


def render(results: dict) -> str:
    runs = list(results.values())
    if not runs:
        return "no finished cells\n"
    methods = [m for m in METHOD_ORDER if any(r["method"] == m for r in runs)]
    classes = list(runs[0]["recall"])
    by = {m: [r for r in runs if r["method"] == m] for m in methods}

    def row(m: str) -> tuple[float, list[float]]:
        rs = by[m]
        return (
            float(np.mean([r["accuracy"] for r in rs])),
            [float(np.mean([r["recall"][c] for r in rs])) for c in classes],
        )

    base = row("none") if "none" in by else None
    lines = [
        "# Held-out fault size 0.021 in: location (IR / B / OR) with adaptation to the "
        "unlabelled 0.021 in windows",
        "",
        "Accuracy and recall per class %, mean over seeds; (gain over source-only).",
        "",
        "| method | seeds | accuracy | " + " | ".join(classes) + " |",
        "|---" * (len(classes) + 3) + "|",
    ]
    for m in methods:
        acc, rec = row(m)
        if base is None or m == "none":
            cells = [f"{acc:.2f}"] + [f"{v:.2f}" for v in rec]
        else:
            cells = [f"{acc:.2f} ({acc - base[0]:+.2f})"] + [
                f"{v:.2f} ({v - b:+.2f})" for v, b in zip(rec, base[1])
            ]
        name = "source-only" if m == "none" else m
        lines.append(f"| {name} | {len(by[m])} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += timing_lines(runs, methods)
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--config", default="configs/cwru-held-out-size.yaml")
    ap.add_argument("--selection", default="last", choices=["last", "source_val", "target_entropy"])
    add_grid_args(ap, "runs/held-out-size-adapt")
    ap.set_defaults(methods="none,jmmd,dann,cdan+e", epochs=20, seeds="0")
    args = ap.parse_args()

    from faultlab.data.config import SplitConfig
    from faultlab.experiments.benchmark import load_benchmark
    from faultlab.experiments.runner import prepare

    bench = load_benchmark(args.config)
    bench.split = SplitConfig(
        kind="condition",
        column="fault_diameter_in",
        train=[0.007, 0.014],
        test=[0.021],
        val={"strategy": "tail", "fraction": 0.15},
        adapt={"mode": "recordings"},
    )
    ad = bench.training.adaptation.model_copy(update={"selection": args.selection})
    bench.training = bench.training.model_copy(update={"patience": None, "adaptation": ad})
    bench, params = configure(bench, args)
    methods = parse_list(args.methods)
    unknown = sorted(set(methods) - set(METHOD_ORDER))
    if unknown:
        raise SystemExit(f"error: --methods: unknown {unknown}; choose from {METHOD_ORDER}")
    folds: dict = {}
    windows = None
    if not args.table_only:
        windows, (split,) = prepare(bench.experiment(bench.models[0]))
        folds = {split.name: split}
        rid = windows.recording_id
        print(
            f"adapt recordings: {sorted(set(rid[split.adapt].tolist()))}; "
            f"test recordings: {sorted(set(rid[split.test].tolist()))}"
        )
    settings = {
        "config": {
            "benchmark": args.config,
            "model": args.model,
            "params": params,
            "training": bench.training.model_dump(
                mode="json", exclude={"device", "num_threads", "checkpoint_every", "progress"}
            ),
        },
        "run": {"device": args.device, "jobs": args.jobs, "time_limit": args.time_limit},
    }
    run_main(args, bench, params, windows, folds, methods, render, settings)


if __name__ == "__main__":
    main()

"""Held-out fault size with unsupervised adaptation to the unlabelled windows of that size.

Fault location (IR / B / OR) learnt from two fault sizes; the third size's recordings (other
physical bearings) are the target: whole target recordings per class adapt (unlabelled: two
of the four loads per class), the other two are tested. ``--held-out 0.021`` (default) is
the issue's case; ``--held-out all`` runs leave-one-size-out (0.007, 0.014, 0.021 in turn).
Writes (and prints) accuracy and recall per class, mean ± sd over seeds, for source-only and
each method, and the gain over source-only paired by seed (same seed, same split). Cells run
like ``load_transfer.py`` (``--jobs``, ``--device``, ``--time-limit``, ``OUT/results.json`` +
``OUT/table.md``). Weights: last epoch (default) or ``--selection source_val`` /
``target_entropy``; never target labels.

    PYTHONPATH=src FAULTLAB_DATA_DIR=/path/to/data python benchmarks/held_out_size_adaptation.py \\
        --methods none,jmmd,cdan+e --seeds 0,1,2 --epochs 20
    ... --held-out all --device cuda --jobs 8 --time-limit 600 --out runs/held-out-size-adapt
"""

from __future__ import annotations

import argparse
import json
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

SIZES = [0.007, 0.014, 0.021]


def fold_name(size: float) -> str:
    """The leave_one_out fold that holds ``size`` out (as faultlab names it)."""
    return f"test fault_diameter_in {size:g}"


def _ms(values: list[float], signed: bool = False) -> str:
    """'mean ± sd' (sd over seeds, n-1; '± -' for one seed)."""
    mean = float(np.mean(values))
    sd = f"{np.std(values, ddof=1):.2f}" if len(values) > 1 else "-"
    return f"{mean:+.2f} ± {sd}" if signed else f"{mean:.2f} ± {sd}"


def _fold_table(runs: list[dict], fold: str, classes: list[str]) -> list[str]:
    rs = [r for r in runs if r["fold"] == fold]
    methods = [m for m in METHOD_ORDER if any(r["method"] == m for r in rs)]
    by = {m: {r["seed"]: r for r in rs if r["method"] == m} for m in methods}
    base = by.get("none", {})
    cols = ["accuracy", *classes]

    def value(r: dict, c: str) -> float:
        return r["accuracy"] if c == "accuracy" else r["recall"][c]

    lines = [
        "| method | seeds | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 2) + "|",
    ]
    for m in methods:
        seeds = sorted(by[m])
        cells = [_ms([value(by[m][s], c) for s in seeds]) for c in cols]
        name = "source-only" if m == "none" else m
        lines.append(f"| {name} | {len(seeds)} | " + " | ".join(cells) + " |")
    for m in methods:
        paired = sorted(set(by[m]) & set(base)) if m != "none" else []
        if not paired:
            continue
        gains = [
            _ms([value(by[m][s], c) - value(base[s], c) for s in paired], signed=True) for c in cols
        ]
        lines.append(f"| gain {m} | {len(paired)} | " + " | ".join(gains) + " |")
    return lines


def make_render(fold_info: dict[str, dict]):
    """The Markdown table builder (``fold_info``: adapt/test recordings of each fold)."""

    def render(results: dict) -> str:
        runs = list(results.values())
        if not runs:
            return "no finished cells\n"
        classes = list(runs[0]["recall"])
        folds = [fold_name(s) for s in SIZES if any(r["fold"] == fold_name(s) for r in runs)]
        methods = [m for m in METHOD_ORDER if any(r["method"] == m for r in runs)]
        lines = [
            "# Held-out fault size: location (" + " / ".join(classes) + ") with adaptation "
            "to the unlabelled windows of the held-out size",
            "",
            "Accuracy and recall per class %, mean ± sd over seeds; 'gain m' rows: m minus "
            "source-only, paired by seed (same split), mean ± sd.",
        ]
        for fold in folds:
            info = fold_info.get(fold, {})
            lines += ["", f"## {fold.replace('test ', 'held out: ')} in", ""]
            if info:
                lines += [
                    f"Adapt (unlabelled): {', '.join(info['adapt'])}; "
                    f"test: {', '.join(info['test'])}.",
                    "",
                ]
            lines += _fold_table(runs, fold, classes)
        if len(folds) > 1:
            lines += ["", "## Mean over held-out sizes (per seed, then mean ± sd)", ""]
            lines += ["| method | " + " | ".join(["accuracy", *classes]) + " |"]
            lines += ["|---" * (len(classes) + 2) + "|"]
            for m in methods:
                seeds = sorted(
                    set.intersection(
                        *[
                            {r["seed"] for r in runs if r["method"] == m and r["fold"] == f}
                            for f in folds
                        ]
                    )
                )
                if not seeds:
                    continue
                per = {(r["fold"], r["seed"]): r for r in runs if r["method"] == m}
                cells = []
                for c in ["accuracy", *classes]:
                    vals = [
                        float(
                            np.mean(
                                [
                                    per[(f, s)]["accuracy"]
                                    if c == "accuracy"
                                    else per[(f, s)]["recall"][c]
                                    for f in folds
                                ]
                            )
                        )
                        for s in seeds
                    ]
                    cells.append(_ms(vals))
                name = "source-only" if m == "none" else m
                lines.append(f"| {name} ({len(seeds)} seeds) | " + " | ".join(cells) + " |")
        lines.append("")
        lines += timing_lines(runs, methods)
        return "\n".join(lines) + "\n"

    return render


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--config", default="configs/cwru-held-out-size.yaml")
    ap.add_argument("--selection", default="last", choices=["last", "source_val", "target_entropy"])
    ap.add_argument(
        "--held-out",
        default="0.021",
        help="fault size(s) held out, one fold each: comma list or 'all' (0.007,0.014,0.021)",
    )
    add_grid_args(ap, "runs/held-out-size-adapt")
    ap.set_defaults(methods="none,jmmd,dann,cdan+e", epochs=20, seeds="0")
    args = ap.parse_args()

    from faultlab.data.config import SplitConfig
    from faultlab.experiments.benchmark import load_benchmark
    from faultlab.experiments.runner import prepare

    sizes = SIZES if args.held_out == "all" else [float(s) for s in parse_list(args.held_out)]
    bad = [s for s in sizes if s not in SIZES]
    if bad:
        raise SystemExit(f"error: --held-out: {bad} not among the fault sizes {SIZES}")
    bench = load_benchmark(args.config)
    bench.split = SplitConfig(
        kind="leave_one_out",
        column="fault_diameter_in",
        folds=sizes,
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
    fold_info: dict[str, dict] = {}
    windows = None
    if not args.table_only:
        windows, splits = prepare(bench.experiment(bench.models[0]))
        folds = {s.name: s for s in splits if s.name in {fold_name(z) for z in sizes}}
        rid = windows.recording_id
        for name, split in folds.items():
            fold_info[name] = {
                "adapt": sorted(set(rid[split.adapt].tolist())),
                "test": sorted(set(rid[split.test].tolist())),
            }
            print(f"{name}: adapt {fold_info[name]['adapt']}; test {fold_info[name]['test']}")
    else:
        path = Path(args.out) / "results.json"
        if path.exists():
            fold_info = json.loads(path.read_text()).get("settings", {}).get("folds", {})
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
        "folds": fold_info,
    }
    run_main(args, bench, params, windows, folds, methods, make_render(fold_info), settings)


if __name__ == "__main__":
    main()

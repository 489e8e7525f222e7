"""Load-to-load transfer on CWRU with unsupervised domain adaptation, beside UDTL's figures.

Runs (or resumes) the grid of ``configs/cwru-load-transfer.yaml`` - 12 ordered load pairs x
methods x seeds, cnn1d backbone - through the benchmark machinery (one run directory per cell,
finished cells skipped), then prints accuracy per pair and method, the mean and worst pair,
beside the published UDTL figures (Zhao et al. 2021, CNN, last epoch, mean of 12 pairs).

    export FAULTLAB_DATA_DIR=/path/to/data   # holding cwru/
    PYTHONPATH=src python benchmarks/load_transfer.py                    # the full grid (324 runs)
    PYTHONPATH=src python benchmarks/load_transfer.py --pairs "0->3,3->0" --seeds 0 --epochs 20
    PYTHONPATH=src python benchmarks/load_transfer.py --table-only        # print what finished

The test windows are the last half of each target recording; the first half adapts
(unlabelled). UDTL adapts transductively on its test windows; pass ``--transductive`` to do
the same (labelled as such in every report).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

#: UDTL (Zhao et al. 2021, "Applications of unsupervised deep transfer learning to intelligent
#: fault diagnosis: a survey and comparative study"), CWRU load transfer, CNN backbone,
#: last-epoch accuracy, mean over the 12 ordered pairs (as quoted in faultlab issue 10).
UDTL_MEAN = {"none": 93.27, "jmmd": 99.60}

METHOD_ORDER = ["none", "adabn", "coral", "mmd", "jmmd", "dann", "cdan", "cdan+e"]


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--config", default="configs/cwru-load-transfer.yaml")
    ap.add_argument("--out", default="runs/load-transfer")
    ap.add_argument("--pairs", default="", help='comma list like "0->1,3->0" (default: all 12)')
    ap.add_argument(
        "--methods", default="", help="comma list of methods (default: all in the config)"
    )
    ap.add_argument("--seeds", default="", help="comma list (default: the config's)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--transductive", action="store_true", help="adapt on the test windows (UDTL)")
    ap.add_argument(
        "--table-only", action="store_true", help="only print the table of finished runs"
    )
    return ap.parse_args()


def _method(label: str) -> str:
    """``cnn1d-dann`` -> ``dann``, ``cnn1d-source-only`` -> ``none``; other models: the label."""
    if not label.startswith("cnn1d-"):
        return label
    return label.split("-", 1)[1].replace("source-only", "none")


def _configure(args: argparse.Namespace):
    from faultlab.experiments.benchmark import load_benchmark

    cfg = load_benchmark(args.config)
    if args.pairs:
        cfg.split.folds = [
            f"load_hp {p.split('->')[0].strip()} -> {p.split('->')[1].strip()}"
            for p in args.pairs.split(",")
        ]
    if args.seeds:
        cfg.seeds = [int(s) for s in args.seeds.split(",")]
    if args.epochs:
        cfg.training.epochs = args.epochs
    if args.transductive:
        cfg.split.adapt.mode = "transductive"
    if args.methods:
        wanted = {m.strip() for m in args.methods.split(",")}
        cfg.models = [m for m in cfg.models if _method(m.display_name) in wanted]
    return cfg


def _collect(out: Path) -> dict[tuple[str, str], list[float]]:
    """(method, pair) -> accuracies (one per finished seed)."""
    acc: dict[tuple[str, str], list[float]] = {}
    for path in sorted((out / "runs").glob("*/*/seed*/metrics.json")):
        m = json.loads(path.read_text())
        method = _method(m["run"].get("model_label", m["run"]["model"]))
        pair = m["run"]["fold"].replace("load_hp ", "")
        acc.setdefault((method, pair), []).append(100 * m["primary"]["accuracy"])
    return acc


def print_table(out: Path) -> None:
    acc = _collect(out)
    if not acc:
        print(f"no finished runs under {out}")
        return
    pairs = sorted({p for _, p in acc})
    methods = [m for m in METHOD_ORDER if any((m, p) in acc for p in pairs)]
    methods += sorted({m for m, _ in acc} - set(methods))
    head = f"{'pair':<8}" + "".join(f"{m:>9}" for m in methods)
    print(head)
    for p in pairs:
        cells = [np.mean(acc[(m, p)]) if (m, p) in acc else np.nan for m in methods]
        print(f"{p:<8}" + "".join(f"{c:>9.2f}" for c in cells))
    for name, fn in (("mean", np.nanmean), ("worst", np.nanmin)):
        vals = [fn([np.mean(acc[(m, p)]) for p in pairs if (m, p) in acc]) for m in methods]
        print(f"{name:<8}" + "".join(f"{v:>9.2f}" for v in vals))
    print(f"{'pairs':<8}" + "".join(f"{sum((m, p) in acc for p in pairs):>9d}" for m in methods))
    seeds = {m: sorted({len(acc[(m, p)]) for p in pairs if (m, p) in acc}) for m in methods}
    print(f"seeds per cell: {seeds} (mean/worst are over the pairs each method ran)")
    print(
        "UDTL (CNN, last epoch, 12-pair mean, transductive): "
        + ", ".join(f"{k} {v:.2f}" for k, v in UDTL_MEAN.items())
    )


def main() -> None:
    args = _args()
    out = Path(args.out)
    if not args.table_only:
        import torch

        from faultlab.experiments.benchmark import run_benchmark

        torch.set_num_threads(1)
        run_benchmark(_configure(args), out)
    print_table(out)


if __name__ == "__main__":
    main()

"""Epoch time of every domain-adaptation method relative to source-only training.

Each adapting step forwards a source and a target batch together (twice the windows of a
source-only step) and adds the method's loss; this prints the median seconds per epoch of
each method and its ratio to source-only (target: at most 2x). Methods are timed
interleaved, ``--repeats`` times, so load from other processes hits them alike.

    PYTHONPATH=src FAULTLAB_DATA_DIR=/path/to/data python benchmarks/adaptation_speed.py
    PYTHONPATH=src python benchmarks/adaptation_speed.py --synthetic --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

import numpy as np
import torch

from faultlab.data.config import DataConfig, SplitConfig
from faultlab.data.datasets import build_windows, for_target
from faultlab.data.splits import make_splits
from faultlab.data.types import UnlabelledWindows
from faultlab.models.base import build_model
from faultlab.training.adaptation import METHODS
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model


def _data(synthetic: bool):
    if synthetic:
        cfg = DataConfig(dataset="synthetic", synthetic={"duration_s": 10, "loads": [0, 3]})
    else:
        cfg = DataConfig()
    ws = for_target(build_windows(cfg), "flat")
    split_cfg = SplitConfig(
        kind="transfer",
        column="load_hp",
        folds=["load_hp 0 -> 3"],
        val={"strategy": "none"},
        adapt={"mode": "auto"},
    )
    (split,) = make_splits(ws, split_cfg)
    return ws, split


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="cnn1d")
    ap.add_argument("--epochs", type=int, default=3, help="per timing (the first is dropped)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--params", default="{}", help="model params as JSON, e.g. '{\"first_stride\": 8}'"
    )
    ap.add_argument("--synthetic", action="store_true", help="synthetic data instead of CWRU")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ws, split = _data(args.synthetic)
    train, target = ws.subset(split.train), UnlabelledWindows(ws.X[split.adapt])
    print(
        f"{args.model}: {len(train)} source windows, {len(target)} target windows, "
        f"batch {args.batch_size}, {args.threads} thread(s), device {args.device}; "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    for _ in range(args.repeats):
        for method in METHODS:
            cfg = TrainConfig(
                epochs=args.epochs,
                batch_size=args.batch_size,
                progress=False,
                num_threads=args.threads,
                patience=None,
                device=args.device,
                adaptation={"method": method, "selection": "last"},
            )
            model = build_model(
                args.model,
                ws.classes,
                (ws.n_channels, ws.window_length),
                json.loads(args.params) or None,
                cfg,
            )
            res = fit_model(model, train, None, target=target if method != "none" else None)
            times[method] += [r["seconds"] for r in res.history[1:]]
    # median: the typical epoch; min: the least disturbed one (on a shared machine other
    # processes only ever add time, so the minimum is the steadier estimate of the cost)
    base = statistics.median(times["none"])
    base_min = min(times["none"])
    print(f"{'method':<8} {'s/epoch':>8} {'x source-only':>14} {'min s':>8} {'x (min)':>8}")
    for method, ts in times.items():
        med, low = statistics.median(ts), min(ts)
        flag = "" if min(med / base, low / base_min) <= 2.0 else "  (> 2x)"
        print(
            f"{method:<8} {med:>8.3f} {med / base:>14.2f} {low:>8.3f} {low / base_min:>8.2f}{flag}"
        )
    worst = max(statistics.median(t) for t in times.values()) / base
    worst_min = max(min(t) for t in times.values()) / base_min
    print(
        f"worst ratio {worst:.2f} (median), {worst_min:.2f} (min) (target <= 2.00); "
        f"per-epoch samples: {int(np.mean([len(t) for t in times.values()]))} per method; "
        f"load average at end {os.getloadavg()[0]:.2f} (1 min), {os.getloadavg()[1]:.2f} (5 min)"
    )


if __name__ == "__main__":
    main()

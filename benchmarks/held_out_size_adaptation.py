"""Held-out fault size with unsupervised adaptation to the unlabelled 0.021 in windows.

Fault location (IR / B / OR) learnt from 0.007 + 0.014 in faults; the 0.021 in recordings
(other physical bearings) are the target: whole target recordings per class adapt
(unlabelled: two of the four loads per class), the other two are tested. Prints recall per
class and accuracy for source-only and each method, and the gain over source-only.

    PYTHONPATH=src FAULTLAB_DATA_DIR=/path/to/data python benchmarks/held_out_size_adaptation.py \
        --methods none,jmmd,dann,cdan+e --seeds 0 --epochs 20
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from faultlab.data.config import SplitConfig
from faultlab.experiments.benchmark import load_benchmark
from faultlab.experiments.config import ModelConfig
from faultlab.experiments.runner import prepare, run_experiment


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--config", default="configs/cwru-held-out-size.yaml")
    ap.add_argument("--methods", default="none,jmmd,dann,cdan+e")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--selection", default="last", choices=["last", "source_val", "target_entropy"])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    bench = load_benchmark(args.config)
    bench.split = SplitConfig(
        kind="condition",
        column="fault_diameter_in",
        train=[0.007, 0.014],
        test=[0.021],
        val={"strategy": "tail", "fraction": 0.15},
        adapt={"mode": "recordings"},
    )
    bench.training = bench.training.model_copy(
        update={"epochs": args.epochs, "patience": None, "num_threads": 1, "progress": False}
    )
    out = Path(args.out or tempfile.mkdtemp(prefix="held-out-size-"))
    first = bench.experiment(ModelConfig(name="cnn1d"))
    windows, (split,) = prepare(first)
    print(
        f"adapt recordings: {sorted(set(windows.recording_id[split.adapt].tolist()))}; "
        f"test recordings: {sorted(set(windows.recording_id[split.test].tolist()))}"
    )
    results: dict[str, list[dict]] = {}
    for method in args.methods.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            run_dir = out / method / f"seed{seed}"
            if (run_dir / "metrics.json").exists():  # finished earlier
                m = json.loads((run_dir / "metrics.json").read_text())
            else:
                cfg = bench.experiment(ModelConfig(name="cnn1d", label=f"cnn1d-{method}"))
                ad = cfg.training.adaptation.model_copy(
                    update={"method": method, "selection": args.selection}
                )
                cfg.training = cfg.training.model_copy(update={"adaptation": ad})
                m = run_experiment(
                    cfg, run_dir, windows=windows, split=split, seed=seed, report=False
                )
            results.setdefault(method, []).append(m["tasks"][windows.tasks[0]])
            print(f"  {method} seed {seed}: accuracy {m['primary']['accuracy']:.4f}", flush=True)
    classes = windows.classes[windows.tasks[0]]
    base = results.get("none")
    print(
        f"\n{'method':<8} {'accuracy':>9} "
        + " ".join(f"{c:>8}" for c in classes)
        + "   (recall per class, %)"
    )
    for method, runs in results.items():
        acc = 100 * np.mean([r["accuracy"] for r in runs])
        rec = [100 * np.mean([r["per_class"][c]["recall"] for r in runs]) for c in classes]
        print(f"{method:<8} {acc:>9.2f} " + " ".join(f"{v:>8.2f}" for v in rec))
        if base is not None and method != "none":
            b_acc = 100 * np.mean([r["accuracy"] for r in base])
            b_rec = [100 * np.mean([r["per_class"][c]["recall"] for r in base]) for c in classes]
            print(
                f"{'  gain':<8} {acc - b_acc:>+9.2f} "
                + " ".join(f"{v - b:>+8.2f}" for v, b in zip(rec, b_rec))
            )
    print(f"selection: {args.selection}; epochs {args.epochs}; seeds {args.seeds}; runs in {out}")


if __name__ == "__main__":
    main()

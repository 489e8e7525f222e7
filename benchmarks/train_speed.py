"""Training speed and accuracy of every deep model on CWRU 12 kHz drive-end data.

Data: the 37 shared files (normal 97.mat at 48 kHz resampled to 12 kHz and cut into 4
contiguous quarters treated as loads 0-3), 1024-sample windows, stride 1024, 10 classes.
Protocol: leave-one-load-out; by default only the fold "test load 3", with ``--all-folds``
all four and mean +- std. Validation = last 15 % of each training recording (early stopping).
Each model trains with its registry defaults and TrainConfig defaults, unless overridden.

Prints per model: windows/s trained, seconds per epoch, parameters, the data-pipeline share
of epoch time, epochs run, training seconds and test accuracy.

    FAULTLAB_DATA_DIR=../shared/data python benchmarks/train_speed.py cnn1d lstm --all-folds
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from faultlab.data.build import build_windows, for_target  # noqa: E402
from faultlab.data.config import DataConfig, SplitConfig  # noqa: E402
from faultlab.data.splits import make_splits  # noqa: E402
from faultlab.models.base import build_model, registry  # noqa: E402
from faultlab.models.torch_base import TorchModel  # noqa: E402
from faultlab.training.config import TrainConfig  # noqa: E402
from faultlab.training.fit import fit_model  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def deep_models() -> list[str]:
    return [n for n, s in registry().items() if issubclass(s.cls, TorchModel)]


def run_one(name: str, ws, split, training: TrainConfig, params: dict) -> dict:
    parts = {r: ws.subset(i) for r, i in split.roles().items()}
    model = build_model(name, ws.classes, (ws.n_channels, ws.window_length), params, training)
    fit = fit_model(model, parts["train"], parts["val"] if len(parts["val"]) else None)
    pred = model.predict(parts["test"].X)["class"]
    acc = float((pred == parts["test"].y["class"]).mean())
    hist = fit.history
    epoch_s = sum(h["seconds"] for h in hist)
    seen = sum(len(parts["train"]) * (1 if not h.get("partial") else 0.5) for h in hist)
    return {
        "model": name,
        "fold": split.name,
        "accuracy": acc,
        "epochs": fit.epochs,
        "best_epoch": fit.best_epoch,
        "train_seconds": fit.train_seconds,
        "seconds_per_epoch": epoch_s / max(len(hist), 1),
        "windows_per_s": seen / max(epoch_s, 1e-9),
        "data_share": sum(h["data_seconds"] for h in hist) / max(epoch_s, 1e-9),
        "params": sum(p.numel() for p in model.net.parameters()),
        "stopped": fit.stopped_reason,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("models", nargs="*", help="default: every registered deep model")
    ap.add_argument("--all-folds", action="store_true", help="all 4 leave-one-load-out folds")
    ap.add_argument(
        "--folds", default=None, help="comma-separated test loads, e.g. 0,3 (default 3)"
    )
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core box)"
    )
    ap.add_argument("--budget", type=float, default=None, help="time_budget_s per fit")
    ap.add_argument(
        "--train", default="{}", help="TrainConfig overrides as JSON, e.g. '{\"epochs\": 10}'"
    )
    ap.add_argument("--params", default="{}", help="model option overrides as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)

    os.environ.setdefault("FAULTLAB_DATA_DIR", str(DEFAULT_DATA))
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    ws = for_target(build_windows(DataConfig()), "flat")
    folds = None if args.all_folds else [int(f) for f in (args.folds or "3").split(",")]
    split_cfg = SplitConfig(kind="leave_one_out", column="load_hp", folds=folds)
    splits = make_splits(ws, split_cfg)
    print(
        f"data: {ws.X.shape} windows, {len(ws.classes['class'])} classes, "
        f"{len(splits)} fold(s), built in {time.perf_counter() - t0:.1f}s, torch threads {args.threads}"
    )
    overrides = {
        "progress": False,
        "seed": args.seed,
        "num_threads": args.threads,
        **json.loads(args.train),
    }
    if args.budget:
        overrides["time_budget_s"] = args.budget
    training = TrainConfig(**overrides)
    params = json.loads(args.params)
    rows = []
    header = f"{'model':<15} {'fold':<16} {'acc':>7} {'ep':>3} {'train s':>8} {'s/epoch':>8} {'win/s':>8} {'data%':>6} {'params':>8} stopped"
    print(header)
    for name in args.models or deep_models():
        for split in splits:
            r = run_one(name, ws, split, training, params)
            rows.append(r)
            print(
                f"{name:<15} {r['fold']:<16} {100 * r['accuracy']:>6.2f}% {r['epochs']:>3} "
                f"{r['train_seconds']:>8.1f} {r['seconds_per_epoch']:>8.2f} {r['windows_per_s']:>8.0f} "
                f"{100 * r['data_share']:>5.1f}% {r['params']:>8} {r['stopped']}",
                flush=True,
            )
        if len(splits) > 1:
            acc = np.array([r["accuracy"] for r in rows if r["model"] == name])
            secs = np.array([r["train_seconds"] for r in rows if r["model"] == name])
            print(
                f"{name:<15} {'mean +- std':<16} {100 * acc.mean():.2f} +- {100 * acc.std():.2f}%  "
                f"train {secs.mean():.1f}s/fold",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

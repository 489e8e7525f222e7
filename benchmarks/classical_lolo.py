"""CWRU leave-one-load-out benchmark of the classical models (rf, svm, hist_gb, minirocket).

The 37 shared files: 36 drive-end fault recordings at 12 kHz (loads 0-3 HP) and the normal
baseline 97.mat (48 kHz, 0 HP only), resampled to 12 kHz and cut into 4 contiguous quarters
that stand in for loads 0-3 (stated as a compromise: normal windows of every fold come from
one recording). 1024-sample windows, stride 1024, 10 classes; each fold trains on three loads
and tests on the fourth. Prints mean +- std accuracy and fit/predict seconds per model.

Measured 2026-11-21 on the shared 2-core machine (--threads 1, seed 0; seeds 1-2 within
0.1 %): rf 99.72 +- 0.28 %, svm 99.93 +- 0.12 %, hist_gb 99.88 +- 0.12 %, minirocket
99.93 +- 0.08 % (on the log power spectrum; ``{"minirocket": {"input": "signal"}}``, the
waveform, gives 96.53 +- 3.92 %). Fit per fold on a quiet machine: rf 1.9 s, minirocket 13.7 s.

    PYTHONPATH=src python benchmarks/classical_lolo.py [--models rf,minirocket] [--data DIR]
        [--params '{"minirocket": {"head": "logistic"}}'] [--normalise zscore] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from faultlab.data.build import build_windows
from faultlab.data.config import DataConfig, SplitConfig, ValConfig
from faultlab.data.splits import make_splits
from faultlab.data.types import WindowSet
from faultlab.models.base import build_model
from faultlab.training.config import TrainConfig
from faultlab.training.fit import fit_model


def lolo(
    model_name: str,
    ws: WindowSet,
    params: dict | None = None,
    task: str = "class",
    seed: int = 0,
    threads: int | None = None,
) -> dict:
    """Leave-one-load-out (the project's split builder): accuracy and timings per fold."""
    ws = ws.select_tasks([task])
    split_cfg = SplitConfig(kind="leave_one_out", column="load_hp", val=ValConfig(strategy="none"))
    accs, fits, preds = [], [], []
    for split in make_splits(ws, split_cfg):
        train_ws, test_ws = ws.subset(split.train), ws.subset(split.test)
        model = build_model(
            model_name,
            ws.classes,
            (ws.n_channels, ws.window_length),
            params,
            TrainConfig(seed=seed, num_threads=threads),
        )
        t0 = time.perf_counter()
        fit_model(model, train_ws)
        t1 = time.perf_counter()
        pred = model.predict(test_ws.X)[task]
        t2 = time.perf_counter()
        accs.append(float((pred == test_ws.y[task]).mean()))
        fits.append(t1 - t0)
        preds.append(t2 - t1)
        print(
            f"  {model_name} {split.name}: acc {accs[-1]:.4f} "
            f"fit {fits[-1]:.1f}s predict {preds[-1]:.2f}s",
            flush=True,
        )
    return {
        "model": model_name,
        "acc_mean": float(np.mean(accs)),
        "acc_std": float(np.std(accs)),
        "folds": accs,
        "fit_s": float(np.mean(fits)),
        "predict_s": float(np.mean(preds)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = Path(
        os.environ.get("FAULTLAB_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    ap.add_argument("--data", type=Path, default=default_dir)
    ap.add_argument("--models", default="rf,svm,hist_gb,minirocket")
    ap.add_argument(
        "--normalise",
        choices=["none", "zscore"],
        default="none",
        help="data.normalise: per-window z-score before every model",
    )
    ap.add_argument("--params", default="{}", help='JSON options per model: {"rf": {...}}')
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="cap OpenMP/BLAS threads")
    args = ap.parse_args()
    params = json.loads(args.params)
    t0 = time.perf_counter()
    # the 37 shared files: DE channel, 12 kHz, 1024-sample windows, stride 1024
    ws = build_windows(DataConfig(data_dir=str(args.data), normalise=args.normalise))
    print(
        f"{len(ws)} windows, {len(ws.classes['class'])} classes, "
        f"loaded in {time.perf_counter() - t0:.1f}s"
    )
    print(f"cpu count {os.cpu_count()} (timings are pessimistic when other jobs share the CPUs)")
    results = []
    for name in args.models.split(","):
        results.append(lolo(name, ws, params.get(name), seed=args.seed, threads=args.threads))
    print()
    print(f"{'model':<12} {'accuracy':>16} {'fit s/fold':>11} {'predict s/fold':>15}")
    for r in results:
        acc = f"{100 * r['acc_mean']:7.2f} +- {100 * r['acc_std']:5.2f} %"
        print(f"{r['model']:<12} {acc:>16} {r['fit_s']:11.1f} {r['predict_s']:15.2f}")


if __name__ == "__main__":
    main()

"""CWRU leave-one-load-out benchmark of the classical models (rf, svm, hist_gb, minirocket).

The 37 shared files: 36 drive-end fault recordings at 12 kHz (loads 0-3 HP) and the normal
baseline 97.mat (48 kHz, 0 HP only), resampled to 12 kHz and cut into 4 contiguous quarters
that stand in for loads 0-3 (stated as a compromise: normal windows of every fold come from
one recording). 1024-sample windows, stride 1024, 10 classes; each fold trains on three loads
and tests on the fourth. Prints mean +- std accuracy and fit/predict seconds per model.

    PYTHONPATH=src python benchmarks/classical_lolo.py [--models rf,minirocket] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import resample_poly

from faultlab.data.labels import recording_labels
from faultlab.data.readers import find_channel, load_mat
from faultlab.data.types import WindowSet
from faultlab.models.base import build_model

TARGET_RATE = 12000


def cwru_windows(
    cwru_dir: Path,
    files: list[str] | None = None,
    window: int = 1024,
    stride: int | None = None,
    normal_blocks: int = 4,
) -> WindowSet:
    """Drive-end windows of the shared CWRU files (normal 97.mat split into load blocks)."""
    manifest = pd.read_csv(cwru_dir / "MANIFEST.csv")
    if files is not None:
        manifest = manifest[manifest["file"].isin(files)]
    stride = stride or window
    recs = []
    for row in manifest.itertuples():
        path = cwru_dir / row.file
        sig = find_channel(load_mat(path), "DE", path).astype(np.float64)
        fs = int(row.sampling_rate_hz)
        if fs != TARGET_RATE:
            g = np.gcd(fs, TARGET_RATE)
            sig = resample_poly(sig, TARGET_RATE // g, fs // g)
        meta = {
            "condition": row.condition,
            "fault_location": row.fault_location if isinstance(row.fault_location, str) else None,
            "fault_diameter_in": row.fault_diameter_in,
            "rpm": float(row.rpm_recorded),
            "file": row.file,
        }
        if row.condition == "normal" and normal_blocks > 1:
            for b, block in enumerate(np.array_split(sig, normal_blocks)):
                recs.append(
                    {**meta, "recording_id": f"{row.file}#b{b}", "load_hp": b, "sig": block}
                )
        else:
            recs.append({**meta, "recording_id": row.file, "load_hp": int(row.load_hp), "sig": sig})
    meta_df = pd.DataFrame([{k: v for k, v in r.items() if k != "sig"} for r in recs])
    codes, classes = recording_labels(meta_df)
    X, rows, ys = [], [], {t: [] for t in codes}
    for i, r in enumerate(recs):
        w = np.lib.stride_tricks.sliding_window_view(r["sig"], window)[::stride]
        X.append(w.astype(np.float32))
        rows.append(meta_df.iloc[[i] * len(w)])
        for t in codes:
            ys[t].append(np.full(len(w), codes[t][i], dtype=np.int64))
    info = pd.concat(rows, ignore_index=True)
    return WindowSet(
        X=np.concatenate(X)[:, None, :],
        y={t: np.concatenate(v) for t, v in ys.items()},
        classes=classes,
        recording_id=info["recording_id"].to_numpy(),
        info=info,
        sampling_rate=float(TARGET_RATE),
        channels=["DE"],
        notes=[f"normal 97.mat resampled 48->12 kHz and cut into {normal_blocks} blocks as loads"],
    )


def lolo(model_name: str, ws: WindowSet, params: dict | None = None, task: str = "class") -> dict:
    """Leave-one-load-out: accuracy and timings per fold."""
    ws = ws.select_tasks([task])
    loads = sorted(ws.info["load_hp"].unique())
    accs, fits, preds = [], [], []
    for load in loads:
        test = ws.info["load_hp"].to_numpy() == load
        train_ws, test_ws = ws.subset(np.flatnonzero(~test)), ws.subset(np.flatnonzero(test))
        model = build_model(model_name, ws.classes, (ws.n_channels, ws.window_length), params)
        t0 = time.perf_counter()
        model.fit(train_ws)
        t1 = time.perf_counter()
        pred = model.predict(test_ws.X)[task]
        t2 = time.perf_counter()
        accs.append(float((pred == test_ws.y[task]).mean()))
        fits.append(t1 - t0)
        preds.append(t2 - t1)
        print(
            f"  {model_name} test load {load}: acc {accs[-1]:.4f} fit {fits[-1]:.1f}s predict {preds[-1]:.2f}s",
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
    ap.add_argument("--data", type=Path, default=default_dir / "cwru")
    ap.add_argument("--models", default="rf,svm,hist_gb,minirocket")
    ap.add_argument(
        "--normalise",
        choices=["none", "zscore"],
        default="none",
        help="per-window z-score before every model",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    ws = cwru_windows(args.data)
    if args.normalise == "zscore":
        mu = ws.X.mean(-1, keepdims=True)
        ws.X = (ws.X - mu) / ws.X.std(-1, keepdims=True)
    print(
        f"{len(ws)} windows, {len(ws.classes['class'])} classes, loaded in {time.perf_counter() - t0:.1f}s"
    )
    print(f"cpu count {os.cpu_count()} (timings are pessimistic when other jobs share the CPUs)")
    results = []
    for name in args.models.split(","):
        results.append(lolo(name, ws))
    print()
    print(f"{'model':<12} {'accuracy':>16} {'fit s/fold':>11} {'predict s/fold':>15}")
    for r in results:
        print(
            f"{r['model']:<12} {100 * r['acc_mean']:7.2f} +- {100 * r['acc_std']:5.2f} % {r['fit_s']:11.1f} {r['predict_s']:15.2f}"
        )


if __name__ == "__main__":
    main()

"""Datasets larger than memory: a >= 8 GB synthetic window store, trained and featurised with
bounded memory, and the store's speed against the in-memory path on CWRU.

Steps (each measurement in a fresh process, so its peak RSS is its own):

1. ``generate``: a synthetic store of ``--size-gb`` GB, written recording by recording (the
   physics-based generator's recordings, each copy with fresh noise), never in memory.
2. ``train``: ``faultlab train`` on ``data: {dataset: store}``: cnn1d, one epoch over the
   training recordings (90 %), then test prediction streamed from the store; peak RSS from
   the run's metrics.json.
3. ``features``: the hand-crafted feature extractor over every window of the store.
4. ``cwru``: cnn1d training windows/s on CWRU (leave-one-load-out, fold 3), in memory and
   from a store, alternated ``--repeats`` times (best of each; the machine is shared).

The store is deleted at the end unless ``--keep``.

    FAULTLAB_DATA_DIR=../shared/data python benchmarks/out_of_core.py --size-gb 8
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from faultlab.data.store import StoreWriter, open_store  # noqa: E402
from faultlab.data.synthetic import generate, parse_config  # noqa: E402
from faultlab.data.windowing import window_array  # noqa: E402
from faultlab.training.fit import fit_model  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cmd_generate(args: argparse.Namespace) -> dict:
    """Copies of the generator's recordings with fresh noise until the store has size-gb."""
    cfg = parse_config({"duration_s": 20.0, "snr_db": 6.0, "seed": 0})
    base = generate(cfg)  # 40 recordings of 20 s (normal + 3 locations x 3 sizes, 4 loads)
    writer = StoreWriter(
        args.store,
        ["DE"],
        args.window,
        cfg.sampling_rate,
        notes=["synthetic out-of-core benchmark: generator recordings + fresh noise"],
    )
    target = int(args.size_gb * 1e9)
    rng = np.random.default_rng(0)
    t0, copy = time.perf_counter(), 0
    from faultlab.data.windowing import meta_table

    metas = meta_table(base).to_dict("records")
    while writer.n * args.window * 4 < target:
        for rec, meta in zip(base, metas):
            noise = rng.standard_normal(rec.signal.shape, dtype=np.float32)
            sig = rec.signal + np.float32(0.3 * rec.signal.std()) * noise
            X = window_array(sig, args.window, args.window)
            rid = f"{rec.recording_id}-c{copy}"
            writer.add(rid, X, {**meta, "recording_id": rid, "copy": copy})
            if writer.n * args.window * 4 >= target:
                break
        copy += 1
    writer.close()
    size = (Path(args.store) / "windows.f32").stat().st_size
    return {
        "step": "generate",
        "bytes": size,
        "gb": size / 1e9,
        "windows": writer.n,
        "recordings": len(writer._rows),
        "seconds": time.perf_counter() - t0,
        "peak_rss_mb": peak_rss_mb(),
    }


def cmd_train(args: argparse.Namespace) -> dict:
    import yaml

    out = Path(args.work) / "train"
    cfg = {
        "name": "out-of-core",
        "data": {"dataset": "store", "store": {"path": str(args.store)}},
        "split": {"kind": "recording", "test_fraction": 0.02, "val": {"strategy": "none"}},
        "model": {"name": "cnn1d"},
        "training": {
            "epochs": 1,
            "batch_size": 256,
            "num_threads": args.threads,
            "progress": False,
            "schedule": "none",
            "patience": None,
            "time_budget_s": args.train_budget,
        },
    }
    path = Path(args.work) / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "faultlab", "train", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    if res.returncode != 0:
        raise SystemExit(res.stdout[-3000:] + res.stderr[-3000:])
    (metrics_path,) = list(out.rglob("metrics.json"))
    m = json.loads(metrics_path.read_text())
    n_train = m["data"]["n_windows"]["train"]
    partial = m["training"]["stopped_reason"] == "time_budget"
    return {
        "step": "train cnn1d 1 epoch + streamed test prediction",
        "seconds": time.perf_counter() - t0,
        "train_windows": n_train,
        "test_windows": m["data"]["n_windows"]["test"],
        "train_seconds": m["training"]["train_seconds"],
        "stopped": m["training"]["stopped_reason"],
        "notes": m["training"]["notes"],
        "windows_per_s": None if partial else n_train / m["training"]["train_seconds"],
        "test_accuracy": m["primary"]["accuracy"],
        "peak_rss_mb": m["resources"]["peak_rss_mb"],
    }


def cmd_features(args: argparse.Namespace) -> dict:
    from faultlab.features.extract import FeatureExtractor

    ws = open_store(args.store)
    fx = FeatureExtractor(sampling_rate=ws.sampling_rate)
    t0 = time.perf_counter()
    F = fx.fit(ws.X).transform(ws.X)
    dt = time.perf_counter() - t0
    return {
        "step": "features over every window",
        "windows": len(ws),
        "features": F.shape[1],
        "features_mb": F.nbytes / 2**20,
        "seconds": dt,
        "windows_per_s": len(ws) / dt,
        "finite": bool(np.isfinite(F).all()),
        "peak_rss_mb": peak_rss_mb(),
    }


def cmd_cwru_once(args: argparse.Namespace) -> dict:
    """One cnn1d training on CWRU fold 3, windows in memory or from a store."""
    import torch

    from faultlab.data.build import build_windows, for_target
    from faultlab.data.config import DataConfig, SplitConfig
    from faultlab.data.splits import make_splits
    from faultlab.models.base import build_model
    from faultlab.training.config import TrainConfig

    torch.set_num_threads(args.threads)
    store = {"store": {"path": str(Path(args.work) / "cwru-store")}} if args.mode == "store" else {}
    ws = for_target(build_windows(DataConfig(**store)), "flat")
    split = make_splits(ws, SplitConfig(kind="leave_one_out", folds=[3]))[0]
    train = ws.subset(split.train)
    training = TrainConfig(
        epochs=args.epochs, batch_size=64, num_threads=args.threads, progress=False, patience=None
    )
    model = build_model(
        "cnn1d",
        classes=ws.classes,
        input_shape=(ws.n_channels, ws.window_length),
        params={},
        training=training,
    )
    fit = fit_model(model, train, None, None)
    seconds = sum(r["seconds"] for r in fit.history)
    return {
        "mode": args.mode,
        "train_windows": len(train),
        "epochs": fit.epochs,
        "windows_per_s": len(train) * fit.epochs / seconds,
        "data_seconds": sum(r["data_seconds"] for r in fit.history),
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


def sub(args: argparse.Namespace, step: str, *extra: str) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--step",
        step,
        "--store",
        str(args.store),
        "--work",
        str(args.work),
        "--threads",
        str(args.threads),
        "--epochs",
        str(args.epochs),
        "--window",
        str(args.window),
        "--size-gb",
        str(args.size_gb),
        *extra,
    ]
    if args.train_budget:
        cmd += ["--train-budget", str(args.train_budget)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-gb", type=float, default=8.0)
    ap.add_argument("--window", type=int, default=1024)
    ap.add_argument("--work", type=Path, default=Path("/tmp/faultlab-out-of-core"))
    ap.add_argument("--store", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=2, help="cwru comparison epochs")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--train-budget",
        type=float,
        default=None,
        help="cap the cnn1d epoch at this many seconds (a shared, slow machine)",
    )
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--only", default="generate,train,features,cwru")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.store = args.store or args.work / "store"
    if args.step:  # a child process: one measurement, JSON on the last line
        fn = {
            "generate": cmd_generate,
            "train": cmd_train,
            "features": cmd_features,
            "cwru": cmd_cwru_once,
        }[args.step]
        print(json.dumps(fn(args)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    steps = args.only.split(",")
    results = []
    try:
        for step in ("generate", "train", "features"):
            if step in steps:
                results.append(sub(args, step))
        if "cwru" in steps:
            best: dict[str, dict] = {}
            for _ in range(args.repeats):
                for mode in ("memory", "store"):
                    r = sub(args, "cwru", "--mode", mode)
                    if mode not in best or r["windows_per_s"] > best[mode]["windows_per_s"]:
                        best[mode] = r
            ratio = best["store"]["windows_per_s"] / best["memory"]["windows_per_s"]
            results.append(
                {
                    "step": "cwru cnn1d windows/s (best of repeats)",
                    "memory": round(best["memory"]["windows_per_s"], 1),
                    "store": round(best["store"]["windows_per_s"], 1),
                    "store_over_memory": round(ratio, 3),
                }
            )
            print(json.dumps(results[-1]), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    print("\nsummary:")
    for r in results:
        print(" ", json.dumps(r))


if __name__ == "__main__":
    main()

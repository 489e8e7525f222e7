"""Throughput of the training-batch augmentations (windows per second, CPU, one thread).

Each op runs on a whole ``[batch, 1, window]`` batch at once; this prints what each costs
so a user can see augmentation will not be the bottleneck of an epoch.

    PYTHONPATH=src python benchmarks/augment_speed.py [--batch 64] [--window 1024] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from faultlab.training.augment import Augmenter
from faultlab.training.config import AugmentConfig

CONFIGS = {
    "shift": AugmentConfig(shift=True, p=1.0),
    "speed_jitter": AugmentConfig(speed_jitter=0.1, p=1.0),
    "amplitude": AugmentConfig(amplitude=(0.8, 1.25), p=1.0),
    "noise": AugmentConfig(noise_snr_db=(10, 40), p=1.0),
    "bandpass": AugmentConfig(bandpass={"low": (0, 0.1), "high": (0.5, 1.0)}, p=1.0),
    "all (p=0.5)": AugmentConfig(
        speed_jitter=0.1,
        amplitude=(0.8, 1.25),
        noise_snr_db=(10, 40),
        shift=True,
        bandpass={"low": (0, 0.1), "high": (0.5, 1.0)},
        p=0.5,
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--window", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=1.0, help="time per op")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.randn(args.batch, 1, args.window)
    print(f"batch {args.batch} x 1 x {args.window}, {args.threads} thread(s)")
    for name, cfg in CONFIGS.items():
        aug = Augmenter(cfg, torch.Generator().manual_seed(0))
        aug(x)  # warm-up
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            aug(x)
            n += 1
        dt = (time.perf_counter() - t0) / n
        print(f"  {name:<14} {dt * 1e3:8.3f} ms/batch  {args.batch / dt:12,.0f} windows/s")


if __name__ == "__main__":
    main()

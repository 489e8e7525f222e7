"""Throughput of the order-domain envelope front end on 1024-sample windows (target >= 20,000/s).

    PYTHONPATH=src .venv/bin/python benchmarks/frontend_speed.py [--n 20000] [--repeat 3]

Prints windows per second by wall clock and by this process's CPU time (on a machine
shared with other jobs the CPU figure is the one that says what the code costs), for the
default front end (cepstral pre-whitening, defect axis) and its variants.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from faultlab.features.order_envelope import OrderEnvelopeConfig, order_envelope
from faultlab.signals.geometry import orders_table


def measure(X, rpm, fo, cfg, repeat):
    order_envelope(X[:256], 12000.0, rpm[:256] / 60, fo[:256], cfg)  # warm-up
    best_wall, best_cpu = np.inf, np.inf
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        order_envelope(X, 12000.0, rpm / 60, fo, cfg)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return len(X) / best_wall, len(X) / best_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, 1, args.length)).astype(np.float32)
    # 40 recordings of 500 windows at CWRU-like speeds (speed is per recording)
    rpm = np.repeat(rng.uniform(1720, 1800, args.n // 500 + 1), 500)[: args.n]
    fo = orders_table(np.full((args.n, 1), "6205"))
    variants = {
        "default (cpw, defect axis)": OrderEnvelopeConfig(),
        "cpw, order axis 0-20 x 0.05": OrderEnvelopeConfig(axis="order"),
        "cpw, defect axis, no zero-padding": OrderEnvelopeConfig(zero_pad=1),
        "fixed band 2-5.5 kHz, defect axis": OrderEnvelopeConfig(band=(2000.0, 5500.0)),
        "kurtogram (3 levels), defect axis": OrderEnvelopeConfig(band="kurtogram"),
        "envelope/linenet: cpw, defect axis + periodicity 3": OrderEnvelopeConfig(periodicity=3),
    }
    print(f"{args.n} windows of {args.length} samples, 1 channel, 12 kHz, best of {args.repeat}")
    for name, cfg in variants.items():
        wall, cpu = measure(X, rpm, fo, cfg, args.repeat)
        print(f"  {name:38s} {wall:10,.0f} windows/s (wall)  {cpu:10,.0f} windows/s (CPU)")


if __name__ == "__main__":
    main()

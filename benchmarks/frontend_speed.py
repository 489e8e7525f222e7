"""Throughput of the order-domain envelope front end on 1024-sample windows (target >= 20,000/s).

    PYTHONPATH=src .venv/bin/python benchmarks/frontend_speed.py [--n 20000] [--repeat 3]
        [--variants shipped|all|NAME,NAME] [--threads 1,2]

Prints windows per second by wall clock and by this process's CPU time (on a machine
shared with other jobs the CPU figure is the one that says what the code costs), for every
front end a shipped model asks for (``--variants shipped``, the default) or also the other
options (``all``), with 1 and with 2 threads (``scipy.fft.set_workers``; the front end
splits its blocks of windows over that many threads).

Measured 2026-12-01 on the shared 2-core machine, 20,000 windows, best of 3, under
``flock /tmp/faultlab-timing.lock``, before (c162f90) and after back to back (load average
1.3-2.0); windows/s wall, 1 thread / 2 threads, and CPU time with 1 thread:

    variant           before 1 thr / 2 thr / CPU    after 1 thr / 2 thr / CPU
    default            16,981 / 18,653 / 17,644     24,080 / 22,202 / 24,120
    periodicity3        8,106 /  8,201 /  9,334     13,650 / 22,013 / 13,677
    periodicity3-log    8,469 /  9,347 /  9,724     17,289 / 25,254 / 17,296
    contrast            2,555 /  2,805 /  2,632      9,762 /  9,935 /  9,805
    contrast-linear     2,596 /  2,876 /  2,639      8,717 /  8,954 /  8,839

The same machine's speed moves by +-25 % from minute to minute (other jobs; a second run
of "after" gave 29,413 / 16,031 / 11,657 wall for default / periodicity3 / contrast, and
2 threads up to 34,562 / 22,849 / 16,880); the ratio measured interleaved in one process
(old, new, old, new; CPU time, 8,000 windows) is the steadier figure: default x1.51,
periodicity3 x1.48, periodicity3-log x1.44, contrast x4.37, contrast-linear x4.43.
Outputs are bit-identical to c162f90 on every variant here (12 and 48 kHz, one and two
channels); tests/test_frontend_reference.py checks the front end against a plain
one-window-at-a-time reference (within 1e-5 of each output column's scale).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.fft

from faultlab.features.order_envelope import OrderEnvelopeConfig, order_envelope
from faultlab.models.envelope import DEFAULT_FRONTEND
from faultlab.signals.geometry import orders_table

#: what ``envelope`` reads (its default front end, without the ``kind`` key)
ENVELOPE = {k: v for k, v in DEFAULT_FRONTEND.items() if k != "kind"}
CONTRAST = {"contrast": True, "harmonics": 1, "half_width": 0.0}

#: name -> (front-end options, which shipped models ask for it)
SHIPPED: dict[str, tuple[dict, str]] = {
    "default": ({}, "rf/cnn1d-order-env (cwru-held-out-size, cwru-to-mfpt)"),
    "periodicity3": (ENVELOPE, "envelope (scale linear)"),
    "periodicity3-log": ({**ENVELOPE, "scale": "log"}, "linenet, linenet-bias"),
    "contrast": (CONTRAST, "linenet-contrast*, ensemble-contrast* members"),
    "contrast-linear": (
        {**CONTRAST, "scale": "linear", "periodicity": 0},
        "envelope-contrast (its default front end)",
    ),
}
EXTRA: dict[str, tuple[dict, str]] = {
    "order-axis": ({"axis": "order"}, "cpw, order axis 0-20 x 0.05"),
    "no-zero-pad": ({"zero_pad": 1}, "cpw, defect axis, no zero-padding"),
    "fixed-band": ({"band": (2000.0, 5500.0)}, "fixed band 2-5.5 kHz, defect axis"),
    "kurtogram": ({"band": "kurtogram"}, "kurtogram (3 levels), defect axis"),
    "contrast+periodicity3": ({**CONTRAST, "periodicity": 3}, "both blocks"),
}


def measure(X, rpm, fo, cfg, repeat, threads):
    """Best-of-``repeat`` (wall, CPU) windows/s of the front end with ``threads`` workers."""
    with scipy.fft.set_workers(threads):
        order_envelope(X[:256], 12000.0, rpm[:256] / 60, fo[:256], cfg)  # warm-up
        best_wall, best_cpu = np.inf, np.inf
        for _ in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            order_envelope(X, 12000.0, rpm / 60, fo, cfg)
            best_wall = min(best_wall, time.perf_counter() - w0)
            best_cpu = min(best_cpu, time.process_time() - c0)
    return len(X) / best_wall, len(X) / best_cpu


def pick(spec: str) -> dict[str, tuple[dict, str]]:
    table = {**SHIPPED, **EXTRA}
    if spec == "shipped":
        return SHIPPED
    if spec == "all":
        return table
    names = [s.strip() for s in spec.split(",") if s.strip()]
    bad = [s for s in names if s not in table]
    if bad:
        raise SystemExit(f"error: --variants {bad}: choose from {list(table)}, shipped, all")
    return {s: table[s] for s in names}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variants", default="shipped", help="shipped | all | NAME,NAME")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    args = ap.parse_args()
    variants = pick(args.variants)
    threads = [int(t) for t in args.threads.split(",")]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, 1, args.length)).astype(np.float32)
    # 40 recordings of 500 windows at CWRU-like speeds (speed is per recording)
    rpm = np.repeat(rng.uniform(1720, 1800, args.n // 500 + 1), 500)[: args.n]
    fo = orders_table(np.full((args.n, 1), "6205"))
    print(f"{args.n} windows of {args.length} samples, 1 channel, 12 kHz, best of {args.repeat}")
    print(f"{'variant':22s} {'thr':>3s} {'wall/s':>10s} {'CPU/s':>10s}  used by")
    for name, (options, used_by) in variants.items():
        cfg = OrderEnvelopeConfig.model_validate(options)
        for t in threads:
            wall, cpu = measure(X, rpm, fo, cfg, args.repeat, t)
            print(f"{name:22s} {t:3d} {wall:10,.0f} {cpu:10,.0f}  {used_by}", flush=True)


if __name__ == "__main__":
    main()

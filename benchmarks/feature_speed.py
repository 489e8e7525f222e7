"""Feature-extraction throughput: windows per second per feature group.

Target: >= 20,000 windows/s for 1024-sample single-channel windows with the time + spectral
groups (the envelope group is reported separately). Uses random windows (the cost does not
depend on the values) and the best of ``--repeats`` runs, since the machine may be shared.

    PYTHONPATH=src python benchmarks/feature_speed.py [--n 20000] [--length 1024]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from faultlab.features import FeatureExtractor

CASES = {
    "time": {"groups": ("time",)},
    "spectral": {"groups": ("spectral",)},
    "time+spectral": {"groups": ("time", "spectral")},
    "envelope": {"groups": ("envelope",)},
    "envelope (nfft 4096)": {"groups": ("envelope",), "envelope_nfft": 4096},
    "time+spectral+envelope": {"groups": ("time", "spectral", "envelope")},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.channels, args.length)).astype(np.float32)
    print(
        f"{args.n} windows x {args.channels} ch x {args.length} samples, cpu count {os.cpu_count()}"
    )
    print(f"{'groups':<26} {'features':>8} {'windows/s':>12}")
    for label, kw in CASES.items():
        fx = FeatureExtractor(sampling_rate=12000.0, rpm=1797.0, **kw)
        fx.transform(X[:256])  # warm-up (FFT plans)
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            F = fx.transform(X)
            best = min(best, time.perf_counter() - t0)
        print(f"{label:<26} {F.shape[1]:>8} {args.n / best:>12,.0f}")


if __name__ == "__main__":
    main()

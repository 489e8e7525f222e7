"""Data-layer figures: time to load + resample + window 97.mat, and the LOLO fold table.

Run: FAULTLAB_DATA_DIR=../shared/data python benchmarks/data_speed.py
"""

from __future__ import annotations

import time

import numpy as np

from faultlab.data.build import build_windows
from faultlab.data.config import DataConfig, SplitConfig
from faultlab.data.datasets.cwru import read_cwru
from faultlab.data.resample import resample
from faultlab.data.splits import check_no_leakage, describe_split, make_splits
from faultlab.data.windowing import make_windows


def main() -> None:
    t0 = time.perf_counter()
    rec = read_cwru(97)
    t1 = time.perf_counter()
    rec12 = resample(rec, 12_000)
    t2 = time.perf_counter()
    ws = make_windows([rec12], 1024, 1024)
    t3 = time.perf_counter()
    print(
        f"97.mat: {rec.n_samples} samples at {rec.sampling_rate:g} Hz -> "
        f"{rec12.n_samples} at 12 kHz -> {len(ws)} windows of 1024"
    )
    print(
        f"  load {t1 - t0:.3f} s + resample {t2 - t1:.3f} s + window {t3 - t2:.3f} s "
        f"= {t3 - t0:.3f} s (target < 3 s)"
    )

    t0 = time.perf_counter()
    cwru = build_windows(DataConfig())
    print(f"all 37 shared files -> {cwru.X.shape} float32 in {time.perf_counter() - t0:.2f} s")
    for fold in make_splits(cwru, SplitConfig(kind="leave_one_out", column="load_hp")):
        check_no_leakage(fold, cwru)
        print(describe_split(fold, cwru).splitlines()[0] + "  leakage check: passed")
        for line in describe_split(fold, cwru).splitlines()[1:4]:
            print(line)
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            make_splits(cwru, SplitConfig(kind="random_window", disjoint=True))
    except Exception as exc:  # LeakageError expected
        print(f"leaky split asked to be recording-disjoint -> {type(exc).__name__}: {exc}")
    print("class counts:", cwru.class_counts("class"), "total", int(np.sum(len(cwru))))


if __name__ == "__main__":
    main()

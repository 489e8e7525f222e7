"""Inference speed and memory: what a deployment pays per prediction.

Latency is timed through the model's public ``predict_proba`` (what a user calls), at batch 1
(one window arrives, one answer is needed) and batched (offline scoring), as the median over
repeats after a warm-up, within a total time cap so a slow model cannot stall a benchmark.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from typing import Any

import numpy as np

from faultlab.models.base import FaultModel


def _time_calls(fn, repeats: int, warmup: int, budget: float, min_repeats: int = 5) -> list[float]:
    """Seconds per call: ``warmup`` untimed calls (at most 30 % of ``budget``), then up to
    ``repeats`` timed calls; stops once ``budget`` is spent and ``min_repeats`` are done, or
    at twice the budget whatever the count (one very slow model must not stall a benchmark)."""
    start = time.perf_counter()
    for _ in range(warmup):
        fn()
        if time.perf_counter() - start > 0.3 * budget:
            break
    times: list[float] = []
    while len(times) < max(1, repeats):
        t0 = time.perf_counter()
        fn()
        now = time.perf_counter()
        times.append(now - t0)
        spent = now - start
        if (spent > budget and len(times) >= min(min_repeats, repeats)) or spent > 2 * budget:
            break
    return times


#: Timed calls per mode when the caller gives none; the environment variable overrides it.
DEFAULT_REPEATS = 20
SPEED_REPEATS_ENV = "FAULTLAB_SPEED_REPEATS"


def _threads() -> int | None:
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None


def measure_inference(
    model: FaultModel,
    X: np.ndarray,
    batch_size: int = 256,
    repeats: int | None = None,
    warmup: int | None = None,
    max_seconds: float = 10.0,
) -> dict[str, Any]:
    """Per-window latency at batch 1 and at ``batch_size`` (median and p90), and throughput.

    ``X`` is a sample of real windows; if it has fewer than ``batch_size`` rows the batch is
    made of repeats of them. ``max_seconds`` bounds the total time (half for each mode; at
    least 5 timed calls per mode unless one mode takes twice its half). Median and p90 resist
    the stray slow call of a busy machine. ``repeats`` defaults to 20 (or
    ``$FAULTLAB_SPEED_REPEATS``: fewer where the figures are not the point, e.g. the tests),
    ``warmup`` to 3 (at most ``repeats``).
    """
    if repeats is None:
        repeats = int(os.environ.get(SPEED_REPEATS_ENV) or DEFAULT_REPEATS)
    if warmup is None:
        warmup = min(3, repeats)
    batch_size = max(1, int(batch_size))
    # only the first batch is used: slicing first keeps a large (on-disk) X where it is
    X = np.asarray(X[:batch_size], dtype=np.float32)
    if len(X) == 0:
        raise ValueError("measure_inference needs at least one window")
    one = X[:1]
    reps = int(np.ceil(batch_size / len(X)))
    batch = np.concatenate([X] * reps)[:batch_size] if reps > 1 else X[:batch_size]

    start = time.perf_counter()
    t1 = np.asarray(_time_calls(lambda: model.predict_proba(one), repeats, warmup, max_seconds / 2))
    tb = np.asarray(
        _time_calls(lambda: model.predict_proba(batch), repeats, warmup, max_seconds / 2)
    )
    per_window_b = tb / len(batch)
    med_b = float(np.median(tb))
    return {
        "latency_ms_batch1": float(np.median(t1) * 1e3),
        "latency_ms_batch1_p90": float(np.percentile(t1, 90) * 1e3),
        "latency_ms_batched": float(np.median(per_window_b) * 1e3),
        "latency_ms_batched_p90": float(np.percentile(per_window_b, 90) * 1e3),
        "batch_ms": med_b * 1e3,
        "batch_size": int(len(batch)),
        "throughput_windows_s": float(len(batch) / med_b) if med_b > 0 else None,
        "throughput_batch1_windows_s": float(1.0 / np.median(t1)) if np.median(t1) > 0 else None,
        "repeats_batch1": int(len(t1)),
        "repeats_batched": int(len(tb)),
        "warmup": int(warmup),
        "threads": _threads(),
        "seconds": float(time.perf_counter() - start),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024)

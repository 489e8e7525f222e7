"""Batches run as chunks on single-threaded streams: the deep-model inference path.

Shared by the ONNX Runtime and OpenVINO backends (:mod:`faultlab.serving.predict`,
:mod:`faultlab.serving.ov_backend`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

#: Windows per graph call in the chunked deep-model path: one chunk's activations (about
#: 4 KiB per layer per window for cnn1d) stay in a core's L2. Measured with
#: ``benchmarks/inference_latency.py --chunks`` (cnn1d, one thread, CPU time per window):
#: chunks of 64-192 windows cost ~0.8x what batches of 1,024 do and ~0.7x batches of 8,192.
CHUNK = 128
#: Smallest share of a batch worth a stream of its own (below it, one call in the caller).
MIN_CHUNK = 16


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Streams:
    """Run ``fn`` over a batch as chunks of at most ``chunk`` windows on ``streams`` threads.

    Each stream is one thread calling a single-threaded graph on its own contiguous share
    of the batch, chunk after chunk: no synchronisation inside a call (ONNX Runtime's
    intra-op threads meet at every node) and each chunk stays in cache. A batch smaller than
    two chunks of ``MIN_CHUNK`` runs in the caller's thread, so batch-1 latency is one call.
    """

    def __init__(self, fn: Callable[[np.ndarray], list[np.ndarray]], streams: int, chunk: int):
        self.fn, self.streams, self.chunk = fn, max(1, int(streams)), max(1, int(chunk))
        self._pool = None
        if self.streams > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.streams - 1, thread_name_prefix="faultlab-infer")

    def _serial(self, X: np.ndarray) -> list[np.ndarray]:
        parts = [self.fn(X[i : i + self.chunk]) for i in range(0, len(X), self.chunk)]
        if len(parts) == 1:
            return parts[0]
        return [np.concatenate(outs) for outs in zip(*parts)]

    def __call__(self, X: np.ndarray) -> list[np.ndarray]:
        n = len(X)
        pool = self._pool
        k = min(self.streams, n // MIN_CHUNK) if pool is not None else 1
        if pool is None or k <= 1:
            return self._serial(X)
        bounds = np.linspace(0, n, k + 1).astype(int)
        futures = [pool.submit(self._serial, X[a:b]) for a, b in zip(bounds[1:-1], bounds[2:])]
        first = self._serial(X[: bounds[1]])  # the caller is a stream too
        parts = [first, *(f.result() for f in futures)]
        return [np.concatenate(outs) for outs in zip(*parts)]

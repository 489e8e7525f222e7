"""Medians of a few values per row, many rows at once, by a pruned sorting network.

``np.median(A, axis=-1)`` over rows of 8-16 values spends most of its time on per-row
overhead (one selection per row). A sorting network (Batcher's odd-even merge sort) runs
each compare-exchange as one ``np.minimum`` / ``np.maximum`` over ALL rows, so the cost is
a few dozen vector operations whatever the number of rows. Only the comparators that feed
the middle wire(s) are kept. The result is exactly ``np.median`` (min/max are exact; the
mean of the two middle values of an even count is ``(a + b) * 0.5``, as numpy computes it).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np


@functools.lru_cache(maxsize=32)
def sorting_network(n: int) -> tuple[tuple[int, int], ...]:
    """Comparators ``(i, j)``, ``i < j``, of Batcher's odd-even merge sort of ``n`` values
    (built for the next power of two; comparators touching the padding are dropped, which
    is exact: padding values are +inf and never move)."""
    p = 1
    while p < n:
        p *= 2
    comps: list[tuple[int, int]] = []
    size = 1
    while size < p:
        k = size
        while k >= 1:
            j = k % size
            while j + k < p:
                for i in range(min(k, p - j - k)):
                    if (i + j) // (2 * size) == (i + j + k) // (2 * size):
                        comps.append((i + j, i + j + k))
                j += 2 * k
            k //= 2
        size *= 2
    return tuple((a, b) for a, b in comps if b < n)


@functools.lru_cache(maxsize=32)
def selection_network(n: int, wanted: tuple[int, ...]) -> tuple[tuple[int, int, bool, bool], ...]:
    """The comparators of :func:`sorting_network` that the ranks ``wanted`` depend on, as
    ``(i, j, min_needed, max_needed)``."""
    need = set(wanted)
    kept = []
    for a, b in reversed(sorting_network(n)):
        if a in need or b in need:
            kept.append((a, b, a in need, b in need))
            need |= {a, b}
    return tuple(reversed(kept))


def median_of(wires: Sequence[np.ndarray]) -> np.ndarray:
    """Elementwise median of equally shaped arrays ``wires`` (their values are clobbered:
    pass arrays the caller owns). ``np.median(np.stack(wires), axis=0)``, many times faster
    for a handful of wires over many elements."""
    w = list(wires)
    n = len(w)
    if n == 0:
        raise ValueError("median_of: no values")
    lo, hi = (n - 1) // 2, n // 2  # the middle wire(s): equal for an odd count
    mid = (lo, hi) if lo != hi else (lo,)
    spare = np.empty_like(w[0])
    for a, b, need_min, need_max in selection_network(n, mid):
        if need_min and need_max:
            np.minimum(w[a], w[b], out=spare)
            np.maximum(w[a], w[b], out=w[b])
            w[a], spare = spare, w[a]
        elif need_min:
            np.minimum(w[a], w[b], out=w[a])
        else:
            np.maximum(w[a], w[b], out=w[b])
    if n % 2:
        return w[lo]
    out = w[lo] + w[hi]
    out *= out.dtype.type(0.5)
    return out


def median_last(A: np.ndarray) -> np.ndarray:
    """``np.median(A, axis=-1)`` (the same numbers) by one sort per row: numpy's SIMD sort
    of a few hundred values is several times faster than its per-row selection."""
    n = A.shape[-1]
    if n == 0:
        raise ValueError("median_last: no values")
    s = np.sort(A, axis=-1)
    if n % 2:
        med = s[..., n // 2].copy()
    else:
        med = s[..., n // 2 - 1] + s[..., n // 2]
        med *= med.dtype.type(0.5)
    nan = np.isnan(s[..., -1])  # NaN sorts last; np.median then answers NaN
    if nan.any():
        med[nan] = np.nan
    return med

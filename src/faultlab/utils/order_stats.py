"""Medians of a few values per window, many windows at once, by a pruned sorting network.

``np.median(A, axis=-1)`` over rows of 8-16 values spends most of its time on per-row
overhead (one selection per row). A sorting network (Batcher's odd-even merge sort) runs
each compare-exchange over every window at once; only the comparators that feed the middle
wire(s) are kept (:func:`selection_network`). The contrast kernel
(:mod:`faultlab.features.contrast_kernel`) runs that network; the result is exactly
``np.median`` (min/max are exact; the mean of the two middle values of an even count is
``(a + b) * 0.5``, as numpy computes it). :func:`median_last`: the same numbers for rows of
a few hundred values, by one sort per row.
"""

from __future__ import annotations

import functools

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

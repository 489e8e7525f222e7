"""Spectra on a fixed **order axis** (multiples of shaft speed), and the bearing-normalised
**defect axis** (around k x each defect order), so the representation does not depend on
speed, sampling rate, window length or, on the defect axis, the bearing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


def order_grid(max_order: float, resolution: float, min_order: float | None = None) -> np.ndarray:
    """Orders ``min_order, min_order + resolution, ... <= max_order`` (default start: one step)."""
    start = resolution if min_order is None else min_order
    return np.arange(start, max_order + resolution / 2, resolution, dtype=np.float64)


def groups_of(key: np.ndarray) -> list[tuple[np.ndarray | slice, int]]:
    """Rows sharing one value of ``key [n, k]`` (e.g. a recording's speed and bearing).

    Returns ``(rows, first_row)`` per distinct key; a single group is ``slice(None)`` and a
    run of consecutive rows a ``slice`` (views, no copies).
    """
    key = np.asarray(key, dtype=np.float64).reshape(len(key), -1)
    if len(key) == 0:
        return []
    uniq, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    if len(uniq) == 1:
        return [(slice(None), int(first[0]))]
    order = np.argsort(inverse.ravel(), kind="stable")
    bounds = np.cumsum(np.bincount(inverse.ravel(), minlength=len(uniq)))[:-1]
    return [(_as_slice(rows), int(f)) for rows, f in zip(np.split(order, bounds), first)]


def _as_slice(rows: np.ndarray) -> np.ndarray | slice:
    """Consecutive sorted rows (a recording's windows, as usual) as a slice: views, no copies."""
    if rows[-1] - rows[0] + 1 == len(rows):
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


class Lerp(NamedTuple):
    """Where to read a spectrum by linear interpolation: left bins, weights, out of range."""

    i0: np.ndarray  # [K] int64 left bin
    i1: np.ndarray  # [K] int64 right bin (i0 + 1)
    frac: np.ndarray  # [K] float32 weight of the right bin
    outside: np.ndarray | None  # [K] bool: past the last bin, reads 0 (None: none is)


def lerp_plan(pos: np.ndarray, n_bins: int) -> Lerp:
    """The :class:`Lerp` of fractional bin positions ``pos [K]`` in a spectrum of ``n_bins``."""
    pos = np.asarray(pos, dtype=np.float64)
    outside = pos > n_bins - 1
    pos = np.clip(pos, 0, n_bins - 1.001)
    i0 = pos.astype(np.int64)
    frac = (pos - i0).astype(np.float32)
    return Lerp(i0, i0 + 1, frac, outside if outside.any() else None)


def lerp(spec: np.ndarray, plan: Lerp) -> np.ndarray:
    """``spec [m, bins]`` read at ``plan`` -> ``[m, K]`` float32 (``a + frac * (b - a)``)."""
    a = np.take(spec, plan.i0, axis=-1)
    b = np.take(spec, plan.i1, axis=-1)
    b -= a
    b *= plan.frac
    b += a
    if plan.outside is not None:
        b[:, plan.outside] = 0.0
    return b


def sample_spectrum(
    spec: np.ndarray, sampling_rate: float, nfft: int, shaft_hz: float, orders: np.ndarray
) -> np.ndarray:
    """Linear interpolation of ``spec [n, C, bins]`` at ``orders`` x ``shaft_hz``.

    One speed and one set of orders (``[K]``, or ``[C, K]``: each channel its own bearing)
    for every window passed: callers group windows by recording with :func:`groups_of`, so
    each step is one contiguous gather over many windows. Orders above Nyquist read 0.
    """
    n, C, n_bins = spec.shape
    orders = np.broadcast_to(np.asarray(orders, dtype=np.float64), (C, np.shape(orders)[-1]))
    pos = orders * (float(shaft_hz) * nfft / sampling_rate)  # [C, K]
    out = np.empty((n, C, orders.shape[-1]), dtype=np.float32)
    for c in range(C):  # np.take on one axis is several times faster than fancy indexing
        out[:, c] = lerp(spec[:, c], lerp_plan(pos[c], n_bins))
    return out


def defect_axis(
    family_orders: np.ndarray,
    families: Sequence[str],
    harmonics: int,
    offsets: np.ndarray,
) -> tuple[np.ndarray, list[str]]:
    """Absolute orders ``[..., F * harmonics * len(offsets)]`` around ``k x`` each family.

    ``family_orders [..., F]`` holds each window's (and channel's) defect orders; ``offsets``
    are in orders (shaft-rate sidebands of BPFI sit at +-1, FTF sidebands of BSF at +-FTF).
    """
    grid = defect_grid(family_orders, harmonics, offsets)
    return grid, defect_axis_names(families, harmonics, offsets)


def defect_grid(family_orders: np.ndarray, harmonics: int, offsets: np.ndarray) -> np.ndarray:
    """The orders of :func:`defect_axis` (without their names)."""
    k = np.arange(1, harmonics + 1, dtype=np.float64)
    centres = np.asarray(family_orders)[..., :, None] * k  # [..., F, H]
    grid = centres[..., None] + np.asarray(offsets, np.float64)  # [..., F, H, O]
    return grid.reshape(grid.shape[:-3] + (-1,))


def defect_axis_names(families: Sequence[str], harmonics: int, offsets: np.ndarray) -> list[str]:
    """Column names of :func:`defect_axis` (``BPFO2+0.40``: family, harmonic, offset)."""
    return [f"{f}{h}{o:+.2f}" for f in families for h in range(1, harmonics + 1) for o in offsets]

"""Defect evidence contrasted against decoy orders: a per-window, per-bearing "how unusual".

How far a BPFI line stands above its local floor (or how high the envelope autocorrelation
peaks at the BPFI period) depends on the bearing: a 0.014 in inner-race spot on CWRU strikes
in one or two bursts per 1024-sample window and reads barely above the floor, while a ball
fault's window, impulsive-ish everywhere, reads a little above the floor at *every* order.
A threshold on the raw evidence learnt on two bearings therefore does not transfer to a
third. Here the same evidence is read at the true impact order of each fault family and at a
few dozen **decoy** impact orders of the same window (orders where no family, harmonic or
sub-harmonic, nor shaft harmonic lies), and reported as a robust z-score:
``(true - median(decoys)) / (IQR(decoys) / 1.349)``. A real defect stands out of its own
window's decoys; a window that is just noisy does not. Each family's evidence is:

- ``line``: log times-the-floor of the first two harmonics of its impact order (floor: the
  median of the spectrum 0.5-1.2 orders away), plus half the log of its sidebands (BPFI: +-1
  order, shaft modulation; 2 x BSF: +-FTF, the cage);
- ``period``: the squared envelope's autocorrelation at 1..3 x the impact period minus its
  value 5-12 % away (:mod:`faultlab.features.periodicity`).

Plus one bearing-free impulsiveness column, ``log(kurtosis / 3)`` of the raw window (0 for
Gaussian noise): race defects ring in sharp impacts, CWRU's ball faults barely do.
The block is ``[n, C, 2 * F + 1]`` (``F``: the fault families present), vectorised over the
windows of one speed and bearing (the caller groups by recording).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from faultlab.features.periodicity import IMPACT_RATE, fault_families
from faultlab.signals.orders import Lerp, lerp_plan
from faultlab.utils.order_stats import selection_network

#: Offsets (orders) of the local patch around each line; the floor is read at |offset| >= 0.5.
LINE_OFFSETS = np.round(np.arange(-12, 13) * 0.1, 6)
LINE_TOLERANCE = 0.1
FLOOR_FROM = 0.5
SIDEBAND_WEIGHT = 0.5
#: Relative lag offsets of the periodicity read (peak within +-2 %, floor beyond 5 %).
LAG_OFFSETS = np.round(np.arange(-6, 7) * 0.02, 6)
MULTIPLES = 3
#: Decoy impact orders: this range, minus +-3 % around every p/q (p, q <= 3) multiple of a
#: true impact order (and BPFI +- 1), minus +-0.1 order around each shaft harmonic.
DECOY_RANGE = (1.5, 10.0)
DECOY_GAP = 0.03
IQR_TO_SIGMA = 1.349


def contrast_names(families: Sequence[str]) -> list[str]:
    fams = fault_families(families)
    return (
        [f"contrast:line:{f}" for f in fams]
        + [f"contrast:period:{f}" for f in fams]
        + ["contrast:log_kurtosis"]
    )


def impact_orders(family_orders: np.ndarray, families: Sequence[str]) -> np.ndarray:
    """``[C, F]`` impact orders of the fault families (a ball spot strikes at 2 x BSF)."""
    fams = fault_families(families)
    fo = np.atleast_2d(np.asarray(family_orders, np.float64))
    return np.stack([fo[:, list(families).index(f)] * IMPACT_RATE[f] for f in fams], axis=1)


def decoy_orders(impacts: np.ndarray, step: float) -> np.ndarray:
    """Decoy impact orders for every channel's bearing (``impacts [C, F]``; BPFI's shaft
    sidebands are excluded too when the caller passes them among ``impacts``)."""
    uniq = np.unique(np.asarray(impacts, np.float64).ravel())
    return _decoys(tuple(uniq.tolist()), float(step)).copy()


@functools.lru_cache(maxsize=64)
def _decoys(impacts: tuple[float, ...], step: float) -> np.ndarray:
    """:func:`decoy_orders` of distinct sorted impact orders (kept: one per bearing)."""
    grid = np.arange(DECOY_RANGE[0], DECOY_RANGE[1] + step / 2, step)
    keep = np.abs(grid - np.round(grid)) > 0.1
    ratios = np.unique([p / q for p in (1, 2, 3) for q in (1, 2, 3)])
    for t in impacts:
        for r in ratios:
            keep &= np.abs(grid / (t * r) - 1.0) > DECOY_GAP
    return grid[keep]


class _Plan(NamedTuple):
    """Where one channel's contrast evidence is read, for one speed and bearing (the
    arguments of :func:`~faultlab.features.contrast_kernel.contrast_evidence`).

    Candidates are the ``F`` true impact orders, then the ``D`` decoys (the same for every
    family, so each decoy is read once, not once per family).
    """

    line: tuple[np.ndarray, np.ndarray, np.ndarray]  # left bin, weight, outside [2, F + D, R]
    period: tuple[np.ndarray, np.ndarray, np.ndarray]  # the same [F + D, MULTIPLES, Q]
    lags_read: int  # the autocorrelation's lags 0 .. lags_read - 1 hold every lag read


#: Which LINE_OFFSETS make the floor, the peak, and which LAG_OFFSETS the period's.
_FAR = np.flatnonzero(np.abs(LINE_OFFSETS) >= FLOOR_FROM - 1e-9)
_NEAR = np.flatnonzero(np.abs(LINE_OFFSETS) <= LINE_TOLERANCE + 1e-9)
_LAG_PEAK = np.flatnonzero(np.abs(LAG_OFFSETS) <= 0.02 + 1e-9)
_LAG_FLOOR = np.flatnonzero(np.abs(LAG_OFFSETS) >= 0.05 - 1e-9)


def _median_network(n: int) -> np.ndarray:
    """The kernel's ``[k, 4]`` selection network for the median of ``n`` values."""
    return np.array(selection_network(n, tuple(sorted({(n - 1) // 2, n // 2}))), np.int64)


_NET16, _NET8 = _median_network(len(_FAR)), _median_network(len(_LAG_FLOOR))


def max_order(family_orders: np.ndarray, families: Sequence[str], step: float) -> float:
    """The highest order of the envelope spectrum the contrast block reads."""
    top = max(DECOY_RANGE[1] + step, float(impact_orders(family_orders, families).max()))
    return 2 * top + float(LINE_OFFSETS.max())


def _arrays(at: Lerp, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A :class:`Lerp` as the kernel's (left bin, weight, outside) arrays of ``shape``."""
    out = np.zeros(at.i0.shape, bool) if at.outside is None else at.outside
    return at.i0.reshape(shape), at.frac.reshape(shape), out.reshape(shape)


@functools.lru_cache(maxsize=256)
def _plan(
    cand: tuple[float, ...], sampling_rate: float, nfft: int, shaft_hz: float, L: int
) -> _Plan:
    """The reads of candidates ``cand`` (impact orders) at one shaft speed; kept per
    recording (speed, bearing), whose windows arrive in several blocks."""
    c = np.asarray(cand, np.float64)
    patches = np.stack([h * c[:, None] + LINE_OFFSETS for h in (1, 2)])  # [2, F + D, R]
    pos = patches * (float(shaft_hz) * nfft / sampling_rate)
    line = _arrays(lerp_plan(pos.ravel(), nfft // 2 + 1), pos.shape)
    m = np.arange(1, MULTIPLES + 1, dtype=np.float64)
    period = sampling_rate / (shaft_hz * c)  # samples
    lag = period[..., None, None] * m[:, None] * (1.0 + LAG_OFFSETS)  # [F + D, M, R]
    lag = lag[..., np.r_[_LAG_PEAK, _LAG_FLOOR]]  # the peak's lags, then the floor's
    per = _arrays(lerp_plan(lag.ravel(), L), lag.shape)
    return _Plan(line, per, int(per[0].max()) + 2)


@functools.lru_cache(maxsize=8)
def _sidebands(sideband: tuple[float, ...]) -> np.ndarray:
    """``[F, 2, K]``: per family the count then the LINE_OFFSETS rows of its low and high
    sideband patch (count -1: no sidebands)."""
    rows = [
        [np.flatnonzero(np.abs(LINE_OFFSETS + s * d) <= LINE_TOLERANCE + 1e-9) for s in (1, -1)]
        for d in sideband
    ]
    k = 1 + max((len(r) for fam in rows for r in fam), default=0)
    out = np.full((len(sideband), 2, k), -1, np.int64)
    for f, (d, fam) in enumerate(zip(sideband, rows)):
        for s, r in enumerate(fam):
            if d > 0:
                out[f, s, 0], out[f, s, 1 : 1 + len(r)] = len(r), r
    return out


def _quantiles(A: np.ndarray, q: Sequence[float]) -> list[np.ndarray]:
    """``np.quantile(A, q, axis=-1)`` (method linear) by one sort per row, the same numbers:
    numpy's lerp of the two neighbouring order statistics, in float64."""
    s = np.sort(A, axis=-1)
    n = A.shape[-1]
    out = []
    for v in (n - 1) * np.asarray(q, np.float64):
        i = min(int(np.floor(v)), n - 1)
        j = min(i + 1, n - 1)
        g = np.float64(v - np.floor(v) if v < n - 1 else v + 1)  # numpy: index -1 past the end
        lo, hi = s[..., i], s[..., j]
        diff = hi - lo  # float32, then float64 with the weight
        out.append(hi - diff * (1 - g) if g >= 0.5 else lo + diff * g)
    return out


def _robust_z(true: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Robust z of ``true [...]`` against its decoys ``dec [..., D]`` (float64 like numpy's
    quantiles)."""
    q1, med, q3 = _quantiles(dec, (0.25, 0.5, 0.75))
    return (true - med) / np.maximum((q3 - q1) / IQR_TO_SIGMA, 1e-3)


def contrast_block(
    S: np.ndarray, A: np.ndarray, plan: _Plan, sideband: Sequence[float], F: int
) -> np.ndarray:
    """``[m, 2F]`` line and period z-scores of one channel (``S [m, bins]`` spectra and
    ``A [m, lags]`` autocorrelations; ``plan`` from :func:`_plan`)."""
    from faultlab.features.contrast_kernel import contrast_evidence  # numba: on first use

    m, P = S.shape[0], plan.line[0].shape[1]
    line = np.empty((m, F, P - F + 1), np.float64)
    period = np.empty((m, P), np.float32)
    contrast_evidence(
        S,
        A[:, : plan.lags_read],
        *plan.line,
        _FAR,
        _NEAR,
        _sidebands(tuple(float(d) for d in sideband)),
        _NET16,
        *plan.period,
        len(_LAG_PEAK),
        _NET8,
        F,
        line,
        period,
    )
    np.log(line, out=line)
    line *= 0.5
    out = np.empty((m, 2 * F), np.float32)
    out[:, :F] = _robust_z(line[..., 0], line[..., 1:])
    out[:, F:] = _robust_z(period[:, :F], period[:, None, F:])
    return out


def log_kurtosis(X: np.ndarray) -> np.ndarray:
    """``[n, C]`` log(kurtosis / 3) of each window (0 for Gaussian noise); the moments in
    float64 by :func:`~faultlab.features.contrast_kernel.central_moments`."""
    from faultlab.features.contrast_kernel import central_moments  # numba: on first use

    X = np.asarray(X, np.float32)
    flat = X.reshape(-1, X.shape[-1])
    m2 = np.empty(len(flat), np.float64)
    m4 = np.empty(len(flat), np.float64)
    central_moments(flat, m2, m4)
    out = np.log(np.maximum(m4 / np.maximum(m2 * m2, 1e-30), 1e-6) / 3.0).astype(np.float32)
    return out.reshape(X.shape[:-1])


def defect_contrast(
    X: np.ndarray,
    S: np.ndarray,
    acf: np.ndarray,
    sampling_rate: float,
    nfft: int,
    shaft_hz: float,
    family_orders: np.ndarray,
    families: Sequence[str],
    step: float = 0.05,
) -> np.ndarray:
    """``[n, C, 2F + 1]`` contrast block for windows of ONE speed and bearing.

    ``X [n, C, L]`` raw windows, ``S [n, C, bins]`` their squared envelope spectrum (bins
    ``0 .. nfft // 2``, or a prefix reaching :func:`max_order`), ``acf [n, C, L]`` the
    squared envelope's normalised autocorrelation, ``family_orders [C, len(families)]``
    (or ``[len(families)]``) the bearing's orders.
    """
    fams = fault_families(families)
    F = len(fams)
    n, C = S.shape[:2]
    imp = impact_orders(np.broadcast_to(family_orders, (C, len(families))), families)  # [C, F]
    extra = [imp]
    if "BPFI" in fams:
        ir = imp[:, [fams.index("BPFI")]]
        extra += [ir - 1.0, ir + 1.0]
    dec = decoy_orders(np.concatenate(extra, axis=1), step)  # the same for every channel
    fo0 = np.asarray(family_orders, np.float64).reshape(-1, len(families))[0]
    ftf = float(fo0[families.index("FTF")]) if "FTF" in families else 0.4
    sideband = [1.0 if f == "BPFI" else (ftf if f == "BSF" else 0.0) for f in fams]
    out = np.empty((n, C, 2 * F + 1), np.float32)
    for c in range(C):  # channels: a handful; each step covers every window, windows last
        cand = np.concatenate([imp[c], dec])
        plan = _plan(tuple(cand), float(sampling_rate), int(nfft), float(shaft_hz), acf.shape[-1])
        out[:, c, : 2 * F] = contrast_block(S[:, c], acf[:, c], plan, sideband, F)
    out[..., 2 * F] = log_kurtosis(X)
    return out

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

from collections.abc import Sequence

import numpy as np

from faultlab.features.periodicity import IMPACT_RATE, fault_families
from faultlab.signals.orders import sample_spectrum

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
    grid = np.arange(DECOY_RANGE[0], DECOY_RANGE[1] + step / 2, step)
    keep = np.abs(grid - np.round(grid)) > 0.1
    ratios = np.unique([p / q for p in (1, 2, 3) for q in (1, 2, 3)])
    for t in np.unique(np.asarray(impacts, np.float64).ravel()):
        for r in ratios:
            keep &= np.abs(grid / (t * r) - 1.0) > DECOY_GAP
    return grid[keep]


def _line_evidence(
    S: np.ndarray, sampling_rate: float, nfft: int, shaft_hz: float, Om: np.ndarray, sb: np.ndarray
) -> np.ndarray:
    """``[n, C, F, D]`` line evidence at impact orders ``Om [C, F, D]``; ``sb [C, F]``
    sideband offsets (0: none)."""
    n, C = S.shape[:2]
    _, F, D = Om.shape
    off = LINE_OFFSETS
    far = np.abs(off) >= FLOOR_FROM - 1e-9
    out = np.zeros((n, C, F, D), np.float32)
    for h in (1, 2):
        pos = (h * Om)[..., None] + off  # [C, F, D, R]
        V = sample_spectrum(S, sampling_rate, nfft, shaft_hz, pos.reshape(C, -1))
        V = V.reshape(n, C, F, D, len(off))
        floor = np.maximum(np.median(V[..., far], axis=-1), 1e-20)
        peak = V[..., np.abs(off) <= LINE_TOLERANCE + 1e-9].max(-1)
        e = np.log(np.maximum(peak / floor, 1.0))
        for f in range(F):
            d = float(sb[0, f])
            if d <= 0:
                continue
            Vf = V[:, :, f]
            lo = Vf[..., np.abs(off + d) <= LINE_TOLERANCE + 1e-9].max(-1)
            hi = Vf[..., np.abs(off - d) <= LINE_TOLERANCE + 1e-9].max(-1)
            side = 0.5 * (lo + hi) / floor[:, :, f]
            e[:, :, f] += SIDEBAND_WEIGHT * np.log(np.maximum(side, 1.0))
        out += 0.5 * e
    return out


def _period_evidence(
    acf: np.ndarray, sampling_rate: float, shaft_hz: float, Om: np.ndarray
) -> np.ndarray:
    """``[n, C, F, D]`` autocorrelation peak at 1..3 x the impact period of ``Om [C, F, D]``
    minus the median 5-12 % away, averaged over the multiples."""
    n, C, L = acf.shape
    _, F, D = Om.shape
    m = np.arange(1, MULTIPLES + 1, dtype=np.float64)
    period = sampling_rate / (shaft_hz * Om)  # samples
    lag = period[..., None, None] * m[:, None] * (1.0 + LAG_OFFSETS)  # [C, F, D, M, R]
    A = sample_spectrum(acf, 1.0, 1, 1.0, lag.reshape(C, -1))  # lags past the window read 0
    A = A.reshape(n, C, F, D, MULTIPLES, len(LAG_OFFSETS))
    peak = A[..., np.abs(LAG_OFFSETS) <= 0.02 + 1e-9].max(-1)
    floor = np.median(A[..., np.abs(LAG_OFFSETS) >= 0.05 - 1e-9], axis=-1)
    return (peak - floor).mean(-1)


def _robust_z(E: np.ndarray) -> np.ndarray:
    """``E [..., 1 + D]`` (true first, then decoys) -> ``[...]`` robust z of the true one."""
    dec = E[..., 1:]
    q1, med, q3 = np.quantile(dec, [0.25, 0.5, 0.75], axis=-1)
    return (E[..., 0] - med) / np.maximum((q3 - q1) / IQR_TO_SIGMA, 1e-3)


def log_kurtosis(X: np.ndarray) -> np.ndarray:
    """``[n, C]`` log(kurtosis / 3) of each window (0 for Gaussian noise)."""
    x = np.asarray(X, np.float32)
    x = x - x.mean(-1, keepdims=True)
    m2 = (x * x).mean(-1)
    m4 = (x * x * x * x).mean(-1)
    return np.log(np.maximum(m4 / np.maximum(m2 * m2, 1e-30), 1e-6) / 3.0).astype(np.float32)


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

    ``X [n, C, L]`` raw windows, ``S [n, C, nfft // 2 + 1]`` their squared envelope
    spectrum, ``acf [n, C, L]`` the squared envelope's normalised autocorrelation,
    ``family_orders [C, len(families)]`` (or ``[len(families)]``) the bearing's orders.
    """
    fams = fault_families(families)
    C = S.shape[1]
    imp = impact_orders(np.broadcast_to(family_orders, (C, len(families))), families)  # [C, F]
    extra = [imp]
    if "BPFI" in fams:
        ir = imp[:, [fams.index("BPFI")]]
        extra += [ir - 1.0, ir + 1.0]
    dec = decoy_orders(np.concatenate(extra, axis=1), step)
    Om = np.concatenate([imp[..., None], np.broadcast_to(dec, imp.shape + dec.shape)], axis=-1)
    ftf = (
        np.asarray(family_orders, np.float64).reshape(-1, len(families))[:, families.index("FTF")]
        if "FTF" in families
        else np.full(C, 0.4)
    )
    sb = np.stack(
        [np.ones(C) if f == "BPFI" else (ftf if f == "BSF" else np.zeros(C)) for f in fams], 1
    )
    line = _robust_z(_line_evidence(S, sampling_rate, nfft, shaft_hz, Om, sb))
    period = _robust_z(_period_evidence(acf, sampling_rate, shaft_hz, Om))
    out = np.concatenate([line, period, log_kurtosis(X)[..., None]], axis=-1)
    return out.astype(np.float32)

"""Defect-period evidence: the squared envelope's autocorrelation read at each defect's
impact period (and its multiples), on a relative-lag axis.

A 1024-sample window's envelope spectrum blurs BPFO, 2xBSF and BPFI's shaft sidebands
together (0.4-order bins, wider under a taper). The autocorrelation of the broadband impulse
train peaks at the impact period with the width of one impulse, so it tells the families
apart where the spectrum cannot (:func:`faultlab.signals.envelope.envelope_autocorrelation`).
The block is ``[n, C, F * multiples * R]``: for each fault family (``BPFI``, ``BSF``,
``BPFO``), each multiple ``m`` of its impact period and each relative offset ``o``, the
normalised autocorrelation at lag ``m x period x (1 + o)``. A ball spot strikes both races
once per spin, so the ball family's impact rate is ``2 x BSF``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Impacts per revolution of each fault family, as a multiple of its defect order.
IMPACT_RATE = {"BPFI": 1.0, "BSF": 2.0, "BPFO": 1.0}


def fault_families(families: Sequence[str]) -> tuple[str, ...]:
    """The families of ``families`` that have an impact period (``IMPACT_RATE`` keys)."""
    return tuple(f for f in families if f in IMPACT_RATE)


def relative_offsets(span: float, step: float) -> np.ndarray:
    """Relative lag offsets ``-span .. span`` in steps of ``step`` (0 included)."""
    n = int(round(span / step))
    return np.arange(-n, n + 1) * step


def periodicity_names(families: Sequence[str], multiples: int, offsets: np.ndarray) -> list[str]:
    return [
        f"acf:{f}{m}{o:+.2f}"
        for f in fault_families(families)
        for m in range(1, multiples + 1)
        for o in offsets
    ]


def sample_periodicity(
    acf: np.ndarray,
    sampling_rate: float,
    shaft_hz: float,
    family_orders: np.ndarray,
    families: Sequence[str],
    multiples: int,
    offsets: np.ndarray,
) -> np.ndarray:
    """``acf [n, C, L]`` read at the defect lags of one speed -> ``[n, C, F * M * R]``.

    ``family_orders [C, len(families)]`` (each channel its bearing); lags past the window
    read 0 (no evidence).
    """
    n, C, L = acf.shape
    idx = [i for i, f in enumerate(families) if f in IMPACT_RATE]
    rate = np.array([IMPACT_RATE[families[i]] for i in idx])
    orders = np.broadcast_to(np.asarray(family_orders, np.float64), (C, len(families)))[:, idx]
    period = sampling_rate / (float(shaft_hz) * orders * rate)  # [C, F] samples
    m = np.arange(1, multiples + 1, dtype=np.float64)
    lag = period[:, :, None, None] * m[:, None] * (1.0 + np.asarray(offsets))  # [C, F, M, R]
    lag = lag.reshape(C, -1)
    outside = lag > L - 2
    lag = np.clip(lag, 0, L - 2)
    i0 = lag.astype(np.int64)
    frac = (lag - i0).astype(np.float32)
    out = np.empty((n, C, lag.shape[-1]), dtype=np.float32)
    for c in range(C):  # channels: a handful; each step one gather over every window
        a = np.take(acf[:, c], i0[c], axis=-1)
        val = a + frac[c] * (np.take(acf[:, c], i0[c] + 1, axis=-1) - a)
        val[:, outside[c]] = 0.0
        out[:, c] = val
    return out

"""Time-domain statistics of vibration windows, computed on the whole ``[n, C, L]`` array.

These are the condition indicators of the bearing literature (RMS, crest, kurtosis, shape,
impulse and clearance factors, ...): impacts from a local defect raise the peak-based factors
and the kurtosis long before they move the RMS, which is why all of them are kept.
"""

from __future__ import annotations

import numpy as np

#: Output order of :func:`time_features` (kurtosis is non-excess: 3 for Gaussian noise).
TIME_FEATURES = (
    "mean",
    "std",
    "rms",
    "max",
    "min",
    "peak",
    "peak_to_peak",
    "mean_abs",
    "sqrt_amplitude",
    "crest_factor",
    "kurtosis",
    "skewness",
    "shape_factor",
    "impulse_factor",
    "clearance_factor",
    "zero_crossing_rate",
    "hjorth_mobility",
    "hjorth_complexity",
)


def safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` with 0 where ``b`` is 0 (a flat window has no crest factor, not NaN)."""
    out = np.zeros(np.broadcast_shapes(np.shape(a), np.shape(b)), dtype=np.result_type(a, b))
    np.divide(a, b, out=out, where=b != 0)
    return out


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum over the last axis of ``a * b`` in one pass, without the product's temporary."""
    return np.einsum("...i,...i->...", a, b)


def _zero_crossing_rate(xc: np.ndarray) -> np.ndarray:
    """Share of sign changes between neighbours of the centred windows ``xc``."""
    L = xc.shape[-1]
    sign = np.signbit(xc)
    changes = sign[..., 1:] != sign[..., :-1]
    # a sum of the bytes is 2-3x faster than count_nonzero along an axis
    return changes.view(np.uint8).sum(axis=-1, dtype=np.int32) / max(L - 1, 1)


def _hjorth(xc: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hjorth mobility and complexity of the centred windows ``xc`` (variance ``var``).

    From the variances of the first and second differences; their means telescope to
    (last - first) / count, so no centred copy of a difference is needed.
    """
    L = xc.shape[-1]
    n1, n2 = max(L - 1, 1), max(L - 2, 1)
    mean_d1 = (xc[..., -1] - xc[..., 0]) / n1
    d1 = np.diff(xc, axis=-1)
    mean_d2 = (d1[..., -1] - d1[..., 0]) / n2 if L > 2 else np.zeros_like(var)
    var_d1 = np.maximum(_dot(d1, d1) / n1 - mean_d1 * mean_d1, 0)
    d2 = np.diff(d1, axis=-1)
    del d1
    var_d2 = np.maximum(_dot(d2, d2) / n2 - mean_d2 * mean_d2, 0)
    del d2
    mobility = np.sqrt(safe_div(var_d1, var))
    return mobility, safe_div(np.sqrt(safe_div(var_d2, var_d1)), mobility)


def time_features(X: np.ndarray) -> np.ndarray:
    """``[n, C, len(TIME_FEATURES)]`` statistics of float windows ``X [n, C, L]``.

    About ten passes over the windows (sums of products by ``einsum``, no squared, cubed or
    differenced copies): the features of a batch cost little more than reading it.
    """
    X = np.asarray(X)
    L = X.shape[-1]
    mean = X.mean(axis=-1)
    xc = X - mean[..., None]
    xc2 = xc * xc
    var = xc2.mean(axis=-1)
    m3 = _dot(xc2, xc) / L
    m4 = _dot(xc2, xc2) / L
    del xc2
    std = np.sqrt(var)
    rms = np.sqrt(np.maximum(var + mean * mean, 0))
    mx = X.max(axis=-1)
    mn = X.min(axis=-1)
    peak = np.maximum(mx, -mn)
    a = np.abs(X)
    mean_abs = a.mean(axis=-1)
    np.sqrt(a, out=a)
    sqrt_amp = a.mean(axis=-1) ** 2
    del a
    zcr = _zero_crossing_rate(xc)
    mobility, complexity = _hjorth(xc, var)
    del xc
    cols = [
        mean,
        std,
        rms,
        mx,
        mn,
        peak,
        mx - mn,
        mean_abs,
        sqrt_amp,
        safe_div(peak, rms),
        safe_div(m4, var * var),
        safe_div(m3, var * std),
        safe_div(rms, mean_abs),
        safe_div(peak, mean_abs),
        safe_div(peak, sqrt_amp),
        zcr.astype(X.dtype),
        mobility,
        complexity,
    ]
    return np.stack(cols, axis=-1).astype(np.float32, copy=False)

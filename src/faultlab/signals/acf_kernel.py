"""The autocorrelation path's elementwise steps, fused per window (numba).

Between its three FFTs the envelope autocorrelation (:mod:`faultlab.signals.envelope`) made
a dozen numpy passes over ``[512, 1024-2048]`` blocks (the squared envelope from the window
and its Hilbert transform, mean removal, zero padding, the power spectrum, the unbiased
normalisation): each pass streams megabytes through the cache. Here each window's steps run
while its row is in L1. The power spectrum and the normalisation are numpy's float32 ops in
the same order (the same numbers); the squared envelope's means are summed in float64
(numpy's float32 pairwise sums differ by rounding).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def squared_envelope_padded(X, h, buf):
    """``buf[i, :L]`` = the mean-removed ``(X[i] - mean)^2 + h[i]^2`` (``h``: the Hilbert
    transform), ``buf[i, L:]`` = 0, for windows ``X, h [m, L]`` (``buf [m, 2L]``)."""
    m, L = X.shape
    for i in range(m):
        s = 0.0
        for k in range(L):
            s += X[i, k]
        mu = np.float32(s / L)
        t = 0.0
        for k in range(L):
            x = X[i, k] - mu
            v = x * x + h[i, k] * h[i, k]
            buf[i, k] = v
            t += v
        mu2 = np.float32(t / L)
        for k in range(L):
            buf[i, k] -= mu2
        for k in range(L, buf.shape[1]):
            buf[i, k] = 0.0


@njit(cache=True, nogil=True)
def power_spectrum(F):
    """``F = |F|^2 + 0i`` in place (complex64 ``[m, K]``): ``re * re + im * im``."""
    m, K = F.shape
    for i in range(m):
        for k in range(K):
            re, im = F[i, k].real, F[i, k].imag
            F[i, k] = complex(re * re + im * im, 0.0)


@njit(cache=True, nogil=True)
def unbiased_normalised(r, out):
    """``out [m, L]`` = ``r[:, :L]`` over ``L - k`` (lag ``k`` averages ``L - k``
    products), then over its lag 0 (at least 1e-30)."""
    m, L = out.shape
    tiny = np.float32(1e-30)
    for i in range(m):
        for k in range(L):
            out[i, k] = r[i, k] / np.float32(L - k)
        z = out[i, 0] if out[i, 0] > tiny else tiny
        for k in range(L):
            out[i, k] /= z

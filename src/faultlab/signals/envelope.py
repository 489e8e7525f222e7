"""Demodulation and the squared envelope spectrum (SES), vectorised over ``[n, C, L]``.

A local bearing defect strikes at a fixed rate; each strike rings a structural resonance at
kHz. The rate shows in the spectrum of the *squared envelope* of the band where the ringing
dominates, not in the raw spectrum. The band is chosen per window by one of:

- ``cpw``: cepstral pre-whitening (Borghesani et al. 2013): divide the spectrum by its own
  magnitude, which flattens resonances and removes discrete gear/shaft lines, so every band
  contributes and no band has to be picked. Cheap (two FFTs) and blind;
- ``kurtogram``: the band of a dyadic filter bank (levels 1..``levels``) whose complex
  envelope is most impulsive (spectral kurtosis, Antoni's fast kurtogram on its 1/2^k tree);
- ``(lo, hi)``: a fixed band in Hz; ``none``: the whole spectrum.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from faultlab.utils.fft import ifft, irfft, rfft

BAND_METHODS = ("cpw", "kurtogram", "none")


def analytic_spectrum(X: np.ndarray) -> np.ndarray:
    """Positive-frequency half of the analytic signal's spectrum of ``X [..., L]`` (complex64).

    Bins ``0 .. L // 2`` (DC zeroed: it carries no modulation; the rest doubled, except the
    Nyquist bin of an even ``L``); ``ifft(H, n=L)`` is the analytic signal.
    """
    L = X.shape[-1]
    H = rfft(X.astype(np.float32, copy=False), axis=-1)
    H[..., 0] = 0
    last = H.shape[-1] - 1 if L % 2 == 0 else H.shape[-1]
    H[..., 1:last] *= 2
    return H


@functools.lru_cache(maxsize=8)
def _hann(L: int) -> np.ndarray:
    return np.hanning(L + 1)[:-1].astype(np.float32)  # periodic Hann


def kurtogram_bands(H: np.ndarray, levels: int = 3, min_bins: int = 8) -> list[tuple[int, int]]:
    """Bin ranges ``[lo, hi)`` of the dyadic filter bank over the positive half of ``H``."""
    n_pos = H.shape[-1]
    bands = []
    for level in range(1, levels + 1):
        edges = np.linspace(1, n_pos, 2**level + 1).astype(int)
        bands += [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b - a >= min_bins]
    return bands


def spectral_kurtosis(H: np.ndarray, bands: Sequence[tuple[int, int]]) -> np.ndarray:
    """``[..., B]`` kurtosis of the complex envelope of each band (0 for Gaussian noise)."""
    out = np.empty(H.shape[:-1] + (len(bands),), dtype=np.float32)
    for b, (lo, hi) in enumerate(bands):  # a dozen bands: the loop is over bands, not windows
        e2 = np.abs(ifft(H[..., lo:hi], axis=-1)) ** 2  # band shifted to DC
        out[..., b] = (e2**2).mean(-1) / np.maximum(e2.mean(-1) ** 2, 1e-30) - 2.0
    return out


def select_band(
    H: np.ndarray,
    method: str | tuple[float, float] | None,
    sampling_rate: float,
    levels: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Analytic spectrum ``H`` restricted to the chosen band, and the band per window (Hz).

    Returns ``(H_band, band_hz [..., 2])``.
    """
    n_pos = H.shape[-1]
    df = sampling_rate / 2 / max(n_pos - 1, 1)
    shape = H.shape[:-1]
    if method is None or method == "none":
        return H, np.broadcast_to(np.array([0.0, sampling_rate / 2], np.float32), shape + (2,))
    if method == "cpw":
        Hw = H / np.maximum(np.abs(H), np.float32(1e-30))  # DC stays 0
        return Hw, np.broadcast_to(np.array([0.0, sampling_rate / 2], np.float32), shape + (2,))
    if method == "kurtogram":
        bands = kurtogram_bands(H, levels)
        sk = spectral_kurtosis(H, bands)
        best = sk.argmax(-1)
        edges = np.asarray(bands)  # [B, 2]
        lo, hi = edges[best, 0], edges[best, 1]
        k = np.arange(n_pos)
        keep = (k >= lo[..., None]) & (k < hi[..., None])
        return H * keep, np.stack([lo * df, hi * df], -1).astype(np.float32)
    if isinstance(method, str):
        raise ValueError(f"band {method!r}: choose one of {BAND_METHODS} or [lo_hz, hi_hz]")
    lo_hz, hi_hz = float(method[0]), float(method[1])
    f = np.arange(n_pos) * df
    keep = (f >= lo_hz) & (f <= hi_hz)
    return H * keep, np.broadcast_to(np.array([lo_hz, hi_hz], np.float32), shape + (2,))


def squared_envelope(
    X: np.ndarray,
    sampling_rate: float,
    band: str | tuple[float, float] | None = "none",
    levels: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean-removed squared envelope ``[..., L]`` (float32) of the chosen band of ``X``.

    Returns ``(env2, band_hz [..., 2])``.
    """
    L = X.shape[-1]
    Hb, band_hz = select_band(analytic_spectrum(X), band, sampling_rate, levels)
    z = ifft(Hb, n=L, axis=-1)  # the analytic signal of the band
    env2 = z.real * z.real
    env2 += z.imag * z.imag
    env2 -= env2.mean(axis=-1, keepdims=True)  # its DC would leak into low orders
    return env2.astype(np.float32, copy=False), band_hz


def envelope_autocorrelation(
    X: np.ndarray,
    sampling_rate: float,
    band: str | tuple[float, float] | None = "none",
    levels: int = 3,
) -> np.ndarray:
    """Unbiased autocorrelation of the squared envelope, divided by its lag-0 value.

    ``[..., L]`` (lag in samples). Why beside the spectrum: a short window's envelope
    spectrum resolves lines only to ``sampling_rate / L`` (0.4 order for 1024 samples at
    12 kHz and 1800 rpm), which blurs BPFO, 2xBSF and BPFI's sidebands together; the
    autocorrelation of the broadband impulse train peaks at the impact *period* with a
    width set by the impulse, not the window, so periods 1 % apart stay apart.
    """
    env2, _ = squared_envelope(X, sampling_rate, band, levels)
    L = env2.shape[-1]
    F = rfft(env2, n=2 * L, axis=-1)
    r = irfft(F.real * F.real + F.imag * F.imag, n=2 * L, axis=-1)[..., :L]
    r /= np.arange(L, 0, -1, dtype=np.float32)  # unbiased: lag k averages L - k products
    return (r / np.maximum(r[..., :1], 1e-30)).astype(np.float32, copy=False)


def squared_envelope_spectrum(
    X: np.ndarray,
    sampling_rate: float,
    band: str | tuple[float, float] | None = "cpw",
    nfft: int | None = None,
    levels: int = 3,
    taper: str = "hann",
) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectrum of the mean-removed squared envelope of ``X [..., L]``.

    ``taper: hann`` windows the squared envelope before its FFT: without it the slow
    wander of the envelope leaks a comb of sidelobes every ``sampling_rate / L`` Hz (0.4
    order for 1024 samples at 12 kHz and 1800 rpm, right where cage (FTF) lines would be).

    Returns ``(ses [..., nfft // 2 + 1], band_hz [..., 2])``; bin ``k`` is at
    ``k * sampling_rate / nfft`` Hz. ``nfft`` (>= L) zero-pads for a finer grid.
    """
    L = X.shape[-1]
    env2, band_hz = squared_envelope(X, sampling_rate, band, levels)
    gain = np.float32(2.0 / L)
    if taper == "hann":
        w = _hann(L)
        env2 *= w
        gain = np.float32(2.0 / w.sum())  # a sinusoid of amplitude A still reads A
    S = np.abs(rfft(env2, n=max(nfft or L, L), axis=-1)) * gain
    return S.astype(np.float32, copy=False), band_hz

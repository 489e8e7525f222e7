"""Spectral features: log band powers and spectral shape moments of ``[n, C, L]`` windows.

The one-sided power spectrum is scaled so that it sums to the mean square of the window
(Parseval), so band powers add up to ``rms**2`` and stay comparable across window lengths.
Defects shift energy towards the structural resonances (several kHz on CWRU), which the
band powers and the centroid pick up even when the defect frequencies themselves are
unresolved in a short window.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from faultlab.features.time_domain import safe_div
from faultlab.utils.fft import Complex, rfft

#: Output order of :func:`spectral_moments`.
SPECTRAL_MOMENTS = (
    "centroid",
    "spread",
    "skewness",
    "kurtosis",
    "entropy",
    "flatness",
    "rolloff_85",
    "peak_freq",
)

#: Floor added before taking logs (power units of the signal squared).
LOG_FLOOR = 1e-12


def power_spectrum(X: np.ndarray, spectrum: Complex | None = None) -> np.ndarray:
    """One-sided power ``[n, C, L // 2 + 1]`` of ``X [n, C, L]``; sums to ``mean(x**2)``.

    ``spectrum`` may pass an rfft of ``X`` already computed (the envelope group shares it).
    """
    L = X.shape[-1]
    F = rfft(X, axis=-1) if spectrum is None else spectrum
    P = F.real * F.real
    P += F.imag * F.imag
    # every bin but DC (and Nyquist for even L) stands for a positive and a negative frequency
    stop = P.shape[-1] - 1 if L % 2 == 0 else P.shape[-1]
    weight = np.full(P.shape[-1], 2.0 / (L * L), dtype=P.dtype)
    weight[0] = weight[stop:] = 1.0 / (L * L)
    P *= weight
    return P


def frequencies(L: int, sampling_rate: float | None) -> np.ndarray:
    """Bin centres in Hz, or in cycles per sample when the rate is unknown."""
    return scipy.fft.rfftfreq(L, d=1.0 / sampling_rate if sampling_rate else 1.0)


def band_edges(n_bins: int, n_bands: int) -> np.ndarray:
    """Start bin of each of ``n_bands`` contiguous, (near) equal-width bands."""
    if not 1 <= n_bands <= n_bins:
        raise ValueError(f"n_bands={n_bands} must be between 1 and the {n_bins} spectrum bins")
    return np.linspace(0, n_bins, n_bands + 1).round().astype(np.int64)[:-1]


def band_powers(P: np.ndarray, n_bands: int) -> np.ndarray:
    """Linear power in ``n_bands`` equal bands ``[n, C, n_bands]`` (they sum to ``P``'s total)."""
    return np.add.reduceat(P, band_edges(P.shape[-1], n_bands), axis=-1)


def log_band_powers(P: np.ndarray, n_bands: int) -> np.ndarray:
    return np.log10(band_powers(P, n_bands) + LOG_FLOOR).astype(np.float32, copy=False)


def band_names(n_bands: int, L: int, sampling_rate: float | None) -> list[str]:
    """``band_07_2625_3000hz``-style names (bin ranges when the rate is unknown)."""
    n_bins = L // 2 + 1
    starts = band_edges(n_bins, n_bands)
    stops = np.append(starts[1:], n_bins)
    if not sampling_rate:
        return [
            f"band_{i:02d}_bins_{a}_{b}" for i, (a, b) in enumerate(zip(starts, stops, strict=True))
        ]
    df = sampling_rate / L
    return [
        f"band_{i:02d}_{a * df:.0f}_{b * df:.0f}hz"
        for i, (a, b) in enumerate(zip(starts, stops, strict=True))
    ]


def spectral_moments(P: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """``[n, C, len(SPECTRAL_MOMENTS)]`` shape descriptors of the power spectrum.

    Frequencies are in the unit of ``freqs`` (Hz when the sampling rate is known).
    """
    total = P.sum(axis=-1, keepdims=True)
    # raw moments in float64: central moments from them cancel badly in float32
    fmax = float(freqs[-1]) or 1.0
    fn = freqs / fmax
    powers = np.stack([fn, fn**2, fn**3, fn**4], axis=-1)
    m1, m2, m3, m4 = np.moveaxis(safe_div(P.astype(np.float64) @ powers, total), -1, 0)
    var = m2 - m1 * m1
    var = np.where(var > 1e-10, var, 0.0)  # a single line: no spread, so no shape either
    mu3 = m3 - 3 * m1 * m2 + 2 * m1**3
    mu4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1**4
    spread = np.sqrt(var)
    # entropy of p = P / total: -sum p log p = log(total) - sum(P log P) / total (P > 0 only)
    logP = np.log(P, out=np.zeros_like(P), where=P > 0)
    tot = total[..., 0]
    plogp = safe_div(np.einsum("...i,...i->...", P, logP), tot)
    entropy = np.where(tot > 0, np.log(np.where(tot > 0, tot, 1)) - plogp, 0) / np.log(P.shape[-1])
    logP = np.log(P + LOG_FLOOR, out=logP)
    flatness = safe_div(np.exp(logP.mean(axis=-1)), P.mean(axis=-1))
    rolloff = freqs[np.argmax(np.cumsum(P, axis=-1) >= 0.85 * total, axis=-1)]
    peak = freqs[1:][np.argmax(P[..., 1:], axis=-1)]
    cols = [
        m1 * fmax,
        spread * fmax,
        safe_div(mu3, var * spread),
        safe_div(mu4, var * var),
        entropy,
        flatness,
        rolloff,
        peak,
    ]
    return np.stack(cols, axis=-1).astype(np.float32)

"""Envelope-spectrum amplitudes at the bearing defect frequencies.

A local defect hits the rolling elements at a fixed rate (BPFO, BPFI, 2 x BSF, modulated by
FTF); each hit rings the structure at kHz, so the defect rate shows in the spectrum of the
*envelope* (the magnitude of the analytic signal), not in the raw spectrum. Shaft speed
drifts with load, so each amplitude is the maximum within a tolerance band around the
expected frequency rather than at a single bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from faultlab.data.bearings import BearingGeometry, resolve
from faultlab.features.time_domain import safe_div
from faultlab.utils.fft import ifft, rfft

#: Defect frequencies the envelope group measures by default (keys of ``BearingGeometry.orders``).
DEFECTS = ("BPFO", "BPFI", "BSF", "FTF")


def envelope(
    X: np.ndarray,
    sampling_rate: float | None = None,
    band: tuple[float, float] | None = None,
    spectrum: np.ndarray | None = None,
) -> np.ndarray:
    """Magnitude of the analytic signal of ``X [n, C, L]`` (Hilbert envelope, along the last axis).

    ``band`` (Hz) band-passes first, in the frequency domain, e.g. around a resonance.
    ``spectrum`` may pass ``rfft(X)`` already computed.
    """
    L = X.shape[-1]
    F = rfft(X, axis=-1) if spectrum is None else spectrum
    n_pos = F.shape[-1]
    H = np.zeros(X.shape[:-1] + (L,), dtype=np.result_type(F.dtype, np.complex64))
    H[..., :n_pos] = F
    last = n_pos - 1 if L % 2 == 0 else n_pos  # Nyquist bin (even L) is not doubled
    H[..., 1:last] *= 2
    if band is not None:
        if not sampling_rate:
            raise ValueError("an envelope band needs the sampling rate")
        f = scipy.fft.rfftfreq(L, d=1.0 / sampling_rate)
        H[..., :n_pos][..., (f < band[0]) | (f > band[1])] = 0
    return np.abs(ifft(H, axis=-1)).astype(np.float32, copy=False)


def envelope_spectrum(env: np.ndarray, nfft: int | None = None) -> np.ndarray:
    """Amplitude spectrum of the mean-removed envelope; a sinusoid of amplitude A reads A."""
    L = env.shape[-1]
    E = rfft(env - env.mean(axis=-1, keepdims=True), n=max(nfft or L, L), axis=-1)
    amp = np.abs(E) * np.float32(2.0 / L)
    return amp.astype(np.float32, copy=False)


@dataclass(frozen=True)
class EnvelopeTarget:
    """One expected line: ``defect`` harmonic ``harmonic`` at ``freq_hz``."""

    defect: str
    harmonic: int
    freq_hz: float

    @property
    def name(self) -> str:
        return f"env_{self.defect}_h{self.harmonic}"


def envelope_targets(
    bearing: str | BearingGeometry,
    rpm: float,
    harmonics: int = 3,
    defects: tuple[str, ...] = DEFECTS,
) -> list[EnvelopeTarget]:
    """The defect lines (and harmonics) of ``bearing`` at ``rpm``."""
    geom = resolve(bearing)
    freqs = geom.frequencies(rpm)
    unknown = [d for d in defects if d not in freqs]
    if unknown:
        raise KeyError(f"unknown defect frequency {unknown}; known: {sorted(freqs)}")
    return [EnvelopeTarget(d, h, freqs[d] * h) for d in defects for h in range(1, harmonics + 1)]


def peak_amplitudes(
    amp: np.ndarray,
    sampling_rate: float,
    nfft: int,
    targets: list[EnvelopeTarget],
    tolerance: float = 0.05,
) -> np.ndarray:
    """Max of ``amp [n, C, bins]`` within ``freq * (1 +- tolerance)`` (at least +- one bin)."""
    df = sampling_rate / nfft
    n_bins = amp.shape[-1]
    cols = []
    for t in targets:  # a handful of lines: the loop is over features, not windows
        half = max(t.freq_hz * tolerance, df)
        lo = int(np.clip(np.floor((t.freq_hz - half) / df), 1, n_bins - 1))
        hi = int(np.clip(np.ceil((t.freq_hz + half) / df), lo, n_bins - 1))
        cols.append(amp[..., lo : hi + 1].max(axis=-1))
    return np.stack(cols, axis=-1)


def envelope_features(
    X: np.ndarray,
    sampling_rate: float,
    targets: list[EnvelopeTarget],
    tolerance: float = 0.05,
    nfft: int | None = None,
    band: tuple[float, float] | None = None,
    spectrum: np.ndarray | None = None,
) -> np.ndarray:
    """``[n, C, 2 * len(targets)]``: each line's amplitude, then its ratio to the median level.

    The ratio (a local signal-to-noise) is insensitive to the overall vibration level, which
    varies with load and sensor mounting more than the defect signature does.
    """
    L = X.shape[-1]
    n = max(nfft or L, L)
    amp = envelope_spectrum(envelope(X, sampling_rate, band, spectrum), n)
    peaks = peak_amplitudes(amp, sampling_rate, n, targets, tolerance)
    level = np.median(amp[..., 1:], axis=-1, keepdims=True)
    return np.concatenate([peaks, safe_div(peaks, level)], axis=-1).astype(np.float32)


def envelope_names(targets: list[EnvelopeTarget]) -> list[str]:
    return [t.name for t in targets] + [f"{t.name}_snr" for t in targets]

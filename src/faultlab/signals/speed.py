"""Shaft speed per recording, and where it came from.

Sources, in order of trust: an explicit value (CLI ``--rpm``/model option), the file (CWRU
``X...RPM``), the user's manifest, the catalogue's nominal speed, and, when none is given, an
**estimate from the signal** (tacho-less): the shaft frequency whose harmonics stand highest
above the local spectral floor, in both the raw spectrum (unbalance, misalignment) and the
envelope spectrum (load-zone modulation), refined on high harmonics for precision. The source
travels with every window (``rpm_source``) so reports say which was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.ndimage
import scipy.signal

from faultlab.utils.fft import irfft, rfft

#: rpm_source values, most trusted first.
SOURCES = ("option", "file", "manifest", "catalogue", "estimated")

#: Default search range of the estimator (rpm): most industrial shafts.
DEFAULT_RPM_RANGE = (600.0, 4000.0)


@dataclass(frozen=True)
class SpeedEstimate:
    rpm: float
    score: float  # mean prominence (log ratio to the local floor) of the harmonics, > 0


def _prominence(spec: np.ndarray, df: float, floor_hz: float = 6.0) -> np.ndarray:
    """log(spec / local median): how far each bin stands above its neighbourhood."""
    size = max(3, int(round(2 * floor_hz / df)) | 1)
    floor = scipy.ndimage.median_filter(spec, size=size, mode="nearest")
    return np.log(np.maximum(spec, 1e-30) / np.maximum(floor, 1e-30))


def _harmonic_score(prom: np.ndarray, df: float, f0: np.ndarray, harmonics: int) -> np.ndarray:
    """30th percentile over k = 1..harmonics of the best prominence within a bin of ``k f0``."""
    n = prom.size
    peak = np.maximum(prom, np.maximum(np.roll(prom, 1), np.roll(prom, -1)))
    k = np.arange(1, harmonics + 1)
    idx = np.rint(f0[:, None] * k[None, :] / df).astype(np.int64)
    valid = idx < n - 1
    vals = np.where(valid, peak[np.minimum(idx, n - 1)], 0.0)
    # a low quantile, not the mean: most harmonics must stand out, so a defect family that
    # shares every other harmonic with a candidate (BPFO / 2 on an outer-race fault) loses
    return np.quantile(vals, 0.3, axis=1)


def _spectra(x: np.ndarray, fs: float, seconds: float) -> list[tuple[np.ndarray, float]]:
    """Welch amplitude spectra of the signal and of its squared (pre-whitened) envelope."""
    nper = int(min(x.size, 2 ** int(np.floor(np.log2(fs * seconds)))))
    f, p = scipy.signal.welch(x, fs, nperseg=nper, detrend="constant")
    F = rfft(x - x.mean())
    F = np.where(np.abs(F) > 0, F / np.maximum(np.abs(F), 1e-30), 0)  # cepstral pre-whitening
    env = np.abs(scipy.signal.hilbert(irfft(F, n=x.size))) ** 2
    fe, pe = scipy.signal.welch(env - env.mean(), fs, nperseg=nper, detrend="constant")
    return [(np.sqrt(p), f[1] - f[0]), (np.sqrt(pe), fe[1] - fe[0])]


def estimate_shaft_speed(
    signal: np.ndarray,
    sampling_rate: float,
    rpm_range: tuple[float, float] = DEFAULT_RPM_RANGE,
    harmonics: int = 8,
    seconds: float = 4.0,
) -> SpeedEstimate:
    """Shaft speed (rpm) of ``signal`` (``[n]`` or ``[C, n]``) without a tachometer.

    Score every candidate shaft frequency by the (30th-percentile) prominence of its first ``harmonics``
    harmonics, averaged over the raw and envelope spectra of every channel; a candidate whose third or
    half scores nearly as well (the true speed seen through its harmonics) yields to it. A fine search on the best candidate's neighbourhood then uses up to 3 x as many
    harmonics (each higher harmonic pins the speed more precisely).
    """
    x = np.atleast_2d(np.asarray(signal, dtype=np.float64))
    lo, hi = rpm_range[0] / 60.0, rpm_range[1] / 60.0
    spectra = [s for ch in x for s in _spectra(ch, sampling_rate, seconds)]
    proms = [(_prominence(s, df), df) for s, df in spectra]
    df0 = proms[0][1]
    coarse = np.arange(lo, hi, df0 / 4)

    def score(f0: np.ndarray, h: int) -> np.ndarray:
        return np.asarray(sum(_harmonic_score(p, df, f0, h) for p, df in proms) / len(proms))

    s = score(coarse, harmonics)
    best = coarse[int(np.argmax(s))]
    for m in (3, 2):  # the true speed seen through its harmonics only: prefer it
        sub = best / m
        near = sub + np.linspace(-df0, df0, 9)
        if sub >= lo and score(near, harmonics).max() >= 0.7 * s.max():
            best = float(near[int(np.argmax(score(near, harmonics)))])
            break
    fine = best + np.linspace(-df0, df0, 81)  # within a bin of the coarse pick
    sf = score(fine, harmonics) + score(fine, 3 * harmonics)
    f_best = float(fine[int(np.argmax(sf))])
    return SpeedEstimate(rpm=60.0 * f_best, score=float(sf.max()))


def resolve_rpm(
    meta: dict[str, Any],
    signal: np.ndarray | None = None,
    sampling_rate: float | None = None,
    override: float | None = None,
    rpm_range: tuple[float, float] = DEFAULT_RPM_RANGE,
) -> tuple[float, str]:
    """``(rpm, source)`` for one recording: the override, the metadata, else an estimate."""
    if override:
        return float(override), "option"
    rpm = meta.get("rpm")
    if rpm is not None and np.isfinite(float(rpm)) and float(rpm) > 0:
        source = str(meta.get("rpm_source") or "catalogue")
        return float(rpm), "catalogue" if source == "nominal" else source
    if signal is None or not sampling_rate:
        raise ValueError("no shaft speed in the metadata and no signal to estimate it from")
    return estimate_shaft_speed(signal, sampling_rate, rpm_range).rpm, "estimated"

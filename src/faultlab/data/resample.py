"""Resampling to a target rate with scipy's polyphase filter (anti-aliased, exact ratio)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from faultlab.data.types import Recording
from faultlab.errors import DataError


def resample_signal(signal: np.ndarray, rate: float, target_rate: float) -> np.ndarray:
    """Resample ``signal`` (last axis = time) from ``rate`` to ``target_rate``."""
    if rate <= 0 or target_rate <= 0:
        raise DataError(f"sampling rates must be positive (got {rate} -> {target_rate})")
    if rate == target_rate:
        return signal
    ratio = Fraction(target_rate / rate).limit_denominator(1000)
    out = resample_poly(signal, ratio.numerator, ratio.denominator, axis=-1)
    return out.astype(np.float32, copy=False)


def resample(recording: Recording, target_rate: float | None) -> Recording:
    """A new Recording at ``target_rate`` (the same object when no change is needed)."""
    if target_rate is None or recording.sampling_rate == target_rate:
        return recording
    sig = resample_signal(recording.signal, recording.sampling_rate, target_rate)
    meta = {**recording.meta, "original_sampling_rate": recording.sampling_rate}
    return replace(recording, signal=sig, sampling_rate=float(target_rate), meta=meta)

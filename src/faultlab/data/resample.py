"""Resampling to a target rate with scipy's polyphase filter (anti-aliased, exact ratio)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from faultlab.data.types import Recording
from faultlab.limits import resampled_length


def resample_signal(
    signal: np.ndarray, rate: float, target_rate: float, where: str = ""
) -> np.ndarray:
    """Resample ``signal`` (last axis = time) from ``rate`` to ``target_rate``.

    Both rates and the factor between them are bounded (:mod:`faultlab.limits`): a wrong rate
    is an error naming it, never a 9 GB polyphase filter or scipy's "up and down must be >= 1".
    """
    resampled_length(signal.shape[-1], rate, target_rate, where)
    if rate == target_rate:
        return signal
    ratio = Fraction(target_rate / rate).limit_denominator(1000)
    out = resample_poly(signal, ratio.numerator, ratio.denominator, axis=-1)
    return out.astype(np.float32, copy=False)


def resample(recording: Recording, target_rate: float | None) -> Recording:
    """A new Recording at ``target_rate`` (the same object when no change is needed)."""
    if target_rate is None or recording.sampling_rate == target_rate:
        return recording
    sig = resample_signal(
        recording.signal, recording.sampling_rate, target_rate, recording.recording_id
    )
    meta = {**recording.meta, "original_sampling_rate": recording.sampling_rate}
    return replace(recording, signal=sig, sampling_rate=float(target_rate), meta=meta)

"""Bounds on every numeric input, shared by the config, the CLI, the Python API and the service.

Why one module: a value accepted by one entry point and rejected (or crashing) in another is
how a 16 KB request with ``sampling_rate: 0.001`` ended up resampling to 9 GB. Every check
raises a :class:`~faultlab.errors.FaultlabError` with one line naming the field and the
allowed range (the CLI exits 2, the service answers 422).
"""

from __future__ import annotations

import math
from typing import Any

from faultlab.errors import ConfigError, DataError, FaultlabError

#: Sampling rates (Hz): vibration data acquisition runs from a few Hz to a few MHz.
RATE_MIN_HZ = 1.0
RATE_MAX_HZ = 10e6
#: Largest up- or down-sampling factor (resampling 2,000 samples at 1 Hz to 12 kHz is a
#: wrong rate, not a request: it made 23,437 windows of interpolated nothing).
RESAMPLE_MAX_FACTOR = 100.0
#: Window and stride lengths (samples).
WINDOW_MIN, WINDOW_MAX = 8, 1 << 20
STRIDE_MIN, STRIDE_MAX = 1, 1 << 20
#: Shaft speed (rev/min).
RPM_MIN, RPM_MAX = 1.0, 1e6
#: Samples per channel after resampling, for one recording (400 MB of float32).
MAX_SAMPLES = 100_000_000
#: Windows cut from one recording by ``predict`` / the Python API (the service has its own,
#: smaller default: :data:`SERVICE_MAX_WINDOWS`).
MAX_WINDOWS = 200_000
#: Service defaults: windows and samples (per channel) of one request.
SERVICE_MAX_WINDOWS = 10_000
SERVICE_MAX_SAMPLES = 4_000_000
#: Largest magnitude of a sample fed to a model (acceleration in g rarely passes 1e4; 1e38
#: overflows the features' fourth powers in float32).
MAX_ABS_SAMPLE = 1e6
#: Windows per model call.
BATCH_MAX = 65_536

#: Field name -> (low, high) for :func:`check_range` (the ranges the docs list).
RANGES: dict[str, tuple[float, float]] = {
    "sampling_rate": (RATE_MIN_HZ, RATE_MAX_HZ),
    "target_rate": (RATE_MIN_HZ, RATE_MAX_HZ),
    "window": (WINDOW_MIN, WINDOW_MAX),
    "stride": (STRIDE_MIN, STRIDE_MAX),
    "rpm": (RPM_MIN, RPM_MAX),
    "batch_size": (1, BATCH_MAX),
}


def check_range(
    value: Any,
    field: str,
    where: str = "",
    error: type[FaultlabError] = ConfigError,
    bounds: tuple[float, float] | None = None,
) -> float:
    """``value`` as a float inside ``bounds`` (default ``RANGES[field]``), else one-line error."""
    low, high = bounds or RANGES[field]
    prefix = f"{where}: " if where else ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise error(f"{prefix}{field} {value!r} is not a number") from None
    if not math.isfinite(v) or not low <= v <= high:
        shown = f"{v:g}" if isinstance(value, (int, float)) else repr(value)
        raise error(f"{prefix}{field} {shown} is outside the allowed range [{low:g}, {high:g}]")
    return v


def check_rate(
    value: Any,
    where: str = "",
    field: str = "sampling_rate",
    error: type[FaultlabError] = DataError,
) -> float:
    return check_range(value, field, where, error, RANGES["sampling_rate"])


def resampled_length(
    n: int, rate: float, target: float, where: str = "", field: str = "sampling_rate"
) -> int:
    """Samples after resampling ``n`` samples from ``rate`` to ``target`` (both checked)."""
    check_rate(rate, where, field)
    check_rate(target, where, "target rate")
    factor = target / rate
    if factor > RESAMPLE_MAX_FACTOR or factor < 1 / RESAMPLE_MAX_FACTOR:
        prefix = f"{where}: " if where else ""
        raise DataError(
            f"{prefix}{field} {rate:g} Hz would be resampled to {target:g} Hz, a factor of "
            f"{factor:.3g}; at most {RESAMPLE_MAX_FACTOR:g}x either way (is the rate right?)"
        )
    out = int(math.ceil(n * factor))
    if out > MAX_SAMPLES:
        prefix = f"{where}: " if where else ""
        raise DataError(
            f"{prefix}{n} samples at {rate:g} Hz resample to {out} samples at {target:g} Hz, "
            f"over the limit of {MAX_SAMPLES} per channel"
        )
    return out


def n_windows(n: int, window: int, stride: int) -> int:
    return 0 if n < window else (n - window) // stride + 1


def check_windows(count: int, limit: int, where: str = "", field: str = "samples") -> None:
    if count > limit:
        prefix = f"{where}: " if where else ""
        raise DataError(
            f"{prefix}{field} would make {count} windows, over the limit of {limit} per "
            "recording/request (send a shorter signal, or split it)"
        )

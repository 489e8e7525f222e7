"""Finding one series among a file's variables (CWRU suffixes, struct fields, rate scalars)
and shaping it: a finite 1-D float32 series, or a ``[C, n]`` array."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faultlab.errors import DataError

#: Channel name -> variable-name suffix in CWRU files (the prefix varies: X097_, X173_, ...).
CWRU_SUFFIXES = {"DE": "_DE_time", "FE": "_FE_time", "BA": "_BA_time", "RPM": "RPM"}

#: Channels that are signals (RPM is a scalar).
SIGNAL_CHANNELS = ("DE", "FE", "BA")

#: An array dimension at most this large may be a channel axis (``.npy`` / ``.mat`` arrays).
MAX_CHANNELS = 16

#: Scalar variable names (case-insensitive) taken as the sampling rate in a user's ``.mat``.
RATE_NAMES = ("fs", "sr", "sampling_rate", "sample_rate", "samplerate", "sampling_frequency")

#: CSV column names (case-insensitive) taken as a time axis, not as a channel.
TIME_COLUMNS = ("time", "t", "time_s", "timestamp", "seconds")


def struct_fields(variables: Mapping[str, np.ndarray], struct: str) -> list[str]:
    """The (numeric) fields of ``struct`` among flattened variables, in file order."""
    prefix = f"{struct}."
    return list(
        dict.fromkeys(k[len(prefix) :].split(".")[0] for k in variables if k.startswith(prefix))
    )


def largest_vector(variables: Mapping[str, np.ndarray], keys: Sequence[str]) -> str | None:
    vectors = [
        k for k in keys if variables[k].size > 1 and sum(d > 1 for d in variables[k].shape) == 1
    ]
    return max(vectors, key=lambda k: variables[k].size) if vectors else None


def resolve_key(variables: Mapping[str, np.ndarray], key: str, path: str | os.PathLike) -> str:
    """The variable ``key`` names: itself, a struct (its largest vector field), or a unique
    field name (``gs`` -> ``bearing.gs``). Missing: a DataError listing what is there
    (the struct's fields when the key is ``struct.field``)."""
    if key in variables:
        return key
    if struct_fields(variables, key):
        inner = largest_vector(variables, [k for k in variables if k.startswith(f"{key}.")])
        if inner is not None:
            return inner
        raise DataError(
            f"{path}: struct {key!r} has no numeric vector field; fields: "
            f"{', '.join(struct_fields(variables, key))}"
        )
    ends = [k for k in variables if k.endswith(f".{key}")]
    if len(ends) == 1:
        return ends[0]
    struct, _, field = key.rpartition(".")
    if struct and struct_fields(variables, struct):
        raise DataError(
            f"{path}: struct {struct!r} has no field {field!r}; fields: "
            f"{', '.join(struct_fields(variables, struct))}"
        )
    hint = f" (several fields are named {key!r}: {', '.join(ends)})" if ends else ""
    raise DataError(f"{path}: no variable {key!r}{hint}; keys present: {sorted(variables)}")


def find_rate(
    variables: Mapping[str, np.ndarray], near: str | None = None
) -> tuple[float, str] | None:
    """A scalar named like a sampling rate (``fs``, ``sr``, ... at any struct depth),
    preferring one in the same struct as the signal ``near``; with its key."""
    found = [
        k
        for k, v in variables.items()
        if k.rsplit(".", 1)[-1].lower() in RATE_NAMES and v.size == 1
    ]
    if not found:
        return None
    struct = near.rpartition(".")[0] if near else ""
    same = [k for k in found if k.rpartition(".")[0] == struct]
    key = (same or found)[0]
    return float(np.asarray(variables[key]).ravel()[0]), key


def _leading_number(key: str) -> int | None:
    found = re.match(r"^[A-Za-z]*0*(\d+)", key)
    return int(found.group(1)) if found else None


def _path_number(path: str | os.PathLike) -> int | None:
    digits = re.sub(r"\D", "", Path(path).stem)
    return int(digits) if digits else None


def channel_key(
    variables: Mapping[str, np.ndarray],
    channel: str,
    path: str | os.PathLike,
    number: int | None = None,
    prefer_prefix: str | None = None,
) -> str:
    """The variable holding ``channel`` (DE/FE/BA/RPM, or any suffix) in a CWRU-style file.

    Among several candidates: the one with ``prefer_prefix`` (the set already chosen for
    another channel), else the one numbered like the file, else the first in file order.
    """
    suffix = CWRU_SUFFIXES.get(channel.upper(), channel)
    keys = [k for k in variables if k.endswith(suffix)]
    if not keys:
        raise DataError(
            f"{path}: no variable ending in {suffix!r} (channel {channel}); "
            f"keys present: {sorted(variables)}"
        )
    if prefer_prefix is not None:
        same = [k for k in keys if k[: -len(suffix)] == prefer_prefix]
        if same:
            return same[0]
    number = _path_number(path) if number is None else number
    numbered = [k for k in keys if number is not None and _leading_number(k) == number]
    return (numbered or keys)[0]


def reject_counts(arr: np.ndarray, path: str | os.PathLike, what: str) -> None:
    """Integer samples are raw ADC counts (int16 from a data logger), not acceleration: a
    model trained on g would classify them silently wrong, so they are refused."""
    if arr.dtype.kind in "iu" and arr.size > 1:
        raise DataError(
            f"{path}: {what} holds integers ({arr.dtype}), likely raw ADC counts; faultlab "
            "reads acceleration in g: convert (counts x sensor sensitivity) and save as float"
        )


def series(value: np.ndarray, path: str | os.PathLike, key: str) -> np.ndarray:
    """One finite, non-empty 1-D float32 series; otherwise a DataError naming file and key."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{path}: variable {key!r} is not numeric (dtype {arr.dtype})")
    reject_counts(arr, path, f"variable {key!r}")
    if arr.ndim > 1 and sum(d > 1 for d in arr.shape) > 1:
        raise DataError(f"{path}: variable {key!r} has shape {arr.shape}, not a single series")
    series = arr.astype(np.float32, copy=False).ravel()
    if series.size == 0:
        raise DataError(f"{path}: variable {key!r} is empty")
    check_finite(series[None, :], path, [key])
    return series


def check_finite(signal: np.ndarray, path: str | os.PathLike, names: Sequence[str]) -> None:
    finite = np.isfinite(signal)
    if finite.all():
        return
    row = int(np.argmin(finite.all(axis=1)))
    bad = ~finite[row]
    first = int(np.argmax(bad))
    raise DataError(
        f"{path}: {names[row]!r} has {int(bad.sum())} NaN/inf value(s) (first at sample {first})"
    )


def find_channel(
    variables: Mapping[str, np.ndarray], channel: str, path: str | os.PathLike
) -> np.ndarray:
    """The float32 series of ``channel`` (see :func:`channel_key`), validated."""
    key = channel_key(variables, channel, path)
    return series(variables[key], path, key)


def stored_rpm(variables: Mapping[str, np.ndarray], prefix: str) -> float | None:
    """The RPM stored with the chosen series set, if the file has one."""
    value = variables.get(f"{prefix}RPM")
    if value is None or np.asarray(value).size == 0:
        return None
    rpm = float(np.asarray(value, dtype=float).ravel()[0])
    return rpm if np.isfinite(rpm) and rpm > 0 else None


def orient(arr: np.ndarray, path: str | os.PathLike, what: str = "array") -> np.ndarray:
    """``[C, n]`` from a 1-D array, ``[C, n]`` or ``[n, C]``.

    Rule: a 1-D array is one channel. For 2-D, the smaller dimension is the channel axis when
    it is at most ``MAX_CHANNELS`` (16): ``(3, 120000)`` and ``(120000, 3)`` are both 3
    channels. If neither dimension is that small the shape is ambiguous: a DataError.
    """
    arr = np.asarray(arr)
    if arr.ndim == 1:
        return arr[None, :]
    if arr.ndim == 2:
        rows, cols = arr.shape
        if rows <= cols and rows <= MAX_CHANNELS:
            return arr
        if cols < rows and cols <= MAX_CHANNELS:
            return arr.T
    raise DataError(
        f"{path}: {what} has shape {arr.shape}; expected 1-D, [channels, n] or [n, channels] "
        f"with at most {MAX_CHANNELS} channels"
    )


Loaded = tuple[np.ndarray, list[str], float | None, dict[str, Any]]


def pick_rows(
    signal: np.ndarray, names: list[str], channels: Sequence[Any] | None, path: Path
) -> tuple[np.ndarray, list[str]]:
    """Select channels by index or name, or rename all channels when given as many names."""
    if channels is None:
        return signal, names
    chans = list(channels)
    if all(isinstance(c, int | np.integer) for c in chans):
        bad = [c for c in chans if not -len(names) <= int(c) < len(names)]
        if bad:
            raise DataError(f"{path}: channel index {bad[0]} out of range (has {len(names)})")
        return signal[chans], [names[int(c)] for c in chans]
    if all(str(c) in names for c in chans):
        idx = [names.index(str(c)) for c in chans]
        return signal[idx], [names[i] for i in idx]
    if len(chans) == len(names):
        return signal, [str(c) for c in chans]
    raise DataError(f"{path}: channels {chans} do not match its {len(names)} channel(s) {names}")


def stack_series(series: list[np.ndarray], keys: Sequence[str], path: Path) -> np.ndarray:
    lengths = {s.size for s in series}
    if len(lengths) > 1:
        sizes = {k: s.size for k, s in zip(keys, series, strict=True)}
        raise DataError(f"{path}: channels have different lengths {sizes}")
    return np.stack(series)

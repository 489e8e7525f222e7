"""Which variables of a user's ``.mat`` file are the signal, and at what rate: by key, by
channel names, CWRU-style series sets, or a guess (the only array, equal-length vectors,
a struct's largest vector)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faultlab.data.readers.matfile import load_mat
from faultlab.data.readers.variables import (
    CWRU_SUFFIXES,
    SIGNAL_CHANNELS,
    Loaded,
    channel_key,
    find_rate,
    largest_vector,
    orient,
    pick_rows,
    reject_counts,
    resolve_key,
    series,
    stack_series,
    stored_rpm,
    struct_fields,
)
from faultlab.errors import DataError


def _rate(
    variables: Mapping[str, np.ndarray], near: str | None, rate_key: str | None, path: Path
) -> tuple[float | None, dict[str, Any]]:
    """The file's sampling rate: the variable ``rate_key`` names, else an ``fs``/``sr``-like
    scalar (the signal's own struct first); with the key it came from."""
    if rate_key is not None:
        key = resolve_key(variables, rate_key, path)
        value = np.asarray(variables[key])
        if value.size != 1:
            raise DataError(f"{path}: rate variable {key!r} has {value.size} values, not one")
        return float(value.ravel()[0]), {"rate_key": key}
    found = find_rate(variables, near)
    return (found[0], {"rate_key": found[1]}) if found else (None, {})


def _by_key(
    variables: Mapping[str, np.ndarray],
    key: str | Sequence[str],
    channels: Sequence[Any] | None,
    path: Path,
) -> tuple[np.ndarray, list[str], str]:
    wanted = [resolve_key(variables, k, path) for k in ([key] if isinstance(key, str) else key)]
    if len(wanted) == 1:
        reject_counts(np.asarray(variables[wanted[0]]), path, f"variable {wanted[0]!r}")
        signal = orient(variables[wanted[0]], path, f"variable {wanted[0]!r}")
        names = (
            [wanted[0]]
            if signal.shape[0] == 1
            else [f"{wanted[0]}[{i}]" for i in range(signal.shape[0])]
        )
        signal, names = pick_rows(signal, names, channels, path)
        return signal, names, wanted[0]
    parts = [series(variables[k], path, k) for k in wanted]
    return stack_series(parts, wanted, path), wanted, ",".join(wanted)


def _channel_variable(variables: Mapping[str, np.ndarray], name: str, path: Path) -> str:
    """A channel given by variable name, struct field (``gs``) or CWRU suffix (``DE``)."""
    if name in variables:
        return name
    if struct_fields(variables, name) or sum(k.endswith(f".{name}") for k in variables) == 1:
        return resolve_key(variables, name, path)
    return channel_key(variables, name, path)


def _cwru_like(variables: Mapping[str, np.ndarray], path: Path) -> Loaded | None:
    found = [ch for ch in SIGNAL_CHANNELS if any(k.endswith(CWRU_SUFFIXES[ch]) for k in variables)]
    if not found:
        return None
    first = channel_key(variables, found[0], path)
    prefix = first[: -len(CWRU_SUFFIXES[found[0]])]
    chans = [ch for ch in found if f"{prefix}{CWRU_SUFFIXES[ch]}" in variables] or found[:1]
    keys = [channel_key(variables, ch, path, prefer_prefix=prefix) for ch in chans]
    parts = [series(variables[k], path, k) for k in keys]
    extra: dict[str, Any] = {"key": ",".join(keys), "series_set": prefix}
    rpm = stored_rpm(variables, prefix)
    if rpm is not None:
        extra["rpm"] = rpm
    return stack_series(parts, keys, path), list(chans), None, extra


def _guess(variables: Mapping[str, np.ndarray], path: Path) -> tuple[np.ndarray, list[str], str]:
    """No key, no channels: the only array; else all vectors of one length; else, for
    struct fields (MFPT ``bearing.gs``), the largest vector."""
    arrays = {k: v for k, v in variables.items() if v.size > 1}
    if len(arrays) == 1:
        ((name, value),) = arrays.items()
        reject_counts(np.asarray(value), path, f"variable {name!r}")
        signal = orient(value, path, f"variable {name!r}")
        names = [name] if signal.shape[0] == 1 else [f"{name}[{i}]" for i in range(signal.shape[0])]
        return signal, names, name
    vectors = {k: v for k, v in arrays.items() if sum(d > 1 for d in v.shape) == 1}
    if vectors and len(vectors) == len(arrays) and len({v.size for v in vectors.values()}) == 1:
        names = list(vectors)
        return np.stack([series(v, path, k) for k, v in vectors.items()]), names, ",".join(names)
    largest = largest_vector(variables, [k for k in arrays if "." in k])
    if largest is not None:
        return series(variables[largest], path, largest)[None, :], [largest], largest
    raise DataError(
        f"{path}: cannot tell which variables are signals (keys: {sorted(variables)}); "
        "name them with key= or channels="
    )


def detect_signal(
    variables: Mapping[str, np.ndarray], path: str | os.PathLike
) -> tuple[list[str], float | None, str | None]:
    """What :func:`read_recording` would read from these variables with no key or channels:
    (signal keys, rate found in the file, the rate's key). Used by ``faultlab data info``."""
    cwru = _cwru_like(variables, Path(path))
    if cwru is not None:
        keys = str(cwru[3]["key"]).split(",")
    else:
        keys = _guess(variables, Path(path))[2].split(",")
    found = find_rate(variables, keys[0])
    return keys, (found[0] if found else None), (found[1] if found else None)


def read_mat(
    path: Path,
    channels: Sequence[Any] | None,
    key: str | Sequence[str] | None,
    rate_key: str | None = None,
) -> Loaded:
    variables = load_mat(path)
    if key is not None:
        signal, names, used = _by_key(variables, key, channels, path)
    elif channels is not None:
        keys = [_channel_variable(variables, str(ch), path) for ch in channels]
        signal = stack_series([series(variables[k], path, k) for k in keys], keys, path)
        names = [str(c).upper() if str(c).upper() in CWRU_SUFFIXES else str(c) for c in channels]
        used = ",".join(keys)
    else:
        cwru = _cwru_like(variables, path)
        if cwru is not None:
            rate, extra = _rate(variables, None, rate_key, path)
            return cwru[0], cwru[1], rate, {**cwru[3], **extra}
        signal, names, used = _guess(variables, path)
    rate, extra = _rate(variables, used.split(",")[0], rate_key, path)
    return signal, names, rate, {"key": used, **extra}

"""A user's own recording (``.mat``, ``.npy``, ``.csv``) as a :class:`Recording`."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faultlab.data.readers.mat_signal import read_mat
from faultlab.data.readers.variables import (
    TIME_COLUMNS,
    Loaded,
    check_finite,
    orient,
    pick_rows,
    reject_counts,
)
from faultlab.data.types import Recording
from faultlab.errors import DataError


def _read_npy(path: Path, channels: Sequence[Any] | None, key: Any) -> Loaded:
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise DataError(f"{path}: .npy array is not numeric")
    reject_counts(arr, path, "the array")
    signal = orient(arr, path)
    names = [f"ch{i}" for i in range(signal.shape[0])]
    signal, names = pick_rows(signal, names, channels, path)
    return signal, names, None, {}


def _read_csv(path: Path, channels: Sequence[Any] | None, key: Any) -> Loaded:
    import pandas as pd

    try:
        first = pd.read_csv(path, header=None, nrows=1, dtype=str)
        if all(is_float(v) for v in first.iloc[0]):  # no header row: all numbers
            df = pd.read_csv(path, header=None)
            df.columns = [f"ch{i}" for i in range(df.shape[1])]
        else:
            df = pd.read_csv(path)
    except Exception as exc:  # EmptyDataError, ParserError, UnicodeDecodeError
        raise DataError(
            f"{path}: not a readable CSV file ({exc.__class__.__name__}: {exc})"
        ) from None
    if df.empty:
        raise DataError(f"{path}: CSV has no rows")
    df.columns = [str(c).strip() for c in df.columns]
    time_cols = [c for c in df.columns if c.lower() in TIME_COLUMNS]
    rate = _rate_from_time(df[time_cols[0]], path, time_cols[0]) if time_cols else None
    if channels is not None:
        cols = []
        for c in channels:
            if isinstance(c, int | np.integer) and not isinstance(c, bool):
                if not 0 <= int(c) < df.shape[1]:
                    raise DataError(f"{path}: column index {c} out of range (has {df.shape[1]})")
                cols.append(df.columns[int(c)])
            elif str(c) in df.columns:
                cols.append(str(c))
            else:
                raise DataError(f"{path}: no column {str(c)!r}; columns: {list(df.columns)}")
        for c in cols:
            if not pd.api.types.is_numeric_dtype(df[c]):
                raise DataError(f"{path}: column {c!r} is not numeric")
        ignored: list[str] = []
    else:
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
        cols = [c for c in numeric if c not in time_cols]
        ignored = [c for c in df.columns if c not in numeric]
        if not cols:
            raise DataError(f"{path}: no numeric columns besides time; columns: {list(df.columns)}")
    signal = df[cols].to_numpy(dtype=np.float64).T
    extra: dict[str, Any] = {"ignored_columns": ",".join(ignored)} if ignored else {}
    return signal, cols, rate, extra


def is_float(text: Any) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _rate_from_time(col: Any, path: Path, name: str) -> float:
    t = np.asarray(col, dtype=float)
    dt = np.diff(t)
    if t.size < 2 or not np.all(np.isfinite(dt)) or np.any(dt <= 0):
        raise DataError(f"{path}: time column {name!r} is not strictly increasing")
    step = float(np.median(dt))
    if np.max(np.abs(dt - step)) > 1e-3 * step + 1e-12:
        raise DataError(f"{path}: time column {name!r} is not evenly spaced; pass sampling_rate")
    return 1.0 / step


#: File suffix -> loader returning (signal [C, n], channel names, rate found, extra meta).
LOADERS: dict[str, Callable[[Path, Sequence[Any] | None, Any], Loaded]] = {
    ".mat": read_mat,
    ".npy": _read_npy,
    ".csv": _read_csv,
}


def _final_rate(path: Path, given: float | None, found: Any) -> float:
    """``given`` (an option) wins over ``found`` (in the file); neither is a DataError."""
    rate = given if given is not None else found
    if rate is None:
        raise DataError(
            f"{path}: no sampling rate; pass sampling_rate (manifest column sampling_rate)"
        )
    rate = float(rate)
    if not np.isfinite(rate) or rate <= 0:
        raise DataError(f"{path}: sampling rate {rate} must be a positive number")
    return rate


def read_recording(
    path: str | os.PathLike,
    channels: str | Sequence[Any] | None = None,
    sampling_rate: float | str | None = None,
    key: str | Sequence[str] | None = None,
    recording_id: str | None = None,
) -> Recording:
    """A user's own recording from ``.mat``, ``.npy`` or ``.csv``.

    - ``.mat``: ``key`` names the variable(s) (``bearing.gs`` for a struct field, ``gs`` when
      one field has that name, ``bearing`` for a struct's largest vector); else ``channels``
      are variable names, struct fields or suffixes (``DE``/``FE``/``BA`` as in CWRU files);
      else CWRU-style ``*_DE_time``... series, else the only array, else all vectors of one
      length, else the largest vector field of a struct. A scalar ``fs``/``sr``/... variable
      (in the signal's struct first: ``bearing.sr``) gives the rate; ``sampling_rate`` may
      also name that variable (``"bearing.sr"``).
    - ``.npy``: 1-D (one channel), ``[C, n]`` or ``[n, C]``: see :func:`orient`. ``channels``
      are row indices to keep, or as many names as there are channels.
    - ``.csv``: numeric columns are channels (``channels`` selects by name or index); a
      ``time`` column is not a channel and gives the rate when ``sampling_rate`` is absent; a
      file without a header row is read as ``ch0, ch1, ...``.

    ``sampling_rate`` wins over a rate found in the file; if neither exists it is a DataError.
    """
    path = Path(path)
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use {sorted(LOADERS)}")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    chans = [channels] if isinstance(channels, str | int) else channels
    rate_key = None
    if isinstance(sampling_rate, str):
        try:
            sampling_rate = float(sampling_rate)
        except ValueError:
            if loader is not read_mat:
                raise DataError(
                    f"{path}: sampling rate {sampling_rate!r} is not a number"
                ) from None
            rate_key, sampling_rate = sampling_rate, None
    signal, names, found_rate, extra = (
        read_mat(path, chans, key, rate_key) if rate_key else loader(path, chans, key)
    )
    if signal.shape[1] == 0:
        raise DataError(f"{path}: {names[0]!r} is empty")
    check_finite(signal, path, names)
    rate = _final_rate(path, sampling_rate, found_rate)
    meta: dict[str, Any] = {"dataset": "files", "source": str(path), **extra}
    return Recording(
        recording_id=recording_id or path.stem,
        signal=signal.astype(np.float32),
        sampling_rate=rate,
        channels=[str(n) for n in names],
        meta=meta,
    )

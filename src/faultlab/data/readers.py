"""Readers: ``.mat`` (structs included), ``.npy`` and ``.csv`` recordings, and manifests.

The CWRU and MFPT catalogue readers (``faultlab.data.datasets.cwru`` / ``.mfpt``) build on
:func:`load_mat`, :func:`channel_key` and :func:`series` from here.

CWRU files name their series ``X<nnn>_DE_time``, ``X<nnn>_FE_time``, ``X<nnn>_BA_time`` and
``X<nnn>RPM``, but the prefix is not always the file's number (``174.mat`` holds ``X173_*``,
``3005.mat`` only ``X048_DE_time``) and some files hold two sets (``99.mat``: ``X098_*`` and
``X099_*``). So a channel is found by suffix; among several sets the one numbered like the
file wins, else the first, and the key used is recorded in ``meta["key"]``.

A user's own recordings (``.mat``, ``.npy``, ``.csv``) are read by :func:`read_recording`, and
a manifest (CSV or YAML) listing files with their labels by :func:`read_manifest`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faultlab.data.types import META_KEYS, Recording
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


# --------------------------------------------------------------------------- .mat files
def _numeric(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "biuf"


def _text_number(text: str) -> np.ndarray | None:
    """MATLAB char fields that hold a number (MFPT stores ``load`` as ``'25'``) -> a scalar."""
    try:
        return np.asarray([[float(text.strip())]])
    except (TypeError, ValueError):
        return None


def _flatten(name: str, value: Any, out: dict[str, np.ndarray]) -> None:
    """Numeric variables of a v5 file, struct fields as ``struct.field`` (nested: ``a.b.c``).

    A struct array of several elements gives ``name[i].field``; cells are skipped.
    """
    arr = np.asarray(value)
    if arr.dtype.names:  # a struct (scipy's default struct_as_record=True)
        items = list(arr.flat)
        for i, item in enumerate(items):
            base = name if len(items) == 1 else f"{name}[{i}]"
            for field in arr.dtype.names:
                _flatten(f"{base}.{field}", item[field], out)
    elif arr.dtype.kind == "O":
        if arr.size == 1 and isinstance(arr.flat[0], np.ndarray) and arr.flat[0].dtype.names:
            _flatten(name, arr.flat[0], out)
    elif arr.dtype.kind in "US" and arr.size == 1:
        number = _text_number(str(arr.flat[0]))
        if number is not None:
            out[name] = number
    elif _numeric(arr):
        out[name] = arr


def _h5_class(obj: Any) -> str:
    kind = obj.attrs.get("MATLAB_class", b"")
    return kind.decode() if isinstance(kind, bytes) else str(kind)


def _walk_h5(group: Any, prefix: str, out: dict[str, np.ndarray]) -> None:
    """v7.3 (HDF5): structs are groups; numeric datasets are stored transposed."""
    import h5py

    for name, obj in group.items():
        if name.startswith("#"):
            continue
        key = f"{prefix}{name}"
        if isinstance(obj, h5py.Group):
            _walk_h5(obj, f"{key}.", out)
            continue
        kind = _h5_class(obj)
        if kind == "char" and obj.dtype.kind in "iu":
            number = _text_number("".join(map(chr, np.asarray(obj[()]).ravel())))
            if number is not None:
                out[key] = number
        elif obj.dtype.kind in "biuf" and kind not in ("cell", "struct"):
            out[key] = np.asarray(obj[()]).T


def _load_mat73(path: Path) -> dict[str, np.ndarray]:
    import h5py

    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as fh:
            _walk_h5(fh, "", out)
    except Exception as exc:  # h5py raises OSError/KeyError/... on damaged files
        raise DataError(f"{path}: not a readable MATLAB v7.3 (HDF5) file ({exc})") from None
    return out


def _is_hdf5(path: Path) -> bool:
    with path.open("rb") as fh:  # MATLAB v7.3 puts the HDF5 signature at byte 512
        head = fh.read(520)
    return head[:8] == b"\x89HDF\r\n\x1a\n" or head[512:520] == b"\x89HDF\r\n\x1a\n"


def load_mat(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All numeric variables of a ``.mat`` file (v4-v7 via scipy, v7.3 via h5py).

    Struct fields are flattened to dotted keys (``bearing.gs``, ``bearing.sr``; nested
    ``a.b.c``), and char fields holding a number become scalars. A missing, corrupt or
    truncated file is a DataError naming it.
    """
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    if _is_hdf5(path):
        return _load_mat73(path)
    try:
        raw = scipy.io.loadmat(path)
    except NotImplementedError:  # v7.3 whose HDF5 signature was not spotted
        return _load_mat73(path)
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError/MatReadError
        msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise DataError(f"{path}: not a readable .mat file (corrupt or truncated: {msg})") from None
    out: dict[str, np.ndarray] = {}
    for k, v in raw.items():
        if not k.startswith("__"):
            _flatten(k, v, out)
    return out


def struct_fields(variables: Mapping[str, np.ndarray], struct: str) -> list[str]:
    """The (numeric) fields of ``struct`` among flattened variables, in file order."""
    prefix = f"{struct}."
    return list(
        dict.fromkeys(k[len(prefix) :].split(".")[0] for k in variables if k.startswith(prefix))
    )


def _largest_vector(variables: Mapping[str, np.ndarray], keys: Sequence[str]) -> str | None:
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
        inner = _largest_vector(variables, [k for k in variables if k.startswith(f"{key}.")])
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
    _check_finite(series[None, :], path, [key])
    return series


def _check_finite(signal: np.ndarray, path: str | os.PathLike, names: Sequence[str]) -> None:
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


# --------------------------------------------------------------------------- own recordings
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


_Loaded = tuple[np.ndarray, list[str], float | None, dict[str, Any]]


def _pick_rows(
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
        signal, names = _pick_rows(signal, names, channels, path)
        return signal, names, wanted[0]
    parts = [series(variables[k], path, k) for k in wanted]
    return _stack(parts, wanted, path), wanted, ",".join(wanted)


def _channel_variable(variables: Mapping[str, np.ndarray], name: str, path: Path) -> str:
    """A channel given by variable name, struct field (``gs``) or CWRU suffix (``DE``)."""
    if name in variables:
        return name
    if struct_fields(variables, name) or sum(k.endswith(f".{name}") for k in variables) == 1:
        return resolve_key(variables, name, path)
    return channel_key(variables, name, path)


def _cwru_like(variables: Mapping[str, np.ndarray], path: Path) -> _Loaded | None:
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
    return _stack(parts, keys, path), list(chans), None, extra


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
    largest = _largest_vector(variables, [k for k in arrays if "." in k])
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


def _read_mat(
    path: Path,
    channels: Sequence[Any] | None,
    key: str | Sequence[str] | None,
    rate_key: str | None = None,
) -> _Loaded:
    variables = load_mat(path)
    if key is not None:
        signal, names, used = _by_key(variables, key, channels, path)
    elif channels is not None:
        keys = [_channel_variable(variables, str(ch), path) for ch in channels]
        signal = _stack([series(variables[k], path, k) for k in keys], keys, path)
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


def _stack(series: list[np.ndarray], keys: Sequence[str], path: Path) -> np.ndarray:
    lengths = {s.size for s in series}
    if len(lengths) > 1:
        sizes = {k: s.size for k, s in zip(keys, series, strict=True)}
        raise DataError(f"{path}: channels have different lengths {sizes}")
    return np.stack(series)


def _read_npy(path: Path, channels: Sequence[Any] | None, key: Any) -> _Loaded:
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise DataError(f"{path}: .npy array is not numeric")
    reject_counts(arr, path, "the array")
    signal = orient(arr, path)
    names = [f"ch{i}" for i in range(signal.shape[0])]
    signal, names = _pick_rows(signal, names, channels, path)
    return signal, names, None, {}


def _read_csv(path: Path, channels: Sequence[Any] | None, key: Any) -> _Loaded:
    import pandas as pd

    try:
        first = pd.read_csv(path, header=None, nrows=1, dtype=str)
        if all(_is_float(v) for v in first.iloc[0]):  # no header row: all numbers
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


def _is_float(text: Any) -> bool:
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
LOADERS: dict[str, Callable[[Path, Sequence[Any] | None, Any], _Loaded]] = {
    ".mat": _read_mat,
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
            if loader is not _read_mat:
                raise DataError(
                    f"{path}: sampling rate {sampling_rate!r} is not a number"
                ) from None
            rate_key, sampling_rate = sampling_rate, None
    signal, names, found_rate, extra = (
        _read_mat(path, chans, key, rate_key) if rate_key else loader(path, chans, key)
    )
    if signal.shape[1] == 0:
        raise DataError(f"{path}: {names[0]!r} is empty")
    _check_finite(signal, path, names)
    rate = _final_rate(path, sampling_rate, found_rate)
    meta: dict[str, Any] = {"dataset": "files", "source": str(path), **extra}
    return Recording(
        recording_id=recording_id or path.stem,
        signal=signal.astype(np.float32),
        sampling_rate=rate,
        channels=[str(n) for n in names],
        meta=meta,
    )


# --------------------------------------------------------------------------- manifests
#: Manifest fields with a fixed meaning; any other column is kept as an extra label.
MANIFEST_FIELDS = ("path", "sampling_rate", "channels", "key", "recording_id")
LABEL_FIELDS = tuple(k for k in META_KEYS if k not in ("dataset", "source"))
NUMERIC_LABELS = ("fault_diameter_in", "load_hp", "load", "rpm")
_FIELD_ALIASES = {
    "file": "path",
    "fs": "sampling_rate",
    "sampling_rate_hz": "sampling_rate",
    "channel": "channels",
    "id": "recording_id",
    "location": "fault_location",
    "shaft_rate": "shaft_hz",
}


def _manifest_rows(path: Path) -> tuple[list[dict[str, Any]], str]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        import pandas as pd

        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except Exception as exc:
            raise DataError(f"{path}: not a readable CSV manifest ({exc})") from None
        return df.to_dict("records"), "row"
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(path.read_text())
        except Exception as exc:
            raise DataError(f"{path}: not a readable YAML manifest ({exc})") from None
        defaults: dict[str, Any] = {}
        if isinstance(doc, dict):
            defaults = doc.get("defaults") or {}
            doc = doc.get("recordings")
        if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
            raise DataError(
                f"{path}: a YAML manifest is a list of entries (or 'recordings:' with optional "
                "'defaults:'), each a mapping with at least 'path'"
            )
        if not isinstance(defaults, dict):
            raise DataError(f"{path}: 'defaults' must be a mapping")
        return [{**defaults, **r} for r in doc], "entry"
    raise DataError(f"{path}: a manifest is .csv, .yaml or .yml, not {path.suffix!r}")


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and np.isnan(value))
    )


def _number(value: Any, where: str, field: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {field} {value!r} is not a number") from None
    if not np.isfinite(out):
        raise DataError(f"{where}: {field} {value!r} is not a finite number")
    return out


def _split_channels(value: Any) -> list[Any] | None:
    if _blank(value):
        return None
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, int):
        return [value]
    parts = [p.strip() for p in re.split(r"[;|+ ]+", str(value)) if p.strip()]
    return [int(p) if p.isdigit() else p for p in parts]


def _manifest_rate(row: dict[str, Any], where: str, file: Path) -> float | str | None:
    """A number, or (for a ``.mat`` file) the name of its rate variable (``bearing.sr``)."""
    value = row.get("sampling_rate")
    if _blank(value):
        return None
    if isinstance(value, str) and not _is_float(value) and file.suffix.lower() == ".mat":
        return value.strip()
    return _number(value, where, "sampling_rate")


def _row_bearing(row: dict[str, Any], where: str) -> str | None:
    """``bearing`` (a known name or a geometry spec) or the geometry columns -> one value."""
    from faultlab.data.bearings import BEARINGS, GEOMETRY_FIELDS, from_fields, resolve

    if not _blank(row.get("bearing")):
        geom = resolve(str(row["bearing"]).strip(), where)
        named = [k for k, g in BEARINGS.items() if g == geom]
        return named[0] if named else geom.spec()
    given = {
        a: row[a] for names in GEOMETRY_FIELDS.values() for a in names if not _blank(row.get(a))
    }
    return from_fields(given, where).spec() if given else None


def _row_labels(row: dict[str, Any], where: str, rec: Recording) -> dict[str, Any]:
    labels: dict[str, Any] = {}
    for field in LABEL_FIELDS:
        value = row.get(field)
        if _blank(value):
            labels[field] = None
        elif field in NUMERIC_LABELS:
            labels[field] = _number(value, where, field)
        else:
            labels[field] = str(value).strip()
    if labels["condition"] is None and labels["fault_location"] is not None:
        labels["condition"] = "fault"
    if labels["rpm"] is None and not _blank(row.get("shaft_hz")):
        labels["rpm"] = 60.0 * _number(row["shaft_hz"], where, "shaft_hz")
    if labels["rpm"] is None and "rpm" in rec.meta:
        labels["rpm"] = rec.meta["rpm"]
    if labels["load"] is None and labels["load_hp"] is not None:
        labels["load"], labels["load_unit"] = labels["load_hp"], labels["load_unit"] or "hp"
    labels["bearing"] = _row_bearing(row, where)
    return labels


def _manifest_recording(row: dict[str, Any], path: Path, where: str) -> Recording:
    if _blank(row.get("path")):
        raise DataError(f"{where}: no 'path'")
    file = Path(str(row["path"]).strip())
    file = file if file.is_absolute() else path.parent / file
    if not file.is_file():
        raise DataError(f"{where}: file {str(row['path'])!r} not found (looked at {file})")
    key = None if _blank(row.get("key")) else row["key"]
    try:
        rec = read_recording(
            file,
            channels=_split_channels(row.get("channels")),
            sampling_rate=_manifest_rate(row, where, file),
            key=key,
            recording_id=None if _blank(row.get("recording_id")) else str(row["recording_id"]),
        )
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    labels = _row_labels(row, where, rec)
    extras = {
        k: (None if _blank(v) else v)
        for k, v in row.items()
        if k not in MANIFEST_FIELDS and k not in LABEL_FIELDS
    }
    rec.meta.update({**labels, **extras, "manifest": str(path)})
    return rec


def read_manifest(path: str | os.PathLike) -> list[Recording]:
    """Recordings listed in a CSV or YAML manifest (paths relative to the manifest).

    Fields: ``path`` (required), ``sampling_rate`` (or ``fs``; a number, or the name of the
    file's rate variable such as ``bearing.sr``; required unless the file holds a rate),
    ``channels`` (``;``-separated or a list), ``key`` (``.mat`` variable or struct field,
    ``bearing.gs``), ``recording_id`` (default: the file stem), labels ``condition``,
    ``fault_location``, ``fault_diameter_in``, ``load`` (+ ``load_unit``), ``load_hp``,
    ``rpm`` (or ``shaft_hz``), ``sensor_end``, ``fault_end``, and the bearing: ``bearing``
    (a name such as ``6205`` / ``NICE``, or a geometry spec) or the columns ``n_balls``,
    ``ball_diameter``, ``pitch_diameter``, ``contact_angle``. Any other field is kept in
    ``meta`` as an extra label (``dataset`` names the machine). ``condition`` defaults to
    ``fault`` when a ``fault_location`` is given. A YAML manifest may put shared fields under
    ``defaults:``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: manifest not found")
    rows, unit = _manifest_rows(path)
    if not rows:
        raise DataError(f"{path}: manifest lists no recordings")
    recordings = [
        _manifest_recording(
            {_FIELD_ALIASES.get(str(k).strip(), str(k).strip()): v for k, v in raw.items()},
            path,
            f"{path} {unit} {i}",
        )
        for i, raw in enumerate(rows, start=1)
    ]
    ids = [r.recording_id for r in recordings]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise DataError(
            f"{path}: recording ids {dupes} repeat (same file stem); add a recording_id column"
        )
    return recordings

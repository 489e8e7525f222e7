"""Readers: CWRU ``.mat`` files (channels found by suffix) and a user's own recordings.

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

from faultlab.data import catalogue
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


def _load_mat73(path: Path) -> dict[str, np.ndarray]:
    """MATLAB v7.3 files are HDF5; datasets are stored transposed (column-major)."""
    import h5py

    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as fh:
            for name, obj in fh.items():
                if name.startswith("#") or not isinstance(obj, h5py.Dataset):
                    continue
                kind = obj.attrs.get("MATLAB_class", b"")
                kind = kind.decode() if isinstance(kind, bytes) else str(kind)
                if obj.dtype.kind not in "biuf" or kind in ("char", "cell", "struct"):
                    continue
                out[name] = np.asarray(obj[()]).T
    except Exception as exc:  # h5py raises OSError/KeyError/... on damaged files
        raise DataError(f"{path}: not a readable MATLAB v7.3 (HDF5) file ({exc})") from None
    return out


def _is_hdf5(path: Path) -> bool:
    import h5py

    try:
        return bool(h5py.is_hdf5(path))
    except Exception:
        return False


def load_mat(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All numeric variables of a ``.mat`` file (v4-v7 via scipy, v7.3 via h5py).

    A missing, corrupt or truncated file is a DataError naming it.
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
    except NotImplementedError:  # v7.3 whose HDF5 signature h5py did not spot
        return _load_mat73(path)
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError/MatReadError
        msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise DataError(f"{path}: not a readable .mat file (corrupt or truncated: {msg})") from None
    return {
        k: np.asarray(v)
        for k, v in raw.items()
        if not k.startswith("__") and _numeric(np.asarray(v))
    }


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


def _series(value: np.ndarray, path: str | os.PathLike, key: str) -> np.ndarray:
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
    return _series(variables[key], path, key)


def stored_rpm(variables: Mapping[str, np.ndarray], prefix: str) -> float | None:
    """The RPM stored with the chosen series set, if the file has one."""
    value = variables.get(f"{prefix}RPM")
    if value is None or np.asarray(value).size == 0:
        return None
    rpm = float(np.asarray(value, dtype=float).ravel()[0])
    return rpm if np.isfinite(rpm) and rpm > 0 else None


def _channels_arg(channels: str | Sequence[str]) -> list[str]:
    names = [channels] if isinstance(channels, str) else list(channels)
    out = [str(c).upper() for c in names]
    bad = [c for c in out if c not in SIGNAL_CHANNELS]
    if bad or not out:
        raise DataError(
            f"unknown CWRU channel(s) {bad or names}; choose from {list(SIGNAL_CHANNELS)}"
        )
    return out


def read_cwru(
    file: int | str,
    data_dir: str | os.PathLike | None = None,
    channels: str | Sequence[str] = ("DE",),
    download: bool = False,
) -> Recording:
    """One CWRU recording: ``signal`` float32 ``[C, n]`` plus its catalogue labels.

    ``meta``: dataset, source, condition, fault_location, fault_diameter_in, load_hp, rpm (the
    RPM stored in the file when present, else the nominal speed; ``rpm_source`` says which),
    sensor_end (the channel(s), ``+``-joined), fault_end, and the catalogue's file, name,
    group, rpm_nominal, plus ``key`` (the variable(s) read).
    """
    info = catalogue.entry(file)
    number = int(info["file"])
    chans = _channels_arg(channels)
    path = catalogue.cwru_path(number, data_dir)
    if not path.exists():
        if not download:
            raise DataError(
                f"CWRU file {number} not found at {path}; download it with "
                f"`faultlab data download cwru --files {number}` (or download=True), "
                "or point --data-dir / FAULTLAB_DATA_DIR at a folder holding cwru/"
            )
        from faultlab.data.download import fetch_cwru

        path = fetch_cwru(number, data_dir)
    variables = load_mat(path)

    keys: list[str] = []
    prefix: str | None = None
    for ch in chans:
        key = channel_key(variables, ch, path, number, prefer_prefix=prefix)
        if prefix is None:
            prefix = key[: -len(CWRU_SUFFIXES[ch])]
        keys.append(key)
    series = [_series(variables[k], path, k) for k in keys]
    n = min(s.size for s in series)
    meta_extra: dict[str, Any] = {}
    if any(s.size != n for s in series):
        meta_extra["truncated_to"] = n
        meta_extra["note_channels"] = "channels of unequal length were cut to the shortest"
    signal = np.stack([s[:n] for s in series])

    stored = stored_rpm(variables, prefix or "")
    meta: dict[str, Any] = {
        "dataset": "cwru",
        "source": str(path),
        "condition": info["condition"],
        "fault_location": info["fault_location"],
        "fault_diameter_in": info["fault_diameter_in"],
        "load_hp": info["load_hp"],
        "rpm": stored if stored is not None else float(info["rpm"]),
        "rpm_source": "file" if stored is not None else "nominal",
        "rpm_nominal": float(info["rpm"]),
        "sensor_end": "+".join(chans),
        "fault_end": info["fault_end"],
        "file": number,
        "name": info["name"],
        "group": info["group"],
        "key": ",".join(keys),
        "series_set": prefix,
        **meta_extra,
    }
    return Recording(
        recording_id=str(number),
        signal=signal,
        sampling_rate=float(info["sampling_rate_hz"]),
        channels=chans,
        meta=meta,
    )


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


def _read_mat(
    path: Path, channels: Sequence[Any] | None, key: str | Sequence[str] | None
) -> _Loaded:
    variables = load_mat(path)
    rate: float | None = None
    for name, value in variables.items():
        if name.lower() in RATE_NAMES and value.size == 1:
            rate = float(value.ravel()[0])
    if key is not None:
        wanted = [key] if isinstance(key, str) else list(key)
        missing = [k for k in wanted if k not in variables]
        if missing:
            raise DataError(
                f"{path}: no variable {missing[0]!r}; keys present: {sorted(variables)}"
            )
        if len(wanted) == 1:
            reject_counts(np.asarray(variables[wanted[0]]), path, f"variable {wanted[0]!r}")
            signal = orient(variables[wanted[0]], path, f"variable {wanted[0]!r}")
            names = (
                [wanted[0]]
                if signal.shape[0] == 1
                else [f"{wanted[0]}[{i}]" for i in range(signal.shape[0])]
            )
            signal, names = _pick_rows(signal, names, channels, path)
            return signal, names, rate, {"key": wanted[0]}
        series = [_series(variables[k], path, k) for k in wanted]
        return _stack(series, wanted, path), wanted, rate, {"key": ",".join(wanted)}
    if channels is not None:
        keys = []
        for ch in channels:
            name = str(ch)
            keys.append(name if name in variables else channel_key(variables, name, path))
        series = [_series(variables[k], path, k) for k in keys]
        names = [str(c).upper() if str(c).upper() in CWRU_SUFFIXES else str(c) for c in channels]
        return _stack(series, keys, path), names, rate, {"key": ",".join(keys)}
    cwru_like = [
        ch for ch in SIGNAL_CHANNELS if any(k.endswith(CWRU_SUFFIXES[ch]) for k in variables)
    ]
    if cwru_like:
        first = channel_key(variables, cwru_like[0], path)
        prefix = first[: -len(CWRU_SUFFIXES[cwru_like[0]])]
        chans = [
            ch for ch in cwru_like if f"{prefix}{CWRU_SUFFIXES[ch]}" in variables
        ] or cwru_like[:1]
        keys = [channel_key(variables, ch, path, prefer_prefix=prefix) for ch in chans]
        series = [_series(variables[k], path, k) for k in keys]
        rpm = stored_rpm(variables, prefix)
        extra = {"key": ",".join(keys), "series_set": prefix}
        if rpm is not None:
            extra["rpm"] = rpm
        return _stack(series, keys, path), chans, rate, extra
    arrays = {k: v for k, v in variables.items() if v.size > 1}
    if len(arrays) == 1:
        ((name, value),) = arrays.items()
        reject_counts(np.asarray(value), path, f"variable {name!r}")
        signal = orient(value, path, f"variable {name!r}")
        names = [name] if signal.shape[0] == 1 else [f"{name}[{i}]" for i in range(signal.shape[0])]
        return signal, names, rate, {"key": name}
    vectors = {k: v for k, v in arrays.items() if sum(d > 1 for d in v.shape) == 1}
    lengths = {v.size for v in vectors.values()}
    if vectors and len(vectors) == len(arrays) and len(lengths) == 1:
        names = list(vectors)
        series = [_series(v, path, k) for k, v in vectors.items()]
        return np.stack(series), names, rate, {"key": ",".join(names)}
    raise DataError(
        f"{path}: cannot tell which variables are signals (keys: {sorted(variables)}); "
        "name them with key= or channels="
    )


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


def read_recording(
    path: str | os.PathLike,
    channels: str | Sequence[Any] | None = None,
    sampling_rate: float | None = None,
    key: str | Sequence[str] | None = None,
    recording_id: str | None = None,
) -> Recording:
    """A user's own recording from ``.mat``, ``.npy`` or ``.csv``.

    - ``.mat``: ``key`` names the variable(s); else ``channels`` are variable names or
      suffixes (``DE``/``FE``/``BA`` as in CWRU files); else CWRU-style ``*_DE_time``... series,
      else the only array, else all vectors of one length. A scalar ``fs``/``sampling_rate``
      variable gives the rate.
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
    signal, names, found_rate, extra = loader(path, chans, key)
    if signal.shape[1] == 0:
        raise DataError(f"{path}: {names[0]!r} is empty")
    _check_finite(signal, path, names)
    rate = sampling_rate if sampling_rate is not None else found_rate
    if rate is None:
        raise DataError(
            f"{path}: no sampling rate; pass sampling_rate (manifest column sampling_rate)"
        )
    rate = float(rate)
    if not np.isfinite(rate) or rate <= 0:
        raise DataError(f"{path}: sampling rate {rate} must be a positive number")
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
NUMERIC_LABELS = ("fault_diameter_in", "load_hp", "rpm")
_FIELD_ALIASES = {
    "file": "path",
    "fs": "sampling_rate",
    "sampling_rate_hz": "sampling_rate",
    "channel": "channels",
    "id": "recording_id",
    "location": "fault_location",
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


def read_manifest(path: str | os.PathLike) -> list[Recording]:
    """Recordings listed in a CSV or YAML manifest (paths relative to the manifest).

    Fields: ``path`` (required), ``sampling_rate`` (or ``fs``; required unless the file holds
    it), ``channels`` (``;``-separated or a list), ``key`` (``.mat`` variable),
    ``recording_id`` (default: the file stem), labels ``condition``, ``fault_location``,
    ``fault_diameter_in``, ``load_hp``, ``rpm``, ``sensor_end``, ``fault_end``; any other field
    is kept in ``meta`` as an extra label. ``condition`` defaults to ``fault`` when a
    ``fault_location`` is given. A YAML manifest may put shared fields under ``defaults:``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: manifest not found")
    rows, unit = _manifest_rows(path)
    if not rows:
        raise DataError(f"{path}: manifest lists no recordings")
    recordings: list[Recording] = []
    for i, raw in enumerate(rows, start=1):
        row = {_FIELD_ALIASES.get(str(k).strip(), str(k).strip()): v for k, v in raw.items()}
        where = f"{path} {unit} {i}"
        if _blank(row.get("path")):
            raise DataError(f"{where}: no 'path'")
        file = Path(str(row["path"]).strip())
        file = file if file.is_absolute() else path.parent / file
        if not file.is_file():
            raise DataError(f"{where}: file {str(row['path'])!r} not found (looked at {file})")
        rate = (
            None
            if _blank(row.get("sampling_rate"))
            else _number(row["sampling_rate"], where, "sampling_rate")
        )
        key = None if _blank(row.get("key")) else row["key"]
        try:
            rec = read_recording(
                file,
                channels=_split_channels(row.get("channels")),
                sampling_rate=rate,
                key=key,
                recording_id=None if _blank(row.get("recording_id")) else str(row["recording_id"]),
            )
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
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
        if labels["rpm"] is None and "rpm" in rec.meta:
            labels["rpm"] = rec.meta["rpm"]
        extras = {
            k: (None if _blank(v) else v)
            for k, v in row.items()
            if k not in MANIFEST_FIELDS and k not in LABEL_FIELDS
        }
        rec.meta.update({**labels, **extras, "manifest": str(path)})
        recordings.append(rec)
    ids = [r.recording_id for r in recordings]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise DataError(
            f"{path}: recording ids {dupes} repeat (same file stem); add a recording_id column"
        )
    return recordings

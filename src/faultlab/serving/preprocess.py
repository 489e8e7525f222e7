"""Replay a run's preprocessing on new data, so a deployed model sees exactly its training input.

``preprocess.json`` (written by the experiment runner) says which channels, rate, window,
stride, normalisation and standardiser the model was trained with. :func:`load_input` reads a
new file (``.mat`` — CWRU files by channel suffix —, ``.npy``, ``.csv``, ``.wav``) into a
:class:`~faultlab.data.types.Recording`; :func:`prepare` turns a recording or a raw array into
model input ``[n, C, L]``. ``predict``, ``export`` metadata and the HTTP service all go through
these two functions, so they cannot drift apart.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faultlab.contracts import PREPROCESS
from faultlab.data.readers import LOADERS
from faultlab.data.resample import resample_signal
from faultlab.data.tabular import Standardiser
from faultlab.data.types import Recording
from faultlab.data.windowing import normalise, window_array
from faultlab.errors import ConfigError, DataError
from faultlab.limits import (
    MAX_ABS_SAMPLE,
    MAX_WINDOWS,
    check_range,
    check_rate,
    check_windows,
    n_windows,
    resampled_length,
)

PREPROCESS_FILE = PREPROCESS
#: Channel names that mean a sensor position (CWRU drive end, fan end, base).
SENSOR_NAMES = ("DE", "FE", "BA")
NO_RATE = (
    "sampling rate unknown; give one (--sampling-rate HZ, or the sampling_rate field): the "
    "file is not a CWRU catalogue number and stores no rate"
)


@dataclass
class Preprocessing:
    """The replayable part of ``preprocess.json``."""

    channels: list[str]
    window: int
    stride: int
    rate: float | None  # the rate model input is sampled at (None: tabular rows)
    normalise: str = "none"
    scaler: Standardiser | None = None  # fitted on the run's training windows
    dataset: str = "cwru"
    target: str = "flat"
    classes: dict[str, list[str]] = field(default_factory=dict)
    feature_names: list[str] | None = None
    frontend: dict[str, Any] | None = None  # window front end replayed after windowing
    frontend_bearing: list[str] | None = None  # the training bearing per channel
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def tabular(self) -> bool:
        return self.dataset == "table" or bool(self.feature_names)

    @property
    def input_shape(self) -> tuple[int, int]:
        if self.tabular and self.feature_names:
            return (1, len(self.feature_names))
        if self.frontend:
            from faultlab.features.window_frontend import WindowFrontend

            return (len(self.channels), len(WindowFrontend(self.frontend).names()))
        return (len(self.channels), self.window)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = PREPROCESS_FILE) -> Preprocessing:
        try:
            std = d.get("standardiser") or {}
            table = d.get("dataset") == "table" or bool(d.get("feature_names"))
            rate = None if table else d.get("target_rate") or d.get("sampling_rate")
            chans = d.get("channels") or ["DE"]
            return cls(
                channels=[chans] if isinstance(chans, str) else list(chans),
                window=int(check_range(d["window"], "window", source)),
                stride=int(check_range(d.get("stride") or d["window"], "stride", source)),
                rate=float(rate) if rate else None,
                normalise=d.get("normalise") or "none",
                scaler=Standardiser.from_dict(std) if std else None,
                dataset=d.get("dataset", "cwru"),
                target=d.get("target", "flat"),
                classes={t: list(c) for t, c in (d.get("classes") or {}).items()},
                feature_names=d.get("feature_names"),
                frontend=d.get("frontend"),
                frontend_bearing=d.get("frontend_bearing"),
                raw=d,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{source}: invalid preprocessing record ({exc})") from None

    @classmethod
    def from_run(cls, run_dir: str | Path) -> Preprocessing:
        path = Path(run_dir) / PREPROCESS_FILE
        if not path.exists():
            raise ConfigError(f"{path}: missing (is {run_dir} a faultlab run directory?)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc.msg})") from None
        except ValueError:  # not UTF-8
            raise ConfigError(f"{path}: not a JSON text file") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: invalid preprocessing record (not a mapping)")
        return cls.from_dict(data, str(path))

    def to_dict(self) -> dict[str, Any]:
        """JSON form for export metadata (the standardiser as nested lists)."""
        out = {
            k: getattr(self, k)
            for k in (
                "channels",
                "window",
                "stride",
                "rate",
                "normalise",
                "dataset",
                "target",
                "classes",
                "feature_names",
                "frontend",
                "frontend_bearing",
            )
        }
        out["standardiser"] = self.scaler.to_dict() if self.scaler is not None else None
        out["input_shape"] = list(self.input_shape)
        return out


@dataclass
class Prepared:
    """Model input for one recording: ``X [n, C, L]`` and where each window starts."""

    name: str
    X: np.ndarray
    start_sample: np.ndarray  # at the model's rate
    rate: float | None
    source_rate: float | None
    n_samples: int  # after resampling
    rpm: float | None = None  # shaft speed the front end used (None: no front end)
    rpm_source: str | None = None  # option | file | manifest | catalogue | estimated
    bearing: list[str] | None = None  # bearing key per channel the front end read
    order_spectrum: dict[str, Any] | None = None  # mean order-axis SES, for evidence plots

    @property
    def start_s(self) -> np.ndarray:
        if not self.rate:
            return np.full(len(self.start_sample), np.nan)
        return self.start_sample / self.rate

    def __len__(self) -> int:
        return int(len(self.X))


# -- reading files ---------------------------------------------------------------------------------
def display_name(path: str | Path) -> str:
    """``path`` as printable UTF-8 text (a non-UTF-8 file name gets U+FFFD for its bad bytes,
    so messages, CSV and JSON outputs never fail to encode it)."""
    return os.fsencode(str(path)).decode("utf-8", "replace")


def _catalogue_rate(path: Path) -> float | None:
    """The catalogue's rate when the file is named as a catalogued dataset names it (CWRU
    ``105.mat``, MFPT ``baseline_1.mat``)."""
    from faultlab.data.datasets import find_file

    try:
        found = find_file(path)
    except DataError:
        return None
    rate = found[1].get("sampling_rate_hz") if found else None
    return float(rate) if rate else None


def _read_wav(path: Path, channels: list[str], label: str) -> tuple[np.ndarray, float]:
    """WAV via soundfile when installed, else scipy (PCM scaled to [-1, 1] either way)."""
    try:
        import soundfile  # pyright: ignore[reportMissingImports]  # optional, not a dependency

        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except ImportError:  # scipy reads PCM/float WAV without the optional dependency
        from scipy.io import wavfile

        try:
            rate, data = wavfile.read(path)
        except ValueError as exc:
            raise DataError(f"{label}: not a readable WAV file ({exc})") from None
        if np.issubdtype(data.dtype, np.integer):  # PCM -> [-1, 1], as soundfile does
            data = data / float(np.iinfo(data.dtype).max + 1)
        data = np.asarray(data, np.float32)
        data = data.reshape(len(data), -1) if data.size else np.zeros((0, 1), np.float32)
    except RuntimeError as exc:  # soundfile's error for corrupt files
        raise DataError(f"{label}: not a readable WAV file ({exc})") from None
    arr = np.asarray(data, np.float32).T
    if arr.shape[0] == len(channels):
        return arr, float(rate)
    idx = [int(c) for c in channels if str(c).isdigit() and int(c) < arr.shape[0]]
    if len(idx) != len(channels):
        raise DataError(
            f"{label}: {arr.shape[0]} audio channel(s) but the model takes {len(channels)}; "
            "pick them with --channel INDEX"
        )
    return arr[idx], float(rate)


#: File types :func:`load_input` reads (``.wav`` here, the rest via ``read_recording``).
READERS = (*sorted(LOADERS), ".wav")


class UnsupportedFormat(DataError):
    """A file type no reader handles (the service answers 415)."""


def load_input(
    path: str | Path,
    channels: list[str],
    sampling_rate: float | None = None,
    name: str | None = None,
    explicit_channels: bool = False,
) -> Recording:
    """Read one file into a Recording with as many channels as ``channels``.

    The rate is, in order: ``sampling_rate`` (an explicit option), the catalogue for a file
    named as a catalogued dataset names it (CWRU number, MFPT name), a rate stored in the file
    (``fs``/``sr`` in a .mat, also inside a struct such as MFPT's ``bearing.sr``; a time column
    in a CSV, the WAV header); none of these is an error naming the file. A .mat struct's
    signal is found as :func:`~faultlab.data.readers.read_recording` finds it (MFPT
    ``bearing.gs``), so the public MFPT files need no conversion. Channels are found
    by name (CWRU suffix, CSV column, row index); when the run's names are not in the file
    but it holds exactly as many series as the model takes, those are used in order.
    """

    path = Path(path)
    label = name or display_name(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise UnsupportedFormat(
            f"{label}: unsupported file type {suffix or '(none)'!r}; use one of {list(READERS)}"
        )
    if not path.is_file():
        raise DataError(f"{label}: file not found")
    rate = sampling_rate or (_catalogue_rate(path) if suffix == ".mat" else None)
    if suffix == ".wav":
        signal, file_rate = _read_wav(path, channels, label)
        rate = rate or file_rate
        check_signal(signal, label)
        return Recording(
            Path(label).stem,
            signal,
            float(rate),
            list(channels),
            {"source": label, "original_sampling_rate": float(rate)},
        )
    try:
        rec = _read_channels(path, channels, rate, label, explicit_channels)
    except DataError as exc:
        msg = str(exc).replace(str(path), label)
        if "channel" in msg and not explicit_channels and "--channel" not in msg:
            msg += "; pick them with --channel NAME|INDEX"
        if "no sampling rate" in msg:
            msg = f"{label}: {NO_RATE}"
        raise DataError(msg) from None
    rec.meta.update({"source": label, "original_sampling_rate": rec.sampling_rate})
    return rec


def _read_channels(
    path: Path, channels: list[str], rate: float | None, label: str, explicit: bool
) -> Recording:
    """``channels`` of a non-WAV file by name; when they are not there (and were not asked
    for explicitly) the file's own unnamed series, in order, if there are as many."""
    from faultlab.data.readers import read_recording

    wanted = [int(c) if str(c).isdigit() else str(c) for c in channels]
    try:
        return read_recording(path, wanted, sampling_rate=rate, recording_id=Path(label).stem)
    except DataError as first:
        if explicit or "sampling rate" in str(first):
            raise
        try:  # the file's own series, taken in order when the count fits
            rec = read_recording(path, None, sampling_rate=rate, recording_id=Path(label).stem)
        except DataError:
            raise first from None
        if rec.signal.shape[0] != len(channels):
            raise first from None
        named = [c for c in rec.channels if str(c).upper() in SENSOR_NAMES]
        if named:  # a named sensor is not a stand-in for another (FE read as DE)
            raise DataError(
                f"{label}: no {'/'.join(map(str, channels))} channel; the file has "
                f"{', '.join(map(str, rec.channels))}: pass --channel "
                f"{','.join(map(str, rec.channels))} to use it (another sensor position)"
            ) from None
        return rec


def check_signal(signal: np.ndarray, label: str, max_abs: float | None = MAX_ABS_SAMPLE) -> None:
    """Reject empty, non-finite or absurdly large series (beyond ``max_abs``; None for
    tabular features, whose units vary), naming the first bad sample."""
    if signal.size == 0:
        raise DataError(f"{label}: no samples")
    bad = ~np.isfinite(signal)
    if bad.any():
        ch, i = np.argwhere(bad)[0]
        raise DataError(
            f"{label}: {int(bad.sum())} NaN/inf sample(s), the first at channel {int(ch)}, sample {int(i)}"
        )
    big = np.abs(signal) > max_abs if max_abs is not None else None
    if big is not None and big.any():
        ch, i = np.argwhere(big)[0]
        raise DataError(
            f"{label}: {int(big.sum())} sample(s) beyond +-{max_abs:g} (the first at "
            f"channel {int(ch)}, sample {int(i)}: {float(signal[ch, i]):g}); is this raw data "
            "in the units the model was trained on?"
        )


# -- recordings -> model input ---------------------------------------------------------------------
def prepare(
    pre: Preprocessing,
    signal: np.ndarray,
    sampling_rate: float | None,
    name: str = "input",
    meta: dict[str, Any] | None = None,
    rpm: float | None = None,
    bearing: str | None = None,
    max_windows: int = MAX_WINDOWS,
) -> Prepared:
    """``signal`` ``[C, n]`` (or ``[n]``) at ``sampling_rate`` -> the model's windows.

    Resample to the run's rate, cut windows of the run's length and stride, then apply the
    run's per-window normalisation and its training-set standardiser, and the run's window
    front end when it has one (shaft speed: ``rpm``, else ``meta``'s, else estimated from
    the signal; bearing: ``bearing``, else ``meta``'s, else the training one). The rate, the
    resampling factor and the number of windows (``max_windows``) are checked before any
    work, so memory and time stay bounded whatever the input.
    """
    sig = np.asarray(signal, dtype=np.float32)
    if sig.ndim == 1:
        sig = sig[None]
    if sig.ndim != 2:
        raise DataError(
            f"{name}: signal of shape {sig.shape}; expected [samples] or [channels, samples]"
        )
    check_signal(sig, name, None if pre.tabular else MAX_ABS_SAMPLE)
    if pre.tabular:
        check_windows(sig.shape[0], max_windows, name, "rows")
        return _prepare_rows(pre, sig, name)
    n_ch = len(pre.channels)
    if sig.shape[0] != n_ch:
        raise DataError(
            f"{name}: {sig.shape[0]} channel(s) but the model takes {n_ch} ({', '.join(pre.channels)})"
        )
    if sampling_rate is None:
        raise DataError(f"{name}: sampling_rate is missing")
    sampling_rate = check_rate(sampling_rate, name)
    rate = pre.rate or float(sampling_rate)
    n_given = sig.shape[1]
    n_out = resampled_length(n_given, sampling_rate, rate, name)
    check_windows(n_windows(n_out, pre.window, pre.stride), max_windows, name)
    if sampling_rate != rate:
        sig = resample_signal(sig, float(sampling_rate), rate, name)
    n = sig.shape[1]
    if n < pre.window:
        need = int(np.ceil(pre.window * float(sampling_rate) / rate))
        raise DataError(
            f"{name}: {n_given} samples at {sampling_rate:g} Hz is shorter than one window "
            f"of {pre.window} samples at {rate:g} Hz (needs >= {need} samples at {sampling_rate:g} Hz)"
        )
    X = _windows(pre, sig)
    starts = np.arange(len(X), dtype=np.int64) * pre.stride
    out = Prepared(name, X, starts, rate, float(sampling_rate), n)
    if pre.frontend:
        _apply_frontend(pre, out, signal, float(sampling_rate), meta or {}, rpm, bearing)
    return out


def _windows(pre: Preprocessing, sig: np.ndarray) -> np.ndarray:
    """The run's windows of ``sig`` (at the run's rate), normalised and standardised."""
    X = normalise(window_array(sig, pre.window, pre.stride), pre.normalise)
    if pre.scaler is not None:  # the runner's own Standardiser: float64 maths, as in training
        X = pre.scaler.transform(X)
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not X.flags.writeable:  # a strided view of the signal: torch wants its own memory
        X = X.copy()
    return X


def _apply_frontend(
    pre: Preprocessing,
    out: Prepared,
    signal: np.ndarray,
    source_rate: float,
    meta: dict[str, Any],
    rpm: float | None,
    bearing: str | None,
) -> None:
    """Replay the run's window front end on ``out.X`` (in place), recording rpm and bearing."""
    from faultlab.features.window_frontend import WindowFrontend
    from faultlab.signals.geometry import bearing_for
    from faultlab.signals.speed import resolve_rpm

    fe = WindowFrontend(pre.frontend, "preprocess.json frontend")
    rate = out.rate
    assert rate is not None  # windows (tabular rows return before any front end)
    fixed = rpm or fe.cfg.rpm
    sig = np.atleast_2d(np.asarray(signal, dtype=np.float32))
    try:
        value, source = resolve_rpm(meta, sig, source_rate, fixed, fe.cfg.rpm_range)
    except ValueError as exc:
        raise DataError(f"{out.name}: {exc}") from None
    bearings = []
    for c, ch in enumerate(pre.channels):
        try:
            b = bearing_for(
                {**meta, "bearing": bearing or meta.get("bearing"), "recording_id": out.name}, ch
            )
        except DataError:
            if not pre.frontend_bearing:
                raise DataError(f"{out.name}: no bearing geometry; give --bearing KEY") from None
            b = pre.frontend_bearing[min(c, len(pre.frontend_bearing) - 1)]
        bearings.append(b)
    from faultlab.features.order_envelope import mean_order_spectrum
    from faultlab.signals.geometry import defect_orders

    n = len(out.X)
    orders, mean = mean_order_spectrum(out.X, rate, np.full(n, value))
    out.order_spectrum = {
        "orders": orders.tolist(),
        "spectrum": mean.tolist(),
        "bearing": bearings[0],
        "defect_orders": defect_orders(bearings[0]),
    }
    out.X = fe.transform(out.X, rate, np.full(n, value), np.array([bearings] * n, dtype=object))
    out.rpm, out.rpm_source, out.bearing = float(value), source, bearings


def _prepare_rows(pre: Preprocessing, rows: np.ndarray, name: str) -> Prepared:
    """Tabular runs: each row of features is one model input ``[1, F]``."""
    n_feat = pre.input_shape[1]
    if rows.shape[-1] != n_feat:
        raise DataError(
            f"{name}: rows of {rows.shape[-1]} values; the model takes {n_feat} features"
        )
    X = rows.reshape(-1, 1, n_feat).astype(np.float32)
    if pre.scaler is not None:
        X = pre.scaler.transform(X)
    return Prepared(
        name, np.ascontiguousarray(X, np.float32), np.arange(len(X)), None, None, len(X)
    )


def load_table_rows(path: str | Path, pre: Preprocessing, name: str | None = None) -> np.ndarray:
    """A CSV of feature rows for a tabular run, columns picked by the run's feature names."""
    import pandas as pd

    path = Path(path)
    label = name or display_name(path)
    if path.suffix.lower() != ".csv":
        raise UnsupportedFormat(
            f"{label}: a tabular model reads .csv feature tables, not {path.suffix!r}"
        )
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise DataError(f"{label}: not a readable CSV file ({exc.__class__.__name__})") from None
    missing = [f for f in pre.feature_names or [] if f not in df.columns]
    if missing:
        raise DataError(f"{label}: missing feature column(s) {missing[:5]}")
    return df[pre.feature_names].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32)


def prepare_file(
    pre: Preprocessing,
    path: str | Path,
    sampling_rate: float | None = None,
    channels: list[str] | None = None,
    name: str | None = None,
    rpm: float | None = None,
    bearing: str | None = None,
    max_windows: int = MAX_WINDOWS,
) -> Prepared:
    """Read ``path`` and :func:`prepare` it (``channels`` overrides the run's channel names)."""
    label = name or display_name(path)
    if pre.tabular:
        return prepare(pre, load_table_rows(path, pre, label), None, label, max_windows=max_windows)
    want = list(channels) if channels else pre.channels
    if len(want) != len(pre.channels):
        raise DataError(
            f"{label}: {len(want)} channel(s) given ({', '.join(want)}) but the model takes "
            f"{len(pre.channels)} ({', '.join(pre.channels)})"
        )
    rec = load_input(path, want, sampling_rate, label, explicit_channels=bool(channels))
    meta = {**_catalogue_meta(Path(path)), **rec.meta} if pre.frontend else rec.meta
    return prepare(
        pre, rec.signal, rec.sampling_rate, label, meta, rpm, bearing, max_windows=max_windows
    )


def _catalogue_meta(path: Path) -> dict[str, Any]:
    """Shaft speed and bearing from the catalogue, for a file named as a catalogued dataset
    names it (the file's own metadata wins)."""
    from faultlab.data.datasets import find_file

    try:
        found = find_file(path)
    except DataError:
        return {}
    row = found[1] if found else {}
    out: dict[str, Any] = {}
    try:
        if row.get("rpm") and float(row["rpm"]) > 0:
            out.update(rpm=float(row["rpm"]), rpm_source="catalogue")
    except (TypeError, ValueError):
        pass
    if row.get("bearing"):
        out["bearing"] = str(row["bearing"])
    return out

"""On-disk window store: windows written once, then read in batches (data larger than memory).

A store is a directory:

* ``windows.f32``: every window, float32 ``[n, C, L]`` C-order, recording after recording
  (so a recording is one contiguous chunk);
* ``recordings.csv``: one row per recording: ``recording_id``, ``start`` (first window),
  ``n_windows``, its metadata columns and its label code per task (``label:<task>``);
* ``store.json``: format, shape, channels, sampling rate, class names, notes, and the data
  config it was built from (a changed config rebuilds it).

Why one flat file read with ``pread`` (not a memory map): a batch of any windows, in any
order, is a few positioned reads into one fresh array (consecutive windows coalesce into one
read), so training draws exactly the permutation the in-memory path draws. A memory map was
tried first: its pages count toward the process's resident memory, and on current kernels a
fault maps a whole large page-cache folio (measured ~680 KB per randomly touched 4 KB window),
so resident memory grew with the store. ``pread`` copies into the batch only; the kernel's
page cache (not counted as the process's memory) still serves re-reads.

A WindowSet whose ``X`` is a :class:`WindowArray` is used like any other: ``subset`` keeps it
lazy, ``X[i:j]`` / ``X[idx]`` return numpy arrays, and the engine, feature extraction and
prediction read it chunk by chunk. Windows are written by :class:`StoreWriter`, one
recording at a time, never all in memory.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from faultlab.data.labels import recording_labels
from faultlab.data.types import META_KEYS, Recording, WindowSet
from faultlab.errors import DataError

FORMAT = 1
DATA_FILE = "windows.f32"
RECORDINGS_FILE = "recordings.csv"
INFO_FILE = "store.json"
#: Windows per chunk when a consumer streams the whole array.
CHUNK_BYTES = 8 * 1024**2


class WindowArray:
    """A lazy, read-only ``[n, C, L]`` float32 array over a store's ``windows.f32``.

    ``rows`` (optional) selects and orders windows of the file. Indexing returns numpy
    arrays; :meth:`subset` returns another lazy view. Pickles as (path, shape, rows), so
    worker processes and Ray tasks open the file themselves (the path must exist there).
    """

    dtype = np.dtype(np.float32)
    ndim = 3

    def __init__(
        self, path: str | os.PathLike, shape: tuple[int, int, int], rows: np.ndarray | None = None
    ) -> None:
        self.path = Path(path)
        n, c, length = (int(s) for s in shape)
        self.file_shape: tuple[int, int, int] = (n, c, length)
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self._file: io.FileIO | None = None

    # -- array protocol ----------------------------------------------------------------------
    def __len__(self) -> int:
        return self.file_shape[0] if self.rows is None else len(self.rows)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self), self.file_shape[1], self.file_shape[2])

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * 4

    def __repr__(self) -> str:
        return f"WindowArray({self.path}, shape={self.shape})"

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "shape": self.file_shape, "rows": self.rows}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["shape"], state["rows"])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype, copy=False)

    def subset(self, idx: Any) -> WindowArray:
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        rows = idx.astype(np.int64) if self.rows is None else self.rows[idx]
        return WindowArray(self.path, self.file_shape, rows)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):  # X[a:b, ch] -> read the windows, then index the rest
            first, rest = key[0], key[1:]
            return self[first][(slice(None), *rest)]
        if isinstance(key, (int, np.integer)):
            return self[np.asarray([key])][0]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if self.rows is None and step == 1:
                return self._read_range(start, max(start, stop))
            key = np.arange(start, stop, step)
        idx = np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        rows = idx.astype(np.int64) if self.rows is None else self.rows[idx]
        return self._gather(rows)

    def chunks(self, size: int | None = None) -> Iterator[np.ndarray]:
        """Consecutive blocks of windows as numpy arrays (default: ~8 MB each)."""
        size = size or max(1, CHUNK_BYTES // max(1, int(np.prod(self.file_shape[1:])) * 4))
        for start in range(0, len(self), size):
            yield self[start : start + size]

    # -- reading -----------------------------------------------------------------------------
    @property
    def _window_bytes(self) -> int:
        return self.file_shape[1] * self.file_shape[2] * 4

    def _fh(self) -> io.FileIO:
        if self._file is None:
            fh = io.FileIO(self.path, "r")
            expected = int(np.prod(self.file_shape)) * 4
            size = os.fstat(fh.fileno()).st_size
            if size != expected:
                fh.close()
                raise DataError(f"{self.path}: {size} bytes, store.json says {expected}")
            self._file = fh
        return self._file

    def _read_into(self, out: np.ndarray, first_row: int) -> None:
        """Fill ``out`` (consecutive windows) from the file, starting at window ``first_row``."""
        if out.size == 0:
            return
        view = out.data.cast("B")  # out is C-contiguous: its bytes, writable
        offset, done = first_row * self._window_bytes, 0
        fh = self._fh()
        while done < len(view):
            if hasattr(os, "preadv"):  # positioned: no shared file offset (threads, forks)
                got = os.preadv(fh.fileno(), [view[done:]], offset + done)
            else:  # pragma: no cover - platforms without preadv (Windows)
                fh.seek(offset + done)
                got = fh.readinto(view[done:]) or 0
            if got <= 0:
                raise DataError(f"{self.path}: file ends before window {first_row + len(out)}")
            done += got

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, *self.file_shape[1:]), dtype=np.float32)
        self._read_into(out, start)
        return out

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) and (rows.min() < 0 or rows.max() >= self.file_shape[0]):
            raise IndexError(f"window index out of range for {self.file_shape[0]} windows")
        order = np.argsort(rows, kind="stable")  # read in file order, return in asked order
        srt = rows[order]
        buf = np.empty((len(rows), *self.file_shape[1:]), dtype=np.float32)
        # runs of consecutive windows: one read each (a recording read in order is one read)
        begin = np.flatnonzero(np.diff(srt, prepend=-2) != 1)
        ends = np.append(begin[1:], len(srt))
        for b, e in zip(begin.tolist(), ends.tolist()):
            self._read_into(buf[b:e], int(srt[b]))
        if np.array_equal(order, np.arange(len(order))):
            return buf
        out = np.empty_like(buf)
        out[order] = buf
        return out


def is_lazy(X: Any) -> bool:
    return isinstance(X, WindowArray)


# --- writing ------------------------------------------------------------------------------------


class StoreWriter:
    """Append one recording's windows at a time; :meth:`close` labels them and publishes the
    store atomically (written under a temporary name, renamed at the end)."""

    def __init__(
        self,
        path: str | os.PathLike,
        channels: list[str],
        window: int,
        sampling_rate: float | None,
        notes: list[str] | None = None,
        source: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.channels, self.window = list(channels), int(window)
        self.sampling_rate = sampling_rate
        self.notes, self.source = list(notes or []), source
        self._fh = open(self.tmp / DATA_FILE, "wb")  # noqa: SIM115 (closed in close())
        self._rows: list[dict[str, Any]] = []
        self.n = 0

    def add(self, recording_id: str, X: np.ndarray, meta: dict[str, Any]) -> None:
        """Windows ``X [n, C, L]`` of one recording and its metadata (labels come from it)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 3 or X.shape[1:] != (len(self.channels), self.window):
            raise DataError(
                f"recording {recording_id}: windows of shape {X.shape}, store expects "
                f"[n, {len(self.channels)}, {self.window}]"
            )
        self._fh.write(X.data.cast("B"))
        self._rows.append(
            {**meta, "recording_id": recording_id, "start": self.n, "n_windows": len(X)}
        )
        self.n += len(X)

    def add_recording(self, rec: Recording, X: np.ndarray) -> None:
        from faultlab.data.windowing import meta_table

        meta = meta_table([rec]).iloc[0].to_dict()
        self.add(rec.recording_id, X, meta)

    def close(self) -> Path:
        self._fh.close()
        if not self._rows:
            raise DataError(f"{self.path}: no recordings were written to the store")
        table = pd.DataFrame(self._rows)
        for key in META_KEYS:  # the columns labelling reads, even where no recording has them
            if key not in table:
                table[key] = None
        for col in ("load_hp", "fault_diameter_in", "rpm"):
            table[col] = pd.to_numeric(table[col], errors="coerce")
        codes, classes = recording_labels(table)
        for task, c in codes.items():
            table[f"label:{task}"] = c
        table.to_csv(self.tmp / RECORDINGS_FILE, index=False)
        info = {
            "format": FORMAT,
            "shape": [self.n, len(self.channels), self.window],
            "dtype": "float32",
            "channels": self.channels,
            "sampling_rate": self.sampling_rate,
            "classes": classes,
            "notes": self.notes,
            "source": self.source,
        }
        (self.tmp / INFO_FILE).write_text(json.dumps(info, indent=1, default=str))
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self._fh.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- reading a store as a WindowSet -------------------------------------------------------------


def read_info(path: str | os.PathLike) -> dict[str, Any] | None:
    f = Path(path) / INFO_FILE
    return json.loads(f.read_text()) if f.exists() else None


def open_store(path: str | os.PathLike) -> WindowSet:
    """The store at ``path`` as a WindowSet with a lazy ``X`` (labels and metadata in memory)."""
    path = Path(path)
    info = read_info(path)
    if info is None:
        raise DataError(f"{path}: not a window store (no {INFO_FILE}); write one with data.store")
    if info.get("format") != FORMAT:
        raise DataError(
            f"{path / INFO_FILE}: store format {info.get('format')!r}, expected {FORMAT}"
        )
    table = pd.read_csv(path / RECORDINGS_FILE, dtype={"recording_id": str})
    counts = table["n_windows"].to_numpy(np.int64)
    shape = tuple(info["shape"])
    if counts.sum() != shape[0]:
        raise DataError(
            f"{path / RECORDINGS_FILE}: {counts.sum()} windows, store.json says {shape[0]}"
        )
    rec_index = np.repeat(np.arange(len(table), dtype=np.int32), counts)
    label_cols = [c for c in table.columns if c.startswith("label:")]
    meta_cols = [c for c in table.columns if c not in ("start", "n_windows", *label_cols)]
    # text columns as categories: per window a small code, not a pointer (millions of rows)
    # (and columns no recording has: NaN in the CSV, one byte per window as an empty category)
    meta = table[meta_cols].astype(
        {
            c: "category"
            for c in meta_cols
            if not pd.api.types.is_numeric_dtype(table[c]) or table[c].isna().all()
        }
    )
    # integer columns in their smallest type: per window 1-4 bytes instead of 8 (same values)
    for c in meta_cols:
        if pd.api.types.is_integer_dtype(meta[c]):
            meta[c] = pd.to_numeric(meta[c], downcast="integer")
    win_info = meta.iloc[rec_index].reset_index(drop=True)
    position = np.arange(len(rec_index)) - np.repeat(table["start"].to_numpy(np.int64), counts)
    win_info["position"] = pd.to_numeric(position, downcast="integer")
    return WindowSet(
        # duck-typed: WindowArray has the array interface WindowSet users rely on
        X=cast(np.ndarray, WindowArray(path / DATA_FILE, shape)),
        y={c.split(":", 1)[1]: table[c].to_numpy(np.int64)[rec_index] for c in label_cols},
        classes={t: list(v) for t, v in info["classes"].items()},
        recording_id=table["recording_id"].to_numpy()[rec_index],
        info=win_info,
        sampling_rate=info.get("sampling_rate"),
        channels=list(info["channels"]),
        notes=list(info.get("notes", [])) + [f"windows streamed from the on-disk store {path}"],
    )


def write_recordings(
    path: str | os.PathLike,
    recordings: list[Recording],
    length: int,
    stride: int | None,
    normalisation: str,
    notes: list[str] | None = None,
    source: dict[str, Any] | None = None,
) -> Path:
    """Window ``recordings`` one at a time into a new store at ``path`` (same windows and
    labels as :func:`faultlab.data.windowing.make_windows`). Consumes the list: each
    recording is released once written."""
    from faultlab.data.windowing import normalise, window_array

    if not recordings:
        raise DataError("no recordings to window")
    chans = {tuple(r.channels) for r in recordings}
    if len(chans) > 1:
        raise DataError(f"recordings have different channels: {sorted(chans)}")
    rates = {r.sampling_rate for r in recordings}
    writer = StoreWriter(
        path,
        list(recordings[0].channels),
        length,
        rates.pop() if len(rates) == 1 else None,
        notes,
        source,
    )
    try:
        for i in range(len(recordings)):
            rec, recordings[i] = recordings[i], None  # type: ignore[call-overload]
            if rec.n_samples < length:
                raise DataError(
                    f"recording {rec.recording_id} ({rec.meta.get('source', '?')}): "
                    f"{rec.n_samples} samples is shorter than one window of {length}"
                )
            X = normalise(window_array(rec.signal, length, stride or length), normalisation)
            writer.add_recording(rec, X)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


# --- streaming statistics -----------------------------------------------------------------------


def moments(X: Any, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over ``axes`` (0 = windows) in float64, chunk by chunk for a lazy array."""
    if not is_lazy(X):
        return X.mean(axis=axes, dtype=np.float64), X.std(axis=axes, dtype=np.float64)
    s = sq = None
    count = 0
    for chunk in X.chunks():
        c = chunk.astype(np.float64)
        part, part_sq = c.sum(axis=axes), (c * c).sum(axis=axes)
        s = part if s is None else s + part
        sq = part_sq if sq is None else sq + part_sq
        count += int(np.prod([chunk.shape[a] for a in axes]))
    if s is None or sq is None:
        raise DataError("no windows to compute statistics on")
    mean = s / count
    return mean, np.sqrt(np.maximum(sq / count - mean * mean, 0.0))

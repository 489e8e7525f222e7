"""Recordings -> fixed-length windows, vectorised (one strided view per recording)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from faultlab.data.labels import recording_labels
from faultlab.data.types import META_KEYS, Recording, WindowSet
from faultlab.errors import DataError


def window_array(signal: np.ndarray, length: int, stride: int) -> np.ndarray:
    """``[C, n]`` -> ``[n_windows, C, length]`` (a strided view, no copy)."""
    if signal.shape[-1] < length:
        raise DataError(f"signal of {signal.shape[-1]} samples is shorter than a window ({length})")
    view = sliding_window_view(signal, length, axis=-1)[:, ::stride]  # [C, nw, L]
    return view.transpose(1, 0, 2)


def _zscore(X: np.ndarray) -> np.ndarray:
    mu = X.mean(axis=-1, keepdims=True)
    sd = X.std(axis=-1, keepdims=True)
    return (X - mu) / np.maximum(sd, 1e-8)


def _minmax(X: np.ndarray) -> np.ndarray:
    lo = X.min(axis=-1, keepdims=True)
    hi = X.max(axis=-1, keepdims=True)
    return 2 * (X - lo) / np.maximum(hi - lo, 1e-8) - 1


def _rms(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.sqrt((X * X).mean(axis=-1, keepdims=True)), 1e-8)


#: Per-window, per-channel normalisations (no statistics shared across windows, so no leakage).
NORMALISERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda X: X,
    "zscore": _zscore,
    "minmax": _minmax,
    "rms": _rms,
}


def normalise(X: np.ndarray, method: str) -> np.ndarray:
    try:
        fn = NORMALISERS[method]
    except KeyError:
        raise DataError(
            f"unknown normalisation {method!r}; choose from {sorted(NORMALISERS)}"
        ) from None
    return fn(X).astype(np.float32, copy=False)


def cut_into_blocks(rec: Recording, n_blocks: int, column: str | None) -> list[Recording]:
    """Cut one recording into ``n_blocks`` contiguous blocks that act as separate groups.

    Used when a class has a single recording (CWRU's shared normal baseline): windows of a
    block never interleave with another block's, and block ``i`` gets ``meta[column] = i``.
    """
    edges = np.linspace(0, rec.n_samples, n_blocks + 1).astype(int)
    out = []
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        meta = {**rec.meta, "parent_recording": rec.recording_id, "block": i}
        if "same_recording_as" in meta:  # the same file read by another source: its block i
            meta["same_recording_as"] = f"{meta['same_recording_as']}#b{i}"
        if column:
            meta[column] = i
        out.append(
            replace(
                rec, recording_id=f"{rec.recording_id}#b{i}", signal=rec.signal[:, a:b], meta=meta
            )
        )
    return out


def meta_table(recordings: Sequence[Recording]) -> pd.DataFrame:
    """One row per recording: id, sampling rate and every known metadata key."""
    rows = []
    for r in recordings:
        row = {k: r.meta.get(k) for k in META_KEYS}
        row.update({k: v for k, v in r.meta.items() if np.isscalar(v) or v is None})
        row["recording_id"] = r.recording_id
        row["sampling_rate_hz"] = r.sampling_rate
        # the rate the recording was made at (sampling_rate_hz is after any resampling)
        row["original_rate_hz"] = r.meta.get("original_sampling_rate", r.sampling_rate)
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in (
        "load_hp",
        "load",
        "fault_diameter_in",
        "rpm",
        "sampling_rate_hz",
        "original_rate_hz",
    ):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def make_windows(
    recordings: Sequence[Recording],
    length: int,
    stride: int | None = None,
    normalisation: str = "none",
    notes: Sequence[str] = (),
) -> WindowSet:
    """Window every recording and label each window from its recording's metadata."""
    if not recordings:
        raise DataError("no recordings to window")
    stride = stride or length
    rates = {r.sampling_rate for r in recordings}
    if len(rates) > 1:
        raise DataError(
            f"recordings have different sampling rates ({', '.join(f'{v:g}' for v in sorted(rates))} Hz): "
            "windows of the same length would span different durations; set data.target_rate "
            "(e.g. 12000) to resample them to one rate"
        )
    chans = {tuple(r.channels) for r in recordings}
    if len(chans) > 1:
        raise DataError(f"recordings have different channels: {sorted(chans)}")
    parts, counts = [], []
    for r in recordings:
        if r.n_samples < length:
            raise DataError(
                f"recording {r.recording_id} ({r.meta.get('source', '?')}): {r.n_samples} samples "
                f"is shorter than one window of {length}"
            )
        parts.append(window_array(r.signal, length, stride))
        counts.append(len(parts[-1]))
    X = normalise(np.concatenate(parts, axis=0), normalisation)
    counts_arr = np.asarray(counts)
    rec_index = np.repeat(np.arange(len(recordings)), counts_arr)
    position = np.arange(len(rec_index)) - np.repeat(np.cumsum(counts_arr) - counts_arr, counts_arr)
    meta = meta_table(recordings)
    codes, classes = recording_labels(meta)
    info = meta.iloc[rec_index].reset_index(drop=True)
    info["position"] = position
    return WindowSet(
        X=X,
        y={t: c[rec_index] for t, c in codes.items()},
        classes=classes,
        recording_id=meta["recording_id"].to_numpy()[rec_index],
        info=info,
        sampling_rate=rates.pop(),
        channels=list(recordings[0].channels),
        notes=list(notes),
    )

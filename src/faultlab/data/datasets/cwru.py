"""CWRU Bearing Data Center: catalogue ``cwru_catalogue.csv`` and the reader of its files.

One row per official file number (161 files): the normal baseline (97-100, 48 kHz), 12 kHz
drive-end faults (``12k_DE``), 48 kHz drive-end faults (``48k_DE``) and 12 kHz fan-end
faults (``12k_FE``). Besides the common columns (:data:`~.base.COLUMNS`): ``load_hp`` (motor
load), ``rpm_recorded`` (the RPM stored in the file, known for the 37 shared files); ``rpm``
is the nominal motor speed for the load; ``bearing`` is the bearing at the fault end (6205 at
the drive end, 6203 at the fan end; normal: drive end). A recording's ``meta["bearing"]`` is
the bearing under its (first) sensor.

Files are named by their official number (``<data-dir>/cwru/105.mat``). The channel of a
file is found by suffix (``X<nnn>_DE_time``; the prefix is not always the file's number, and
some files hold two sets: see :func:`faultlab.data.readers.channel_key`). Provenance and
known quirks are in :mod:`faultlab.data.catalogue`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from faultlab.data.bearings import CWRU_BEARING_AT
from faultlab.data.datasets.base import DatasetSpec
from faultlab.data.readers import (
    CWRU_SUFFIXES,
    SIGNAL_CHANNELS,
    channel_key,
    load_mat,
    series,
    stored_rpm,
)
from faultlab.data.types import Recording
from faultlab.errors import DataError

BASE_URL = "https://engineering.case.edu/sites/default/files/{file}.mat"


def _channels_arg(channels: str | Sequence[str] | None) -> list[str]:
    names = (
        ["DE"] if channels is None else [channels] if isinstance(channels, str) else list(channels)
    )
    out = [str(c).upper() for c in names]
    bad = [c for c in out if c not in SIGNAL_CHANNELS]
    if bad or not out:
        raise DataError(
            f"unknown CWRU channel(s) {bad or names}; choose from {list(SIGNAL_CHANNELS)}"
        )
    return out


def _signal(
    variables: dict[str, np.ndarray], chans: list[str], path: Any, number: int
) -> tuple[np.ndarray, list[str], str, dict[str, Any]]:
    keys: list[str] = []
    prefix: str | None = None
    for ch in chans:
        key = channel_key(variables, ch, path, number, prefer_prefix=prefix)
        if prefix is None:
            prefix = key[: -len(CWRU_SUFFIXES[ch])]
        keys.append(key)
    parts = [series(variables[k], path, k) for k in keys]
    n = min(s.size for s in parts)
    extra: dict[str, Any] = {}
    if any(s.size != n for s in parts):
        extra["truncated_to"] = n
        extra["note_channels"] = "channels of unequal length were cut to the shortest"
    return np.stack([s[:n] for s in parts]), keys, prefix or "", extra


def read_cwru(
    file: int | str,
    data_dir: str | os.PathLike | None = None,
    channels: str | Sequence[str] | None = ("DE",),
    download: bool = False,
) -> Recording:
    """One CWRU recording: ``signal`` float32 ``[C, n]`` plus its catalogue labels.

    ``meta``: dataset, source, condition, fault_location, fault_diameter_in, load_hp (and
    load/load_unit), rpm (the RPM stored in the file when present, else the nominal speed;
    ``rpm_source`` says which), sensor_end (the channel(s), ``+``-joined), fault_end, bearing
    (under the first channel: DE 6205, FE/BA 6203/6205), and the catalogue's file, name, group,
    rpm_nominal, plus ``key`` (the variable(s) read).
    """
    cat = DATASET.catalogue
    info = cat.entry(file)
    number = int(info["file"])
    chans = _channels_arg(channels)
    path = cat.path(number, data_dir)
    if not path.exists():
        if not download:
            raise DataError(
                f"CWRU file {number} not found at {path}; download it with "
                f"`faultlab data download cwru --files {number}` (or download=True), "
                "or point --data-dir / FAULTLAB_DATA_DIR at a folder holding cwru/"
            )
        from faultlab.data.download import fetch

        path = fetch(number, data_dir, dataset="cwru").path
    variables = load_mat(path)
    signal, keys, prefix, extra = _signal(variables, chans, path, number)
    stored = stored_rpm(variables, prefix)
    return _recording(info, path, chans, signal, keys, prefix, extra, stored)


def _recording(
    info: dict[str, Any],
    path: Any,
    chans: list[str],
    signal: np.ndarray,
    keys: list[str],
    prefix: str,
    extra: dict[str, Any],
    stored: float | None,
) -> Recording:
    ends = [CWRU_BEARING_AT.get(c, "6205") for c in chans]
    meta: dict[str, Any] = {
        "dataset": "cwru",
        "source": str(path),
        "condition": info["condition"],
        "fault_location": info["fault_location"],
        "fault_diameter_in": info["fault_diameter_in"],
        "load_hp": info["load_hp"],
        "load": info["load_hp"],
        "load_unit": "hp",
        "rpm": stored if stored is not None else float(info["rpm"]),
        "rpm_source": "file" if stored is not None else "nominal",
        "rpm_nominal": float(info["rpm"]),
        "sensor_end": "+".join(chans),
        "fault_end": info["fault_end"],
        "bearing": ends[0],
        "file": int(info["file"]),
        "name": info["name"],
        "group": info["group"],
        "key": ",".join(keys),
        "series_set": prefix,
        **extra,
    }
    if len(set(ends)) > 1:
        meta["channel_bearings"] = "+".join(ends)
    return Recording(
        recording_id=str(info["file"]),
        signal=signal,
        sampling_rate=float(info["sampling_rate_hz"]),
        channels=chans,
        meta=meta,
    )


DATASET = DatasetSpec(
    name="cwru",
    label="CWRU",
    title="Case Western Reserve University Bearing Data Center (161 .mat files)",
    machine="CWRU 2 hp motor rig (SKF 6205 drive end / 6203 fan end)",
    read=read_cwru,
    base_url=BASE_URL,
    env_url="FAULTLAB_CWRU_URL",
    numeric_ids=True,
    groups=("normal", "12k_DE", "48k_DE", "12k_FE"),
    dtypes={
        "load_hp": "int64",
        "load": "int64",
        "rpm": "int64",
        "n_samples": "Int64",
        "rpm_recorded": "Int64",
    },
    aliases={"load": "load_hp"},
    listing=(
        "file",
        "name",
        "group",
        "condition",
        "fault_location",
        "fault_diameter_in",
        "load_hp",
        "rpm",
        "sampling_rate_hz",
        "fault_end",
    ),
    default_select={
        "fault_end": "DE",
        "sampling_rate_hz": 12000,
        "fault_location": ["IR", "B", "OR@6"],
        "fault_diameter_in": [0.007, 0.014, 0.021],
    },
    normal_keys=("load_hp", "load"),
    default_channels=("DE",),
    size_hint="161 files, roughly 0.8 GB",
)

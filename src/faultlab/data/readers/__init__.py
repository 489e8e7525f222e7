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

from faultlab.data.readers.manifest import (
    LABEL_FIELDS,
    MANIFEST_FIELDS,
    NUMERIC_LABELS,
    read_manifest,
)
from faultlab.data.readers.mat_signal import detect_signal
from faultlab.data.readers.matfile import load_mat
from faultlab.data.readers.recording import LOADERS, read_recording
from faultlab.data.readers.variables import (
    CWRU_SUFFIXES,
    MAX_CHANNELS,
    RATE_NAMES,
    SIGNAL_CHANNELS,
    TIME_COLUMNS,
    channel_key,
    find_channel,
    find_rate,
    orient,
    reject_counts,
    resolve_key,
    series,
    stored_rpm,
    struct_fields,
)

__all__ = [
    "CWRU_SUFFIXES",
    "LABEL_FIELDS",
    "LOADERS",
    "MANIFEST_FIELDS",
    "MAX_CHANNELS",
    "NUMERIC_LABELS",
    "RATE_NAMES",
    "SIGNAL_CHANNELS",
    "TIME_COLUMNS",
    "channel_key",
    "detect_signal",
    "find_channel",
    "find_rate",
    "load_mat",
    "orient",
    "read_manifest",
    "read_recording",
    "reject_counts",
    "resolve_key",
    "series",
    "stored_rpm",
    "struct_fields",
]

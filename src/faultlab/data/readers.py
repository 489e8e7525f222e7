"""Readers: CWRU ``.mat`` files (channel found by suffix) and a user's own recordings."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import scipy.io

from faultlab.errors import DataError

#: Channel name -> variable-name suffix in CWRU files (the prefix varies: X097_, X173_, ...).
CWRU_SUFFIXES = {"DE": "_DE_time", "FE": "_FE_time", "BA": "_BA_time", "RPM": "RPM"}


def load_mat(path: str | Path) -> dict[str, np.ndarray]:
    """All numeric variables of a ``.mat`` file; a corrupt file is a DataError naming it."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    try:
        raw = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError on corrupt files
        raise DataError(f"{path}: not a readable .mat file ({exc.__class__.__name__}: {exc})") from None
    return {k: np.asarray(v) for k, v in raw.items() if not k.startswith("__")}


def find_channel(variables: dict[str, np.ndarray], channel: str, path: str | Path) -> np.ndarray:
    """The series whose key ends with the channel's suffix (first set if several)."""
    suffix = CWRU_SUFFIXES.get(channel, channel)
    keys = sorted(k for k in variables if k.endswith(suffix))
    if not keys:
        raise DataError(
            f"{path}: no variable ending in {suffix!r} (channel {channel}); keys: {sorted(variables)}"
        )
    # several series sets (e.g. X098_ and X099_ in one file): prefer the one named after the file
    stem = re.sub(r"\D", "", Path(path).stem)
    preferred = [k for k in keys if stem and re.sub(r"\D", "", k.split("_")[0]).lstrip("0") == stem.lstrip("0")]
    key = (preferred or keys)[0]
    series = np.asarray(variables[key], dtype=np.float64).ravel()
    if series.size == 0:
        raise DataError(f"{path}: variable {key!r} is empty")
    if not np.all(np.isfinite(series)):
        raise DataError(f"{path}: variable {key!r} contains NaN or inf values")
    return series.astype(np.float32)


def read_cwru(file: int | str, data_dir=None, channels=("DE",), download: bool = False):
    """One CWRU recording with its catalogue metadata (minimal; hardened by the data-io work)."""
    from faultlab.data import catalogue
    from faultlab.data.paths import dataset_dir
    from faultlab.data.types import Recording

    meta = catalogue.entry(file)
    path = dataset_dir("cwru", data_dir) / f"{meta['file']}.mat"
    variables = load_mat(path)
    signal = np.stack([find_channel(variables, ch, path) for ch in channels])
    meta = {**meta, "dataset": "cwru", "source": str(path), "sensor_end": channels[0]}
    return Recording(str(meta["file"]), signal, float(meta["sampling_rate_hz"]), list(channels), meta)

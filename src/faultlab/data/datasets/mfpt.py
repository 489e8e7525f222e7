"""MFPT bearing fault data (Society for Machinery Failure Prevention Technology; data prepared
by E. Bechhoefer, NRG Systems): catalogue ``mfpt_catalogue.csv`` and its reader.

The public set, 20 files named as published (``<data-dir>/mfpt/baseline_1.mat``, ...):

- ``baseline_1..3``: normal, 270 lbs, 97,656 Hz, 6 s;
- ``OuterRaceFault_1..3``: outer race, 270 lbs, 97,656 Hz, 6 s;
- ``OuterRaceFault_vload_1..7``: outer race at 25, 50, 100, 150, 200, 250, 300 lbs, 48,828 Hz, 3 s;
- ``InnerRaceFault_vload_1..7``: inner race at 0, 50, 100, 150, 200, 250, 300 lbs, 48,828 Hz, 3 s.

Shaft rate 25 Hz (1500 rpm) throughout; one NICE bearing (8 rollers, 0.235 in, pitch 1.245 in,
contact angle 0: ``BEARINGS["NICE"]``). There is no fault size. Each file holds a MATLAB
struct ``bearing`` with ``gs`` (the acceleration signal), ``sr`` (sampling rate), ``load``
(lbs, as text) and ``rate`` (shaft rate), plus top-level ``FTF``/``BPFO``/``BPFI``/``BSF`` in
the copies used here (the MathWorks mirror the URLs point at).

Each fault class is ONE physical bearing recorded at several loads: a split by load (or any
split within MFPT) reuses the same damaged bearing, and the baseline and fault files were
recorded with different sensor offsets, so within-MFPT scores are mild evidence.

Checksums: sha256 is known only for the two files of the shared copy; the others are
verified after download by readability, the ``bearing.gs`` signal, its rate and its length
(duration x rate), and the catalogue says so in ``note``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faultlab.data.datasets.base import DatasetSpec
from faultlab.data.readers import load_mat, resolve_key, series
from faultlab.data.types import Recording
from faultlab.errors import DataError

#: The struct holding each recording, and its fields.
STRUCT = "bearing"
SIGNAL_FIELD = "gs"


def _channels_arg(channels: str | Sequence[str] | None) -> list[str]:
    names = (
        [SIGNAL_FIELD]
        if channels is None
        else [channels]
        if isinstance(channels, str)
        else list(channels)
    )
    return [str(c) for c in names]


def _scalar(variables: dict[str, np.ndarray], key: str) -> float | None:
    value = variables.get(key)
    if value is None or np.asarray(value).size != 1:
        return None
    out = float(np.asarray(value).ravel()[0])
    return out if np.isfinite(out) else None


def _signal(
    variables: dict[str, np.ndarray], chans: list[str], path: Path
) -> tuple[np.ndarray, list[str]]:
    keys = []
    for ch in chans:
        key = ch if "." in ch else f"{STRUCT}.{ch}"
        keys.append(resolve_key(variables, key, path))
    return np.stack([series(variables[k], path, k) for k in keys]), keys


def verify(path: Path, info: dict[str, Any]) -> None:
    """A file without a known sha256: readable, has ``bearing.gs`` at the catalogue's rate,
    and as many samples as the catalogue says (or duration x rate, within 1 %)."""
    variables = load_mat(path)
    signal, _ = _signal(variables, [SIGNAL_FIELD], path)
    rate = _scalar(variables, f"{STRUCT}.sr")
    if rate is not None and abs(rate - float(info["sampling_rate_hz"])) > 0.5:
        raise DataError(
            f"{path}: stores rate {rate:g} Hz, the catalogue says {info['sampling_rate_hz']}"
        )
    n = signal.shape[1]
    if info.get("n_samples") is not None and n != int(info["n_samples"]):
        raise DataError(f"{path}: {n} samples, the catalogue expects {info['n_samples']}")
    expected = float(info["duration_s"]) * float(info["sampling_rate_hz"])
    if abs(n - expected) > 0.01 * expected:
        raise DataError(
            f"{path}: {n} samples, expected about {expected:.0f} ({info['duration_s']} s)"
        )


def read_mfpt(
    file: str,
    data_dir: str | os.PathLike | None = None,
    channels: str | Sequence[str] | None = None,
    download: bool = False,
) -> Recording:
    """One MFPT recording (``bearing.gs``) with its catalogue labels.

    ``meta``: dataset ``mfpt``, condition, fault_location (IR/OR; None for baseline),
    load (lbs; ``load_unit`` lbs), rpm 1500 (shaft rate x 60; the file's ``bearing.rate``
    when present), bearing ``NICE``, plus file, name, group, key. The rate is the file's
    ``bearing.sr`` (a DataError if it disagrees with the catalogue).
    """
    cat = DATASET.catalogue
    info = cat.entry(file)
    path = cat.path(info["file"], data_dir)
    if not path.exists():
        if not download:
            raise DataError(
                f"MFPT file {info['file']} not found at {path}; download it with "
                f"`faultlab data download mfpt --files {info['file']}` (or download=True), "
                "or point --data-dir / FAULTLAB_DATA_DIR at a folder holding mfpt/"
            )
        from faultlab.data.download import fetch

        path = fetch(info["file"], data_dir, dataset="mfpt").path
    variables = load_mat(path)
    signal, keys = _signal(variables, _channels_arg(channels), path)
    rate = _scalar(variables, f"{STRUCT}.sr") or float(info["sampling_rate_hz"])
    if abs(rate - float(info["sampling_rate_hz"])) > 0.5:
        raise DataError(
            f"{path}: bearing.sr is {rate:g} Hz but the catalogue says {info['sampling_rate_hz']} Hz"
        )
    shaft = _scalar(variables, f"{STRUCT}.rate") or float(info["shaft_hz"])
    meta: dict[str, Any] = {
        "dataset": "mfpt",
        "source": str(path),
        "condition": info["condition"],
        "fault_location": info["fault_location"],
        "fault_diameter_in": None,
        "load_hp": None,
        "load": float(info["load"]),
        "load_unit": "lbs",
        "rpm": 60.0 * shaft,
        "sensor_end": None,
        "fault_end": None,
        "bearing": info["bearing"],
        "file": info["file"],
        "name": info["name"],
        "group": info["group"],
        "key": ",".join(keys),
    }
    return Recording(str(info["file"]), signal, float(rate), _channels_arg(channels), meta)


DATASET = DatasetSpec(
    name="mfpt",
    label="MFPT",
    title="MFPT bearing fault data (20 .mat files: baseline, outer race, inner race)",
    machine="MFPT/NRG bearing rig (NICE bearing, 25 Hz shaft)",
    read=read_mfpt,
    base_url="",  # every row carries its own URL (two folders of the mirror)
    env_url="FAULTLAB_MFPT_URL",
    groups=("baseline", "OR_270", "OR_vload", "IR_vload"),
    dtypes={"load": "int64", "rpm": "int64", "shaft_hz": "float64", "duration_s": "float64"},
    aliases={"load_lbs": "load"},
    listing=(
        "file",
        "name",
        "group",
        "condition",
        "fault_location",
        "load",
        "load_unit",
        "shaft_hz",
        "sampling_rate_hz",
        "duration_s",
        "bearing",
    ),
    default_select={},
    default_channels=(SIGNAL_FIELD,),
    size_hint="20 files, roughly 45 MB",
    verify=verify,
)

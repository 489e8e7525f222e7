"""DataConfig -> WindowSet: pick recordings, resample, cut single recordings, window, label.

Catalogued datasets (CWRU, MFPT, ...: :mod:`faultlab.data.datasets`) share one reader path;
the synthetic generator, a user's manifest (``files``) and several datasets at once
(``sources``) are entries of :data:`SOURCES`. Every recording is resampled to
``target_rate``, so machines sampled differently (CWRU 12 kHz, MFPT 48,828 Hz) give windows
of one time scale. Tables skip the signal pipeline and come back as a WindowSet directly.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from faultlab.data.config import FAULT_END, DataConfig, SourceConfig
from faultlab.data.datasets import get_dataset
from faultlab.data.datasets.base import DatasetSpec
from faultlab.data.labels import recording_labels, target_tasks
from faultlab.data.paths import dataset_dir
from faultlab.data.resample import resample
from faultlab.data.types import NOT_APPLICABLE, Recording, WindowSet
from faultlab.data.windowing import cut_into_blocks, make_windows, meta_table
from faultlab.errors import DataError


def _channels(cfg: DataConfig | SourceConfig, spec: DatasetSpec | None = None) -> tuple[str, ...]:
    if cfg.channel is None:
        return tuple(spec.default_channels) if spec is not None else ("DE",)
    return tuple([cfg.channel] if isinstance(cfg.channel, str) else cfg.channel)


def catalogue_selection(cfg: DataConfig | SourceConfig) -> pd.DataFrame:
    """Catalogue rows chosen by ``cfg.files`` or by ``cfg.select`` (+ normal recordings)."""
    spec = get_dataset(cfg.dataset)
    select = spec.default_select if cfg.select is None else cfg.select
    return spec.catalogue.selection(select, cfg.normal, list(cfg.files or []))


def cwru_selection(cfg: DataConfig) -> pd.DataFrame:
    """CWRU rows of ``cfg`` (see :func:`catalogue_selection`)."""
    return catalogue_selection(cfg)


def _catalogue_recordings(cfg: DataConfig | SourceConfig) -> tuple[list[Recording], list[str]]:
    """A catalogued dataset (CWRU, MFPT, ...): the selected files present in the data dir."""
    spec = get_dataset(cfg.dataset)
    rows = catalogue_selection(cfg)
    folder = dataset_dir(spec.name, cfg.data_dir)
    if cfg.download:
        from faultlab.data.download import download

        download(spec.name, rows["file"].tolist(), data_dir=cfg.data_dir)
    present = rows.loc[spec.catalogue.available(rows, cfg.data_dir)]
    if present.empty:
        raise DataError(
            f"none of the {len(rows)} selected {spec.label} files is in {folder}; "
            f"download them (faultlab data download {spec.name}) or set FAULTLAB_DATA_DIR"
        )
    missing = [str(f) for f in rows["file"] if f not in set(present["file"])]
    notes = (
        [
            f"{len(missing)} selected {spec.label} file(s) are not in {folder} and were left out: "
            f"{', '.join(missing)} (set data.download: true to fetch them)"
        ]
        if missing
        else []
    )
    if isinstance(cfg.channel, str) and nearest_channel(cfg.channel) is not None:
        recs = _read_nearest(spec, present, cfg)
        notes.append(nearest_note(cfg.channel))
    else:
        chans = _channels(cfg, spec)
        recs = [spec.read(f, data_dir=cfg.data_dir, channels=chans) for f in present["file"]]
    fault_end = present["bearing"].tolist() if "bearing" in present else None
    return recs, notes + with_bearing(recs, cfg.bearing, fault_end)


def with_bearing(
    recs: list[Recording], bearing: str | None, fault_end: list[Any] | None = None
) -> list[str]:
    """Read every recording for ``bearing`` (``data.bearing``), whatever its channel(s); in place.

    Why: a recording's geometry defaults to the bearing under its sensor (CWRU FE channel:
    6203), but a drive-end fault read by the fan-end accelerometer is still a 6205 fault, and
    the order-domain front ends must look for ITS defect orders. ``fault_end``: each
    recording's catalogue bearing (``fault_end`` lists them, aligned with ``recs``); a key or
    geometry spec: that bearing for all. Returns the note for reports (none for the default).
    """
    if bearing is None:
        return []
    if bearing == FAULT_END and fault_end is None:
        raise DataError(
            "data.bearing fault_end needs a catalogued dataset (its 'bearing' column); "
            "give this source's bearing by name or geometry instead"
        )
    keys = fault_end if bearing == FAULT_END else [bearing] * len(recs)
    assert keys is not None
    for rec, key in zip(recs, keys, strict=True):
        rec.meta.pop("channel_bearings", None)
        rec.meta["bearing"] = str(key)
    what = "its fault end's bearing" if bearing == FAULT_END else f"bearing {bearing}"
    return [f"data.bearing {bearing}: every channel read for {what} (defect orders)"]


def nearest_channel(channel: Any) -> str | None:
    """``nearest`` / ``nearest:FE`` -> the channel for recordings without a fault end."""
    if not isinstance(channel, str) or not channel.lower().startswith("nearest"):
        return None
    _, _, normal = channel.partition(":")
    normal = (normal or "DE").upper()
    if normal not in ("DE", "FE", "BA"):
        raise DataError(
            f"data.channel {channel!r}: normal recordings' channel must be DE, FE or BA"
        )
    return normal


def nearest_note(channel: str) -> str:
    return (
        f"channel '{channel}': each fault recording read at the sensor nearest its fault "
        f"(DE for drive-end faults, FE for fan-end faults); recordings without a fault end "
        f"(normal) at {nearest_channel(channel)}; the column sensor_end says which"
    )


def _read_nearest(spec: DatasetSpec, rows: pd.DataFrame, cfg: Any) -> list[Recording]:
    """One channel per recording, the sensor nearest the fault, named ``nearest``."""
    from dataclasses import replace

    if "fault_end" not in rows:
        raise DataError(
            f"data.channel {cfg.channel!r}: dataset {spec.name} has no fault_end column"
        )
    normal = nearest_channel(cfg.channel)
    out = []
    for n, end in zip(rows["file"], rows["fault_end"]):
        ch = end if isinstance(end, str) and end.upper() in ("DE", "FE") else normal
        rec = spec.read(n, data_dir=cfg.data_dir, channels=(ch,))
        out.append(replace(rec, channels=["nearest"], meta={**rec.meta, "sensor_end": ch}))
    return out


def _synthetic_recordings(cfg: DataConfig | SourceConfig) -> tuple[list[Recording], list[str]]:
    from faultlab.data import synthetic

    recs = synthetic.from_config(cfg.synthetic)
    return recs, [
        "synthetic recordings (physics-based generator)",
        *with_bearing(recs, cfg.bearing),
    ]


def _file_recordings(cfg: DataConfig | SourceConfig) -> tuple[list[Recording], list[str]]:
    from faultlab.data import readers

    if not cfg.manifest:
        raise DataError("data.dataset 'files' needs data.manifest (a CSV or YAML file list)")
    recs = readers.read_manifest(cfg.manifest)
    return recs, with_bearing(recs, cfg.bearing)


def _rename_channels(recs: list[Recording], names: list[str], source: str) -> list[str]:
    """Give a source's recordings the first source's channel names (same count), so windows of
    several machines stack; the note says which names were mapped."""
    notes = []
    for rec in recs:
        if rec.channels == names:
            continue
        if len(rec.channels) != len(names):
            raise DataError(
                f"data.sources: {source} recording {rec.recording_id} has channels "
                f"{rec.channels}, the first source {names}; pick as many channels in each source"
            )
        notes.append(f"{source} channel(s) {'+'.join(rec.channels)} read as {'+'.join(names)}")
        rec.meta["original_channels"] = "+".join(rec.channels)
        rec.channels = list(names)
    return list(dict.fromkeys(notes))


def _source_recordings(cfg: DataConfig) -> tuple[list[Recording], list[str]]:
    """Several datasets in one window set (``data.sources``): train on one machine, test on
    another with a ``condition`` split on the ``dataset`` column."""
    recs: list[Recording] = []
    notes: list[str] = []
    read_by: dict[str, str] = {}  # recording id -> the catalogued dataset that read it first
    for source in cfg.sources or []:
        part, part_notes = _source_fn(source.dataset)(source)
        name = source.label or source.dataset
        ids = {r.recording_id for r in recs}
        for rec in part:
            if source.label:
                rec.meta["dataset"] = source.label
            if rec.recording_id in ids:
                if read_by.get(rec.recording_id) == source.dataset:
                    # the same catalogue file again (another channel): one recording for the
                    # leakage check, whatever the sources call it
                    rec.meta["same_recording_as"] = rec.recording_id
                rec.recording_id = f"{name}:{rec.recording_id}"
            elif source.dataset not in SOURCES:
                read_by[rec.recording_id] = source.dataset
        if recs:
            part_notes += _rename_channels(part, recs[0].channels, name)
        recs += part
        notes += part_notes
    return recs, notes


#: dataset name -> function returning (recordings, notes for reports); every catalogued
#: dataset (``faultlab.data.datasets``) is read by :func:`_catalogue_recordings`.
SOURCES: dict[str, Callable[[Any], tuple[list[Recording], list[str]]]] = {
    "synthetic": _synthetic_recordings,
    "files": _file_recordings,
    "sources": _source_recordings,
}


def _source_fn(name: str) -> Callable[[Any], tuple[list[Recording], list[str]]]:
    return SOURCES.get(name) or _catalogue_recordings


def split_single_recordings(
    recordings: list[Recording], n_blocks: int, column: str | None
) -> tuple[list[Recording], list[str]]:
    """Cut every class that has a single recording into contiguous blocks (+ the note why)."""
    if n_blocks <= 1:
        return recordings, []
    codes, classes = recording_labels(meta_table(recordings))
    task = next(iter(codes))
    counts = np.bincount(codes[task][codes[task] >= 0], minlength=len(classes[task]))
    out: list[Recording] = []
    notes: list[str] = []
    for rec, code in zip(recordings, codes[task]):
        if code >= 0 and counts[code] == 1:
            out += cut_into_blocks(rec, n_blocks, column)
            as_col = f" treated as {column} 0-{n_blocks - 1}" if column else ""
            notes.append(
                f"class '{classes[task][code]}' has a single recording ({rec.recording_id}); it was "
                f"cut into {n_blocks} contiguous blocks{as_col}, each a separate group (never "
                "interleaved windows). Blocks share one physical run, so this class is easier "
                "than the others."
            )
        else:
            out.append(rec)
    return out, notes


def build_recordings(cfg: DataConfig) -> tuple[list[Recording], list[str]]:
    recs, notes = _source_fn(cfg.dataset)(cfg)
    recs = [resample(r, cfg.target_rate) for r in recs]
    recs, block_notes = split_single_recordings(recs, cfg.single_recording_blocks, cfg.block_column)
    return recs, notes + block_notes


def build_windows(cfg: DataConfig) -> WindowSet:
    """The full WindowSet for ``cfg`` (every task), cached per process."""
    return _build_cached(cfg.model_dump_json())


@lru_cache(maxsize=4)
def _build_cached(cfg_json: str) -> WindowSet:
    cfg = DataConfig.model_validate_json(cfg_json)
    if cfg.dataset == "store" or cfg.store is not None:
        return _stored_windows(cfg)
    if cfg.dataset == "table":
        from faultlab.data import tabular

        return tabular.from_config(cfg.table, cfg.data_dir)
    recs, notes = build_recordings(cfg)
    return make_windows(recs, cfg.window, cfg.stride, cfg.normalise, notes=notes)


def _stored_windows(cfg: DataConfig) -> WindowSet:
    """Windows from the on-disk store; written first when missing or built from another config."""
    from faultlab.data import store

    if cfg.store is None:
        raise DataError("data.dataset 'store' needs data.store.path (the store directory)")
    path = Path(cfg.store.path).expanduser()
    if cfg.dataset == "store":
        return store.open_store(path)
    if cfg.dataset == "table":
        raise DataError("data.store: tables are held in memory; the store is for signal windows")
    source = cfg.model_dump(mode="json", exclude={"store"})
    info = store.read_info(path)
    if cfg.store.rebuild or info is None or info.get("source") != source:
        recs, notes = build_recordings(cfg)
        store.write_recordings(path, recs, cfg.window, cfg.stride, cfg.normalise, notes, source)
    return store.open_store(path)


def for_target(ws: WindowSet, target: str) -> WindowSet:
    """Keep the target's tasks, and drop windows where none of them applies."""
    tasks = target_tasks(target)
    missing = [t for t in tasks if t not in ws.y]
    if missing:
        raise DataError(f"target {target!r} needs task(s) {missing}; this data has {ws.tasks}")
    keep = np.any(np.stack([ws.y[t] != NOT_APPLICABLE for t in tasks]), axis=0)
    out = ws.select_tasks(tasks)
    return out if keep.all() else out.subset(np.flatnonzero(keep))

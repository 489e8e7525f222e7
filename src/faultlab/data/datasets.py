"""DataConfig -> WindowSet: pick recordings, resample, cut single recordings, window, label.

Sources are a registry (name -> function returning recordings), so a new dataset is one
function. Tables skip the signal pipeline and come back as a WindowSet directly.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import pandas as pd

from faultlab.data import catalogue
from faultlab.data.config import DataConfig
from faultlab.data.labels import recording_labels, target_tasks
from faultlab.data.paths import dataset_dir
from faultlab.data.resample import resample
from faultlab.data.types import NOT_APPLICABLE, Recording, WindowSet
from faultlab.data.windowing import cut_into_blocks, make_windows, meta_table
from faultlab.errors import DataError


def _channels(cfg: DataConfig) -> tuple[str, ...]:
    return tuple([cfg.channel] if isinstance(cfg.channel, str) else cfg.channel)


def cwru_selection(cfg: DataConfig) -> pd.DataFrame:
    """Catalogue rows chosen by ``cfg.files`` or by ``cfg.select`` (+ normal baseline)."""
    cat = catalogue.load_catalogue()
    if cfg.files:
        rows = [catalogue.entry(f)["file"] for f in cfg.files]
        return cat[cat["file"].isin(rows)]
    catalogue.check_selection(cfg.select)
    faults = catalogue.select(cat[cat["condition"] == "fault"], cfg.select)
    if faults.empty:
        raise DataError(f"data.select {dict(cfg.select)} matches no CWRU fault recording")
    if not cfg.normal:
        return faults
    normal = cat[cat["condition"] == "normal"]
    if "load_hp" in cfg.select:
        normal = catalogue.select(normal, {"load_hp": cfg.select["load_hp"]})
    return pd.concat([normal, faults]).sort_values("file")


def _cwru_recordings(cfg: DataConfig) -> tuple[list[Recording], list[str]]:
    from faultlab.data import readers

    rows = cwru_selection(cfg)
    folder = dataset_dir("cwru", cfg.data_dir)
    present = rows[[(folder / f"{n}.mat").exists() for n in rows["file"]]]
    if cfg.download:
        from faultlab.data.download import download_cwru

        download_cwru(rows["file"].tolist(), data_dir=cfg.data_dir)
        present = rows
    if present.empty:
        raise DataError(
            f"none of the {len(rows)} selected CWRU files is in {folder}; "
            "download them (faultlab data download cwru) or set FAULTLAB_DATA_DIR"
        )
    missing = sorted(set(rows["file"]) - set(present["file"]))
    notes = (
        [f"{len(missing)} selected CWRU file(s) are not in {folder} and were left out: "
         f"{', '.join(map(str, missing))} (set data.download: true to fetch them)"]
        if missing else []
    )
    recs = [
        readers.read_cwru(int(n), data_dir=cfg.data_dir, channels=_channels(cfg))
        for n in present["file"]
    ]
    return recs, notes


def _synthetic_recordings(cfg: DataConfig) -> tuple[list[Recording], list[str]]:
    from faultlab.data import synthetic

    return synthetic.from_config(cfg.synthetic), ["synthetic recordings (physics-based generator)"]


def _file_recordings(cfg: DataConfig) -> tuple[list[Recording], list[str]]:
    from faultlab.data import readers

    if not cfg.manifest:
        raise DataError("data.dataset 'files' needs data.manifest (a CSV or YAML file list)")
    return readers.read_manifest(cfg.manifest), []


#: dataset name -> function returning (recordings, notes for reports)
SOURCES: dict[str, Callable[[DataConfig], tuple[list[Recording], list[str]]]] = {
    "cwru": _cwru_recordings,
    "synthetic": _synthetic_recordings,
    "files": _file_recordings,
}


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
    recs, notes = SOURCES[cfg.dataset](cfg)
    recs = [resample(r, cfg.target_rate) for r in recs]
    recs, block_notes = split_single_recordings(recs, cfg.single_recording_blocks, cfg.block_column)
    return recs, notes + block_notes


def build_windows(cfg: DataConfig) -> WindowSet:
    """The full WindowSet for ``cfg`` (every task), cached per process."""
    return _build_cached(cfg.model_dump_json())


@lru_cache(maxsize=4)
def _build_cached(cfg_json: str) -> WindowSet:
    cfg = DataConfig.model_validate_json(cfg_json)
    if cfg.dataset == "table":
        from faultlab.data import tabular

        return tabular.from_config(cfg.table, cfg.data_dir)
    recs, notes = build_recordings(cfg)
    return make_windows(recs, cfg.window, cfg.stride, cfg.normalise, notes=notes)


def for_target(ws: WindowSet, target: str) -> WindowSet:
    """Keep the target's tasks, and drop windows where none of them applies."""
    tasks = target_tasks(target)
    missing = [t for t in tasks if t not in ws.y]
    if missing:
        raise DataError(f"target {target!r} needs task(s) {missing}; this data has {ws.tasks}")
    keep = np.any(np.stack([ws.y[t] != NOT_APPLICABLE for t in tasks]), axis=0)
    out = ws.select_tasks(tasks)
    return out if keep.all() else out.subset(np.flatnonzero(keep))

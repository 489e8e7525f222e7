"""Catalogued datasets: one module + one CSV each (``cwru.py`` + ``cwru_catalogue.csv``, ...).

A module named like the dataset defines ``DATASET`` (a :class:`~.base.DatasetSpec`: labels,
reader, URLs, listing columns); :func:`get_dataset` imports it on first use, so adding a
dataset (Paderborn, XJTU-SY, your own rig) is one module and a CSV in this folder and
touches nothing else. :func:`find_file` says which catalogue a file name belongs to.

The config -> windows pipeline lives in :mod:`faultlab.data.build`; its names are still
importable from here (``from faultlab.data.build import build_windows``) for old callers.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from functools import cache
from pathlib import Path
from typing import Any

from faultlab.data.datasets.base import DatasetSpec
from faultlab.errors import DataError

_NOT_DATASETS = {"base"}


@cache
def dataset_names() -> tuple[str, ...]:
    """Names of the catalogued datasets (the modules of this package)."""
    return tuple(
        sorted(
            m.name
            for m in pkgutil.iter_modules(__path__)
            if not m.name.startswith("_") and m.name not in _NOT_DATASETS
        )
    )


def get_dataset(name: str) -> DatasetSpec:
    """The spec of a catalogued dataset (case-insensitive name)."""
    key = str(name).lower()
    if key not in dataset_names():
        raise DataError(
            f"unknown dataset {name!r}; catalogued datasets: {', '.join(dataset_names())}"
        )
    return importlib.import_module(f"{__name__}.{key}").DATASET


def find_file(path: str | os.PathLike) -> tuple[DatasetSpec, dict[str, Any]] | None:
    """The dataset and catalogue row of a file named as a catalogue names it, else None.

    A file inside a ``<dataset>/`` folder is looked up in that dataset first.
    """
    path = Path(path)
    names = list(dataset_names())
    parent = path.parent.name.lower()
    if parent in names:
        names.remove(parent)
        names.insert(0, parent)
    for name in names:
        spec = get_dataset(name)
        if spec.catalogue.contains(path.name):
            return spec, spec.catalogue.entry(path.name)
    return None


_BUILD_NAMES = {
    "build_windows",
    "build_recordings",
    "for_target",
    "cwru_selection",
    "split_single_recordings",
    "SOURCES",
}


def __getattr__(name: str) -> Any:
    """Old import path of the pipeline (``faultlab.data.datasets.build_windows``)."""
    if name in _BUILD_NAMES:
        return getattr(importlib.import_module("faultlab.data.build"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

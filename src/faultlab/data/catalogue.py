"""The CWRU Bearing Data Center catalogue (``datasets/cwru_catalogue.csv``): CWRU shortcuts.

The catalogue machinery is generic (:mod:`faultlab.data.datasets.base`; every dataset has
one); the functions here are the CWRU catalogue's, kept under their historical names.

One row per official file number (161 files): the normal baseline (97-100, 48 kHz),
12 kHz drive-end faults (``12k_DE``), 48 kHz drive-end faults (``48k_DE``) and 12 kHz fan-end
faults (``12k_FE``). Columns: ``file`` (official number), ``name`` (the conventional label,
e.g. ``OR007@6_1``), ``group``, ``condition`` (normal|fault), ``fault_location`` (IR, B,
OR@3, OR@6, OR@12; empty for normal), ``fault_diameter_in``, ``load_hp``, ``rpm`` (nominal
motor speed for the load), ``sampling_rate_hz``, ``fault_end`` (DE|FE; empty for normal),
``url``, ``sha256`` (known for the 37 files of the shared copy), ``n_samples`` and
``rpm_recorded`` (known for the same 37 files), ``note`` (known quirks of a file), and the
common columns ``load`` (= ``load_hp``), ``load_unit`` (hp) and ``bearing`` (6205 at the drive
end, 6203 at the fan end).

Provenance and ambiguity (the Bearing Data Center pages are the authority; the numbering was
written from the published tables and cross-checked against several public copies of them):

- Normal baseline 97-100 is sampled at 48 kHz. The official pages do not state it next to the
  table; the shared MANIFEST and public analyses (record lengths, shaft harmonics) agree on it.
- Numbers are not contiguous (e.g. 157, 216, 303, 304, 308 and 314 fall inside runs but are not
  in the published tables); OR@3 and OR@12 exist only for 0.007 and 0.021 in at the drive end;
  0.028 in exists only at 12 kHz drive end, IR and B (a different bearing, per public analyses).
- Fan end: 0.014 in OR@6 and 0.021 in OR@6 exist only at 0 HP (313, 315); 0.014 in OR@3 is
  310 (0 HP), 309 (1 HP), 311, 312 (the order of 309/310 is as published).
- File 318 (12k fan end, 0.021 in, 3 HP) is listed as OR@3 by most copies of the table and as
  OR@12 by at least one; the catalogue says OR@3 and its ``note`` records the doubt.
- ``note`` entries starting with "reported" come from public loaders and Smith & Randall (2015,
  MSSP 64-65) and were not checked against the files here (files 99, 174, 3001-3008 hold
  variables named after another number; some files lack RPM, BA or FE; a few are clipped or
  noisy). The readers find channels by suffix, so they do not depend on these notes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from faultlab.data.datasets.base import clean
from faultlab.data.datasets.cwru import BASE_URL, DATASET

_CAT = DATASET.catalogue

#: Groups of the catalogue, in the order the Bearing Data Center lists them.
GROUPS = DATASET.groups

#: Columns every CWRU catalogue row has (the common schema's plus CWRU's own).
COLUMNS = (
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
    "url",
    "sha256",
    "n_samples",
    "rpm_recorded",
    "note",
    "load",
    "load_unit",
    "bearing",
)

#: The descriptive columns (file number to fault end) shown by listings.
DESCRIPTIVE = DATASET.listing

__all__ = [
    "BASE_URL",
    "COLUMNS",
    "DESCRIPTIVE",
    "GROUPS",
    "available",
    "clean",
    "counts_by_group",
    "cwru_path",
    "entry",
    "file_number",
    "filter_catalogue",
    "is_cwru_number",
    "load_catalogue",
    "parse_filters",
    "select",
]


def load_catalogue() -> pd.DataFrame:
    """One row per official file number (a copy: callers may modify it)."""
    return _CAT.load()


def file_number(file: int | str | os.PathLike) -> int:
    """``105``, ``"105"``, ``"105.mat"`` or a path ``.../105.mat`` -> 105."""
    return int(_CAT.file_id(file))


def entry(file: int | str | os.PathLike) -> dict[str, Any]:
    """The catalogue row of one file as plain Python values (missing values are None)."""
    return _CAT.entry(file)


def is_cwru_number(name: str | os.PathLike) -> bool:
    """Whether a file name such as ``105.mat`` is a catalogue number."""
    return _CAT.contains(name)


def select(df: pd.DataFrame, filters: Mapping[str, Any]) -> pd.DataFrame:
    """Rows of ``df`` where every column equals the value (or one of the listed values)."""
    return _CAT.select(df, filters)


def parse_filters(items: Iterable[str] | None) -> dict[str, list[Any]]:
    """``["load_hp=0,1", "location=IR"]`` -> ``{"load_hp": ["0", "1"], "fault_location": ["IR"]}``."""
    return _CAT.parse_filters(items)


def filter_catalogue(
    filters: Mapping[str, Any] | Iterable[str] | None = None, **equals: Any
) -> pd.DataFrame:
    """Catalogue rows matching ``filters`` (a mapping, or ``KEY=VALUE`` strings) and ``equals``.

    ``filter_catalogue(["group=12k_DE", "load_hp=0"])`` or
    ``filter_catalogue(fault_location=["IR", "B"], load_hp=3)``.
    """
    return _CAT.filter(filters, **equals)


def cwru_path(file: int | str, data_dir: str | os.PathLike | None = None) -> Path:
    """Where a catalogue file lives in the data directory: ``<data_dir>/cwru/<number>.mat``."""
    return _CAT.path(file, data_dir)


def available(df: pd.DataFrame, data_dir: str | os.PathLike | None = None) -> pd.Series:
    """Per row of ``df``: whether its ``.mat`` file is present in the data directory."""
    return _CAT.available(df, data_dir)


def counts_by_group() -> dict[str, int]:
    """Number of files per group (a quick check that the catalogue is complete)."""
    return _CAT.counts_by_group()

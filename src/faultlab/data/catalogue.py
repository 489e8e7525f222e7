"""The CWRU Bearing Data Center catalogue, shipped as ``cwru_catalogue.csv``.

One row per official file number (161 files): the normal baseline (97-100, 48 kHz),
12 kHz drive-end faults (``12k_DE``), 48 kHz drive-end faults (``48k_DE``) and 12 kHz fan-end
faults (``12k_FE``). Columns: ``file`` (official number), ``name`` (the conventional label,
e.g. ``OR007@6_1``), ``group``, ``condition`` (normal|fault), ``fault_location`` (IR, B,
OR@3, OR@6, OR@12; empty for normal), ``fault_diameter_in``, ``load_hp``, ``rpm`` (nominal
motor speed for the load), ``sampling_rate_hz``, ``fault_end`` (DE|FE; empty for normal),
``url``, ``sha256`` (known for the 37 files of the shared copy), ``n_samples`` and
``rpm_recorded`` (known for the same 37 files), ``note`` (known quirks of a file).

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
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from faultlab.data.paths import dataset_dir
from faultlab.errors import DataError

BASE_URL = "https://engineering.case.edu/sites/default/files/{file}.mat"

#: Groups of the catalogue, in the order the Bearing Data Center lists them.
GROUPS = ("normal", "12k_DE", "48k_DE", "12k_FE")

#: Columns every catalogue row has (the CSV may carry more).
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
)

#: The descriptive columns (file number to fault end) shown by listings.
DESCRIPTIVE = COLUMNS[: COLUMNS.index("fault_end") + 1]

#: Short names accepted in filters (``location=IR`` means ``fault_location=IR``).
ALIASES = {
    "location": "fault_location",
    "diameter": "fault_diameter_in",
    "size": "fault_diameter_in",
    "load": "load_hp",
    "rate": "sampling_rate_hz",
    "fs": "sampling_rate_hz",
    "end": "fault_end",
}

_DTYPES = {
    "file": "int64",
    "load_hp": "int64",
    "rpm": "int64",
    "sampling_rate_hz": "int64",
    "fault_diameter_in": "float64",
    "n_samples": "Int64",
    "rpm_recorded": "Int64",
}


@lru_cache(maxsize=1)
def _catalogue() -> pd.DataFrame:
    with resources.files("faultlab.data").joinpath("cwru_catalogue.csv").open() as fh:
        df = pd.read_csv(fh, dtype=_DTYPES)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:  # pragma: no cover - guards the shipped file
        raise DataError(f"cwru_catalogue.csv lacks columns {missing}")
    return df


def load_catalogue() -> pd.DataFrame:
    """One row per official file number (a copy: callers may modify it)."""
    return _catalogue().copy()


def file_number(file: int | str | os.PathLike) -> int:
    """``105``, ``"105"``, ``"105.mat"`` or a path ``.../105.mat`` -> 105."""
    text = Path(str(file)).name if isinstance(file, str | os.PathLike) else str(file)
    try:
        return int(text.removesuffix(".mat"))
    except ValueError:
        raise DataError(f"CWRU file {str(file)!r} is not a file number") from None


def _clean(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def entry(file: int | str) -> dict[str, Any]:
    """The catalogue row of one file as plain Python values (missing values are None)."""
    df = _catalogue()
    number = file_number(file)
    row = df[df["file"] == number]
    if row.empty:
        raise DataError(
            f"CWRU file {number} is not in the catalogue "
            f"(known numbers: {int(df['file'].min())}-{int(df['file'].max())}, "
            "see `faultlab data list cwru`)"
        )
    return {k: _clean(v) for k, v in row.iloc[0].to_dict().items()}


def is_cwru_number(name: str | os.PathLike) -> bool:
    """Whether a file name such as ``105.mat`` is a catalogue number."""
    try:
        number = file_number(name)
    except DataError:
        return False
    return bool((_catalogue()["file"] == number).any())


def _column(df: pd.DataFrame, key: str) -> str:
    column = ALIASES.get(key, key)
    if column not in df.columns:
        raise DataError(f"catalogue has no column {key!r}; columns: {', '.join(df.columns)}")
    return column


def _as_numbers(column: str, values: Iterable[Any]) -> np.ndarray:
    try:
        return np.asarray([float(v) for v in values], dtype=float)
    except (TypeError, ValueError):
        bad = next(v for v in values if not _is_number(v))
        raise DataError(f"catalogue column {column!r} holds numbers; got {bad!r}") from None


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _mask(df: pd.DataFrame, column: str, values: list[Any]) -> np.ndarray:
    col = df[column]
    if pd.api.types.is_numeric_dtype(col):
        have = col.to_numpy(dtype=float, na_value=np.nan)
        want = _as_numbers(column, values)
        return np.isclose(have[:, None], want[None, :], rtol=0, atol=1e-9).any(axis=1)
    return col.astype("string").isin([str(v) for v in values]).fillna(False).to_numpy(bool)


def _values(wanted: Any) -> list[Any]:
    return list(wanted) if isinstance(wanted, list | tuple | set) else [wanted]


def select(df: pd.DataFrame, filters: Mapping[str, Any]) -> pd.DataFrame:
    """Rows where every ``column`` equals the value (or one of the listed values).

    Unknown columns and non-numeric values for numeric columns are DataErrors; a value that
    matches nothing simply selects nothing (combined filters may legitimately be empty).
    """
    mask = np.ones(len(df), dtype=bool)
    for key, wanted in filters.items():
        mask &= _mask(df, _column(df, key), _values(wanted))
    return df[mask]


def check_selection(filters: Mapping[str, Any], where: str = "data.select") -> None:
    """Every value of a config selection must occur in its column: a typo (``Ball`` for
    ``B``) is an error naming it, not a class silently left out."""
    df = _catalogue()
    for key, wanted in filters.items():
        column = _column(df, key)
        for value in _values(wanted):
            if not _mask(df, column, [value]).any():
                known = sorted({str(_clean(v)) for v in df[column] if _clean(v) is not None})
                shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
                raise DataError(f"{where}.{key}: no CWRU file has {column}={value!r}; values: {shown}")


def parse_filters(items: Iterable[str] | None) -> dict[str, list[Any]]:
    """``["load_hp=0,1", "location=IR"]`` -> ``{"load_hp": ["0", "1"], "fault_location": ["IR"]}``.

    Strict, for user input: the key must be a column (or alias) and every value must occur in
    that column, so a typo is an error naming it rather than an empty selection.
    """
    df = _catalogue()
    out: dict[str, list[Any]] = {}
    for item in items or []:
        if "=" not in item:
            raise DataError(f"filter {item!r} must look like KEY=VALUE (e.g. load_hp=0)")
        key, raw = (s.strip() for s in item.split("=", 1))
        column = _column(df, key)
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not values:
            raise DataError(f"filter {item!r} has no value")
        for value in values:
            if not _mask(df, column, [value]).any():
                known = sorted({str(_clean(v)) for v in df[column] if _clean(v) is not None})
                shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
                raise DataError(f"no CWRU file has {column}={value}; values: {shown}")
        out.setdefault(column, []).extend(values)
    return out


def filter_catalogue(
    filters: Mapping[str, Any] | Iterable[str] | None = None, **equals: Any
) -> pd.DataFrame:
    """Catalogue rows matching ``filters`` (a mapping, or ``KEY=VALUE`` strings) and ``equals``.

    ``filter_catalogue(["group=12k_DE", "load_hp=0"])`` or
    ``filter_catalogue(fault_location=["IR", "B"], load_hp=3)``.
    """
    df = _catalogue()
    merged: dict[str, Any] = {}
    if isinstance(filters, Mapping):
        merged.update(filters)
    elif filters is not None:
        merged.update(parse_filters(filters))
    merged.update(equals)
    return select(df, merged).copy()


def cwru_path(file: int | str, data_dir: str | os.PathLike | None = None) -> Path:
    """Where a catalogue file lives in the data directory: ``<data_dir>/cwru/<number>.mat``."""
    return dataset_dir("cwru", data_dir) / f"{file_number(file)}.mat"


def available(df: pd.DataFrame, data_dir: str | os.PathLike | None = None) -> pd.Series:
    """Per row of ``df``: whether its ``.mat`` file is present in the data directory."""
    folder = dataset_dir("cwru", data_dir)
    return pd.Series(
        [(folder / f"{int(n)}.mat").is_file() for n in df["file"]], index=df.index, dtype=bool
    )


def counts_by_group() -> dict[str, int]:
    """Number of files per group (a quick check that the catalogue is complete)."""
    counts = _catalogue()["group"].value_counts()
    return {g: int(counts.get(g, 0)) for g in GROUPS}

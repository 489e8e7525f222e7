"""What every catalogued dataset is: a :class:`DatasetSpec` plus a :class:`Catalogue` of files.

A dataset module (``faultlab/data/datasets/<name>.py``) defines ``DATASET = DatasetSpec(...)``
and ships ``<name>_catalogue.csv`` beside it. Catalogue rows share one schema (:data:`COLUMNS`):
the file id, labels per task (``condition`` -> detection, ``fault_location`` -> location,
``fault_diameter_in`` -> size), the operating condition (``load`` in ``load_unit``), the
sampling rate, the nominal shaft speed (``rpm``), the ``bearing`` (a key of
``faultlab.data.bearings.BEARINGS`` or a geometry spec), ``url``, ``sha256`` (when known),
``n_samples`` and a free ``note``. A dataset may carry more columns (CWRU: ``load_hp``).

Files are cached as ``<data-dir>/<dataset>/<original file name>``, so the data directory of
the shared copy (``cwru/97.mat``, ``mfpt/InnerRaceFault_vload_1.mat``) is used as it is.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faultlab.data.paths import dataset_dir
from faultlab.errors import DataError

if TYPE_CHECKING:  # pandas is imported where a table is needed; a lookup needs none
    import pandas as pd

#: Columns every catalogue has, in this order (a dataset's CSV may carry more).
COLUMNS = (
    "file",
    "name",
    "group",
    "condition",
    "fault_location",
    "fault_diameter_in",
    "load",
    "load_unit",
    "rpm",
    "sampling_rate_hz",
    "fault_end",
    "bearing",
    "url",
    "sha256",
    "n_samples",
    "note",
)

#: Short names accepted in filters of every catalogue (``location=IR``).
ALIASES = {
    "location": "fault_location",
    "diameter": "fault_diameter_in",
    "size": "fault_diameter_in",
    "rate": "sampling_rate_hz",
    "fs": "sampling_rate_hz",
    "end": "fault_end",
}

_DTYPES = {
    "load": "float64",
    "rpm": "float64",
    "sampling_rate_hz": "int64",
    "fault_diameter_in": "float64",
    "n_samples": "Int64",
    "bearing": "str",
    "load_unit": "str",
    "sha256": "str",
}

#: (file id, catalogue row, path, channels) -> Recording
Reader = Callable[..., Any]


@dataclass(frozen=True)
class DatasetSpec:
    """A catalogued dataset: where its files come from, how they are named and read."""

    name: str  # registry key and data-dir folder
    label: str  # how messages name it: "CWRU file 105: ..."
    title: str  # one line for `faultlab data list`
    machine: str  # the test rig (leaderboards show the machine of train and test)
    read: Reader  # read(file, data_dir=None, channels=None, download=False) -> Recording
    base_url: str = ""  # default URL template ({file} = id); rows may carry their own url
    env_url: str = ""  # environment variable that replaces the URL template
    numeric_ids: bool = False  # CWRU files are numbers (105 == "105.mat")
    suffix: str = ".mat"
    groups: tuple[str, ...] = ()
    dtypes: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    listing: tuple[str, ...] = ()  # columns of `data list --format table`
    default_select: Mapping[str, Any] = field(default_factory=dict)
    normal_keys: tuple[str, ...] = ()  # select keys that also restrict normal recordings
    default_channels: tuple[str, ...] = ()
    size_hint: str = ""  # for `data download --all` help
    # check of a downloaded file whose sha256 the catalogue does not know: verify(path, row)
    verify: Callable[[Path, dict[str, Any]], None] | None = None

    @property
    def catalogue_file(self) -> str:
        return f"{self.name}_catalogue.csv"

    @cached_property
    def catalogue(self) -> Catalogue:
        return Catalogue(self)


def clean(value: Any) -> Any:
    """numpy scalars -> Python; NaN/NA/NaT -> None."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    return value


def _convert(text: str, dtype: str | None) -> Any:
    """One CSV cell as :meth:`Catalogue.entry` returns it (the table's dtypes, without pandas)."""
    if text == "":
        return None
    if dtype in ("int64", "Int64"):
        return int(text)
    if dtype == "float64":
        return float(text)
    return text


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _as_numbers(column: str, values: list[Any]) -> np.ndarray:
    bad = [v for v in values if not _is_number(v)]
    if bad:
        raise DataError(f"catalogue column {column!r} holds numbers; got {bad[0]!r}")
    return np.asarray([float(v) for v in values], dtype=float)


def _values(wanted: Any) -> list[Any]:
    return list(wanted) if isinstance(wanted, list | tuple | set) else [wanted]


class Catalogue:
    """One dataset's rows: lookup by file id, filters, cache paths, availability."""

    def __init__(self, spec: DatasetSpec) -> None:
        self.spec = spec
        self._df: pd.DataFrame | None = None
        self._rows: dict[Any, dict[str, Any]] | None = None

    @property
    def dtypes(self) -> dict[str, str]:
        return {**_DTYPES, **self.spec.dtypes, "file": "int64" if self.spec.numeric_ids else "str"}

    def _open(self) -> Any:
        return resources.files("faultlab.data.datasets").joinpath(self.spec.catalogue_file).open()

    def rows(self) -> dict[Any, dict[str, Any]]:
        """file id -> row as plain Python values, read with the csv module (fast lookups)."""
        if self._rows is None:
            dtypes = self.dtypes
            with self._open() as fh:
                self._rows = {
                    row["file"]: row
                    for row in (
                        {k: _convert(v, dtypes.get(k)) for k, v in raw.items()}
                        for raw in csv.DictReader(fh)
                    )
                }
        return self._rows

    # -- the table -----------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """The shipped CSV (cached; do not modify: use :meth:`load` for a copy)."""
        import pandas as pd

        if self._df is None:
            with self._open() as fh:
                df = pd.read_csv(fh, dtype=self.dtypes)
            missing = [c for c in COLUMNS if c not in df.columns]
            if missing:  # pragma: no cover - guards the shipped files
                raise DataError(f"{self.spec.catalogue_file} lacks columns {missing}")
            if not self.spec.numeric_ids:
                df["file"] = df["file"].astype(object)
            self._df = df
        return self._df

    def load(self) -> pd.DataFrame:
        return self.table().copy()

    # -- ids, rows, paths ----------------------------------------------------------------
    def file_id(self, file: int | str | os.PathLike) -> int | str:
        """``105``, ``"105.mat"``, ``.../105.mat`` -> 105 (CWRU); ``x/baseline_1.mat`` -> ``baseline_1``."""
        text = Path(str(file)).name if isinstance(file, str | os.PathLike) else str(file)
        text = text.removesuffix(self.spec.suffix)
        if not self.spec.numeric_ids:
            return text
        try:
            return int(text)
        except ValueError:
            raise DataError(f"{self.spec.label} file {str(file)!r} is not a file number") from None

    def file_name(self, file: int | str) -> str:
        """The original file name: ``105.mat``, ``InnerRaceFault_vload_1.mat``."""
        return f"{self.file_id(file)}{self.spec.suffix}"

    def entry(self, file: int | str | os.PathLike) -> dict[str, Any]:
        """The row of one file as plain Python values (missing values are None)."""
        rows = self.rows()
        fid = self.file_id(file)
        if fid not in rows:
            ids = list(rows)
            known = (
                f"known numbers: {min(ids)}-{max(ids)}"
                if self.spec.numeric_ids
                else "known: " + ", ".join(map(str, ids[:4])) + ", ..."
            )
            raise DataError(
                f"{self.spec.label} file {fid} is not in the catalogue ({known}, "
                f"see `faultlab data list {self.spec.name}`)"
            )
        return dict(rows[fid])

    def contains(self, name: str | os.PathLike) -> bool:
        """Whether a file name such as ``105.mat`` / ``baseline_1.mat`` is in the catalogue."""
        if Path(str(name)).suffix.lower() not in ("", self.spec.suffix):
            return False
        try:
            fid = self.file_id(name)
        except DataError:
            return False
        return fid in self.rows()

    def path(self, file: int | str, data_dir: str | os.PathLike | None = None) -> Path:
        """``<data_dir>/<dataset>/<original file name>``."""
        return dataset_dir(self.spec.name, data_dir) / self.file_name(file)

    def available(self, df: pd.DataFrame, data_dir: str | os.PathLike | None = None) -> pd.Series:
        """Per row of ``df``: whether its file is present in the data directory."""
        import pandas as pd

        folder = dataset_dir(self.spec.name, data_dir)
        present = [(folder / self.file_name(f)).is_file() for f in df["file"]]
        return pd.Series(present, index=df.index, dtype=bool)

    def counts_by_group(self) -> dict[str, int]:
        groups = [r["group"] for r in self.rows().values()]
        return {g: groups.count(g) for g in self.spec.groups}

    # -- filters -------------------------------------------------------------------------
    def column(self, df: pd.DataFrame, key: str) -> str:
        column = {**ALIASES, **self.spec.aliases}.get(key, key)
        if column not in df.columns:
            raise DataError(
                f"{self.spec.label} catalogue has no column {key!r}; columns: {', '.join(df.columns)}"
            )
        return column

    def _mask(self, df: pd.DataFrame, column: str, values: list[Any]) -> np.ndarray:
        import pandas as pd

        col = df[column]
        if pd.api.types.is_numeric_dtype(col):
            have = col.to_numpy(dtype=float, na_value=np.nan)
            want = _as_numbers(column, values)
            return np.asarray(
                np.isclose(have[:, None], want[None, :], rtol=0, atol=1e-9).any(axis=1)
            )
        return col.astype("string").isin([str(v) for v in values]).fillna(False).to_numpy(bool)

    def select(self, df: pd.DataFrame, filters: Mapping[str, Any]) -> pd.DataFrame:
        """Rows where every column equals the value (or one of the listed values).

        Unknown columns and non-numeric values for numeric columns are DataErrors; a value
        that matches nothing selects nothing (combined filters may legitimately be empty).
        """
        mask = np.ones(len(df), dtype=bool)
        for key, wanted in filters.items():
            mask &= self._mask(df, self.column(df, key), _values(wanted))
        return df.loc[mask]

    def check_values(self, filters: Mapping[str, Any], where: str = "data.select") -> None:
        """Every value of a config selection must occur in its column: a typo (``Ball`` for
        ``B``) is an error naming it, not a class silently left out."""
        df = self.table()
        for key, wanted in filters.items():
            column = self.column(df, key)
            for value in _values(wanted):
                if not self._mask(df, column, [value]).any():
                    known = sorted({str(clean(v)) for v in df[column] if clean(v) is not None})
                    shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
                    raise DataError(
                        f"{where}.{key}: no {self.spec.label} file has {column}={value!r}; "
                        f"values: {shown}"
                    )

    def parse_filters(self, items: Iterable[str] | None) -> dict[str, list[Any]]:
        """``["load_hp=0,1", "location=IR"]`` -> ``{"load_hp": ["0", "1"], ...}``.

        Strict, for user input: the key must be a column (or alias) and every value must
        occur in that column, so a typo is an error naming it rather than an empty selection.
        """
        df = self.table()
        out: dict[str, list[Any]] = {}
        for item in items or []:
            if "=" not in item:
                raise DataError(f"filter {item!r} must look like KEY=VALUE (e.g. load_hp=0)")
            key, raw = (s.strip() for s in item.split("=", 1))
            column = self.column(df, key)
            values = [v.strip() for v in raw.split(",") if v.strip()]
            if not values:
                raise DataError(f"filter {item!r} has no value")
            for value in values:
                if not self._mask(df, column, [value]).any():
                    known = sorted({str(clean(v)) for v in df[column] if clean(v) is not None})
                    shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
                    raise DataError(
                        f"no {self.spec.label} file has {column}={value}; values: {shown}"
                    )
            out.setdefault(column, []).extend(values)
        return out

    def filter(
        self, filters: Mapping[str, Any] | Iterable[str] | None = None, **equals: Any
    ) -> pd.DataFrame:
        """Rows matching ``filters`` (a mapping, or ``KEY=VALUE`` strings) and ``equals``."""
        merged: dict[str, Any] = {}
        if isinstance(filters, Mapping):
            merged.update(filters)
        elif filters is not None:
            merged.update(self.parse_filters(filters))
        merged.update(equals)
        return self.select(self.table(), merged).copy()

    def selection(
        self, select: Mapping[str, Any], normal: bool, files: list[Any] | None = None
    ) -> pd.DataFrame:
        """Rows of a data config: ``files``, or faults matching ``select`` plus the normal
        recordings (restricted only by the ``normal_keys`` of ``select``, e.g. CWRU load)."""
        cat = self.table()
        if files:
            ids = [self.entry(f)["file"] for f in files]
            return cat.loc[cat["file"].isin(ids)]
        self.check_values(select)
        faults = self.select(cat.loc[cat["condition"] == "fault"], select)
        if faults.empty:
            raise DataError(
                f"data.select {dict(select)} matches no {self.spec.label} fault recording"
            )
        if not normal:
            return faults
        import pandas as pd

        rows = cat.loc[cat["condition"] == "normal"]
        keys = {k: v for k, v in select.items() if k in self.spec.normal_keys}
        rows = self.select(rows, keys) if keys else rows
        out = pd.concat([rows, faults])
        # catalogue order for named files (MFPT), number order for numbered ones (CWRU)
        return out.sort_values("file") if self.spec.numeric_ids else out

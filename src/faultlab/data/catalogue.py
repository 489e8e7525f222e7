"""The CWRU Bearing Data Center catalogue, shipped as ``cwru_catalogue.csv``."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from faultlab.errors import DataError

BASE_URL = "https://engineering.case.edu/sites/default/files/{file}.mat"


@lru_cache(maxsize=1)
def _catalogue() -> pd.DataFrame:
    with resources.files("faultlab.data").joinpath("cwru_catalogue.csv").open() as fh:
        df = pd.read_csv(fh)
    return df


def load_catalogue() -> pd.DataFrame:
    """One row per official file number (a copy: callers may modify it)."""
    return _catalogue().copy()


def entry(file: int | str) -> dict[str, Any]:
    df = _catalogue()
    try:
        number = int(str(file).removesuffix(".mat"))
    except ValueError:
        raise DataError(f"CWRU file {file!r} is not a file number") from None
    row = df[df["file"] == number]
    if row.empty:
        raise DataError(f"CWRU file {number} is not in the catalogue")
    return {k: (None if pd.isna(v) else v) for k, v in row.iloc[0].to_dict().items()}


def select(df: pd.DataFrame, filters: dict[str, Any]) -> pd.DataFrame:
    """Rows where every ``column`` equals the value (or one of the listed values)."""
    mask = np.ones(len(df), dtype=bool)
    for column, wanted in filters.items():
        if column not in df.columns:
            raise DataError(f"catalogue has no column {column!r}; columns: {list(df.columns)}")
        values = wanted if isinstance(wanted, list | tuple | set) else [wanted]
        col = df[column]
        if pd.api.types.is_numeric_dtype(col):
            mask &= np.isin(col.to_numpy(dtype=float), np.asarray(values, dtype=float))
        else:
            mask &= col.astype(str).isin([str(v) for v in values]).to_numpy()
    return df[mask]

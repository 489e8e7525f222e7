"""Tabular fault data: a CSV of numeric features plus class labels -> a ``WindowSet``.

Why a WindowSet: the same models, splits and reports then work on tables. Each row becomes
one window ``X[i] = features[None, :]`` of shape ``[1, F]``: "features as a sequence" -- a
recurrent model reads the F features as F time steps of one channel, a CNN/MLP sees one
channel of length F. Feature order is the CSV column order (or ``feature_columns``).

Labels are either one column (class names or integer codes) or several one-hot columns
(e.g. the UCI steel-plates file: 27 features, then 7 fault columns). Rule used when
``label_columns`` is None (see :func:`detect_label_columns`):

1. Take the longest run of *trailing* columns whose values are all 0 or 1.
2. If that run has >= 2 columns, the labels are one-hot: the widest trailing block (from the
   run's full width down to 2) in which every row has exactly one 1. If no width works,
   that is an error naming the first bad row (a broken one-hot file); pass ``label_columns``
   to say otherwise.
3. Otherwise the last column is a single label column.

Each row is its own group (``recording_id = "row-<i>"``, ``i`` counting data rows from 0)
unless ``id_column`` names a column whose equal values group rows (e.g. several rows
measured on one plate) so splits keep them together.

``Standardiser`` learns per-feature mean/std on training windows only and is saved with a
run (``to_dict``/``from_dict``), so test rows never leak into the scaling.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from faultlab.data.paths import data_dir
from faultlab.data.types import WindowSet
from faultlab.errors import ConfigError, DataError, FaultlabError
from faultlab.utils.validation import validate

TASK = "label"


class NotFittedError(FaultlabError):
    """A transformer was used before ``fit``."""


def _line(row: int) -> str:
    """Human pointer to a data row: 0-based row index and the 1-based file line (header = 1)."""
    return f"row {row} (line {row + 2})"


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a CSV file")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable CSV ({msg})") from None
    if df.empty:
        raise DataError(f"{path}: no data rows")
    df.columns = [str(c).strip() for c in df.columns]
    dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise DataError(f"{path}: duplicate column names {dupes}")
    return df


def _show(value: Any) -> str:
    """repr of a cell without numpy's ``np.int64(...)`` wrapper."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _is_binary(col: pd.Series) -> bool:
    if col.dtype == bool:
        return True
    if not pd.api.types.is_numeric_dtype(col) or col.isna().any():
        return False
    return bool(np.isin(col.to_numpy(dtype=float), (0.0, 1.0)).all())


def _first_bad_onehot_row(block: pd.DataFrame) -> tuple[int, int] | None:
    sums = block.to_numpy(dtype=float).sum(axis=1)
    bad = np.flatnonzero(sums != 1)
    return (int(bad[0]), int(sums[bad[0]])) if bad.size else None


def detect_label_columns(
    df: pd.DataFrame, path: str | os.PathLike = "<table>", exclude: tuple[str, ...] = ()
) -> list[str]:
    """Label columns by the module's rule: a trailing one-hot block, else the last column."""
    cols = [c for c in df.columns if c not in exclude]
    if not cols:
        raise DataError(f"{path}: no columns left to hold labels")
    run = 0
    while run < len(cols) and _is_binary(df[cols[len(cols) - 1 - run]]):
        run += 1
    if run < 2:
        return [cols[-1]]
    for k in range(run, 1, -1):
        if _first_bad_onehot_row(df.loc[:, cols[-k:]]) is None:
            return cols[-k:]
    bad = _first_bad_onehot_row(df.loc[:, cols[-run:]])
    assert bad is not None  # k = run above found a bad row
    row, ones = bad
    raise DataError(
        f"{path}: trailing 0/1 columns {cols[-run:]} look like one-hot labels but "
        f"{_line(row)} has {ones} ones; fix the row or pass label_columns explicitly"
    )


def _onehot_labels(
    df: pd.DataFrame, columns: list[str], path: Path
) -> tuple[np.ndarray, list[str]]:
    for c in columns:
        if not _is_binary(df[c]):
            values = pd.Series(pd.to_numeric(df[c], errors="coerce"))
            bad = np.flatnonzero(~np.isin(values.to_numpy(dtype=float), (0.0, 1.0)))
            r = int(bad[0])
            raise DataError(
                f"{path}: one-hot label column {c!r} has value {_show(df[c].iloc[r])} at {_line(r)}; "
                "expected 0 or 1"
            )
    block = df.loc[:, columns]
    bad = _first_bad_onehot_row(block)
    if bad is not None:
        row, ones = bad
        which = [c for c in columns if block[c].iloc[row] == 1]
        raise DataError(
            f"{path}: {_line(row)} has {ones} one-hot labels"
            + (f" ({', '.join(which)})" if which else "")
            + f"; exactly one of {columns} must be 1"
        )
    return block.to_numpy(dtype=float).argmax(axis=1).astype(np.int64), list(columns)


def _single_labels(df: pd.DataFrame, column: str, path: Path) -> tuple[np.ndarray, list[str]]:
    col = df[column]
    missing = np.flatnonzero(col.isna().to_numpy())
    if missing.size:
        raise DataError(f"{path}: label column {column!r} is empty at {_line(int(missing[0]))}")
    if pd.api.types.is_numeric_dtype(col) and col.dtype != bool:
        values = col.to_numpy(dtype=float)
        frac = np.flatnonzero(values != np.round(values))
        if frac.size:
            r = int(frac[0])
            raise DataError(
                f"{path}: label column {column!r} has non-integer value {_show(values[r])} at "
                f"{_line(r)}; labels must be class names or integer codes"
            )
        ints = values.astype(np.int64)
        uniq = np.unique(ints)
        return np.searchsorted(uniq, ints).astype(np.int64), [str(v) for v in uniq]
    names = col.astype(str).str.strip().to_numpy()
    uniq = np.unique(names)
    return np.searchsorted(uniq, names).astype(np.int64), [str(v) for v in uniq]


def _features(df: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    for c in columns:
        col = df[c]
        if not (pd.api.types.is_numeric_dtype(col) or col.dtype == bool):
            coerced = pd.Series(pd.to_numeric(col, errors="coerce"))
            bad = np.flatnonzero(coerced.isna().to_numpy() & col.notna().to_numpy())
            r = int(bad[0]) if bad.size else 0
            raise DataError(
                f"{path}: feature column {c!r} is not numeric (value {_show(col.iloc[r])} at "
                f"{_line(r)})"
            )
    X = df[columns].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        r, j = (int(v[0]) for v in np.nonzero(bad))
        what = "NaN (empty)" if np.isnan(X[r, j]) else str(X[r, j])
        raise DataError(f"{path}: feature column {columns[j]!r} has {what} at {_line(r)}")
    return X.astype(np.float32)


def _as_list(value: str | list[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]


def load_table(
    path: str | os.PathLike,
    label_columns: str | list[str] | None = None,
    feature_columns: list[str] | None = None,
    id_column: str | None = None,
) -> WindowSet:
    """Read a feature CSV into a ``WindowSet`` (X ``[n, 1, F]``, task ``label``)."""
    path = Path(path)
    df = _read_csv(path)
    columns = list(df.columns)
    if id_column is not None and id_column not in columns:
        raise DataError(f"{path}: id column {id_column!r} not found; columns: {columns}")
    features = _as_list(feature_columns)
    for c in features or []:
        if c not in columns:
            raise DataError(f"{path}: feature column {c!r} not found; columns: {columns}")
    labels = _label_columns(df, path, _as_list(label_columns), features, id_column)
    if len(labels) == 1:
        y, classes = _single_labels(df, labels[0], path)
    else:
        y, classes = _onehot_labels(df, labels, path)

    if features is None:
        features = [c for c in columns if c not in labels and c != id_column]
    overlap = sorted(set(features) & set(labels))
    if overlap:
        raise DataError(f"{path}: columns {overlap} are both features and labels")
    if not features:
        raise DataError(f"{path}: no feature columns (columns: {columns}, labels: {labels})")
    X = _features(df, features, path)
    rid, grouping = _row_groups(df, path, id_column)
    info = pd.DataFrame(
        {"recording_id": rid, "row": np.arange(len(df)), TASK: np.asarray(classes, dtype=object)[y]}
    )
    info["dataset"] = "table"
    info["source"] = str(path)
    return WindowSet(
        X=X[:, None, :],
        y={TASK: y},
        classes={TASK: classes},
        recording_id=rid,
        info=info,
        sampling_rate=None,
        channels=["features"],
        notes=[
            f"tabular data from {path.name}: the {len(features)} features are read as a "
            "sequence of one channel (CSV column order)",
            grouping,
        ],
        feature_names=features,
    )


def _label_columns(
    df: pd.DataFrame,
    path: Path,
    labels: list[str] | None,
    features: list[str] | None,
    id_column: str | None,
) -> list[str]:
    """The label columns given (each must exist), else those detected in ``df``."""
    if labels is None:
        exclude = tuple(c for c in (id_column, *(features or [])) if c)
        return detect_label_columns(df, path, exclude=exclude)
    if not labels:
        raise DataError(f"{path}: label_columns is empty")
    for c in labels:
        if c not in df.columns:
            raise DataError(f"{path}: label column {c!r} not found; columns: {list(df.columns)}")
    return labels


def _row_groups(df: pd.DataFrame, path: Path, id_column: str | None) -> tuple[np.ndarray, str]:
    """Each row's group (its ``recording_id``) and a note saying how rows were grouped."""
    if id_column is None:
        rid = np.array([f"row-{i}" for i in range(len(df))])
        return rid, "each row is its own group (recording_id row-<i>)"
    ids = df[id_column]
    if ids.isna().any():
        raise DataError(
            f"{path}: id column {id_column!r} is empty at {_line(int(np.flatnonzero(ids.isna())[0]))}"
        )
    rid = ids.astype(str).to_numpy()
    return rid, f"rows grouped by id column {id_column!r} ({len(set(rid))} groups)"


class TableConfig(BaseModel):
    """``DataConfig.table``: where the CSV is and which columns mean what."""

    model_config = ConfigDict(extra="forbid")

    path: str
    label_columns: str | list[str] | None = None
    feature_columns: list[str] | None = None
    id_column: str | None = None


def resolve_path(path: str | os.PathLike, data_root: str | os.PathLike | None = None) -> Path:
    """Absolute paths as given; relative ones as given if they exist, else under the data dir."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    candidate = data_dir(data_root) / p
    return candidate if candidate.exists() else p


def from_config(
    options: TableConfig | dict[str, Any] | None, data_root: str | os.PathLike | None = None
) -> WindowSet:
    """Entry point for the dataset builder: ``DataConfig.table`` -> WindowSet."""
    cfg = (
        options
        if isinstance(options, TableConfig)
        else validate(TableConfig, options or {}, "data.table")
    )
    return load_table(
        resolve_path(cfg.path, data_root),
        label_columns=cfg.label_columns,
        feature_columns=cfg.feature_columns,
        id_column=cfg.id_column,
    )


@dataclass
class Standardiser:
    """Zero-mean, unit-variance scaling learned on training windows only.

    ``per="position"``: one mean/std per (channel, position) -- per feature for tables
    ``[n, 1, F]``; ``per="channel"``: one per channel over all positions (signals).
    Zero-variance entries get std 1 (they become 0, not NaN).
    """

    per: Literal["position", "channel"] = "position"
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    n_fit: int = 0
    _axes: tuple[int, ...] = field(init=False, repr=False, default=(0,))

    def __post_init__(self) -> None:
        if self.per not in ("position", "channel"):
            raise ConfigError(f"Standardiser per={self.per!r}: choose 'position' or 'channel'")
        self._axes = (0,) if self.per == "position" else (0, 2)

    @property
    def fitted(self) -> bool:
        return self.mean is not None and self.std is not None

    @staticmethod
    def _array(data: WindowSet | np.ndarray) -> np.ndarray:
        X = data.X if isinstance(data, WindowSet) else np.asarray(data)
        if X.ndim != 3:
            raise DataError(
                f"Standardiser expects windows [n, channels, length], got shape {X.shape}"
            )
        return X

    def fit(self, data: WindowSet | np.ndarray) -> Standardiser:
        """Learn mean/std from ``data`` -- pass the training windows only."""
        X = self._array(data).astype(np.float64)
        if len(X) == 0:
            raise DataError("Standardiser.fit: no windows to fit on")
        if not np.isfinite(X).all():
            raise DataError("Standardiser.fit: windows contain NaN or inf")
        mean = X.mean(axis=self._axes, keepdims=True)[0]
        std = X.std(axis=self._axes, keepdims=True)[0]
        tiny = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
        std[tiny] = 1.0
        self.mean, self.std, self.n_fit = mean, std, int(len(X))
        return self

    @overload
    def transform(self, data: np.ndarray) -> np.ndarray: ...
    @overload
    def transform(self, data: WindowSet) -> WindowSet: ...
    def transform(self, data: WindowSet | np.ndarray) -> WindowSet | np.ndarray:
        """Scaled copy of ``data`` (same type: array -> float32 array, WindowSet -> WindowSet)."""
        mean, std = self.mean, self.std
        if mean is None or std is None:  # not fitted
            raise NotFittedError(
                "Standardiser.transform called before fit: fit it on the training windows first"
            )
        X = self._array(data)
        expected = mean.shape
        if X.shape[1] != expected[0] or (self.per == "position" and X.shape[2] != expected[1]):
            raise DataError(
                f"Standardiser was fitted on windows [*, {expected[0]}, {expected[1]}] "
                f"(per {self.per}); got {list(X.shape)}"
            )
        out = ((X - mean) / std).astype(np.float32)
        if isinstance(data, WindowSet):
            scaled = data.subset(np.arange(len(data)))
            scaled.X = out
            return scaled
        return out

    def fit_transform(self, data: WindowSet | np.ndarray) -> WindowSet | np.ndarray:
        return self.fit(data).transform(data)

    def to_dict(self) -> dict[str, Any]:
        if self.mean is None or self.std is None:  # not fitted
            raise NotFittedError("Standardiser.to_dict called before fit: nothing to save")
        return {
            "kind": "standardiser",
            "per": self.per,
            "n_fit": self.n_fit,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Standardiser:
        missing = [k for k in ("per", "mean", "std") if k not in d]
        if missing:
            raise ConfigError(f"standardiser: missing key(s) {missing}")
        mean = np.asarray(d["mean"], dtype=np.float64)
        std = np.asarray(d["std"], dtype=np.float64)
        if mean.ndim != 2 or mean.shape != std.shape:
            raise ConfigError(
                f"standardiser: mean {list(mean.shape)} and std {list(std.shape)} must be equal 2-D shapes"
            )
        if (std <= 0).any() or not np.isfinite(std).all():
            raise ConfigError("standardiser: std must be positive and finite")
        return cls(per=d["per"], mean=mean, std=std, n_fit=int(d.get("n_fit", 0)))

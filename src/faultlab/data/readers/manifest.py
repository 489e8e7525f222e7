"""Manifests (CSV or YAML): files with their sampling rate, channels and labels."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from faultlab.data.readers.recording import is_float, read_recording
from faultlab.data.types import META_KEYS, Recording
from faultlab.errors import DataError

#: Manifest fields with a fixed meaning; any other column is kept as an extra label.
MANIFEST_FIELDS = ("path", "sampling_rate", "channels", "key", "recording_id")
LABEL_FIELDS = tuple(k for k in META_KEYS if k not in ("dataset", "source"))
NUMERIC_LABELS = ("fault_diameter_in", "load_hp", "load", "rpm")
_FIELD_ALIASES = {
    "file": "path",
    "fs": "sampling_rate",
    "sampling_rate_hz": "sampling_rate",
    "channel": "channels",
    "id": "recording_id",
    "location": "fault_location",
    "shaft_rate": "shaft_hz",
}


def _manifest_rows(path: Path) -> tuple[list[dict[str, Any]], str]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        import pandas as pd

        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except Exception as exc:
            raise DataError(f"{path}: not a readable CSV manifest ({exc})") from None
        return df.to_dict("records"), "row"
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(path.read_text())
        except Exception as exc:
            raise DataError(f"{path}: not a readable YAML manifest ({exc})") from None
        defaults: dict[str, Any] = {}
        if isinstance(doc, dict):
            defaults = doc.get("defaults") or {}
            doc = doc.get("recordings")
        if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
            raise DataError(
                f"{path}: a YAML manifest is a list of entries (or 'recordings:' with optional "
                "'defaults:'), each a mapping with at least 'path'"
            )
        if not isinstance(defaults, dict):
            raise DataError(f"{path}: 'defaults' must be a mapping")
        return [{**defaults, **r} for r in doc], "entry"
    raise DataError(f"{path}: a manifest is .csv, .yaml or .yml, not {path.suffix!r}")


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and np.isnan(value))
    )


def _number(value: Any, where: str, field: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {field} {value!r} is not a number") from None
    if not np.isfinite(out):
        raise DataError(f"{where}: {field} {value!r} is not a finite number")
    return out


def _split_channels(value: Any) -> list[Any] | None:
    if _blank(value):
        return None
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, int):
        return [value]
    parts = [p.strip() for p in re.split(r"[;|+ ]+", str(value)) if p.strip()]
    return [int(p) if p.isdigit() else p for p in parts]


def _manifest_rate(row: dict[str, Any], where: str, file: Path) -> float | str | None:
    """A number, or (for a ``.mat`` file) the name of its rate variable (``bearing.sr``)."""
    value = row.get("sampling_rate")
    if _blank(value):
        return None
    if isinstance(value, str) and not is_float(value) and file.suffix.lower() == ".mat":
        return value.strip()
    return _number(value, where, "sampling_rate")


def _row_bearing(row: dict[str, Any], where: str) -> str | None:
    """``bearing`` (a known name or a geometry spec) or the geometry columns -> one value."""
    from faultlab.data.bearings import BEARINGS, GEOMETRY_FIELDS, from_fields, resolve

    if not _blank(row.get("bearing")):
        geom = resolve(str(row["bearing"]).strip(), where)
        named = [k for k, g in BEARINGS.items() if g == geom]
        return named[0] if named else geom.spec()
    given = {
        a: row[a] for names in GEOMETRY_FIELDS.values() for a in names if not _blank(row.get(a))
    }
    return from_fields(given, where).spec() if given else None


def _row_labels(row: dict[str, Any], where: str, rec: Recording) -> dict[str, Any]:
    labels: dict[str, Any] = {}
    for field in LABEL_FIELDS:
        value = row.get(field)
        if _blank(value):
            labels[field] = None
        elif field in NUMERIC_LABELS:
            labels[field] = _number(value, where, field)
        else:
            labels[field] = str(value).strip()
    if labels["condition"] is None and labels["fault_location"] is not None:
        labels["condition"] = "fault"
    if labels["rpm"] is None and not _blank(row.get("shaft_hz")):
        labels["rpm"] = 60.0 * _number(row["shaft_hz"], where, "shaft_hz")
    if labels["rpm"] is None and "rpm" in rec.meta:
        labels["rpm"] = rec.meta["rpm"]
    if labels["load"] is None and labels["load_hp"] is not None:
        labels["load"], labels["load_unit"] = labels["load_hp"], labels["load_unit"] or "hp"
    labels["bearing"] = _row_bearing(row, where)
    return labels


def _manifest_recording(row: dict[str, Any], path: Path, where: str) -> Recording:
    if _blank(row.get("path")):
        raise DataError(f"{where}: no 'path'")
    file = Path(str(row["path"]).strip())
    file = file if file.is_absolute() else path.parent / file
    if not file.is_file():
        raise DataError(f"{where}: file {str(row['path'])!r} not found (looked at {file})")
    key = None if _blank(row.get("key")) else row["key"]
    try:
        rec = read_recording(
            file,
            channels=_split_channels(row.get("channels")),
            sampling_rate=_manifest_rate(row, where, file),
            key=key,
            recording_id=None if _blank(row.get("recording_id")) else str(row["recording_id"]),
        )
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    labels = _row_labels(row, where, rec)
    extras = {
        k: (None if _blank(v) else v)
        for k, v in row.items()
        if k not in MANIFEST_FIELDS and k not in LABEL_FIELDS
    }
    rec.meta.update({**labels, **extras, "manifest": str(path)})
    return rec


def read_manifest(path: str | os.PathLike) -> list[Recording]:
    """Recordings listed in a CSV or YAML manifest (paths relative to the manifest).

    Fields: ``path`` (required), ``sampling_rate`` (or ``fs``; a number, or the name of the
    file's rate variable such as ``bearing.sr``; required unless the file holds a rate),
    ``channels`` (``;``-separated or a list), ``key`` (``.mat`` variable or struct field,
    ``bearing.gs``), ``recording_id`` (default: the file stem), labels ``condition``,
    ``fault_location``, ``fault_diameter_in``, ``load`` (+ ``load_unit``), ``load_hp``,
    ``rpm`` (or ``shaft_hz``), ``sensor_end``, ``fault_end``, and the bearing: ``bearing``
    (a name such as ``6205`` / ``NICE``, or a geometry spec) or the columns ``n_balls``,
    ``ball_diameter``, ``pitch_diameter``, ``contact_angle``. Any other field is kept in
    ``meta`` as an extra label (``dataset`` names the machine). ``condition`` defaults to
    ``fault`` when a ``fault_location`` is given. A YAML manifest may put shared fields under
    ``defaults:``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: manifest not found")
    rows, unit = _manifest_rows(path)
    if not rows:
        raise DataError(f"{path}: manifest lists no recordings")
    recordings = [
        _manifest_recording(
            {_FIELD_ALIASES.get(str(k).strip(), str(k).strip()): v for k, v in raw.items()},
            path,
            f"{path} {unit} {i}",
        )
        for i, raw in enumerate(rows, start=1)
    ]
    ids = [r.recording_id for r in recordings]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise DataError(
            f"{path}: recording ids {dupes} repeat (same file stem); add a recording_id column"
        )
    return recordings

"""Label tasks of the bearing problem, derived from per-recording metadata.

Tasks (all integer-coded, ``NOT_APPLICABLE`` = -1 where a task does not apply):

- ``class``     flat multi-class: ``normal`` or ``<location>_<size>`` (10 classes on the 37 shared
                CWRU files); ``<location>`` alone where a dataset has no fault size (MFPT)
- ``detection`` binary: ``normal`` / ``fault``
- ``location``  fault location (``IR``, ``B``, ``OR``); not applicable to normal recordings
- ``size``      fault diameter in inches (``0.007`` ...); not applicable to normal recordings

A *target* names the tasks a model learns (``flat``, ``binary``, ``multitask``, ``location``,
``size``, or a tabular dataset's own ``label``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from faultlab.data.types import NOT_APPLICABLE
from faultlab.errors import ConfigError

#: What a model learns; the experiment config's ``target`` is one of these.
Target = Literal["flat", "binary", "multitask", "location", "size", "label"]

TARGETS: dict[str, list[str]] = {
    "flat": ["class"],
    "binary": ["detection"],
    "multitask": ["detection", "location", "size"],
    "location": ["location"],
    "size": ["size"],
    "label": ["label"],
}

LOCATION_ORDER = ["IR", "B", "OR"]


def target_tasks(target: str) -> list[str]:
    try:
        return TARGETS[target]
    except KeyError:
        raise ConfigError(f"unknown target {target!r}; choose one of {sorted(TARGETS)}") from None


def _location(value: object) -> str | None:
    """Collapse OR@3/OR@6/OR@12 to OR: the crack's clock position is a sub-type."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    s = str(value)
    return "OR" if s.startswith("OR") else s


def _size(value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(v) else f"{v:.3f}"


def recording_labels(meta: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Per-recording label codes for every bearing task.

    ``meta`` has one row per recording with ``condition``, ``fault_location`` and
    ``fault_diameter_in`` (the bearing tasks) and/or a free ``label`` column (task ``label``).
    Returns (task -> codes per row, task -> class names).
    """
    codes: dict[str, np.ndarray] = {}
    classes: dict[str, list[str]] = {}
    if "condition" in meta and meta["condition"].notna().any():
        codes, classes = _bearing_labels(meta)
    if "label" in meta and meta["label"].notna().any():
        names = [None if pd.isna(v) else str(v) for v in meta["label"]]
        classes["label"] = sorted({n for n in names if n})
        codes["label"] = _encode(names, classes["label"])
    if not codes:
        raise ConfigError("recordings carry no labels: give 'condition' or 'label' metadata")
    return codes, classes


def _bearing_labels(meta: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    is_normal = meta["condition"].astype(str).str.lower().eq("normal").to_numpy()
    loc = [None if n else _location(v) for n, v in zip(is_normal, meta["fault_location"])]
    size = [None if n else _size(v) for n, v in zip(is_normal, meta["fault_diameter_in"])]
    flat = [
        "normal" if n else f"{lo}_{sz}" if sz else lo for n, lo, sz in zip(is_normal, loc, size)
    ]
    loc_classes = [c for c in LOCATION_ORDER if c in set(loc)] + sorted(
        {c for c in loc if c and c not in LOCATION_ORDER}
    )
    size_classes = sorted({s for s in size if s}, key=float)
    flat_classes = (["normal"] if is_normal.any() else []) + [
        name
        for lo in loc_classes
        for name in [lo, *(f"{lo}_{sz}" for sz in size_classes)]
        if name in set(flat)
    ]
    classes = {
        "class": flat_classes,
        "detection": ["normal", "fault"],
        "location": loc_classes,
        "size": size_classes,
    }
    codes = {
        "class": _encode(flat, flat_classes),
        "detection": (~is_normal).astype(np.int64),
        "location": _encode(loc, loc_classes),
        "size": _encode(size, size_classes),
    }
    return codes, classes


def _encode(values: list[str | None], classes: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    return np.array(
        [index.get(v, NOT_APPLICABLE) if v else NOT_APPLICABLE for v in values], dtype=np.int64
    )

"""Which bearing a sensor sits on, and the defect orders a front end or an analyst looks at.

Every caller reads geometry through :func:`bearing_for`, so a dataset only has to say which
bearing it used (a ``bearing`` metadata key / info column naming a key of
:data:`faultlab.data.bearings.BEARINGS`); CWRU recordings fall back to the bearing at the
sensor's end of the rig.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from faultlab.data.bearings import BEARINGS, CWRU_BEARING_AT
from faultlab.errors import DataError

#: Defect families an envelope analyst reads, as keys of ``BearingGeometry.orders`` plus the
#: shaft itself (order 1).
FAMILIES = ("shaft", "FTF", "BSF", "BPFO", "BPFI")


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and value != ""


def bearing_for(meta: Mapping[str, Any] | pd.Series, channel: str | None = None) -> str:
    """Key of ``BEARINGS`` for one recording (``meta``) seen through ``channel``.

    Order: an explicit ``bearing`` key; else the CWRU bearing at the channel's end (DE 6205,
    FE 6203), the channel taken from ``channel`` or the recording's ``sensor_end``; else a
    clear error naming the recording.
    """
    get = meta.get
    key = get("bearing")
    if _present(key):
        key = str(key)
        if key not in BEARINGS:
            raise DataError(
                f"recording {get('recording_id', '?')}: bearing {key!r} unknown; "
                f"known: {sorted(BEARINGS)}"
            )
        return key
    ends = [channel] if channel else str(get("sensor_end") or "").split("+")
    for end in ends:
        if end and str(end).upper() in CWRU_BEARING_AT:
            return CWRU_BEARING_AT[str(end).upper()]
    raise DataError(
        f"recording {get('recording_id', '?')}: no bearing geometry (channel {channel!r}, "
        f"sensor_end {get('sensor_end')!r}); give a 'bearing' key, one of {sorted(BEARINGS)}"
    )


def defect_orders(bearing: str) -> dict[str, float]:
    """Defect frequencies of ``bearing`` as multiples of shaft speed, plus ``shaft`` = 1."""
    if bearing not in BEARINGS:
        raise DataError(f"bearing {bearing!r} unknown; known: {sorted(BEARINGS)}")
    return {"shaft": 1.0, **BEARINGS[bearing].orders()}


def bearings_per_window(info: pd.DataFrame, channels: Sequence[str]) -> np.ndarray:
    """``[n, C]`` bearing keys, one per window and channel (resolved once per recording)."""
    n = len(info)
    out = np.empty((n, len(channels)), dtype=object)
    if n == 0:
        return out
    key_cols = [c for c in ("recording_id", "bearing", "sensor_end") if c in info.columns]
    groups = info.groupby(key_cols, dropna=False, sort=False).indices if key_cols else {(): np.arange(n)}
    for _, idx in groups.items():
        row = info.iloc[int(idx[0])]
        for c, ch in enumerate(channels):
            out[idx, c] = bearing_for(row, ch)
    return out


def orders_table(bearings: np.ndarray, families: Sequence[str] = FAMILIES) -> np.ndarray:
    """``[..., F]`` defect orders for an array of bearing keys (``families`` order)."""
    keys = np.asarray(bearings, dtype=object)
    uniq, inv = np.unique(keys.astype(str), return_inverse=True)
    table = np.array([[defect_orders(b)[f] for f in families] for b in uniq], dtype=np.float64)
    return table[inv.reshape(keys.shape)]

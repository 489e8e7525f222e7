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

from faultlab.data.bearings import BEARINGS, CWRU_BEARING_AT, resolve
from faultlab.errors import DataError

#: Defect families an envelope analyst reads, as keys of ``BearingGeometry.orders`` plus the
#: shaft itself (order 1).
FAMILIES = ("shaft", "FTF", "BSF", "BPFO", "BPFI")


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and value != ""


def bearing_for(meta: Mapping[str, Any] | pd.Series, channel: str | None = None) -> str:
    """The bearing (a ``BEARINGS`` key or a geometry spec) of one recording seen through
    ``channel``.

    Order: the channel's own entry of ``channel_bearings`` (``+``-joined, aligned with
    ``sensor_end``); else an explicit ``bearing`` key; else the CWRU bearing at the channel's
    end (DE 6205, FE 6203), the channel taken from ``channel`` or the recording's
    ``sensor_end``; else a clear error naming the recording.
    """
    get = meta.get
    rid = get("recording_id", "?")
    ends = str(get("sensor_end") or "").split("+")
    per_channel = str(get("channel_bearings") or "").split("+")
    if (
        channel
        and _present(get("channel_bearings"))
        and channel in ends
        and len(per_channel) == len(ends)
    ):
        return _checked(per_channel[ends.index(channel)], rid)
    key = get("bearing")
    if _present(key):
        return _checked(str(key), rid)
    for end in [channel] if channel else ends:
        if end and str(end).upper() in CWRU_BEARING_AT:
            return CWRU_BEARING_AT[str(end).upper()]
    raise DataError(
        f"recording {rid}: no bearing geometry (channel {channel!r}, sensor_end "
        f"{get('sensor_end')!r}); give a 'bearing' key: one of {sorted(BEARINGS)} or a "
        "geometry 'n_balls=..,ball_diameter=..,pitch_diameter=..'"
    )


def _checked(key: str, rid: Any) -> str:
    resolve(key, f"recording {rid}")  # unknown names / unphysical geometry: a DataError
    return key


def defect_orders(bearing: str) -> dict[str, float]:
    """Defect frequencies of ``bearing`` (key or geometry spec) as multiples of shaft speed,
    plus ``shaft`` = 1."""
    return {"shaft": 1.0, **resolve(bearing).orders()}


def bearings_per_window(info: pd.DataFrame, channels: Sequence[str]) -> np.ndarray:
    """``[n, C]`` bearing keys, one per window and channel (resolved once per recording)."""
    n = len(info)
    out = np.empty((n, len(channels)), dtype=object)
    if n == 0:
        return out
    key_cols = [
        c
        for c in ("recording_id", "bearing", "channel_bearings", "sensor_end")
        if c in info.columns
    ]
    groups = (
        info.groupby(key_cols, dropna=False, sort=False).indices if key_cols else {(): np.arange(n)}
    )
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

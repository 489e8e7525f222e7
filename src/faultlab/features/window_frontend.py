"""Window-level front ends: fixed transforms of a WindowSet that a model's params ask for.

A network's ``predict_proba(X)`` sees bare windows; the order-domain envelope spectrum also
needs each window's shaft speed, sampling rate and bearing. So it is not a layer: it is a
fixed transform of a WindowSet (whose ``info`` carries rpm and bearing) that the runner
applies to train/val/test before the model sees them (``model.params.frontend: {kind:
order_envelope, ...}``), records in ``preprocess.json``, and ``predict``/``serve`` replay on
new files. The model stays an ordinary model of ``[n, C, K]`` inputs. (In-network front ends
such as the log-STFT layer live in :mod:`faultlab.models.frontends`.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from faultlab.data.types import WindowSet
from faultlab.errors import DataError
from faultlab.features.order_envelope import order_envelope, parse_config
from faultlab.signals.geometry import bearings_per_window, orders_table
from faultlab.signals.speed import estimate_shaft_speed


class WindowFrontend:
    """``frontend: {kind: order_envelope, ...}`` from a model's params, as a WindowSet transform."""

    def __init__(self, options: dict | None, where: str = "model.params.frontend") -> None:
        self.cfg = parse_config(options, where)

    @property
    def kind(self) -> str:
        return self.cfg.kind

    def names(self) -> list[str]:
        return self.cfg.names()

    def record(self) -> dict:
        """JSON form for ``preprocess.json`` (enough to rebuild the transform)."""
        return self.cfg.model_dump(mode="json")

    def shaft_speeds(self, ws: WindowSet) -> tuple[np.ndarray, np.ndarray]:
        """Per-window rpm and its source; recordings without one get an estimate from their
        own windows (tacho-less, :func:`faultlab.signals.speed.estimate_shaft_speed`)."""
        n = len(ws)
        if self.cfg.rpm:
            return np.full(n, float(self.cfg.rpm)), np.full(n, "option", dtype=object)
        info = ws.info
        rpm = (
            pd.Series(pd.to_numeric(info["rpm"], errors="coerce")).to_numpy(float)
            if "rpm" in info
            else np.full(n, np.nan)
        )
        source = (
            info["rpm_source"].astype(object).to_numpy()
            if "rpm_source" in info
            else np.full(n, "catalogue", dtype=object)
        )
        source = np.where(pd.isna(source) | (source == "nominal"), "catalogue", source).astype(
            object
        )
        missing = ~(np.isfinite(rpm) & (rpm > 0))
        if missing.any():
            if not ws.sampling_rate:
                raise DataError(
                    "order_envelope front end: no shaft speed and no sampling rate "
                    "to estimate it from"
                )
            for rid in np.unique(ws.recording_id[missing]):  # one estimate per recording
                rows = np.flatnonzero((ws.recording_id == rid) & missing)
                signal = np.concatenate(list(ws.X[rows]), axis=-1)  # windows back to a signal
                lo, hi = self.cfg.rpm_range
                rpm[rows] = estimate_shaft_speed(signal, ws.sampling_rate, (lo, hi)).rpm
            source[missing] = "estimated"
        return rpm, source

    def transform(
        self, X: np.ndarray, sampling_rate: float, rpm: np.ndarray, bearings: np.ndarray
    ) -> np.ndarray:
        """Windows ``X [n, C, L]`` -> ``[n, C, K]`` given per-window rpm and bearing keys [n, C]."""
        fo = orders_table(bearings, self.cfg.families) if self.cfg.needs_orders else None
        Y, _ = order_envelope(X, float(sampling_rate), np.asarray(rpm, float) / 60.0, fo, self.cfg)
        return Y

    def apply(self, ws: WindowSet) -> WindowSet:
        """The transformed WindowSet; ``info`` gains rpm, rpm_source and bearing columns."""
        if not ws.sampling_rate:
            raise DataError(
                "order_envelope front end needs one sampling rate for all windows "
                "(set data.target_rate)"
            )
        rpm, source = self.shaft_speeds(ws)
        bearings = bearings_per_window(ws.info, ws.channels or ["DE"])
        Y = self.transform(ws.X, ws.sampling_rate, rpm, bearings)
        info = ws.info.copy()
        info["rpm"], info["rpm_source"] = rpm, source
        info["bearing"] = [
            "+".join(map(str, b)) if len(set(b)) > 1 else str(b[0]) for b in bearings
        ]
        return WindowSet(
            X=Y,
            y=ws.y,
            classes=ws.classes,
            recording_id=ws.recording_id,
            info=info,
            sampling_rate=ws.sampling_rate,
            channels=ws.channels,
            notes=list(ws.notes),
            feature_names=self.names(),
        )


def frontend_of(params: dict | None) -> WindowFrontend | None:
    """The window front end a model's params ask for (``frontend:`` as a mapping), or None.

    A string ``frontend`` (``stft``/``chunk`` of the recurrent models) is the network's own
    layer and stays with the model.
    """
    options = (params or {}).get("frontend")
    return WindowFrontend(options) if isinstance(options, dict) else None


def split_frontend(defaults: dict, params: dict | None) -> tuple[WindowFrontend | None, dict]:
    """``(window front end, params for the model)`` from a registered model's params.

    The model keeps ``frontend`` only when its own defaults declare a mapping there (it reads
    the layout, as ``envelope`` does); for every other model the runner owns it.
    """
    params = dict(params or {})
    fe = frontend_of({**defaults, **params})
    if fe is not None and not isinstance(defaults.get("frontend"), dict):
        params.pop("frontend", None)
    elif fe is not None:
        params["frontend"] = fe.record()
    return fe, params


def rpm_summary(info: pd.DataFrame) -> dict[str, int]:
    """How many recordings took their shaft speed from each source (for reports)."""
    if "rpm_source" not in info or "recording_id" not in info:
        return {}
    per_rec = info.drop_duplicates("recording_id")["rpm_source"].astype(str)
    per_rec = per_rec.replace({"nominal": "catalogue"})
    return {str(k): int(v) for k, v in per_rec.value_counts().items()}

"""What a run records about itself: its protocol, data sources, host, peak memory, the
preprocessing ``predict`` replays, and the test evidence spectra."""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from faultlab.data.types import Split, WindowSet
from faultlab.experiments import rundir
from faultlab.experiments.config import ExperimentConfig
from faultlab.utils.io import write_json


def protocol_of(split: Split, column: str | list[str]) -> str:
    """What kind of evidence a split gives (stated at the top of every report)."""
    if split.leaky:
        return "leaky"
    if split.kind in {"condition", "leave_one_out", "transfer"}:
        if column == "dataset":
            return "cross-machine"
        return "held-out size" if column == "fault_diameter_in" else "condition"
    return "recording"


def data_sources(ws: WindowSet) -> dict[str, str]:
    """The dataset(s) a set of windows comes from, and their machines (for leaderboards)."""
    from faultlab.data.datasets import dataset_names, get_dataset

    names = sorted({str(v) for v in ws.info["dataset"].dropna()}) if "dataset" in ws.info else []
    machines = [get_dataset(n).machine if n in dataset_names() else n for n in names]
    return {"data": "+".join(names) or "?", "machine": "; ".join(machines) or "?"}


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def where() -> dict[str, Any]:
    """Which machine and process ran a run: host, pid and, inside a Ray task, the node id."""
    import os
    import socket

    out: dict[str, Any] = {"hostname": socket.gethostname(), "pid": os.getpid()}
    ray = sys.modules.get("ray")
    if ray is not None and getattr(ray, "is_initialized", lambda: False)():
        out["ray_node_id"] = ray.get_runtime_context().get_node_id()
    return out


def preprocessing(
    cfg: ExperimentConfig, windows: WindowSet, scaler: Any, frontend: Any = None
) -> dict[str, Any]:
    """Everything ``predict`` needs to turn a new recording into model input."""
    d = cfg.data
    out = {
        "dataset": d.dataset,
        "channels": (
            list(windows.channels)
            if d.channel is None or d.dataset == "sources"
            else [d.channel]
            if isinstance(d.channel, str)
            else list(d.channel)
        ),
        "sampling_rate": windows.sampling_rate,
        "target_rate": d.target_rate,
        "window": d.window,
        "stride": d.stride or d.window,
        "normalise": d.normalise,
        "standardiser": scaler.to_dict() if scaler is not None else None,
        "target": cfg.target,
        "classes": windows.classes,
        "feature_names": windows.feature_names,
    }
    if frontend is not None:
        # replayed on new files after windowing; the bearing is the training one unless the
        # file (or the caller) names another
        out["frontend"] = frontend.record()
        out["frontend_bearing"] = _training_bearings(windows)
    return out


def _training_bearings(windows: WindowSet) -> list[str] | None:
    from faultlab.signals.geometry import bearings_per_window

    try:
        b = bearings_per_window(windows.info.iloc[:1], windows.channels or ["DE"])
    except Exception:  # noqa: BLE001 - no geometry known: predict must be told
        return None
    return [str(v) for v in b[0]] if len(b) else None


def write_evidence(run_dir: Path, test: WindowSet, scaler: Any) -> None:
    """``evidence.json``: per test class, the mean squared envelope spectrum on the order axis
    (skipped, silently, where the windows have no shaft speed, rate or known bearing)."""
    from faultlab.errors import FaultlabError
    from faultlab.features.order_envelope import class_evidence
    from faultlab.signals.geometry import bearings_per_window

    if scaler is not None or not test.sampling_rate or "rpm" not in test.info or not len(test):
        return
    rpm = pd.Series(pd.to_numeric(test.info["rpm"], errors="coerce")).to_numpy(float)
    if not np.isfinite(rpm).all():
        return
    try:
        bearing = str(bearings_per_window(test.info.iloc[:1], test.channels or ["DE"])[0, 0])
    except FaultlabError:
        return
    task = next(iter(test.classes))
    ev = class_evidence(
        test.X[:, :1], test.y[task], test.classes[task], test.sampling_rate, rpm, bearing, task
    )
    write_json(run_dir / rundir.EVIDENCE, ev)

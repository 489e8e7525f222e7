"""The unlabelled adapt role as a model sees it (X only, labels never indexed), and what
reports state about adaptation."""

from __future__ import annotations

from typing import Any

from faultlab.data.types import Split, UnlabelledWindows, WindowSet
from faultlab.errors import ConfigError


def adapt_windows(
    windows: WindowSet, split: Split, scaler: Any, frontend: Any = None
) -> UnlabelledWindows | None:
    """The adapt role as X only: its labels are never even indexed.

    A model's window front end reads each window's metadata (speed, bearing), so it sees a
    label-free WindowSet of the adapt windows (``y`` empty).
    """
    if not len(split.adapt):
        return None
    X = windows.X[split.adapt]
    if scaler is not None:
        X = scaler.transform(X)
    if frontend is not None:
        unlabelled = WindowSet(
            X=X,
            y={},
            classes={},
            recording_id=windows.recording_id[split.adapt],
            info=windows.info.iloc[split.adapt].reset_index(drop=True),
            sampling_rate=windows.sampling_rate,
            channels=windows.channels,
        )
        X = frontend.apply(unlabelled).X
    return UnlabelledWindows(X)


def adaptation_inputs(
    model: Any, training: Any, target: UnlabelledWindows | None
) -> dict[str, Any]:
    """``target=`` for ``fit_model``: the adapt windows as X only (labels never passed)."""
    ad = training.adaptation
    needs = ad.method != "none" or ad.selection == "target_entropy"
    if not needs:
        return {}
    if not getattr(model, "supports_adaptation", False):
        raise ConfigError(
            f"training.adaptation: model {model.name!r} cannot adapt (deep models only); "
            "set method: none and selection: source_val/last for it"
        )
    if target is None:
        raise ConfigError(
            f"training.adaptation (method {ad.method}, selection {ad.selection}) needs unlabelled "
            "target windows: set split.adapt.mode (auto, recordings, blocks or transductive) "
            "on a condition/transfer split"
        )
    return {"target": target}


def adaptation_summary(training: Any, split: Split) -> dict[str, Any]:
    """What reports state about adaptation and model selection."""
    ad = training.adaptation
    return {
        "method": ad.method,
        "weight": ad.weight,
        "selection": ad.selection,
        "target_role": split.adapt_mode or "none",
        "n_adapt": int(len(split.adapt)),
        "transductive": split.transductive,
    }

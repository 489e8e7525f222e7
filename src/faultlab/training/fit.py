"""``fit_model``: the one way to train any registered model.

The training floor sits above the models and owns the loop. A deep model
(:class:`~faultlab.models.torch_base.TorchModel`) defines its network and a few hooks
(``check_shape``, ``labels``, ``prepare`` for the input normalisation, ``loss``); here they
are wired to the engine's :class:`~faultlab.training.engine.Trainer` with the augmentations
and the domain-adaptation loop that ``model.training`` asks for. A model that fits itself
(features + scikit-learn, rules) is fitted by its own ``fit``; one built of others
(``ensemble``) gets this function for its members through its ``fit_members``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from faultlab.contracts import FitResult
from faultlab.data.types import UnlabelledWindows, WindowSet
from faultlab.errors import ConfigError
from faultlab.models.base import FaultModel
from faultlab.models.torch_base import TorchModel
from faultlab.training.adaptation import Adapter, describe_adaptation
from faultlab.training.augment import augmentation_text
from faultlab.training.callbacks import EpochCallback
from faultlab.training.engine import Trainer

__all__ = ["fit_model"]


def fit_model(
    model: FaultModel,
    train: WindowSet,
    val: WindowSet | None = None,
    run_dir: str | Path | None = None,
    *,
    resume: bool | None = None,
    callbacks: Sequence[EpochCallback] | None = None,
    target: UnlabelledWindows | None = None,
) -> FitResult:
    """Train ``model`` on ``train`` (``val``: early stopping; ``run_dir``: checkpoints).

    Deep models only: ``resume`` (default ``training.resume``) continues from the run
    directory's checkpoint, ``callbacks`` run after each epoch, ``target`` (unlabelled
    windows, X only) is what ``training.adaptation`` adapts to. One-shot models have no
    epochs: they ignore ``resume`` and ``callbacks`` and cannot adapt.
    """
    if isinstance(model, TorchModel):
        path = Path(run_dir) if run_dir is not None else None
        return _fit_network(model, train, val, path, resume, callbacks or (), target)
    if target is not None:
        raise ConfigError(
            f"training.adaptation: model {model.name!r} cannot adapt (deep models only)"
        )
    fit_members = getattr(model, "fit_members", None)
    if fit_members is not None:  # a model built of others: each member trained here
        return fit_members(lambda m, tr, va: fit_model(m, tr, va), train, val)
    return model.fit(train, val, Path(run_dir) if run_dir is not None else None)


def _fit_network(
    model: TorchModel,
    train: WindowSet,
    val: WindowSet | None,
    run_dir: Path | None,
    resume: bool | None,
    callbacks: Sequence[EpochCallback],
    target: UnlabelledWindows | None,
) -> FitResult:
    """The engine's fit of ``model.net``, with the notes reports show about it."""
    cfg = model.training
    model.check_shape(train.X, "training")
    y = model.labels(train, "training")
    mode = model.prepare(train)
    loss = model.loss(y)
    X_val = y_val = None
    if val is not None and len(val):
        model.check_shape(val.X, "validation")
        X_val, y_val = val.X, model.labels(val, "validation")
    augment = cfg.augmentation(tabular=bool(train.feature_names))
    trainer = Trainer(
        model.net,
        loss,
        cfg.model_copy(update={"augment": augment}),
        run_dir=run_dir,
        callbacks=callbacks,
        adapter=_adapter(model, target),
    )
    res = trainer.fit(train.X, y, X_val, y_val, resume=cfg.resume if resume is None else resume)
    model.net.eval()
    total = sum(r["seconds"] for r in res.history) or 1.0
    data_share = sum(r["data_seconds"] for r in res.history) / total
    notes = [
        *res.notes,
        f"input normalisation: {mode}",
        f"augmentation: {augmentation_text(augment)}",
        describe_adaptation(cfg.adaptation),
        f"data pipeline share of epoch time: {100 * data_share:.1f}%",
    ]
    return dataclasses.replace(res, notes=notes)


def _adapter(model: TorchModel, target: UnlabelledWindows | None) -> Adapter | None:
    """The target-batch loop for ``training.adaptation`` (None when nothing to adapt)."""
    ad = model.training.adaptation
    needs = ad.method != "none" or ad.selection == "target_entropy"
    if target is None:
        if needs:
            raise ConfigError(
                f"training.adaptation (method {ad.method}, selection {ad.selection}) needs "
                "unlabelled target windows: use a transfer/condition split with split.adapt"
            )
        return None
    if not isinstance(target, UnlabelledWindows):
        raise TypeError(f"target must be UnlabelledWindows (X only), not {type(target).__name__}")
    model.check_shape(target.X, "target")
    if not needs:
        return None
    n_classes = len(next(iter(model.classes.values())))
    return Adapter(ad, target, model.n_features, n_classes, seed=model.training.seed)

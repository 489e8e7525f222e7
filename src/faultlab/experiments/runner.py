"""One experiment, end to end: windows -> split -> fit -> evaluate -> run directory -> report.

``prepare`` builds the windows and folds once (a benchmark reuses them for every model and
seed); ``run_experiment`` trains one model on one fold and writes the run directory. The
run is finished when ``metrics.json`` exists: it is written last, atomically.
"""

from __future__ import annotations

import datetime as _dt
import resource
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from faultlab.data.build import build_windows, for_target
from faultlab.data.splits import PROTOCOLS, make_splits
from faultlab.data.tabular import Standardiser
from faultlab.data.types import Split, WindowSet
from faultlab.errors import ConfigError
from faultlab.experiments import rundir
from faultlab.experiments.config import ExperimentConfig
from faultlab.models.base import build_model
from faultlab.utils.io import atomic_path, write_json, write_yaml


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """``path`` usable as an output folder (absent, or a folder), else a one-line error."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise ConfigError(f"{option} {path}: {p} is a file, not a folder")
        if p.exists():
            break
    return path


def prepare(cfg: ExperimentConfig) -> tuple[WindowSet, list[Split]]:
    """Windows restricted to the target's tasks, and every fold of the split."""
    windows = for_target(build_windows(cfg.data), cfg.target)
    return windows, make_splits(windows, cfg.split)


def protocol_of(split: Split, column: str) -> str:
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

    names = (
        sorted({str(v) for v in ws.info["dataset"].dropna()}) if "dataset" in ws.info else []
    )
    machines = [get_dataset(n).machine if n in dataset_names() else n for n in names]
    return {"data": "+".join(names) or "?", "machine": "; ".join(machines) or "?"}


def _roles(windows: WindowSet, split: Split, standardise: bool):
    parts = {r: windows.subset(i) for r, i in split.roles().items()}
    scaler = None
    if standardise:
        scaler = Standardiser().fit(parts["train"].X)  # training windows only
        for ws in parts.values():
            ws.X = scaler.transform(ws.X)
    return parts, scaler


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def preprocessing(cfg: ExperimentConfig, windows: WindowSet, scaler: Any) -> dict[str, Any]:
    """Everything ``predict`` needs to turn a new recording into model input."""
    d = cfg.data
    return {
        "dataset": d.dataset,
        "channels": (
            list(windows.channels)
            if d.channel is None or d.dataset == "sources"
            else [d.channel] if isinstance(d.channel, str) else list(d.channel)
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


def refit_on_train_and_val(
    cfg: ExperimentConfig, model: Any, fit: Any, windows: WindowSet, split: Split,
    scaler: Any, training: Any,
) -> tuple[Any, Any]:
    """A fresh model fitted on train + val for the epochs validation selected, no early stop.

    The first fit's history (with its validation curve) is kept for the fit diagnosis; the
    refit writes no checkpoint (a resumed run redoes it). Test data is never used.
    """
    import dataclasses

    import numpy as np

    epochs = int(fit.best_epoch or fit.epochs or 1)
    both = windows.subset(np.sort(np.concatenate([split.train, split.val])))
    if scaler is not None:
        both.X = scaler.transform(both.X)
    update = {"epochs": epochs, "patience": None, "resume": False}
    refit_training = training.model_copy(
        update={k: v for k, v in update.items() if k in type(training).model_fields}
    )
    again = build_model(cfg.model.name, classes=windows.classes, input_shape=model.input_shape,
                        params=cfg.model.params, training=refit_training)
    second = again.fit(both, None, run_dir=None)
    note = (f"refit on train + val ({len(both)} windows) for {epochs} epoch(s), the number "
            "validation selected; the learning curves are those of the first fit")
    return again, dataclasses.replace(
        fit, train_seconds=fit.train_seconds + second.train_seconds,
        notes=[*fit.notes, note, *[n for n in second.notes if n not in fit.notes]],
    )


def _best_row(history: list[dict[str, Any]], best_epoch: int | None) -> dict[str, Any]:
    """The history row of the kept weights (lowest val_loss when the epoch is unknown)."""
    row = next((h for h in history if h.get("epoch") == best_epoch), None)
    if row is None and history:
        valid = [h for h in history if "val_loss" in h and pd.notna(h["val_loss"])]
        row = min(valid, key=lambda h: h["val_loss"]) if valid else history[-1]
    return row or {}


def _run_block(
    cfg: ExperimentConfig, split: Split, training: Any, windows: WindowSet,
    parts: dict[str, WindowSet],
) -> dict[str, Any]:
    """metrics.json ``run``: what was trained on which split, and what validation was."""
    return {
        "name": cfg.name,
        "model": cfg.model.name,
        "model_label": cfg.model.display_name,
        "fold": split.name,
        "seed": training.seed,
        "target": cfg.target,
        "tasks": list(windows.classes),
        "split_kind": split.kind,
        "split_description": PROTOCOLS.get(split.kind, split.kind),
        "leaky": split.leaky,
        "protocol": protocol_of(split, cfg.split.column),
        "validation": {"kind": split.val_kind, "description": split.val_description},
        "dataset": cfg.data.dataset,
        **{f"{role}_{k}": v for role in ("train", "test")
           for k, v in data_sources(parts[role]).items()},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def run_experiment(
    cfg: ExperimentConfig,
    run_dir: str | Path,
    *,
    windows: WindowSet,
    split: Split,
    seed: int | None = None,
    resume: bool = False,
    report: bool = True,
) -> dict[str, Any]:
    """Fit ``cfg.model`` on ``split`` and write the complete run directory; returns metrics."""
    from faultlab.evaluation.diagnosis import diagnose_fit
    from faultlab.evaluation.metrics import evaluate_predictions
    from faultlab.evaluation.speed import measure_inference

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    training = run_training(cfg, seed, resume)
    cfg_dump = effective_config(cfg, seed, resume)
    write_yaml(run_dir / rundir.CONFIG, cfg_dump)
    write_json(run_dir / rundir.SPLIT, split.to_dict(windows))

    standardise = cfg.data.standardise if cfg.data.standardise is not None else cfg.data.dataset == "table"
    parts, scaler = _roles(windows, split, standardise)
    write_json(run_dir / rundir.PREPROCESS, preprocessing(cfg, windows, scaler))

    model = build_model(
        cfg.model.name,
        classes=windows.classes,
        input_shape=(windows.n_channels, windows.window_length),
        params=cfg.model.params,
        training=training,
    )
    val = parts["val"] if len(parts["val"]) else None
    fit = model.fit(parts["train"], val, run_dir=run_dir)
    with atomic_path(run_dir / rundir.HISTORY) as tmp:
        pd.DataFrame(fit.history).to_csv(tmp, index=False)
    # validation scores of the model validation selected (before any refit has seen val)
    val_metrics = evaluate_predictions(val, model.predict_proba(val.X)) if val is not None else {}
    if cfg.split.val.refit and val is not None:
        model, fit = refit_on_train_and_val(cfg, model, fit, windows, split, scaler, training)
    model_dir = run_dir / rundir.MODEL_DIR
    model.save(model_dir)
    summary = model.describe()
    write_json(run_dir / rundir.SUMMARY, summary.to_dict())

    test_metrics = evaluate_predictions(parts["test"], model.predict_proba(parts["test"].X))
    speed = measure_inference(model, parts["test"].X)
    history = fit.history
    best_row = _best_row(history, fit.best_epoch)
    metrics = {
        "run": {**_run_block(cfg, split, training, windows, parts),
                "config_hash": rundir.config_hash(cfg_dump)},
        "primary": test_metrics["primary"],
        "tasks": test_metrics["tasks"],
        "val": val_metrics,
        "training": {
            "train_seconds": fit.train_seconds,
            "epochs": fit.epochs,
            "best_epoch": fit.best_epoch,
            "seconds_per_epoch": fit.train_seconds / fit.epochs if fit.epochs else fit.train_seconds,
            "stopped_reason": fit.stopped_reason,
            "device": fit.device,
            "final": history[-1] if history else {},
            "best": best_row or {},
            "notes": fit.notes,
            "optimizer": training.optimizer,
            "lr": training.lr,
            "batch_size": training.batch_size,
            "schedule": training.schedule,
        },
        "speed": speed,
        "model": {
            "n_params": summary.n_params,
            "trainable_params": summary.trainable_params,
            "size_bytes": summary.size_bytes,
            "family": summary.family,
        },
        "resources": {"peak_rss_mb": _peak_rss_mb()},
        "data": {
            "n_windows": {r: len(ws) for r, ws in parts.items()},
            "window": windows.window_length,
            "channels": windows.channels,
            "sampling_rate": windows.sampling_rate,
            "standardised": scaler is not None,
            "notes": list(dict.fromkeys([*windows.notes, *split.notes])),
        },
    }
    metrics["diagnosis"] = diagnose_fit(
        history, speed=speed, training=metrics["training"],
        validation={
            **metrics["run"]["validation"],
            "test_protocol": metrics["run"]["protocol"],
            "val_accuracy": (val_metrics.get("primary") or {}).get("accuracy"),
            "test_accuracy": test_metrics["primary"].get("accuracy"),
        },
    )
    write_json(run_dir / rundir.METRICS, metrics)
    if report:
        from faultlab.reporting import render_run_report

        render_run_report(run_dir)
    # last: the run is finished only once metrics, model, report and plots are all written
    write_json(run_dir / rundir.DONE, {
        "config_hash": rundir.config_hash(cfg_dump),
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "report": bool(report),
    })
    return metrics


def run_training(cfg: ExperimentConfig, seed: int | None = None, resume: bool = False):
    """The TrainConfig one run uses: the config's, with the run's seed and resume flag."""
    training = cfg.effective_training()
    if seed is not None:
        training = training.model_copy(update={"seed": seed})
    if "resume" in type(training).model_fields:
        training = training.model_copy(update={"resume": resume})
    return training


def effective_config(
    cfg: ExperimentConfig, seed: int | None = None, resume: bool = False
) -> dict[str, Any]:
    """What a run's config.yaml holds (and its config hash is taken of)."""
    dump = cfg.model_dump(mode="json")
    dump["training"] = run_training(cfg, seed, resume).model_dump(mode="json")
    return dump


def plan_run(
    run_dir: Path, config: dict[str, Any], rerun_changed: bool = False, log=print
) -> str:
    """What to do with one run directory: ``skip`` (finished, same config), ``resume`` (an
    unfinished run with a checkpoint of the same config) or ``run``.

    Unreadable artefacts (a truncated metrics.json, a 0-byte checkpoint) make the run
    unfinished: they are renamed ``*.corrupt`` (kept, not deleted) and the run is redone. A
    finished run whose config differs raises a ConfigError naming the changed keys, unless
    ``rerun_changed``: then its results are renamed ``*.replaced`` and it is run again.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        return "run"
    rundir.remove_stale_temps(run_dir)
    bad = rundir.corrupt_artefacts(run_dir)
    if bad:
        moved = rundir.unfinish(run_dir, ".corrupt")
        log(f"  {run_dir}: unreadable {', '.join(bad)}; kept as {', '.join(moved)}, rerunning")
    changes = rundir.config_changes(run_dir, config)
    if rundir.is_complete(run_dir):
        if not changes:
            return "skip"
        if not rerun_changed:
            raise ConfigError(
                f"{run_dir}: finished with a different config ({'; '.join(changes[:6])}"
                f"{'; ...' if len(changes) > 6 else ''}); rerun with --rerun-changed to redo "
                "such runs (old results kept as *.replaced), or choose another --out"
            )
        moved = rundir.unfinish(run_dir, ".replaced")
        log(f"  {run_dir}: config changed ({'; '.join(changes[:6])}); rerunning "
            f"(old {', '.join(moved)} kept)")
        return "run"
    if changes and (run_dir / rundir.CHECKPOINT).exists():
        rundir.unfinish(run_dir, ".replaced")
        log(f"  {run_dir}: checkpoint of a different config ({'; '.join(changes[:6])}) kept "
            "as checkpoint.pt.replaced; training from scratch")
    return "resume" if (run_dir / rundir.CHECKPOINT).exists() else "run"


def run_folds(
    cfg: ExperimentConfig,
    out_dir: str | Path,
    resume: bool = False,
    log=print,
    rerun_changed: bool = False,
) -> list[dict[str, Any]]:
    """Every fold of ``cfg`` into ``out_dir/<fold>/``; finished folds are skipped.

    A finished fold whose config differs stops the command naming the changed keys (or is
    rerun with ``rerun_changed``); see :func:`plan_run`.
    """
    from faultlab.data.splits import describe_split
    from faultlab.models.base import get_spec

    check_out_dir(out_dir)
    get_spec(cfg.model.name)  # fail on an unknown model before loading any data
    windows, splits = prepare(cfg)
    config = effective_config(cfg)
    plans = {s.name: plan_run(Path(out_dir) / rundir.slug(s.name), config, rerun_changed, log)
             for s in splits}
    results = []
    for split in splits:
        run_dir = Path(out_dir) / rundir.slug(split.name)
        log(describe_split(split, windows))
        if plans[split.name] == "skip" and not resume:
            log(f"  {run_dir}: finished earlier, skipped")
            results.append(rundir.read_json(run_dir, rundir.METRICS))
            continue
        t0 = time.perf_counter()
        m = run_experiment(cfg, run_dir, windows=windows, split=split, resume=resume)
        p = m["primary"]
        log(f"  accuracy {p['accuracy']:.4f}  macro F1 {p['macro_f1']:.4f}  "
            f"({time.perf_counter() - t0:.1f} s) -> {run_dir}")
        results.append(m)
    return results

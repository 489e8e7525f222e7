"""One experiment, end to end: windows -> split -> fit -> evaluate -> run directory -> report.

``prepare`` builds the windows and folds once (a benchmark reuses them for every model and
seed); ``run_experiment`` trains one model on one fold and writes the run directory. The
run is finished when ``metrics.json`` exists: it is written last, atomically.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from faultlab.contracts import (
    DataSummary,
    FitResult,
    Metrics,
    ModelSize,
    ModelSummary,
    RunSummary,
    Scores,
    Speed,
    TrainingSummary,
)
from faultlab.data.build import build_windows, for_target
from faultlab.data.splits import PROTOCOLS, make_splits
from faultlab.data.tabular import Standardiser
from faultlab.data.types import Split, UnlabelledWindows, WindowSet
from faultlab.errors import ConfigError
from faultlab.experiments import rundir
from faultlab.experiments.adapt_inputs import adapt_windows, adaptation_inputs, adaptation_summary
from faultlab.experiments.config import ExperimentConfig
from faultlab.experiments.provenance import (
    data_sources,
    peak_rss_mb,
    preprocessing,
    protocol_of,
    where,
    write_evidence,
)
from faultlab.features.window_frontend import rpm_summary
from faultlab.models.base import FaultModel, build_model, get_spec, parse_params
from faultlab.training.config import TrainConfig
from faultlab.utils.io import atomic_path, write_json, write_yaml


def check_model(cfg: ExperimentConfig) -> None:
    """An unknown model or a bad option fails before any data is loaded: ``model.params``
    are checked as ``build_model`` will check them (once the window front end is taken
    out), ``model.training`` merged with the training block."""
    spec = get_spec(cfg.model.name)
    _, params = spec.cls.window_frontend(cfg.model.params)
    parse_params(spec.params, params, cfg.model.name)
    cfg.effective_training()


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


def _roles(windows: WindowSet, split: Split, standardise: bool):
    """The labelled roles (train/val/test) as WindowSets, and the scaler fitted on train."""
    parts = {r: windows.subset(i) for r, i in split.roles().items() if r != "adapt"}
    scaler = None
    if standardise:
        scaler = Standardiser().fit(parts["train"].X)  # training windows only
        for ws in parts.values():
            ws.X = scaler.transform(ws.X)
    return parts, scaler


def apply_frontend(parts: dict[str, WindowSet], frontend: Any) -> dict[str, WindowSet]:
    """The model's window front end on every role (a fixed transform: nothing is fitted)."""
    return parts if frontend is None else {r: frontend.apply(ws) for r, ws in parts.items()}


@dataclass
class RunOutcome:
    """One model trained on one fold and seed, in memory.

    ``run_dir`` is None for a run that wrote nothing (``faultlab.run(..., out=None)``).
    """

    model: FaultModel
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    split: Split
    preprocess: dict[str, Any]
    run_dir: Path | None = None

    @property
    def record(self) -> Metrics:
        """``metrics`` (the metrics.json dict) as the typed record."""
        return Metrics.from_json(self.metrics)

    @property
    def label(self) -> str:
        return self.record.run.label

    @property
    def fold(self) -> str:
        return str(self.record.run.fold)

    @property
    def seed(self) -> int:
        return int(self.record.run.seed or 0)

    def predictor(self) -> Any:
        """A :class:`~faultlab.serving.predict.Predictor` that replays this run's
        preprocessing on raw recordings (files or arrays)."""
        from faultlab.serving.predict import Predictor

        return Predictor.from_model(self.model, self.preprocess)

    def __repr__(self) -> str:
        acc = self.record.primary.accuracy
        score = f"accuracy {acc:.4f}" if acc is not None else "no accuracy"
        where = self.run_dir or "in memory"
        return f"RunOutcome({self.label} / {self.fold} / seed {self.seed}: {score}, {where})"


def load_outcome(run_dir: str | Path) -> RunOutcome:
    """A finished run directory read back: the saved model, metrics, history, split."""
    from faultlab.models.base import load_model

    run_dir = Path(run_dir)
    metrics = rundir.read_json(run_dir, rundir.METRICS)
    return RunOutcome(
        model=load_model(run_dir / rundir.MODEL_DIR),
        metrics=metrics,
        history=rundir.read_history(run_dir),
        split=Split.from_dict(rundir.read_json(run_dir, rundir.SPLIT)),
        preprocess=rundir.read_json(run_dir, rundir.PREPROCESS),
        run_dir=run_dir,
    )


def refit_on_train_and_val(
    cfg: ExperimentConfig,
    model: Any,
    fit: Any,
    windows: WindowSet,
    split: Split,
    scaler: Any,
    training: Any,
    frontend: Any = None,
    model_params: dict | None = None,
) -> tuple[Any, Any]:
    """A fresh model fitted on train + val for the epochs validation selected, no early stop.

    The first fit's history (with its validation curve) is kept for the fit diagnosis; the
    refit writes no checkpoint (a resumed run redoes it). Test data is never used.
    """
    import dataclasses

    from faultlab.training.fit import fit_model  # torch: imported when a model is fitted

    epochs = int(fit.best_epoch or fit.epochs or 1)
    both = windows.subset(np.sort(np.concatenate([split.train, split.val])))
    if scaler is not None:
        both.X = scaler.transform(both.X)
    both = apply_frontend({"both": both}, frontend)["both"]
    update = {"epochs": epochs, "patience": None, "resume": False}
    refit_training = training.model_copy(
        update={k: v for k, v in update.items() if k in type(training).model_fields}
    )
    params = cfg.model.params if model_params is None else model_params
    kept = model.refit_options()  # e.g. an ensemble's weights chosen on validation
    params = {**params, **kept}
    again = build_model(
        cfg.model.name,
        classes=windows.classes,
        input_shape=model.input_shape,
        params=params,
        training=refit_training,
    )
    second = fit_model(again, both, None, run_dir=None)
    note = (
        f"refit on train + val ({len(both)} windows) for {epochs} epoch(s), the number "
        "validation selected; the learning curves are those of the first fit"
        + (f"; options chosen on validation kept: {kept}" if kept else "")
    )
    return again, dataclasses.replace(
        fit,
        train_seconds=fit.train_seconds + second.train_seconds,
        notes=[*fit.notes, note, *[n for n in second.notes if n not in fit.notes]],
    )


def _best_row(history: list[dict[str, Any]], best_epoch: int | None) -> dict[str, Any]:
    best = next((h for h in history if h.get("epoch") == best_epoch), None)
    if best is None and history:
        valid = [h for h in history if "val_loss" in h and pd.notna(h["val_loss"])]
        best = min(valid, key=lambda h: h["val_loss"]) if valid else history[-1]
    return best or {}


def _run_block(
    cfg: ExperimentConfig,
    split: Split,
    training: Any,
    windows: WindowSet,
    parts: dict[str, WindowSet],
) -> RunSummary:
    """metrics.json ``run``: what was trained on which split, and what validation was."""
    train, test = data_sources(parts["train"]), data_sources(parts["test"])
    return RunSummary(
        name=cfg.name,
        model=cfg.model.name,
        model_label=cfg.model.display_name,
        fold=split.name,
        seed=training.seed,
        target=cfg.target,
        tasks=list(windows.classes),
        split_kind=split.kind,
        split_description=PROTOCOLS.get(split.kind, split.kind),
        leaky=split.leaky,
        protocol=protocol_of(split, cfg.split.column),
        validation={"kind": split.val_kind, "description": split.val_description},
        dataset=cfg.data.dataset,
        adaptation=adaptation_summary(training, split),
        train_data=train["data"],
        train_machine=train["machine"],
        test_data=test["data"],
        test_machine=test["machine"],
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        host=where(),
        config_hash=rundir.config_hash(effective_config(cfg, training.seed)),
    )


def _training_block(fit: FitResult, training: TrainConfig) -> TrainingSummary:
    """metrics.json ``training``: how the fit went and with which optimiser settings."""
    history = fit.history
    return TrainingSummary(
        train_seconds=fit.train_seconds,
        epochs=fit.epochs,
        best_epoch=fit.best_epoch,
        seconds_per_epoch=fit.train_seconds / fit.epochs if fit.epochs else fit.train_seconds,
        stopped_reason=fit.stopped_reason,
        device=fit.device,
        final=history[-1] if history else {},
        best=_best_row(history, fit.best_epoch),
        notes=fit.notes,
        optimizer=training.optimizer,
        lr=training.lr,
        batch_size=training.batch_size,
        schedule=training.schedule,
    )


def _data_block(
    parts: dict[str, WindowSet],
    split: Split,
    windows: WindowSet,
    standardised: bool,
    frontend: Any,
) -> DataSummary:
    """metrics.json ``data``: the windows the run saw and the compromises made on them."""
    return DataSummary(
        n_windows={r: len(idx) for r, idx in split.roles().items()},
        window=windows.window_length,
        channels=windows.channels,
        sampling_rate=windows.sampling_rate,
        standardised=standardised,
        frontend=frontend.record() if frontend is not None else None,
        rpm_source=rpm_summary(pd.concat([ws.info for ws in parts.values()])),
        notes=list(dict.fromkeys([*windows.notes, *split.notes])),
    )


def _evaluate(
    cfg: ExperimentConfig,
    training: TrainConfig,
    model: FaultModel,
    summary: ModelSummary,
    fit: FitResult,
    parts: dict[str, WindowSet],
    split: Split,
    windows: WindowSet,
    standardised: bool,
    val_metrics: dict[str, Any],
    frontend: Any = None,
) -> Metrics:
    """metrics.json: test and validation scores, training, speed, size, data notes."""
    from faultlab.evaluation.diagnosis import diagnose_fit
    from faultlab.evaluation.metrics import evaluate_predictions
    from faultlab.evaluation.speed import measure_inference

    test_metrics = evaluate_predictions(parts["test"], model.predict_proba(parts["test"].X))
    speed = measure_inference(model, parts["test"].X)
    metrics = Metrics(
        run=_run_block(cfg, split, training, windows, parts),
        primary=Scores.from_json(test_metrics["primary"]),
        tasks=test_metrics["tasks"],
        val=val_metrics,
        training=_training_block(fit, training),
        speed=Speed.from_json(speed),
        model=ModelSize(
            n_params=summary.n_params,
            trainable_params=summary.trainable_params,
            size_bytes=summary.size_bytes,
            family=summary.family,
        ),
        resources={"peak_rss_mb": peak_rss_mb()},
        data=_data_block(parts, split, windows, standardised, frontend),
    )
    metrics.diagnosis = diagnose_fit(
        fit.history,
        speed=speed,
        training=metrics.training.to_json(),
        validation={
            **metrics.run.validation,
            "test_protocol": metrics.run.protocol,
            "val_accuracy": (val_metrics.get("primary") or {}).get("accuracy"),
            "test_accuracy": metrics.primary.accuracy,
            "test_confusion": _confusion(test_metrics),
            "frontend": frontend.kind if frontend is not None else None,
        },
    )
    return metrics


def _confusion(test_metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The primary task's test classes and confusion matrix (rows: true), if it has one."""
    task = (test_metrics.get("primary") or {}).get("task")
    tm = (test_metrics.get("tasks") or {}).get(task) or {}
    if not tm.get("confusion_matrix"):
        return None
    return {"classes": tm.get("classes"), "matrix": tm["confusion_matrix"]}


@dataclass
class _Inputs:
    """What one run trains and tests on, prepared from the split."""

    parts: dict[str, WindowSet]  # train/val/test, standardised and through the front end
    raw_test: WindowSet  # the test windows before the front end (the evidence reads them)
    scaler: Standardiser | None
    frontend: Any  # the runner's WindowFrontend, or None
    model_params: dict[str, Any]  # the model's own options (without the front end's)
    target: UnlabelledWindows | None  # the adapt windows, X only
    preprocess: dict[str, Any]  # preprocess.json


def _inputs(cfg: ExperimentConfig, windows: WindowSet, split: Split) -> _Inputs:
    standardise = (
        cfg.data.standardise if cfg.data.standardise is not None else cfg.data.dataset == "table"
    )
    parts, scaler = _roles(windows, split, standardise)
    frontend, model_params = get_spec(cfg.model.name).cls.window_frontend(cfg.model.params)
    target = adapt_windows(windows, split, scaler, frontend)
    raw_test = parts["test"]
    parts = apply_frontend(parts, frontend)
    preprocess = preprocessing(cfg, windows, scaler, frontend)
    return _Inputs(parts, raw_test, scaler, frontend, model_params, target, preprocess)


def _fit(
    cfg: ExperimentConfig,
    training: TrainConfig,
    windows: WindowSet,
    split: Split,
    inp: _Inputs,
    run_dir: Path | None,
) -> tuple[FaultModel, FitResult, dict[str, Any]]:
    """The fitted model (refitted on train + val when asked), its fit and its validation
    scores (of the model validation selected, before any refit has seen val)."""
    from faultlab.evaluation.metrics import evaluate_predictions
    from faultlab.training.fit import fit_model  # torch: imported when a model is fitted

    train = inp.parts["train"]
    model = build_model(
        cfg.model.name,
        classes=windows.classes,
        input_shape=(train.n_channels, train.window_length),
        params=inp.model_params,
        training=training,
    )
    val = inp.parts["val"] if len(inp.parts["val"]) else None
    adapt = adaptation_inputs(model, training, inp.target)
    fit = fit_model(model, train, val, run_dir=run_dir, **adapt)
    if run_dir is not None:
        _write_history(run_dir, fit.history)
    val_metrics = evaluate_predictions(val, model.predict_proba(val.X)) if val is not None else {}
    if cfg.split.val.refit and val is not None:
        model, fit = refit_on_train_and_val(
            cfg, model, fit, windows, split, inp.scaler, training, inp.frontend, inp.model_params
        )
    return model, fit, val_metrics


def execute(
    cfg: ExperimentConfig,
    run_dir: str | Path | None,
    *,
    windows: WindowSet,
    split: Split,
    seed: int | None = None,
    resume: bool = False,
    report: bool = True,
) -> RunOutcome:
    """Fit ``cfg.model`` on ``split`` and evaluate it on the test windows.

    With a ``run_dir`` every file of the run directory is written (``metrics.json`` last),
    then the report; with ``run_dir=None`` nothing is written and the outcome stays in
    memory. Training is the same either way, so both give the same model for one seed.
    When ``cfg.tracking`` names an MLflow store, the finished run is logged there too.
    """
    run_dir = Path(run_dir) if run_dir is not None else None
    training = run_training(cfg, seed, resume)
    cfg_dump = effective_config(cfg, seed, resume)
    inp = _inputs(cfg, windows, split)
    if run_dir is not None:
        _write_inputs(run_dir, cfg_dump, split.to_dict(windows), inp.preprocess)
    model, fit, val_metrics = _fit(cfg, training, windows, split, inp, run_dir)
    summary = model.describe()
    if run_dir is not None:
        model.save(run_dir / rundir.MODEL_DIR)
        write_json(run_dir / rundir.SUMMARY, summary.to_dict())

    metrics = _evaluate(
        cfg, training, model, summary, fit, inp.parts, split, windows, inp.scaler is not None,
        val_metrics, inp.frontend,
    ).to_json()  # fmt: skip
    if run_dir is not None:
        write_evidence(run_dir, inp.raw_test, inp.scaler)
        _finish(run_dir, metrics, cfg_dump, report)
    outcome = RunOutcome(model, metrics, list(fit.history), split, inp.preprocess, run_dir)
    _track(cfg, cfg_dump, outcome)
    return outcome


def _track(cfg: ExperimentConfig, cfg_dump: dict[str, Any], outcome: RunOutcome) -> None:
    """Log a finished run to the MLflow store ``cfg.tracking`` names (if it names one)."""
    if cfg.tracking.mlflow is None:
        return
    from faultlab.experiments.tracking import log_run

    log_run(
        cfg.tracking.mlflow,
        experiment=cfg.name,
        config=cfg_dump,
        metrics=outcome.metrics,
        history=outcome.history,
        run_dir=outcome.run_dir,
        model=outcome.model,
    )


def _write_history(run_dir: Path, history: list[dict[str, Any]]) -> None:
    with atomic_path(run_dir / rundir.HISTORY) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)


def _write_inputs(
    run_dir: Path, cfg_dump: dict[str, Any], split: dict[str, Any], preprocess: dict[str, Any]
) -> None:
    """What a run starts from: the effective config, the split, the preprocessing to replay."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_yaml(run_dir / rundir.CONFIG, cfg_dump)
    write_json(run_dir / rundir.SPLIT, split)
    write_json(run_dir / rundir.PREPROCESS, preprocess)


def _finish(run_dir: Path, metrics: dict[str, Any], cfg_dump: dict[str, Any], report: bool) -> None:
    """metrics.json, the report, then done.json: the run is finished only once metrics,
    model, report and plots are all written."""
    write_json(run_dir / rundir.METRICS, metrics)
    if report:
        from faultlab.reporting import render_run_report

        render_run_report(run_dir)
    write_json(
        run_dir / rundir.DONE,
        {
            "config_hash": rundir.config_hash(cfg_dump),
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "report": bool(report),
        },
    )


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
    return execute(
        cfg, run_dir, windows=windows, split=split, seed=seed, resume=resume, report=report
    ).metrics


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


def run_folds(
    cfg: ExperimentConfig,
    out_dir: str | Path,
    resume: bool = False,
    log=print,
    rerun_changed: bool = False,
) -> list[dict[str, Any]]:
    """Every fold of ``cfg`` into ``out_dir/<fold>/``; finished folds are skipped.

    A finished fold whose config differs stops the command naming the changed keys (or is
    rerun with ``rerun_changed``); see :func:`faultlab.experiments.rundir.plan`.
    """
    from faultlab.data.splits import describe_split
    from faultlab.experiments.tracking import check

    check_out_dir(out_dir)
    check_model(cfg)  # fail on an unknown model or option before loading any data
    check(cfg.tracking, cfg.name)  # and on an unusable tracking store
    windows, splits = prepare(cfg)
    config = effective_config(cfg)
    plans = {
        s.name: rundir.plan(Path(out_dir) / rundir.slug(s.name), config, rerun_changed, log)
        for s in splits
    }
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
        log(
            f"  accuracy {p['accuracy']:.4f}  macro F1 {p['macro_f1']:.4f}  "
            f"({time.perf_counter() - t0:.1f} s) -> {run_dir}"
        )
        results.append(m)
    return results

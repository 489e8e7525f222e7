"""Hyperparameter search under a wall-clock budget (Optuna), then a before/after test run.

Why this shape:

* **One Optuna study per model**, kept in a storage URL (SQLite file by default, any
  SQLAlchemy URL such as PostgreSQL/MySQL accepted), opened with ``load_if_exists=True``:
  several worker processes - on one machine, on Ray tasks, on several machines - call
  :func:`run_worker` on the same study and Optuna's storage hands out the trials. No
  home-made distribution.
* **Trials never see the test split.** A trial trains on the training side of the tuning
  fold and scores on *validation recordings*: whole training recordings held out per class
  (``split.val.strategy: recordings``), or a whole held-out training condition
  (``condition``: e.g. one training fault size, so the search selects for the shift the test
  fold makes). The test fold is used only once, after the search,
  for the default configuration and the best one (via :func:`run_experiment`).
* **Pruning** from the validation accuracy the training engine reports after every epoch
  (an epoch-end callback), with Optuna's MedianPruner or HyperbandPruner.
* **Budget**: ``study.optimize(timeout=budget)`` stops starting trials, and every trial's
  ``training.time_budget_s`` is capped by the time left, so the search ends near the budget.
* **Objective** = validation metric - ``time_weight`` x training minutes.

Search-space keys (``tune.search``): ``training.X`` and ``params.X`` say where a value goes;
a bare key goes to the model's params when the model declares that option, else to the
training block when :class:`TrainConfig` has that field, else it is a ConfigError.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from faultlab.errors import ConfigError
from faultlab.experiments.config import ExperimentConfig, ModelConfig, load_yaml, parse_config
from faultlab.training.config import TrainConfig

Log = Callable[[str], None]

# --- configuration -----------------------------------------------------------------------------


class ParamSpace(BaseModel):
    """One searched value: ``int``/``float`` in [low, high] (optional step, log) or ``categorical``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> ParamSpace:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical needs a non-empty 'choices' list")
            if self.low is not None or self.high is not None:
                raise ValueError("categorical takes 'choices', not low/high")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"{self.type} needs 'low' and 'high'")
        if self.choices is not None:
            raise ValueError(f"{self.type} takes low/high, not 'choices'")
        if self.low > self.high:
            raise ValueError(f"low {self.low:g} > high {self.high:g}")
        if self.log and self.low <= 0:
            raise ValueError("log scale needs low > 0")
        if self.log and self.step is not None:
            raise ValueError("log scale cannot have a step")
        if self.type == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("int bounds must be whole numbers")
        return self


class ObjectiveConfig(BaseModel):
    """score = metric on validation recordings - time_weight x training minutes (maximised)."""

    model_config = ConfigDict(extra="forbid")

    metric: Literal["val_accuracy", "val_macro_f1"] = "val_accuracy"
    time_weight: float = Field(0.0, ge=0, description="score lost per minute of training")


class PrunerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["median", "hyperband", "none"] = "median"
    n_startup_trials: int = Field(3, ge=0, description="median: trials finished before pruning")
    n_warmup_steps: int = Field(2, ge=0, description="median: epochs before a trial can be pruned")
    min_resource: int = Field(1, ge=1, description="hyperband: fewest epochs a trial gets")
    reduction_factor: int = Field(3, ge=2)


class ResourcesConfig(BaseModel):
    """What one trial (or one benchmark run) needs from a Ray cluster."""

    model_config = ConfigDict(extra="forbid")

    num_cpus: float = Field(1, ge=0)
    num_gpus: float = Field(0, ge=0)


class TuneModel(ModelConfig):
    """A model to tune: a model block plus its own search space (else ``tune.search``)."""

    search: dict[str, ParamSpace] | None = None


class TuneConfig(BaseModel):
    """The ``tune:`` block of a config."""

    model_config = ConfigDict(extra="forbid")

    budget_s: float | None = Field(
        600, gt=0, description="wall-clock seconds for the search, per model"
    )
    n_trials: int | None = Field(
        None, ge=1, description="most finished trials per study (all workers)"
    )
    trial_budget_s: float | None = Field(None, gt=0, description="training seconds per trial")
    workers: int = Field(1, ge=1, description="parallel workers per study (ray executor)")
    seed: int = 0
    sampler: Literal["tpe", "random"] = "tpe"
    n_startup_trials: int = Field(5, ge=1, description="tpe: random trials before modelling")
    pruner: PrunerConfig = Field(default_factory=PrunerConfig)
    objective: ObjectiveConfig = Field(default_factory=ObjectiveConfig)
    search: dict[str, ParamSpace] = Field(default_factory=dict)
    models: list[TuneModel] | None = Field(None, description="several models: one study each")
    fold: str | None = Field(None, description="fold to tune on (default: the first)")
    final_seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)


@dataclass
class TuneSetup:
    """A parsed tune config: the experiment (one model per study) and the tune block."""

    experiment: ExperimentConfig
    tune: TuneConfig
    studies: list[tuple[ExperimentConfig, dict[str, ParamSpace]]]
    notes: list[str] = field(default_factory=list)
    source: str = "config"


def load_tune_config(
    path: str | Path | None = None, raw: dict[str, Any] | None = None, source: str | None = None
) -> TuneSetup:
    """Parse an experiment config with a ``tune:`` block; bad search spaces fail here."""
    source = source or (str(path) if path is not None else "config")
    raw = dict(load_yaml(path) if path is not None else raw or {})
    tune_raw = raw.pop("tune", None)
    if tune_raw is None:
        raise ConfigError(f"{source}: no 'tune:' block (it holds the search space)")
    if not isinstance(tune_raw, dict):
        raise ConfigError(f"{source}: tune: must be a mapping")
    notes: list[str] = []
    split_raw = raw.setdefault("split", {})
    val_raw = split_raw.setdefault("val", {}) if isinstance(split_raw, dict) else None
    if isinstance(val_raw, dict):
        strategy = val_raw.get("strategy", "recordings")
        if strategy not in ("recordings", "condition"):
            raise ConfigError(
                f"{source}: split.val.strategy: tuning validates on held-out training recordings; "
                f"use 'recordings' or 'condition', not {strategy!r}"
            )
        val_raw["strategy"] = strategy
    raw.setdefault("model", {"name": "lstm"})
    cfg = parse_config(ExperimentConfig, raw, source)
    tune = _parse_tune(tune_raw, source)
    studies = []
    models = tune.models or [TuneModel(**cfg.model.model_dump(), search=None)]
    for m in models:
        search = m.search if m.search is not None else tune.search
        mcfg = cfg.model_copy(
            update={"model": ModelConfig(**m.model_dump(exclude={"search"}))}, deep=True
        )
        if not search:
            raise ConfigError(
                f"{source}: tune.search: empty search space for model {m.display_name!r}"
            )
        resolve_space(mcfg, search, source)
        studies.append((mcfg, search))
    labels = [c.model.display_name for c, _ in studies]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{source}: tune.models: duplicate model labels {labels}; set 'label'")
    return TuneSetup(cfg, tune, studies, notes, source)


def _parse_tune(data: dict[str, Any], source: str) -> TuneConfig:
    """Validate the tune block; one line naming the key (``tune.search.layers``)."""
    from pydantic import ValidationError

    try:
        return TuneConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in ("tune", *err["loc"]))
        raise ConfigError(f"{source}: {key}: {err['msg'].removeprefix('Value error, ')}") from None


# --- the search space ---------------------------------------------------------------------------

_TRAIN_FIELDS = set(TrainConfig.model_fields)
_NOT_SEARCHABLE = {"seed", "device", "progress", "resume", "time_budget_s", "num_threads"}


def resolve_space(
    cfg: ExperimentConfig, search: dict[str, ParamSpace], source: str = "config"
) -> dict[str, tuple[str, str]]:
    """Search key -> (``params`` | ``training``, option name); unknown keys are a ConfigError."""
    from faultlab.models.base import get_spec

    options = set(get_spec(cfg.model.name).defaults)
    out: dict[str, tuple[str, str]] = {}
    for key in search:
        where, _, name = key.partition(".") if "." in key else ("", "", key)
        if where == "":
            where = "params" if name in options else "training" if name in _TRAIN_FIELDS else ""
        if where == "params" and name not in options:
            raise ConfigError(
                f"{source}: tune.search.{key}: model {cfg.model.name!r} has no option {name!r}; "
                f"options: {sorted(options)}"
            )
        if where == "training" and (name not in _TRAIN_FIELDS or name in _NOT_SEARCHABLE):
            raise ConfigError(
                f"{source}: tune.search.{key}: {name!r} is not a searchable training field"
            )
        if where not in ("params", "training"):
            raise ConfigError(
                f"{source}: tune.search.{key}: neither an option of model {cfg.model.name!r} nor a "
                "training field (prefix it with params. or training.; data keys cannot be searched)"
            )
        out[key] = (where, name)
    return out


def suggest(trial: Any, search: dict[str, ParamSpace]) -> dict[str, Any]:
    """Ask ``trial`` for one value per search key."""
    values: dict[str, Any] = {}
    for key, sp in search.items():
        if sp.type == "categorical":
            values[key] = trial.suggest_categorical(key, sp.choices)
        elif sp.type == "int":
            step = int(sp.step) if sp.step else 1
            values[key] = trial.suggest_int(key, int(sp.low), int(sp.high), step=step, log=sp.log)
        else:
            values[key] = trial.suggest_float(key, sp.low, sp.high, step=sp.step, log=sp.log)
    return values


def apply_values(
    cfg: ExperimentConfig, search: dict[str, ParamSpace], values: dict[str, Any]
) -> ExperimentConfig:
    """``cfg`` with searched values written into the model's params / training overrides."""
    where = resolve_space(cfg, search)
    params = dict(cfg.model.params)
    training = dict(cfg.model.training)
    for key, value in values.items():
        kind, name = where[key]
        (params if kind == "params" else training)[name] = value
    model = cfg.model.model_copy(update={"params": params, "training": training})
    out = cfg.model_copy(update={"model": model}, deep=True)
    out.effective_training()  # validates the training values now, not inside a worker
    return out


# --- data shared by all trials of a worker ------------------------------------------------------


@dataclass
class TrialData:
    """Train and validation windows of the tuning fold; the test windows are not kept."""

    train: Any
    val: Any
    classes: dict[str, list[str]]
    input_shape: tuple[int, int]
    fold: str
    n_val_recordings: int


def load_trial_data(cfg: ExperimentConfig, fold: str | None = None) -> TrialData:
    """Windows of the tuning fold; validation = held-out training recordings (never test)."""
    from faultlab.experiments.runner import _roles, prepare

    windows, splits = prepare(cfg)
    split = pick_fold(splits, fold)
    if len(split.val) == 0:
        raise ConfigError(
            f"split {split.name!r}: no validation recordings (val strategy 'recordings' needs >= 2 "
            "training recordings per class; 'condition' >= 2 training values)"
        )
    assert not set(split.val) & set(split.test), "validation overlaps test"
    standardise = (
        cfg.data.standardise if cfg.data.standardise is not None else cfg.data.dataset == "table"
    )
    parts, _ = _roles(windows, split, standardise)
    return TrialData(
        train=parts["train"],
        val=parts["val"],
        classes=windows.classes,
        input_shape=(windows.n_channels, windows.window_length),
        fold=split.name,
        n_val_recordings=len(set(windows.recording_id[split.val].tolist())),
    )


def pick_fold(splits: list[Any], fold: str | None) -> Any:
    if fold is None:
        return splits[0]
    for s in splits:
        if s.name == str(fold) or s.name.split(" ")[-1] == str(fold):
            return s
    raise ConfigError(f"tune.fold: {fold!r} is none of the folds {[s.name for s in splits]}")


def _scores(model: Any, ws: Any) -> dict[str, float]:
    """Validation accuracy (mean over tasks, -1 labels ignored) and macro F1 of the first task."""
    from sklearn.metrics import f1_score

    pred = model.predict(ws.X)
    accs = []
    for task, p in pred.items():
        y = ws.y[task]
        ok = y != -1
        if ok.any():
            accs.append(float((p[ok] == y[ok]).mean()))
    task = next(iter(pred))
    ok = ws.y[task] != -1
    f1 = float(f1_score(ws.y[task][ok], pred[task][ok], average="macro")) if ok.any() else math.nan
    return {"val_accuracy": float(np.mean(accs)) if accs else math.nan, "val_macro_f1": f1}


# --- objective and workers ---------------------------------------------------------------------


def objective_score(metric_value: float, train_seconds: float, obj: ObjectiveConfig) -> float:
    return float(metric_value) - obj.time_weight * float(train_seconds) / 60.0


def _duplicate_of(trial: Any) -> int | None:
    """Number of an earlier trial (running or finished) with exactly these params, if any."""
    import optuna

    live = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING)
    for t in trial.study.get_trials(deepcopy=False, states=live):
        if t.number < trial.number and t.params == trial.params:
            return t.number
    return None


def make_objective(
    cfg: ExperimentConfig,
    search: dict[str, ParamSpace],
    tune: TuneConfig,
    data: TrialData,
    deadline: float | None,
    train_fn: Callable[..., dict[str, float]] | None = None,
) -> Callable[[Any], float]:
    """The Optuna objective; ``train_fn`` replaces real training (tests of the plumbing only)."""
    import optuna

    def objective(trial: optuna.Trial) -> float:
        values = suggest(trial, search)
        dup = _duplicate_of(trial)
        if dup is not None:
            trial.set_user_attr("duplicate_of", dup)
            raise optuna.TrialPruned(f"same parameters as trial {dup}")
        tcfg = apply_values(cfg, search, values)
        training = tcfg.effective_training()
        limits = [v for v in (tune.trial_budget_s, training.time_budget_s) if v]
        if deadline is not None:
            limits.append(max(1.0, deadline - time.time()))
        update: dict[str, Any] = {"progress": False, "resume": False}
        if limits:
            update["time_budget_s"] = min(limits)
        training = training.model_copy(update=update)
        if train_fn is not None:
            result = train_fn(trial, tcfg, training, data)
        else:
            result = _train_trial(trial, tcfg, training, data)
        for k, v in result.items():
            trial.set_user_attr(k, v)
        return objective_score(
            result[tune.objective.metric], result["train_seconds"], tune.objective
        )

    return objective


def _train_trial(
    trial: Any, cfg: ExperimentConfig, training: TrainConfig, data: TrialData
) -> dict[str, Any]:
    """Fit on the tuning fold's training windows; report val accuracy per epoch for pruning."""
    import inspect

    import optuna

    from faultlab.models.base import build_model

    model = build_model(
        cfg.model.name,
        classes=data.classes,
        input_shape=data.input_shape,
        params=cfg.model.params,
        training=training,
    )

    def on_epoch_end(epoch: int, row: dict[str, float]) -> bool:
        value = row.get("val_accuracy")
        if value is None or not math.isfinite(value):
            return False
        trial.report(float(value), epoch)
        if trial.should_prune():
            trial.set_user_attr("pruned_at_epoch", epoch)
            raise optuna.TrialPruned(f"val_accuracy {value:.4f} at epoch {epoch}")
        return False

    kwargs = (
        {"callbacks": [on_epoch_end]}
        if "callbacks" in inspect.signature(model.fit).parameters
        else {}
    )
    t0 = time.perf_counter()
    fit = model.fit(data.train, data.val, None, **kwargs)
    seconds = float(getattr(fit, "train_seconds", 0.0) or time.perf_counter() - t0)
    scores = _scores(model, data.val)
    net = getattr(model, "net", None)  # torch: count directly (describe() runs torchinfo)
    n_params = (
        sum(p.numel() for p in net.parameters()) if net is not None else model.describe().n_params
    )
    return {
        **scores,
        "train_seconds": seconds,
        "epochs": int(getattr(fit, "epochs", 0) or 0),
        "best_epoch": getattr(fit, "best_epoch", None),
        "stopped_reason": getattr(fit, "stopped_reason", "completed"),
        "n_params": int(n_params),
    }


def default_storage(out_dir: str | Path) -> str:
    return f"sqlite:///{Path(out_dir).resolve() / 'study.db'}"


_DRIVERS = {"postgresql": "psycopg2-binary", "mysql": "pymysql", "mariadb": "pymysql"}


def make_storage(url: str) -> Any:
    """An Optuna RDB storage for ``url``; a missing DB driver is one clear error."""
    import optuna

    if "://" not in url:
        raise ConfigError(
            f"--storage {url!r}: expected a URL such as sqlite:///study.db or postgresql://..."
        )
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    kwargs: dict[str, Any] = {}
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if scheme == "sqlite":
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # concurrent workers on one file wait for the lock instead of failing at once
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    try:
        for attempt in range(5):
            try:
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=30, grace_period=120, **kwargs
                )
            except Exception as exc:
                # workers starting together on a new database race to create its tables
                racing = type(exc).__name__ == "IntegrityError" or any(
                    k in str(exc) for k in ("already exists", "UNIQUE constraint", "Duplicate")
                )
                if not racing or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))
    except (ModuleNotFoundError, ImportError) as exc:
        hint = _DRIVERS.get(scheme, "the SQLAlchemy driver for it")
        raise ConfigError(
            f"--storage {url.split('@')[-1]!r}: database driver missing ({exc}); pip install {hint}"
        ) from None
    except Exception as exc:  # sqlalchemy.exc.ArgumentError / OperationalError
        raise ConfigError(
            f"--storage {url.split('@')[-1]!r}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None


def _sampler(tune: TuneConfig, seed: int) -> Any:
    import optuna

    if tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=tune.n_startup_trials)


def _pruner(tune: TuneConfig) -> Any:
    import optuna

    p = tune.pruner
    if p.kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=p.n_startup_trials, n_warmup_steps=p.n_warmup_steps
        )
    if p.kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=p.min_resource, reduction_factor=p.reduction_factor
        )
    return optuna.pruners.NopPruner()


def open_study(storage: str, study_name: str, tune: TuneConfig, seed: int | None = None) -> Any:
    """Create or join the study ``study_name`` (direction: maximise the objective)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        storage=make_storage(storage),
        study_name=study_name,
        direction="maximize",
        load_if_exists=True,
        sampler=_sampler(tune, tune.seed if seed is None else seed),
        pruner=_pruner(tune),
    )


@dataclass
class WorkerJob:
    """Everything one tuning worker needs; plain data so it pickles to a process or Ray task."""

    experiment: dict[str, Any]
    search: dict[str, Any]
    tune: dict[str, Any]
    storage: str
    study_name: str
    budget_s: float | None
    n_trials: int | None
    seed: int
    worker: int = 0


def run_worker(
    job: WorkerJob, train_fn: Callable[..., dict[str, float]] | None = None, log: Log | None = None
) -> dict[str, Any]:
    """One tuning worker: join the study and optimise until the budget or trial count is used.

    Call it from several processes, Ray tasks or machines with the same storage and study
    name: each gets its own sampler seed (``job.seed``) and Optuna's storage serialises the
    trial numbers. ``n_trials`` is a study-wide cap (finished + pruned trials).
    """
    import optuna

    t0 = time.time()
    cfg = ExperimentConfig.model_validate(job.experiment)
    tune = TuneConfig.model_validate(job.tune)
    search = {k: ParamSpace.model_validate(v) for k, v in job.search.items()}
    threads = cfg.effective_training().num_threads
    if threads:
        import torch

        torch.set_num_threads(threads)
    study = open_study(job.storage, job.study_name, tune, seed=job.seed)
    data = load_trial_data(cfg, tune.fold)
    deadline = t0 + job.budget_s if job.budget_s else None
    timeout = max(1.0, deadline - time.time()) if deadline else None
    callbacks = []
    if job.n_trials:
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        callbacks.append(optuna.study.MaxTrialsCallback(job.n_trials, states=states))
        done = len(study.get_trials(deepcopy=False, states=states))
        if done >= job.n_trials:
            return {"worker": job.worker, "trials": [], "seconds": 0.0, "fold": data.fold}
    mine: list[int] = []

    def record(study: Any, trial: Any) -> None:
        mine.append(trial.number)
        if log:
            state = trial.state.name.lower()
            if trial.state == optuna.trial.TrialState.COMPLETE:
                what = (
                    f"score {trial.value:.4f} (val acc {trial.user_attrs.get('val_accuracy', math.nan):.4f}, "
                    f"{trial.user_attrs.get('train_seconds', 0):.0f} s)"
                )
            elif trial.intermediate_values:
                step = max(trial.intermediate_values)
                what = f"at epoch {step} (val acc {trial.intermediate_values[step]:.4f})"
            else:
                what = str(trial.user_attrs.get("duplicate_of", ""))
            log(
                f"  [{job.study_name} w{job.worker}] trial {trial.number} {state} {what} {trial.params}"
            )

    objective = make_objective(cfg, search, tune, data, deadline, train_fn)
    study.optimize(
        objective,
        n_trials=job.n_trials,
        timeout=timeout,
        callbacks=[*callbacks, record],
        catch=(RuntimeError, ValueError),
        gc_after_trial=train_fn is None,  # frees torch memory between real trainings
    )
    return {
        "worker": job.worker,
        "trials": mine,
        "seconds": time.time() - t0,
        "fold": data.fold,
        "pid": os.getpid(),
    }


# --- the whole command --------------------------------------------------------------------------


@dataclass
class TuneOptions:
    out: Path
    storage: str | None = None
    study: str | None = None
    budget_s: float | None = None
    n_trials: int | None = None
    executor: str = "local"
    address: str | None = None
    workers: int | None = None
    report: bool = True
    seed: int | None = None
    search_only: bool = False


def study_name_for(cfg: ExperimentConfig, prefix: str | None) -> str:
    base = prefix or cfg.name
    return f"{base}-{cfg.model.display_name}"


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """One plain dict per trial (number, state, value, params, attributes, seconds)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        dur = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None
        )
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "seconds": dur,
                "started": t.datetime_start.isoformat() if t.datetime_start else None,
                **{f"params_{k}": v for k, v in t.params.items()},
                **{f"attr_{k}": v for k, v in t.user_attrs.items()},
                "last_epoch": max(t.intermediate_values) if t.intermediate_values else None,
            }
        )
    return rows


def importances(study: Any) -> tuple[dict[str, float], str | None]:
    """Optuna parameter importances, or an empty dict and the reason when there are too few trials."""
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) < 3:
        return {}, f"only {len(done)} finished trial(s): importances need at least 3"
    varying = {k for k in done[0].params if len({repr(t.params.get(k)) for t in done}) > 1}
    if not varying:
        return {}, "no parameter varied across finished trials"
    try:
        imp = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, ZeroDivisionError) as exc:
        return {}, f"importances unavailable: {exc}"
    return {k: float(v) for k, v in imp.items()}, None


def _final_runs(
    cfg: ExperimentConfig,
    seeds: list[int],
    out: Path,
    kind: str,
    fold: str | None,
    log: Log,
    report: bool,
) -> list[dict[str, Any]]:
    """Train ``cfg`` on the tuning fold for each seed via run_experiment (test evaluated once)."""
    from faultlab.experiments import rundir
    from faultlab.experiments.runner import prepare, run_experiment

    windows, splits = prepare(cfg)
    split = pick_fold(splits, fold)
    results = []
    for seed in seeds:
        run_dir = out / kind / f"seed-{seed}"
        if rundir.is_complete(run_dir):
            log(f"  {kind} seed {seed}: finished earlier ({run_dir})")
            results.append(rundir.read_json(run_dir, rundir.METRICS))
            continue
        cfg_s = cfg.model_copy(
            update={"training": cfg.training.model_copy(update={"progress": False})}
        )
        m = run_experiment(cfg_s, run_dir, windows=windows, split=split, seed=seed, report=report)
        log(
            f"  {kind} seed {seed}: test accuracy {m['primary']['accuracy']:.4f} "
            f"val {_val_acc(m):.4f} ({m['training']['train_seconds']:.1f} s) -> {run_dir}"
        )
        results.append(m)
    return results


def _val_acc(m: dict[str, Any]) -> float:
    v = m.get("val") or {}
    prim = v.get("primary", v)
    return float(prim.get("accuracy", math.nan)) if isinstance(prim, dict) else math.nan


def summarise_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds of what the before/after table shows."""

    def mean(vals: list[float]) -> float:
        vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
        return float(np.mean(vals)) if vals else math.nan

    return {
        "n_seeds": len(runs),
        "val_accuracy": mean([_val_acc(m) for m in runs]),
        "test_accuracy": mean([m["primary"]["accuracy"] for m in runs]),
        "test_accuracy_per_seed": [m["primary"]["accuracy"] for m in runs],
        "val_accuracy_per_seed": [_val_acc(m) for m in runs],
        "test_macro_f1": mean([m["primary"].get("macro_f1", math.nan) for m in runs]),
        "train_seconds": mean([m["training"]["train_seconds"] for m in runs]),
        "epochs": mean([m["training"]["epochs"] for m in runs]),
        "n_params": int(runs[0]["model"]["n_params"]) if runs else 0,
        # best of seeds: latency is a property of the model, and the lowest measurement is
        # the one least disturbed by other processes on a shared machine
        "latency_ms_batch1": min(
            (m.get("speed", {}).get("latency_ms_batch1", math.nan) for m in runs), default=math.nan
        ),
        "fold": runs[0]["run"]["fold"] if runs else None,
        "stopped_reason": [m["training"].get("stopped_reason") for m in runs],
    }


def run_tuning(setup: TuneSetup, opts: TuneOptions, log: Log = print) -> dict[str, Any]:
    """Search every model's study, retrain default and best on the test fold, write the report."""
    import optuna

    from faultlab.models.base import get_spec
    from faultlab.utils.io import write_json

    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    tune = setup.tune
    budget = opts.budget_s if opts.budget_s is not None else tune.budget_s
    n_trials = opts.n_trials if opts.n_trials is not None else tune.n_trials
    workers = opts.workers or tune.workers
    if not budget and not n_trials:
        raise ConfigError(f"{setup.source}: give a budget (--budget / tune.budget_s) or --n-trials")
    storage = opts.storage or default_storage(out)
    if opts.executor not in ("local", "ray"):
        raise ConfigError(f"--executor {opts.executor!r}: tuning runs on 'local' or 'ray'")
    if opts.executor == "local" and workers > 1:
        log(f"note: {workers} workers requested; the local executor runs one (use --executor ray)")
        workers = 1
    make_storage(storage)  # fail early on a bad URL / missing driver
    summary: dict[str, Any] = {
        "config": setup.source,
        "storage": storage.split("@")[-1],
        "budget_s": budget,
        "n_trials": n_trials,
        "executor": opts.executor,
        "workers": workers,
        "objective": tune.objective.model_dump(),
        "pruner": tune.pruner.model_dump(),
        "sampler": tune.sampler,
        "notes": list(setup.notes),
        "models": [],
    }
    for cfg, search in setup.studies:
        label = cfg.model.display_name
        name = study_name_for(cfg, opts.study)
        mdir = out / _slug(label)
        log(
            f"study {name!r} ({label}): search {list(search)}; budget {budget} s; storage {summary['storage']}"
        )
        jobs = [
            WorkerJob(
                experiment=cfg.model_dump(mode="json"),
                search={k: v.model_dump() for k, v in search.items()},
                tune=tune.model_dump(mode="json"),
                storage=storage,
                study_name=name,
                budget_s=budget,
                n_trials=n_trials,
                seed=(tune.seed if opts.seed is None else opts.seed) + i,
                worker=i,
            )
            for i in range(workers)
        ]
        t0 = time.time()
        if opts.executor == "ray":
            from faultlab.experiments.ray_executor import run_tuning_workers

            worker_results = run_tuning_workers(jobs, tune.resources, address=opts.address, log=log)
        else:
            worker_results = [run_worker(jobs[0], log=log)]
        search_s = time.time() - t0
        study = optuna.load_study(study_name=name, storage=make_storage(storage))
        rows = trial_rows(study)
        _write_csv(mdir / "trials.csv", rows)
        states = [r["state"] for r in rows]
        complete = [
            t
            for t in study.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.COMPLETE
        ]
        if not complete:
            raise ConfigError(
                f"study {name!r}: no trial finished within the budget ({budget} s); raise --budget "
                "or lower epochs / trial_budget_s"
            )
        best = study.best_trial
        imp, imp_note = importances(study)
        tuned_cfg = apply_values(cfg, search, best.params)
        log(f"  best trial {best.number}: score {best.value:.4f} {best.params}")
        if opts.search_only:  # one of several machines on a shared study: no final runs
            summary["models"].append(
                {
                    "label": label,
                    "study": name,
                    "best": {"number": best.number, "value": best.value, "params": best.params},
                }
            )
            continue
        log("  final runs on the test fold (default vs tuned):")
        default_runs = _final_runs(
            cfg, tune.final_seeds, mdir, "default", tune.fold, log, opts.report
        )
        tuned_runs = _final_runs(
            tuned_cfg,
            tune.final_seeds,
            mdir,
            f"tuned-trial-{best.number}",
            tune.fold,
            log,
            opts.report,
        )
        entry = {
            "label": label,
            "model": cfg.model.name,
            "study": name,
            "dir": str(mdir),
            "search": {k: v.model_dump(exclude_none=True) for k, v in search.items()},
            "search_seconds": search_s,
            "study_span_seconds": _span_seconds(rows),
            "workers": worker_results,
            "trials": {s: states.count(s) for s in sorted(set(states))},
            "n_trials_total": len(rows),
            "best": {
                "number": best.number,
                "value": best.value,
                "params": best.params,
                "attrs": best.user_attrs,
            },
            "default_params": {**get_spec(cfg.model.name).defaults, **cfg.model.params},
            "default_training": cfg.effective_training().model_dump(mode="json"),
            "tuned_params": {**get_spec(cfg.model.name).defaults, **tuned_cfg.model.params},
            "tuned_training": tuned_cfg.model.training,
            "importances": imp,
            "importances_note": imp_note,
            "default": summarise_runs(default_runs),
            "tuned": summarise_runs(tuned_runs),
            "fold": default_runs[0]["run"]["fold"],
            "val_recordings": default_runs[0].get("data", {}).get("n_windows", {}).get("val"),
        }
        summary["models"].append(entry)
        write_json(out / "tuning.json", summary)
    if opts.report and not opts.search_only:
        from faultlab.reporting.tuning_report import render_tuning_report

        paths = render_tuning_report(out)
        log(f"report: {paths[0]}")
    return summary


def _span_seconds(rows: list[dict[str, Any]]) -> float | None:
    """Wall clock from the first trial's start to the last trial's end (all invocations)."""
    import pandas as pd

    starts = pd.to_datetime([r["started"] for r in rows if r.get("started")])
    ends = [
        s + pd.Timedelta(seconds=r["seconds"])
        for s, r in zip(starts, [r for r in rows if r.get("started")])
        if r.get("seconds") is not None
    ]
    if len(starts) == 0 or not ends:
        return None
    return float((max(ends) - starts.min()).total_seconds())


def _slug(text: str) -> str:
    from faultlab.experiments.rundir import slug

    return slug(text)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    from faultlab.utils.io import atomic_path

    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)


def read_summary(out: str | Path) -> dict[str, Any]:
    path = Path(out) / "tuning.json"
    if not path.exists():
        raise ConfigError(f"{path}: missing (is {out} a faultlab tune output directory?)")
    return json.loads(path.read_text())

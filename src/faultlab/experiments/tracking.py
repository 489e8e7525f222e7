"""Experiment tracking: one MLflow run per faultlab run (optional extra ``faultlab[mlflow]``).

Configured by ``tracking: {mlflow: {uri: ..., experiment: ...}}`` in an experiment or benchmark
config, or ``--mlflow URI`` on ``train`` / ``benchmark``. Each finished run logs its config as
flat dotted params, its per-epoch history as step metrics, its final test (and validation)
scores, timing and size, and the run directory's report, metrics and saved model as artefacts.
The run directory stays the source of truth; MLflow is a searchable copy.

Everything goes through an explicit ``MlflowClient`` for the configured URI, so logging never
changes the caller's global MLflow state (active run, tracking URI) and works the same from
benchmark worker processes.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from faultlab.contracts import METRICS, MODEL_DIR, PLOTS, RUN_ARTEFACTS, Metrics
from faultlab.errors import ConfigError
from faultlab.utils.io import write_json

#: Files of a run directory logged as artefacts (folders keep their name in MLflow).
ARTIFACT_FILES = RUN_ARTEFACTS
ARTIFACT_DIRS = (MODEL_DIR, PLOTS)
#: MLflow's limits: value length of a param, and items per log_batch call.
_PARAM_CHARS = 6000
_BATCH = 900


class MlflowConfig(BaseModel):
    """Where to log: ``uri`` (``file:/path``, ``http://host:5000``, ``sqlite:///mlflow.db``;
    None = MLflow's own default, ``MLFLOW_TRACKING_URI``) and the experiment's name
    (None = the faultlab config's name)."""

    model_config = ConfigDict(extra="forbid")

    uri: str | None = None
    experiment: str | None = None
    artifacts: str | None = Field(
        default=None,
        description="where a NEW experiment stores artefacts (a folder or URI); None = the "
        "store's default (for a database URI: ./mlruns under the working directory)",
    )
    log_model: bool = Field(default=True, description="log the saved model folder as an artefact")


class TrackingConfig(BaseModel):
    """The ``tracking:`` block; every back-end is off unless configured."""

    model_config = ConfigDict(extra="forbid")

    mlflow: MlflowConfig | None = None

    @property
    def enabled(self) -> bool:
        return self.mlflow is not None


def _client(cfg: MlflowConfig) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ModuleNotFoundError:
        raise ConfigError(
            "tracking.mlflow: the 'mlflow' package is not installed (pip install 'faultlab[mlflow]')"
        ) from None
    return MlflowClient(tracking_uri=cfg.uri)


def experiment_id(cfg: MlflowConfig, default_name: str) -> tuple[Any, str]:
    """(client, id) of the experiment, created on first use (safe when workers race)."""
    name = cfg.experiment or default_name
    try:
        client = _client(cfg)
        exp = client.get_experiment_by_name(name)
        if exp is not None:
            return client, exp.experiment_id
        try:
            return client, client.create_experiment(
                name, artifact_location=_location(cfg.artifacts)
            )
        except Exception:  # another worker created it in between
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
            return client, exp.experiment_id
    except ConfigError:
        raise
    except Exception as exc:
        if "MLFLOW_ALLOW_FILE_STORE" in str(exc):
            raise ConfigError(
                f"tracking.mlflow.uri {cfg.uri!r}: this MLflow version refuses file stores; "
                "use a database (sqlite:///path/mlflow.db) or set MLFLOW_ALLOW_FILE_STORE=true"
            ) from None
        raise ConfigError(
            f"tracking.mlflow.uri {cfg.uri!r}: cannot reach the tracking store "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})"
        ) from None


def _location(artifacts: str | None) -> str | None:
    if artifacts is None or "://" in artifacts or artifacts.startswith("file:"):
        return artifacts
    return Path(artifacts).resolve().as_uri()


def check(tracking: TrackingConfig, default_name: str) -> None:
    """Fail before any training when tracking is configured but unusable."""
    if tracking.mlflow is not None:
        experiment_id(tracking.mlflow, default_name)


def flat_params(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"training": {"lr": 0.003}}`` -> ``{"training.lr": "0.003"}`` (values cut to MLflow's limit)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flat_params(value, f"{name}."))
        else:
            out[name] = str(value)[:_PARAM_CHARS]
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return None if math.isnan(float(v)) or math.isinf(float(v)) else float(v)


def final_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The scalar results of metrics.json under stable MLflow names."""
    out: dict[str, float] = {}
    m = Metrics.from_json(metrics)
    tr = m.training
    sources = {
        "test_": m.primary.to_json(),
        "val_final_": m.val.get("primary", {}),
        "": {"train_seconds": tr.train_seconds, "epochs": tr.epochs, "best_epoch": tr.best_epoch},
        "speed_": m.speed.to_json(),
        "model_": {"n_params": m.model.n_params, "size_bytes": m.model.size_bytes},
    }
    for prefix, block in sources.items():
        for k, v in (block or {}).items():
            if (x := _number(v)) is not None:
                out[f"{prefix}{k}"] = x
    return out


def _log_batches(client: Any, run_id: str, params: dict[str, str], metrics: list[Any]) -> None:
    from mlflow.entities import Metric, Param

    items = [Param(k, v) for k, v in params.items()]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i : i + 100])
    for i in range(0, len(metrics), _BATCH):
        client.log_batch(run_id, metrics=[Metric(*m) for m in metrics[i : i + _BATCH]])


def _history_metrics(history: list[dict[str, Any]], now_ms: int) -> list[tuple]:
    """(key, value, timestamp, step) per epoch row and numeric column."""
    rows = []
    for i, row in enumerate(history):
        step = int(row.get("epoch", i + 1))
        rows += [
            (k, x, now_ms, step)
            for k, v in row.items()
            if k != "epoch" and (x := _number(v)) is not None
        ]
    return rows


def _log_artifacts(client: Any, run_id: str, run_dir: Path, log_model: bool) -> None:
    for name in ARTIFACT_FILES:
        if (run_dir / name).exists():
            client.log_artifact(run_id, str(run_dir / name))
    for name in ARTIFACT_DIRS:
        if (run_dir / name).is_dir() and (log_model or name != "model"):
            client.log_artifacts(run_id, str(run_dir / name), artifact_path=name)


def log_run(
    cfg: MlflowConfig,
    *,
    experiment: str,
    config: dict[str, Any],
    metrics: dict[str, Any],
    history: list[dict[str, Any]],
    run_dir: Path | None,
    model: Any = None,
) -> str:
    """Log one finished faultlab run as one MLflow run; returns the MLflow run id.

    With no ``run_dir`` (an in-memory run), ``metrics.json`` and the model are written to a
    temporary folder first so the artefacts are the same.
    """
    client, exp_id = experiment_id(cfg, experiment)
    run = Metrics.from_json(metrics).run
    tags = {
        "faultlab.model": str(run.model),
        "faultlab.label": str(run.model_label),
        "faultlab.fold": str(run.fold),
        "faultlab.seed": str(run.seed),
        "faultlab.protocol": str(run.protocol),
        "faultlab.run_dir": str(Path(run_dir).resolve()) if run_dir else "(in memory)",
    }
    name = f"{run.model_label} / {run.fold} / seed {run.seed}"
    mrun = client.create_run(exp_id, run_name=name, tags=tags)
    run_id = mrun.info.run_id
    try:
        now = int(time.time() * 1000)
        finals = [(k, v, now, 0) for k, v in final_metrics(metrics).items()]
        _log_batches(client, run_id, flat_params(config), _history_metrics(history, now) + finals)
        if run_dir is not None:
            _log_artifacts(client, run_id, Path(run_dir), cfg.log_model)
        else:
            with tempfile.TemporaryDirectory(prefix="faultlab-mlflow-") as tmp:
                write_json(Path(tmp) / METRICS, metrics)
                if model is not None and cfg.log_model:
                    model.save(Path(tmp) / "model")
                _log_artifacts(client, run_id, Path(tmp), cfg.log_model)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return run_id

"""Study storage (any SQLAlchemy URL), sampler, pruner, and marking dead workers' trials failed."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from faultlab.errors import ConfigError
from faultlab.experiments.tuning.config import TuneConfig


def default_storage(out_dir: str | Path) -> str:
    return f"sqlite:///{Path(out_dir).resolve() / 'study.db'}"


_DRIVERS = {
    "postgresql": "'faultlab[postgres]' (psycopg)",
    "mysql": "pymysql",
    "mariadb": "pymysql",
}


def storage_url(url: str) -> str:
    """``postgresql://`` (or ``postgres://``) with the driver faultlab[postgres] installs.

    SQLAlchemy reads a bare ``postgresql://`` as psycopg2; faultlab's extra installs psycopg 3,
    so the bare scheme is pointed at it unless psycopg2 is the one present. An explicit
    ``postgresql+driver://`` is left alone.
    """
    import importlib.util

    scheme, sep, rest = url.partition("://")
    if scheme not in ("postgresql", "postgres"):
        return url
    have = {m for m in ("psycopg", "psycopg2") if importlib.util.find_spec(m) is not None}
    driver = "postgresql+psycopg" if "psycopg" in have or "psycopg2" not in have else "postgresql"
    return f"{driver}{sep}{rest}"


def make_storage(url: str, heartbeat_s: int = 30, grace_s: int = 120) -> Any:
    """An Optuna RDB storage for ``url``; a missing DB driver is one clear error.

    Heartbeats: a worker's running trial records a heartbeat every ``heartbeat_s``; a trial
    silent for ``grace_s`` (its worker was killed) is marked FAIL by the next worker that
    starts a trial, so a dead machine never leaves a RUNNING hole in a shared study.
    """
    import optuna

    if "://" not in url:
        raise ConfigError(
            f"--storage {url!r}: expected a URL such as sqlite:///study.db or postgresql://..."
        )
    url = storage_url(url)
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
                    url, heartbeat_interval=heartbeat_s, grace_period=grace_s, **kwargs
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
        storage=make_storage(storage, tune.heartbeat_s, tune.grace_s),
        study_name=study_name,
        direction="maximize",
        load_if_exists=True,
        sampler=_sampler(tune, tune.seed if seed is None else seed),
        pruner=_pruner(tune),
    )


def fail_stale(study: Any) -> list[int]:
    """Mark trials whose worker stopped sending heartbeats as FAIL; their numbers."""
    import optuna

    fail = (optuna.trial.TrialState.FAIL,)
    before = {t.number for t in study.get_trials(deepcopy=False, states=fail)}
    optuna.storages.fail_stale_trials(study)
    return sorted({t.number for t in study.get_trials(deepcopy=False, states=fail)} - before)

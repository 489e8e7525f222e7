"""The benchmark grid: models x seeds x folds, one run directory each, then a leaderboard.

Windows and folds are built once per benchmark (``runner.prepare``) and shared with every run.
A run is finished when its ``done.json`` (written last) exists, so an interrupted benchmark
resumes where it stopped; a run that fails leaves ``error.txt`` and the grid goes on. A rerun
with a changed config stops naming the changed keys (``rerun_changed`` redoes those runs).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from faultlab.data.config import DataConfig, SplitConfig
from faultlab.data.labels import Target
from faultlab.errors import ConfigError
from faultlab.experiments import rundir
from faultlab.experiments.config import ExperimentConfig, ModelConfig, load_yaml, parse_config
from faultlab.experiments.executors import TaskError, make_executor
from faultlab.experiments.tracking import TrackingConfig
from faultlab.experiments.tracking import check as check_tracking
from faultlab.training.config import TrainConfig
from faultlab.utils.io import write_text, write_yaml

RUNS_DIR = "runs"
ERROR_FILE = "error.txt"


class BenchmarkConfig(BaseModel):
    """An ExperimentConfig with a list of models and a list of seeds."""

    model_config = ConfigDict(extra="forbid")

    name: str = "benchmark"
    description: str = ""
    data: DataConfig = Field(default_factory=DataConfig)
    target: Target = "flat"
    split: SplitConfig = Field(default_factory=SplitConfig)
    models: list[ModelConfig] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    training: TrainConfig = Field(default_factory=TrainConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @model_validator(mode="after")
    def _unique_seeds(self) -> BenchmarkConfig:
        dup = sorted({s for s in self.seeds if self.seeds.count(s) > 1})
        if dup:
            raise ValueError(f"seeds must be distinct; repeated: {dup}")
        bad = [s for s in self.seeds if not 0 <= s < 2**32]
        if bad:
            raise ValueError(f"seeds must be in [0, 2**32 - 1]; got {bad}")
        return self

    @model_validator(mode="after")
    def _unique_labels(self) -> BenchmarkConfig:
        labels = [m.display_name for m in self.models]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"model labels must be unique; repeated: {dup} (set 'label')")
        return self

    def experiment(self, model: ModelConfig) -> ExperimentConfig:
        return ExperimentConfig(
            name=f"{self.name}/{model.display_name}",
            data=self.data,
            target=self.target,
            split=self.split,
            model=model,
            training=self.training,
            tracking=self.tracking_for_runs(),
        )

    def tracking_for_runs(self) -> TrackingConfig:
        """Every run of the grid logs into one MLflow experiment named after the benchmark."""
        ml = self.tracking.mlflow
        if ml is None or ml.experiment:
            return self.tracking
        return self.tracking.model_copy(
            update={"mlflow": ml.model_copy(update={"experiment": self.name})}
        )

    def select(self, only: list[str] | None) -> list[ModelConfig]:
        """Models named in ``only`` (label or registry name; comma lists allowed). A registry
        name also selects its registered variants (``envelope`` -> ``envelope-contrast``)."""
        if not only:
            return list(self.models)
        from faultlab.models.base import registry

        specs = registry()
        wanted = [w.strip() for item in only for w in item.split(",") if w.strip()]

        def names(m: ModelConfig) -> set[str]:
            spec = specs.get(m.name)
            parent = spec.variant_of if spec is not None else None
            return {m.display_name, m.name} | ({parent} if parent else set())

        known = set().union(*(names(m) for m in self.models)) if self.models else set()
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise ConfigError(
                f"--only {', '.join(unknown)}: not in this benchmark; models: "
                f"{', '.join(m.display_name for m in self.models)}"
            )
        return [m for m in self.models if names(m) & set(wanted)]


def load_benchmark(path: str | Path) -> BenchmarkConfig:
    return parse_config(BenchmarkConfig, load_yaml(path), str(path))


@dataclass
class RunTask:
    """One cell of the grid (picklable: it travels to worker processes)."""

    cfg: ExperimentConfig
    fold: str
    seed: int
    run_dir: str
    report: bool = True  # render the run's report.md/.html (``faultlab report`` can later)

    @property
    def label(self) -> str:
        return f"{self.cfg.model.display_name} / {self.fold} / seed {self.seed}"


def run_dir_for(out: Path, model: ModelConfig, fold: str, seed: int) -> Path:
    return (
        Path(out) / RUNS_DIR / rundir.slug(model.display_name) / rundir.slug(fold) / f"seed{seed}"
    )


def run_one(task: RunTask, shared: tuple[Any, dict[str, Any]]) -> dict[str, Any]:
    """Train and evaluate one grid cell; failures are recorded in ``error.txt``, not raised."""
    from faultlab.experiments.provenance import where
    from faultlab.experiments.runner import effective_config, run_experiment

    windows, splits = shared
    run_dir = Path(task.run_dir)
    # config.yaml is written first: its presence means an earlier attempt died mid-run
    restarted = (run_dir / rundir.CONFIG).exists() and not rundir.is_complete(run_dir)
    node = where().get("ray_node_id")
    t0 = time.perf_counter()
    try:
        config = effective_config(task.cfg, task.seed)
        # the parent checked every run before starting; this repeats it in the worker, so a
        # run finished meanwhile (another process, an earlier attempt) is not redone
        if rundir.plan(run_dir, config, rerun_changed=False, log=lambda _: None) == "skip":
            return {"status": "skipped", "run_dir": str(run_dir)}
        metrics = run_experiment(
            task.cfg,
            run_dir,
            windows=windows,
            split=splits[task.fold],
            seed=task.seed,
            resume=(run_dir / rundir.CHECKPOINT).exists(),
            report=task.report,
        )
    except Exception as exc:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(
            run_dir / ERROR_FILE, traceback.format_exc() + f"\n{type(exc).__name__}: {exc}\n"
        )
        return {
            "status": "failed",
            "run_dir": str(run_dir),
            "error": f"{type(exc).__name__}: {exc}",
            "seconds": time.perf_counter() - t0,
            "node": node,
            "restarted": restarted,
        }
    (run_dir / ERROR_FILE).unlink(missing_ok=True)
    p = metrics["primary"]
    return {
        "status": "ok",
        "run_dir": str(run_dir),
        "accuracy": p.get("accuracy"),
        "macro_f1": p.get("macro_f1"),
        "seconds": time.perf_counter() - t0,
        "node": node,
        "restarted": restarted,
    }


def _plan_grid(
    grid: list[RunTask], selected: set[str], rerun_changed: bool, log: Callable[[str], None]
) -> tuple[list[RunTask], list[RunTask]]:
    """(selected cells, selected cells to run). Every cell is checked, selected or not, so a
    leaderboard never mixes configs: a changed cell left out by ``--only`` stops the
    benchmark, or with ``rerun_changed`` is set aside (and so left off the leaderboard)."""
    from faultlab.experiments.runner import effective_config

    plans = {
        t.run_dir: rundir.plan(Path(t.run_dir), effective_config(t.cfg, t.seed), rerun_changed, log)
        for t in grid
    }
    todo = [t for t in grid if t.cfg.model.display_name in selected]
    return todo, [t for t in todo if plans[t.run_dir] != "skip"]


def _progress(pending: list[RunTask], log: Callable[[str], None]) -> Callable[[int, Any], None]:
    """The executor's per-result callback: one line per finished or failed run."""

    def on_result(i: int, res: Any) -> None:
        task = pending[i]
        if isinstance(res, TaskError):
            log(f"  FAILED {task.label}: {res.message}")
        elif res.get("status") == "ok":
            where = f", node {res['node'][:12]}" if res.get("node") else ""
            again = ", restarted after a lost attempt" if res.get("restarted") else ""
            log(
                f"  done {task.label}: accuracy {res['accuracy']:.4f}, macro F1 "
                f"{res['macro_f1']:.4f} ({res['seconds']:.1f} s{where}{again})"
            )
        elif res.get("status") == "skipped":
            log(f"  done {task.label}: finished by an earlier attempt")
        elif res.get("status") == "failed":
            log(f"  FAILED {task.label}: {res['error']} (see {res['run_dir']}/{ERROR_FILE})")

    return on_result


def _runs_per_node(results: list[Any]) -> dict[str, int]:
    nodes: dict[str, int] = {}
    for r in results:
        if isinstance(r, dict) and r.get("status") == "ok" and r.get("node"):
            nodes[r["node"]] = nodes.get(r["node"], 0) + 1
    return nodes


def _run_pending(
    ex: Any, pending: list[RunTask], windows: Any, folds: dict[str, Any], log: Callable
) -> list[Any]:
    """Every pending cell on the executor; a cell whose worker died leaves its error file."""
    results = ex.map(run_one, pending, shared=(windows, folds), on_result=_progress(pending, log))
    for task, res in zip(pending, results):
        if isinstance(res, TaskError):  # the worker died: leave a trace for the leaderboard
            write_text(Path(task.run_dir) / ERROR_FILE, res.message + "\n")
    return results


def _summary(
    cfg: BenchmarkConfig,
    out: Path,
    grid: list[RunTask],
    results: list[Any],
    skipped: int,
    wall: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Write the leaderboard over the whole grid; the benchmark's summary."""
    from faultlab.reporting import render_leaderboard

    # "skipped" here: a retried task found the run finished by its first attempt
    ok = sum(1 for r in results if isinstance(r, dict) and r.get("status") in ("ok", "skipped"))
    failed = len(results) - ok
    paths = render_leaderboard(
        out,
        run_dirs=[Path(t.run_dir) for t in grid],
        title=f"{cfg.name}: leaderboard",
        description=cfg.description or None,
    )
    log(f"ran {ok}, failed {failed}, skipped {skipped} in {wall:.1f} s -> {paths['md']}")
    return {
        "ran": ok,
        "failed": failed,
        "skipped": skipped,
        "seconds": wall,
        "grid": len(grid),
        "paths": paths,
        "nodes": _runs_per_node(results),
        "restarted": sum(1 for r in results if isinstance(r, dict) and r.get("restarted")),
    }


def run_benchmark(
    cfg: BenchmarkConfig,
    out: str | Path,
    *,
    executor: str = "local",
    workers: int | None = None,
    only: list[str] | None = None,
    log: Callable[[str], None] = print,
    rerun_changed: bool = False,
    report: bool = True,
) -> dict[str, Any]:
    """Run every unfinished cell of the grid, then write the leaderboard. Returns a summary.

    A finished cell whose config changed stops the benchmark before anything runs (or, with
    ``rerun_changed``, is rerun); see :func:`_plan_grid` and ``rundir.plan``. With
    ``report=False`` the runs skip their Markdown/HTML reports (1-3 s of plotting each;
    ``faultlab report`` renders them later); the leaderboard is written either way.
    """
    from faultlab.experiments.runner import check_model, check_out_dir, prepare

    out = check_out_dir(out)
    models = cfg.select(only)
    for m in models:
        check_model(cfg.experiment(m))  # an unknown model or option fails before any data is loaded
    check_tracking(cfg.tracking_for_runs(), cfg.name)  # so does an unusable tracking store
    ex = make_executor(executor, workers)

    t0 = time.perf_counter()
    windows, splits = prepare(cfg.experiment(cfg.models[0]))
    folds = {s.name: s for s in splits}
    log(f"data: {len(windows)} windows, {len(folds)} fold(s) ({time.perf_counter() - t0:.1f} s)")

    grid = [
        RunTask(cfg.experiment(m), fold, seed, str(run_dir_for(out, m, fold, seed)), report)
        for m in cfg.models
        for seed in cfg.seeds
        for fold in folds
    ]
    todo, pending = _plan_grid(grid, {m.display_name for m in models}, rerun_changed, log)
    out.mkdir(parents=True, exist_ok=True)
    write_yaml(out / "benchmark.yaml", cfg.model_dump(mode="json"))
    skipped = len(todo) - len(pending)
    log(
        f"grid: {len(grid)} run(s); {len(todo)} selected, {skipped} finished earlier (skipped), "
        f"{len(pending)} to run on executor {ex.name}"
    )

    t1 = time.perf_counter()
    results = _run_pending(ex, pending, windows, folds, log)
    wall = time.perf_counter() - t1
    return _summary(cfg, out, grid, results, skipped, wall, log)

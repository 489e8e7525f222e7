"""The Python API: what a notebook needs, in four functions.

>>> import faultlab
>>> ws = faultlab.load_windows(dataset="synthetic", window=512)     # doctest: +SKIP
>>> folds = faultlab.splits(ws, kind="group_kfold", n_splits=4)     # doctest: +SKIP
>>> res = faultlab.run({"data": {"dataset": "synthetic"}, "model": {"name": "rf"}})  # doctest: +SKIP
>>> res.metrics["primary"]["accuracy"]                               # doctest: +SKIP
>>> model = faultlab.load_run("runs/cnn/test-load_hp-3")            # doctest: +SKIP
>>> model.predict("../shared/data/cwru/108.mat").prediction          # doctest: +SKIP

Each function is a thin layer over what the CLI runs (``DataConfig``, ``make_splits``, the
experiment runner, the serving ``Predictor``), so a notebook and ``faultlab train`` give the
same windows, the same folds and, for one seed, the same model. Keyword arguments are the
keys of the YAML blocks; a wrong key or value raises a ConfigError naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from faultlab.data.types import Split, WindowSet
from faultlab.errors import ConfigError
from faultlab.experiments.runner import RunOutcome

__all__ = ["load_windows", "splits", "run", "load_run", "RunResult"]


def load_windows(dataset: str = "cwru", **data_options: Any) -> WindowSet:
    """Windows of a dataset, built exactly as a config's ``data:`` block builds them.

    ``data_options`` are the keys of that block (``window``, ``stride``, ``select``,
    ``target_rate``, ``normalise``, ``channel``, ``data_dir``, ``synthetic``, ``table``...).
    The result carries every task: ``ws.X`` float32 ``[n, channels, length]``,
    ``ws.y["class"]`` (also ``detection``, ``location``, ``size``; ``label`` for tables),
    ``ws.classes[task]`` (names), ``ws.meta`` (one row of metadata per window) and
    ``ws.groups`` (the recording of every window, for grouped cross-validation).

    Example::

        ws = faultlab.load_windows(dataset="cwru", window=1024)
        ws.X.shape, ws.classes["class"][:3], ws.meta["load_hp"].value_counts()
    """
    from faultlab.data.build import build_windows
    from faultlab.data.config import DataConfig
    from faultlab.experiments.config import parse_config

    cfg = parse_config(DataConfig, {"dataset": dataset, **data_options}, "load_windows")
    ws = build_windows(cfg)  # cached per process: hand out a copy the caller may change
    return ws.subset(np.arange(len(ws)))


def splits(
    windows: WindowSet,
    kind: str = "leave_one_out",
    *,
    target: str | None = None,
    **split_options: Any,
) -> list[Split]:
    """The folds of a ``split:`` block over ``windows``, each checked for leakage.

    ``kind``: ``leave_one_out`` (one fold per value of ``column``, default ``load_hp``),
    ``condition`` (``train=[...]``, ``test=[...]``), ``transfer``, ``group_kfold``
    (``n_splits``), ``recording`` or the leaky ``random_window``. Validation windows are carved
    from the training side (``val={"strategy": "tail", "fraction": 0.15}``). A fold whose
    train/validation and test share a recording raises a ``LeakageError``. ``target``
    (``flat``, ``binary``, ...) first restricts ``windows`` as a run with that target would;
    the indices then refer to that restricted set. Each fold has ``.name``, ``.train``,
    ``.val``, ``.test`` (index arrays into ``windows``) and ``.notes``.

    Example::

        for fold in faultlab.splits(ws, kind="leave_one_out", column="load_hp"):
            print(fold.name, len(fold.train), len(fold.val), len(fold.test))
    """
    from faultlab.data.build import for_target
    from faultlab.data.config import SplitConfig
    from faultlab.data.splits import make_splits
    from faultlab.experiments.config import parse_config

    cfg = parse_config(SplitConfig, {"kind": kind, **split_options}, "splits")
    if target is not None:
        windows = for_target(windows, target)
    return make_splits(windows, cfg)


def _as_config(config: Any) -> Any:
    """An ExperimentConfig or a BenchmarkConfig from an object, a dict or a YAML path."""
    from faultlab.experiments.benchmark import BenchmarkConfig
    from faultlab.experiments.config import ExperimentConfig, load_yaml, parse_config

    if isinstance(config, ExperimentConfig | BenchmarkConfig):
        return config
    source = "config"
    if isinstance(config, str | Path):
        source, config = str(config), load_yaml(config)
    if not isinstance(config, dict):
        raise ConfigError(
            f"run: expected a config object, a dict or a YAML path, got {type(config).__name__}"
        )
    cls = BenchmarkConfig if "models" in config else ExperimentConfig
    return parse_config(cls, config, source)


@dataclass
class RunResult:
    """What :func:`run` returns: one :class:`RunOutcome` per (model, fold, seed).

    ``model``, ``metrics``, ``history`` and ``split`` are those of the single run; when the
    config made several (folds, seeds, a benchmark's models), pick one from ``runs`` (or
    ``result.get("rf")``) and compare them with ``table`` / ``leaderboard``.
    ``report_path`` is None when nothing was written (``out=None``).
    """

    runs: list[RunOutcome]
    out: Path | None = None
    report_path: Path | None = None
    failed: list[Path] = field(default_factory=list)

    def _single(self) -> RunOutcome:
        if len(self.runs) != 1:
            raise ValueError(
                f"this result holds {len(self.runs)} runs (model x fold x seed): pick one from "
                ".runs or with .get(label, fold, seed), or compare them with .table"
            )
        return self.runs[0]

    @property
    def model(self) -> Any:
        """The trained FaultModel (``predict_proba(X) -> {task: [n, k]}``)."""
        return self._single().model

    @property
    def metrics(self) -> dict[str, Any]:
        """``metrics.json`` of the run: ``["primary"]["accuracy"]``, per-task scores, speed."""
        return self._single().metrics

    @property
    def history(self) -> pd.DataFrame:
        """One row per epoch (train/val loss and accuracy, lr, seconds)."""
        return pd.DataFrame(self._single().history)

    @property
    def split(self) -> Split:
        return self._single().split

    def get(
        self, label: str | None = None, fold: str | None = None, seed: int | None = None
    ) -> RunOutcome:
        """The one run matching the given model label, fold name and seed."""
        found = [
            r
            for r in self.runs
            if (label is None or label in (r.label, r.record.run.model))
            and (fold is None or r.fold == str(fold))
            and (seed is None or r.seed == seed)
        ]
        if len(found) != 1:
            raise ValueError(f"{len(found)} runs match label={label!r} fold={fold!r} seed={seed!r}")
        return found[0]

    @property
    def table(self) -> pd.DataFrame:
        """One row per run: model, fold, seed, scores, time, latency (as in ``runs.csv``)."""
        from faultlab.reporting.leaderboard import run_row

        return pd.DataFrame([run_row(r.run_dir or Path("."), r.metrics) for r in self.runs])

    @property
    def leaderboard(self) -> pd.DataFrame:
        """One row per model, mean ± std over folds x seeds (as in ``leaderboard.csv``)."""
        from faultlab.reporting.leaderboard import aggregate

        return aggregate(self.table)

    def __repr__(self) -> str:
        where = f"written to {self.out}" if self.out else "in memory"
        return f"RunResult({len(self.runs)} run(s), {where})"


def _say(verbose: bool) -> Callable[[str], None]:
    return print if verbose else (lambda _msg: None)


def _run_in_memory(
    cfg: Any, log: Callable[[str], None], only: list[str] | None
) -> list[RunOutcome]:
    from faultlab.data.splits import describe_split
    from faultlab.experiments.benchmark import BenchmarkConfig
    from faultlab.experiments.runner import check_model, execute, prepare
    from faultlab.experiments.tracking import check

    if isinstance(cfg, BenchmarkConfig):
        models = cfg.select(only)
        experiments = [cfg.experiment(m) for m in models]
        seeds: list[int | None] = list(cfg.seeds)
        tracking = cfg.tracking_for_runs()
        prepared = prepare(cfg.experiment(cfg.models[0]))
    else:
        experiments, tracking = [cfg], cfg.tracking
        seeds = [None]
        prepared = None
    for e in experiments:
        check_model(e)
    check(tracking, cfg.name)
    windows, folds = prepared if prepared is not None else prepare(experiments[0])
    outcomes = []
    for e in experiments:  # the CLI's order: models, then seeds, then folds
        for seed in seeds:
            for split in folds:
                log(describe_split(split, windows))
                res = execute(e, None, windows=windows, split=split, seed=seed)
                log(f"  {res!r}")
                outcomes.append(res)
    return outcomes


def _run_to_disk(
    cfg: Any, out: Path, log: Callable[[str], None], only: list[str] | None
) -> RunResult:
    from faultlab.experiments import rundir
    from faultlab.experiments.benchmark import BenchmarkConfig, run_benchmark
    from faultlab.experiments.runner import load_outcome, run_folds

    if isinstance(cfg, BenchmarkConfig):
        summary = run_benchmark(cfg, out, only=only, log=log)
        labels = {rundir.slug(m.display_name) for m in cfg.select(only)}

        def found(name: str) -> set[Path]:  # this benchmark's selected models only
            hits = (out / "runs").glob(f"**/{name}")
            return {p.parent for p in hits if p.relative_to(out / "runs").parts[0] in labels}

        dirs = sorted(found(rundir.METRICS))
        failed = sorted(found("error.txt") - set(dirs))
        return RunResult(
            [load_outcome(d) for d in dirs], out, Path(summary["paths"]["html"]), failed
        )
    results = run_folds(cfg, out, log=log)
    dirs = [out / rundir.slug(m["run"]["fold"]) for m in results]
    runs = [load_outcome(d) for d in dirs]
    report = dirs[0] / rundir.REPORT_HTML if dirs else None
    return RunResult(runs, out, report)


def run(
    config: Any,
    out: str | Path | None = None,
    *,
    only: list[str] | None = None,
    verbose: bool = True,
) -> RunResult:
    """Train and evaluate an experiment or a benchmark config; returns a :class:`RunResult`.

    ``config`` is a YAML path, a dict (the YAML's content) or a config object: an experiment
    (``model:``; one run per fold) or a benchmark (``models:`` and ``seeds:``; one run per
    model x seed x fold). With ``out=None`` nothing is written: models, metrics and histories
    stay in memory (``report_path`` is None). With ``out`` the run directories, reports and
    (for a benchmark) the leaderboard are written exactly as ``faultlab train`` /
    ``faultlab benchmark --out`` write them, finished runs are skipped, and the result is
    read back from them. The same seed gives the same models either way. ``only`` picks a
    benchmark's models by label.

    Example::

        res = faultlab.run({"model": {"name": "rf"}, "split": {"folds": ["3"]}})
        res.metrics["primary"]["accuracy"], res.model.predict_proba(ws.X[:5])
        quick = faultlab.run("configs/cwru-quick.yaml", only=["rf", "cnn1d"])
        quick.leaderboard[["model", "accuracy_mean"]]
    """
    cfg = _as_config(config)
    log = _say(verbose)
    if out is not None:
        return _run_to_disk(cfg, Path(out), log, only)
    return RunResult(_run_in_memory(cfg, log, only))


def load_run(run_dir: str | Path, backend: str = "torch") -> Any:
    """A finished run directory as a model that predicts on raw recordings.

    Returns a :class:`~faultlab.serving.predict.Predictor` that replays the run's
    preprocessing (channel, resampling, windowing, normalisation, standardiser) exactly as
    ``faultlab predict`` does: ``.predict(path_or_array, sampling_rate=None)`` gives a
    recording's verdict (``.prediction``, ``.confidence``, ``.verdicts[task]``) and its
    per-window probabilities (``.proba[task]``). ``backend="onnx"`` uses ONNX Runtime.

    Example::

        model = faultlab.load_run("runs/cnn/test-load_hp-3")
        pred = model.predict("../shared/data/cwru/108.mat")
        pred.prediction, pred.confidence
    """
    from faultlab.serving.predict import Predictor

    return Predictor(run_dir, backend=backend)

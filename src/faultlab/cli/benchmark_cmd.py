"""``faultlab benchmark`` (models x seeds x folds -> leaderboard) and ``faultlab report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from faultlab.cli import app
from faultlab.cli.options import parse_pairs, set_dotted
from faultlab.contracts import METRICS

#: The options of ``faultlab benchmark`` (aliases keep the signature short).
ConfigArg = Annotated[Path, typer.Argument(help="benchmark YAML (data, split, models, seeds)")]
OutOpt = Annotated[Path, typer.Option(help="output directory (runs/ + leaderboard)")]
ExecutorOpt = Annotated[str, typer.Option(help="local (sequential) | processes | ray")]
WorkersOpt = Annotated[int | None, typer.Option(help="worker processes (processes executor)")]
OnlyOpt = Annotated[
    list[str] | None, typer.Option(help="run only this model label (repeatable or a,b)")
]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="any config key, e.g. training.epochs=2")
]
QuietOpt = Annotated[bool, typer.Option(help="no per-epoch progress bars")]
NoReportOpt = Annotated[
    bool,
    typer.Option(
        "--no-report", help="skip the runs' Markdown/HTML reports (`faultlab report` renders them)"
    ),
]
AddressOpt = Annotated[
    str | None, typer.Option(help="ray executor: cluster address (default: a local Ray)")
]
MlflowOpt = Annotated[
    str | None,
    typer.Option(help="log every run to this MLflow tracking URI (file:/path, http://host:5000)"),
]
RerunOpt = Annotated[
    bool,
    typer.Option(
        help="rerun finished runs whose config changed (default: stop, naming "
        "the changed keys); old results are kept as *.replaced"
    ),
]


@app.command()
def benchmark(
    config: ConfigArg,
    out: OutOpt = Path("runs/benchmark"),
    executor: ExecutorOpt = "local",
    workers: WorkersOpt = None,
    only: OnlyOpt = None,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
    address: AddressOpt = None,
    mlflow: MlflowOpt = None,
    rerun_changed: RerunOpt = False,
    no_report: NoReportOpt = False,
) -> None:
    """Run every unfinished (model, seed, fold) of CONFIG, then write the leaderboard."""
    from faultlab.experiments.benchmark import BenchmarkConfig, run_benchmark
    from faultlab.experiments.config import load_yaml, parse_config

    raw = load_yaml(config)
    for key, value in parse_pairs(set_, "--set").items():
        set_dotted(raw, key, value)
    if quiet:
        set_dotted(raw, "training.progress", False)
    if mlflow:
        set_dotted(raw, "tracking.mlflow.uri", mlflow)
    cfg = parse_config(BenchmarkConfig, raw, str(config))
    if address:  # read by faultlab.experiments.ray_executor.RayExecutor
        import os

        os.environ["FAULTLAB_RAY_ADDRESS"] = address
    summary = run_benchmark(
        cfg,
        out,
        executor=executor,
        workers=workers,
        only=only,
        log=typer.echo,
        rerun_changed=rerun_changed,
        report=not no_report,
    )
    typer.echo(
        f"leaderboard: {summary['paths']['md']}, {summary['paths']['html']}, "
        f"{summary['paths']['csv']}"
    )
    if summary["failed"]:
        raise typer.Exit(1)


@app.command()
def report(
    path: Annotated[Path, typer.Argument(help="a run directory, or a benchmark output directory")],
) -> None:
    """Re-render report.md/report.html (a run, or every fold of a `train` output) or the
    leaderboard (a benchmark directory) from the saved files."""
    from faultlab.errors import FaultlabError

    if (path / METRICS).exists():
        from faultlab.reporting import render_run_report

        paths = render_run_report(path)
    elif (path / "runs").is_dir():
        from faultlab.reporting import render_leaderboard

        title = None
        bench = path / "benchmark.yaml"
        if bench.exists():
            import yaml

            meta = yaml.safe_load(bench.read_text()) or {}
            title = f"{meta.get('name', path.name)}: leaderboard"
            desc = meta.get("description") or None
        else:
            desc = None
        paths = render_leaderboard(path, title=title, description=desc)
    elif runs := sorted(path.glob("*/metrics.json")):  # a `faultlab train` output: one per fold
        from faultlab.reporting import render_run_report

        for m in runs:
            paths = render_run_report(m.parent)
            typer.echo(f"wrote {paths['md']} and {paths['html']}")
        return
    else:
        raise FaultlabError(
            f"{path}: neither a finished run (no metrics.json) nor a benchmark directory (no runs/)"
        )
    typer.echo(f"wrote {paths['md']} and {paths['html']}")

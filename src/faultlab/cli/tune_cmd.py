"""``faultlab tune``: Optuna search per model under a budget, then default vs tuned on the test fold."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from faultlab.cli import app
from faultlab.cli.options import parse_pairs, set_dotted

#: The options of ``faultlab tune`` (aliases keep the signature short).
ConfigArg = Annotated[
    Path, typer.Argument(help="experiment YAML with a tune: block (search space)")
]
BudgetOpt = Annotated[
    float | None,
    typer.Option(help="search wall-clock seconds per model (default: tune.budget_s)"),
]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        help="study storage URL (default sqlite:///OUT/study.db; postgresql://... to share)"
    ),
]
StudyOpt = Annotated[
    str | None,
    typer.Option(help="study name prefix (default: the config name); '-<model>' is appended"),
]
TrialsOpt = Annotated[
    int | None, typer.Option(help="most finished trials per study, all workers together")
]
OutOpt = Annotated[Path, typer.Option(help="output directory")]
ExecutorOpt = Annotated[str, typer.Option(help="local | ray")]
AddressOpt = Annotated[
    str | None, typer.Option(help="Ray cluster address (default: start a local Ray)")
]
WorkersOpt = Annotated[int | None, typer.Option(help="parallel tuning workers per study (ray)")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="any config key, e.g. training.epochs=5")
]
DataDirOpt = Annotated[
    Path | None, typer.Option(help="data directory (default $FAULTLAB_DATA_DIR)")
]
SeedOpt = Annotated[
    int | None, typer.Option(help="sampler seed (default tune.seed); give each machine its own")
]
SearchOnlyOpt = Annotated[
    bool,
    typer.Option("--search-only", help="only add trials to the shared study (extra machines)"),
]
NoReportOpt = Annotated[bool, typer.Option("--no-report", help="skip the Markdown/HTML reports")]


@app.command()
def tune(
    config: ConfigArg,
    budget: BudgetOpt = None,
    storage: StorageOpt = None,
    study: StudyOpt = None,
    n_trials: TrialsOpt = None,
    out: OutOpt = Path("runs/tune"),
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    workers: WorkersOpt = None,
    set_: SetOpt = None,
    data_dir: DataDirOpt = None,
    seed: SeedOpt = None,
    search_only: SearchOnlyOpt = False,
    no_report: NoReportOpt = False,
) -> None:
    """Tune hyperparameters on validation recordings, then compare default vs tuned on the test fold."""
    from faultlab.experiments.config import load_yaml
    from faultlab.experiments.tuning import TuneOptions, load_tune_config, run_tuning

    raw = load_yaml(config)
    for key, value in parse_pairs(set_, "--set").items():
        set_dotted(raw, key, value)
    if data_dir:
        set_dotted(raw, "data.data_dir", str(data_dir))
    setup = load_tune_config(raw=raw, source=str(config))
    opts = TuneOptions(
        out=out,
        storage=storage,
        study=study,
        budget_s=budget,
        n_trials=n_trials,
        executor=executor,
        address=address,
        workers=workers,
        report=not no_report,
        seed=seed,
        search_only=search_only,
    )
    summary = run_tuning(setup, opts, log=typer.echo)
    if search_only:
        return
    for m in summary["models"]:
        d, t = m["default"], m["tuned"]
        typer.echo(
            f"{m['label']}: validation {d['val_accuracy']:.4f} -> {t['val_accuracy']:.4f}, "
            f"test {d['test_accuracy']:.4f} -> {t['test_accuracy']:.4f} "
            f"({m['n_trials_total']} trials, fold {m['fold']!r})"
        )

"""``faultlab train``: one model on every fold of a split (or the folds asked for)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from faultlab.cli import app
from faultlab.cli.options import parse_pairs, set_dotted

#: The options of ``faultlab train`` (aliases keep the signature short).
ConfigArg = Annotated[Path | None, typer.Argument(help="experiment YAML (optional)")]
ModelOpt = Annotated[str | None, typer.Option(help="registered model name")]
DatasetOpt = Annotated[
    str | None, typer.Option(help="cwru | mfpt | synthetic | files | table | sources")
]
TargetOpt = Annotated[
    str | None, typer.Option(help="flat | binary | multitask | location | size | label")
]
SplitOpt = Annotated[str | None, typer.Option(help="split kind, e.g. leave_one_out, condition")]
FoldOpt = Annotated[list[str] | None, typer.Option(help="run only this fold (repeatable)")]
IntOpt = Annotated[int | None, typer.Option()]
FloatOpt = Annotated[float | None, typer.Option()]
BudgetOpt = Annotated[float | None, typer.Option(help="seconds of training per fold")]
DeviceOpt = Annotated[str | None, typer.Option(help="auto | cpu | cuda | mps")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", "-p", help="model option KEY=VALUE")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="any config key, e.g. data.window=2048")
]
DataDirOpt = Annotated[
    Path | None, typer.Option(help="data directory (default $FAULTLAB_DATA_DIR)")
]
OutOpt = Annotated[Path, typer.Option(help="output directory (one sub-folder per fold)")]
ResumeOpt = Annotated[bool, typer.Option(help="continue from checkpoints")]
MlflowOpt = Annotated[
    str | None,
    typer.Option(help="log every run to this MLflow tracking URI (file:/path, http://host:5000)"),
]
QuietOpt = Annotated[bool, typer.Option(help="no progress bars")]
RerunOpt = Annotated[
    bool,
    typer.Option(
        help="rerun finished folds whose config changed (default: stop, naming the changed "
        "keys); old results are kept as *.replaced"
    ),
]


@app.command()
def train(
    config: ConfigArg = None,
    model: ModelOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    split: SplitOpt = None,
    fold: FoldOpt = None,
    epochs: IntOpt = None,
    batch_size: IntOpt = None,
    lr: FloatOpt = None,
    patience: IntOpt = None,
    time_budget: BudgetOpt = None,
    seed: IntOpt = None,
    device: DeviceOpt = None,
    param: ParamOpt = None,
    set_: SetOpt = None,
    data_dir: DataDirOpt = None,
    out: OutOpt = Path("runs/train"),
    resume: ResumeOpt = False,
    mlflow: MlflowOpt = None,
    quiet: QuietOpt = False,
    rerun_changed: RerunOpt = False,
) -> None:
    """Train one model and write a run directory per fold (config, split, history, model, metrics, report)."""
    from faultlab.experiments.config import ExperimentConfig, load_yaml, parse_config
    from faultlab.experiments.runner import run_folds

    raw: dict[str, Any] = load_yaml(config) if config else {}
    overrides = {
        "model.name": model,
        "data.dataset": dataset,
        "target": target,
        "split.kind": split,
        "split.folds": fold or None,
        "training.epochs": epochs,
        "training.batch_size": batch_size,
        "training.lr": lr,
        "training.patience": patience,
        "training.time_budget_s": time_budget,
        "training.seed": seed,
        "training.device": device,
        "data.data_dir": str(data_dir) if data_dir else None,
        "training.progress": False if quiet else None,
        "tracking.mlflow.uri": mlflow,
    }
    overrides.update(parse_pairs(set_, "--set"))
    for key, value in overrides.items():
        if value is not None:
            set_dotted(raw, key, value)
    for key, value in parse_pairs(param, "--param").items():
        set_dotted(raw, f"model.params.{key}", value)
    raw.setdefault("model", {}).setdefault("name", "cnn1d")
    cfg = parse_config(ExperimentConfig, raw, str(config or "command line"))
    results = run_folds(cfg, out, resume=resume, log=typer.echo, rerun_changed=rerun_changed)
    if len(results) > 1:
        import numpy as np

        acc = np.array([r["primary"]["accuracy"] for r in results])
        typer.echo(f"mean accuracy over {len(acc)} folds: {acc.mean():.4f} ± {acc.std():.4f}")

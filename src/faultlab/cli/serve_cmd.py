"""``faultlab predict`` / ``export`` / ``serve``: deploy a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from faultlab.cli import app
from faultlab.limits import (
    BATCH_MAX,
    MAX_SAMPLES,
    MAX_WINDOWS,
    SERVICE_MAX_SAMPLES,
    SERVICE_MAX_WINDOWS,
)


def _top_shares(shares: dict[str, float], k: int = 3) -> str:
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:k]
    return ", ".join(f"{name} {100 * s:.0f}%" for name, s in top if s > 0)


def _evidence_text(ev: dict) -> str:
    """One line: ``envelope``'s strongest lines, or ``envelope-contrast``'s z-scores."""
    if "lines" in ev:
        lines = ", ".join(f"{ln['line']} {ln['times_floor']:.1f}x" for ln in ev["lines"][:4])
        return f"({ev['band']}): {lines}"
    z = ", ".join(
        f"{fam} line {v['line']:+.1f} / period {v['period']:+.1f}"
        for fam, v in ev.get("z_vs_decoys", {}).items()
    )
    scores = ", ".join(f"{m} {v:+.1f}" for m, v in ev.get("location_scores", {}).items())
    text = f"(z vs decoy orders): {z}; log kurtosis {ev.get('log_kurtosis', 0.0):+.2f}"
    return f"{text}; scores ({ev.get('evidence', 'additive')}) {scores}" if scores else text


def _physics_lines(preds: list, evidence_dir: Path | None) -> None:
    """Shaft speed and source per file, the expert's strongest lines, evidence plots."""
    for rp in preds:
        p = rp.prepared
        if p.rpm is not None:
            typer.echo(
                f"{rp.name}: shaft {p.rpm:.1f} rpm ({p.rpm_source}), bearing {'/'.join(p.bearing or [])}"
            )
        if rp.evidence:
            typer.echo(f"  evidence {_evidence_text(rp.evidence)}")
    if evidence_dir is not None:
        from faultlab.reporting.evidence import recording_evidence_plot

        for rp in preds:
            path = recording_evidence_plot(rp, evidence_dir)
            if path is not None:
                typer.echo(f"evidence plot: {path}")


def _print_verdicts(predictor: Any, preds: list, run_dir: Path) -> None:
    """One table row per file and task: verdict, confidence, windows, top window shares."""
    from rich.console import Console
    from rich.table import Table

    multi = len(predictor.tasks) > 1
    table = Table(title=f"{predictor.model_name} ({run_dir})")
    table.add_column("file")
    if multi:
        table.add_column("task")
    for col in ("prediction", "confidence", "windows", "share of windows"):
        table.add_column(col, justify="right" if col in ("confidence", "windows") else "left")
    for rp in preds:
        for i, (task, v) in enumerate(rp.verdicts.items()):
            row = [rp.name if i == 0 else ""] + ([task] if multi else [])
            row += [v.prediction, f"{v.confidence:.3f}", str(rp.n_windows), _top_shares(v.shares)]
            table.add_row(*row)
    Console(width=max(120, Console().width)).print(table)


@app.command()
def predict(
    run_dir: Annotated[
        Path, typer.Argument(help="a finished run directory (with model/ and preprocess.json)")
    ],
    files: Annotated[
        list[Path],
        typer.Argument(help="recordings: .mat (CWRU by channel suffix), .npy, .csv, .wav"),
    ],
    sampling_rate: Annotated[
        float | None, typer.Option(help="Hz of the files (CWRU numbers: from the catalogue)")
    ] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option(help="channel name/column/index in the files, one per model channel"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="per-window predictions: .csv or .json")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=BATCH_MAX)] = 512,
    backend: Annotated[
        str,
        typer.Option(
            help="torch|native (the saved model itself) | onnx (ONNX Runtime) | openvino (deep models; faultlab[openvino])"
        ),
    ] = "torch",
    threads: Annotated[
        int | None, typer.Option(help="inference threads (default: library default)")
    ] = None,
    rpm: Annotated[
        float | None,
        typer.Option(
            help="shaft speed of the files (front-end runs; default: file, catalogue, else estimated)"
        ),
    ] = None,
    bearing: Annotated[
        str | None,
        typer.Option(
            help="bearing key (faultlab.data.bearings) whose defect orders to read: the monitored one, "
            "which need not be under the sensor (default: file, CWRU end, else the training one)"
        ),
    ] = None,
    evidence: Annotated[
        Path | None,
        typer.Option(
            help="folder for a squared-envelope-spectrum plot per file, defect lines marked (front-end runs)"
        ),
    ] = None,
) -> None:
    """Predict recordings: a verdict per file and task, per-window predictions in --out."""
    from faultlab.errors import DataError
    from faultlab.serving.predict import OUTPUT_FORMATS, Predictor, write_predictions

    if out is not None and out.suffix.lower() not in OUTPUT_FORMATS:
        raise DataError(f"{out}: --out must end in {' or '.join(OUTPUT_FORMATS)}")
    predictor = Predictor(run_dir, backend=backend, threads=threads)
    preds = predictor.predict_files(files, sampling_rate, channel or None, batch_size, rpm, bearing)
    _print_verdicts(predictor, preds, run_dir)
    _physics_lines(preds, evidence)
    if out is not None:
        write_predictions(out, preds, predictor)
        n = sum(rp.n_windows for rp in preds)
        typer.echo(f"wrote {n} window predictions to {out}")


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="a finished run directory")],
    format: Annotated[str, typer.Option("--format", "-f", help="onnx | torchscript")] = "onnx",
    out: Annotated[Path | None, typer.Option(help="output folder (default RUN_DIR/export)")] = None,
    exporter: Annotated[
        str, typer.Option(help="ONNX exporter: auto | legacy | dynamo (needs onnxscript)")
    ] = "auto",
) -> None:
    """Export the run's model (ONNX or TorchScript) with metadata.json for deployment."""
    from faultlab.serving.export import export_run

    res = export_run(run_dir, format, out, onnx_exporter=exporter)
    typer.echo(
        f"{res.format}: {res.model_path} ({res.model_path.stat().st_size / 1024:.1f} KiB) "
        f"via {res.exporter}; max |diff| vs predict_proba {res.max_abs_diff:.2e}"
    )
    typer.echo(f"metadata: {res.metadata_path}")
    for note in res.notes:
        typer.echo(f"note: {note}")


@app.command()
def serve(
    run_dir: Annotated[Path, typer.Argument(help="a finished run directory")],
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8000,
    backend: Annotated[
        str,
        typer.Option(
            help="torch|native (the saved model itself) | onnx (ONNX Runtime) | openvino (deep models; faultlab[openvino])"
        ),
    ] = "torch",
    max_body_mb: Annotated[float, typer.Option(help="largest accepted request body (MiB)")] = 16.0,
    threads: Annotated[
        int | None,
        typer.Option(min=1, max=1024, help="inference threads (default: library default)"),
    ] = None,
    log_level: Annotated[str, typer.Option()] = "info",
    token: Annotated[
        str | None,
        typer.Option(
            help="bearer token /predict and /model require (default $FAULTLAB_TOKEN); "
            "required when --host is not a loopback address"
        ),
    ] = None,
    max_windows: Annotated[
        int, typer.Option(min=1, max=MAX_WINDOWS, help="windows per request")
    ] = SERVICE_MAX_WINDOWS,
    max_samples: Annotated[
        int, typer.Option(min=1, max=MAX_SAMPLES, help="samples per channel per request")
    ] = SERVICE_MAX_SAMPLES,
) -> None:
    """Serve the model over HTTP: POST /predict, GET /health, GET /model, docs at /docs."""
    from faultlab.errors import ConfigError
    from faultlab.serving.service import resolve_token
    from faultlab.serving.service import serve as run_service

    if not (0 < max_body_mb <= 1024):
        raise ConfigError(f"--max-body-mb {max_body_mb:g} is outside (0, 1024]")
    resolve_token(host, token)  # fail before loading the model
    typer.echo(f"serving {run_dir} on http://{host}:{port} (docs: http://{host}:{port}/docs)")
    run_service(
        run_dir,
        host=host,
        port=port,
        backend=backend,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        threads=threads,
        log_level=log_level,
        token=token,
        max_windows=max_windows,
        max_samples=max_samples,
    )

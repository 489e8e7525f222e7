"""``faultlab data``: list the CWRU catalogue, download files, inspect a recording file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer

from faultlab.cli import app
from faultlab.data import catalogue
from faultlab.errors import DataError

data_app = typer.Typer(
    help="Datasets: list the CWRU catalogue, download files, inspect a recording.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

#: Datasets the list/download commands know (a registry, so a new one is one entry).
DATASETS = {"cwru": "Case Western Reserve University Bearing Data Center (161 .mat files)"}

#: Columns shown by ``list --format table`` (CSV/JSON carry every column).
TABLE_COLUMNS = [*catalogue.DESCRIPTIVE, "available"]
FORMATS = ("table", "csv", "json")


def _dataset(name: str) -> str:
    if name.lower() not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return name.lower()


def _selection(filters: list[str] | None, files: str | None) -> pd.DataFrame:

    df = catalogue.filter_catalogue(filters or [])
    if files:
        numbers = []
        for item in files.split(","):
            if item.strip():
                numbers.append(int(catalogue.entry(item.strip())["file"]))
        df = df[df["file"].isin(numbers)]
    return df


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in df.to_dict("records"):
        clean = {}
        for k, v in row.items():
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                clean[k] = None
            elif isinstance(v, np.generic):
                clean[k] = v.item()
            else:
                clean[k] = v
        out.append(clean)
    return out


@data_app.command("list")
def list_cmd(
    dataset: str = typer.Argument(..., help="dataset name: cwru"),
    filter: list[str] | None = typer.Option(
        None, "--filter", "-f", help="KEY=VALUE[,VALUE] on any catalogue column; repeatable"
    ),
    fmt: str = typer.Option("table", "--format", help="table | csv | json"),
    available_only: bool = typer.Option(
        False, "--available", help="only files present in the data directory"
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory"),
) -> None:
    """List catalogue files (one row per official file number)."""

    _dataset(dataset)
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    df = _selection(filter, None)
    df.insert(len(df.columns), "available", catalogue.available(df, data_dir))
    if available_only:
        df = df[df["available"]]
    if fmt == "csv":
        typer.echo(df.to_csv(index=False), nl=False)
    elif fmt == "json":
        typer.echo(json.dumps(_records(df), indent=1))
    else:
        _print_table(df, data_dir)


def _print_table(df: pd.DataFrame, data_dir: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from faultlab.data.paths import dataset_dir

    table = Table(
        title=f"CWRU catalogue: {len(df)} file(s); data dir {dataset_dir('cwru', data_dir)}"
    )
    for col in TABLE_COLUMNS:
        table.add_column(col, justify="right" if col in ("file", "load_hp", "rpm") else "left")
    for row in _records(df):
        cells = []
        for col in TABLE_COLUMNS:
            v = row.get(col)
            cells.append("yes" if v is True else "" if v is None or v is False else str(v))
        table.add_row(*cells)
    Console(width=160).print(table)


@data_app.command("download")
def download_cmd(
    dataset: str = typer.Argument(..., help="dataset name: cwru"),
    filter: list[str] | None = typer.Option(None, "--filter", "-f", help="KEY=VALUE; repeatable"),
    files: str | None = typer.Option(None, "--files", help="comma-separated numbers: 105,118"),
    all_files: bool = typer.Option(
        False, "--all", help="every catalogue file (161 files, roughly 0.8 GB)"
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory"),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        help="URL template with {file} (default: $FAULTLAB_CWRU_URL or the CWRU site)",
    ),
    retries: int = typer.Option(2, "--retries", min=0, help="retries per file on failure"),
    redownload: bool = typer.Option(
        False, "--redownload", help="replace present files whose sha256 is wrong"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bars"),
) -> None:
    """Download catalogue files into <data-dir>/cwru/ (present, verified files are reused)."""
    from faultlab.data.download import FetchResult, download_cwru

    _dataset(dataset)
    if not (filter or files or all_files):
        raise DataError("choose files with --filter KEY=VALUE, --files 105,118 or --all")
    df = _selection(filter, files)
    if df.empty:
        raise DataError("the filters select no CWRU file")

    def report(result: FetchResult) -> None:
        typer.echo(f"{result.file}: {result.status} {result.path}")

    results = download_cwru(
        df["file"].tolist(),
        data_dir=data_dir,
        base_url=base_url,
        progress=progress,
        retries=retries,
        redownload=redownload,
        on_result=report,
    )
    fetched = sum(r.status == "downloaded" for r in results)
    typer.echo(
        f"{len(results)} file(s) ready: {fetched} downloaded, {len(results) - fetched} already present"
    )


@data_app.command("info")
def info_cmd(
    path: str = typer.Argument(..., help="a .mat/.npy/.csv file, or a CWRU file number"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (for numbers)"),
    sampling_rate: float | None = typer.Option(None, "--sampling-rate", help="for .npy/.csv"),
) -> None:
    """Keys, channels, lengths, sampling rate and catalogue metadata of one file."""
    from faultlab.data import catalogue, readers

    file = Path(path)
    if not file.exists() and path.removesuffix(".mat").isdigit():
        file = catalogue.cwru_path(path, data_dir)
        if not file.exists():
            raise DataError(f"CWRU file {path}: not found at {file}; download it first")
    if not file.is_file():
        raise DataError(f"{path}: file not found")
    lines = [f"file: {file}", f"size: {file.stat().st_size} bytes"]
    cat = catalogue.entry(file.name) if catalogue.is_cwru_number(file.name) else None
    if file.suffix.lower() == ".mat":
        lines += _mat_lines(file, cat, readers)
    else:
        rec = readers.read_recording(file, sampling_rate=sampling_rate)
        lines += [
            f"channels: {', '.join(rec.channels)}",
            f"samples: {rec.n_samples}",
            f"sampling rate: {rec.sampling_rate:g} Hz",
            f"duration: {rec.duration_s:.3f} s",
        ]
    if cat is not None:
        from faultlab.data.download import sha256

        lines.append("catalogue:")
        for key in (*catalogue.DESCRIPTIVE, "note"):
            if cat.get(key) is not None:
                lines.append(f"  {key}: {cat[key]}")
        if cat.get("sha256"):
            ok = sha256(file) == cat["sha256"]
            lines.append(
                f"  sha256: {'matches the catalogue' if ok else 'DIFFERS from the catalogue'}"
            )
    typer.echo("\n".join(lines))


def _mat_lines(file: Path, cat: dict[str, Any] | None, readers: Any) -> list[str]:
    variables = readers.load_mat(file)
    lines = ["keys:"]
    for key, value in variables.items():
        shown = f"{value.ravel()[0]:g}" if value.size == 1 else f"shape {value.shape}"
        lines.append(f"  {key}: {value.dtype} {shown}")
    number = int(cat["file"]) if cat else None
    found = []
    prefix = None
    for ch in readers.SIGNAL_CHANNELS:
        try:
            key = readers.channel_key(variables, ch, file, number, prefer_prefix=prefix)
        except DataError:
            continue
        prefix = prefix or key[: -len(readers.CWRU_SUFFIXES[ch])]
        found.append(f"  {ch}: {key} ({variables[key].size} samples)")
    if found:
        lines += ["channels:", *found]
    if cat is not None:
        rate = float(cat["sampling_rate_hz"])
        lines.append(f"sampling rate: {rate:g} Hz (catalogue)")
        rpm = readers.stored_rpm(variables, prefix or "")
        lines.append(f"rpm stored: {rpm:g}" if rpm is not None else "rpm stored: none")
    else:
        rate_keys = [k for k in variables if k.lower() in readers.RATE_NAMES]
        lines.append(
            f"sampling rate: {float(variables[rate_keys[0]].ravel()[0]):g} Hz ({rate_keys[0]})"
            if rate_keys
            else "sampling rate: unknown (not a catalogue file; no fs variable)"
        )
    return lines

"""``faultlab data``: list a dataset's catalogue, download files, inspect a recording file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from faultlab.cli import app
from faultlab.errors import DataError

if TYPE_CHECKING:  # pandas is imported by the commands that need it (`data info` stays fast)
    import pandas as pd

    from faultlab.data.datasets.base import DatasetSpec

data_app = typer.Typer(
    help="Datasets: list a catalogue (cwru, mfpt), download files, inspect a recording.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

FORMATS = ("table", "csv", "json")


def _dataset(name: str) -> DatasetSpec:
    from faultlab.data.datasets import get_dataset

    return get_dataset(name)


def _selection(spec: DatasetSpec, filters: list[str] | None, files: str | None) -> pd.DataFrame:
    cat = spec.catalogue
    df = cat.filter(filters or [])
    if files:
        ids = [cat.entry(item.strip())["file"] for item in files.split(",") if item.strip()]
        df = df.loc[df["file"].isin(ids)]
    return df


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    from faultlab.data.datasets.base import clean

    return [{k: clean(v) for k, v in row.items()} for row in df.to_dict("records")]


@data_app.command("list")
def list_cmd(
    dataset: str = typer.Argument(..., help="dataset name: cwru | mfpt"),
    filter: list[str] | None = typer.Option(
        None, "--filter", "-f", help="KEY=VALUE[,VALUE] on any catalogue column; repeatable"
    ),
    fmt: str = typer.Option("table", "--format", help="table | csv | json"),
    available_only: bool = typer.Option(
        False, "--available", help="only files present in the data directory"
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory"),
) -> None:
    """List catalogue files (one row per file of the public set)."""
    spec = _dataset(dataset)
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    df = _selection(spec, filter, None)
    df.insert(len(df.columns), "available", spec.catalogue.available(df, data_dir))
    if available_only:
        df = df.loc[df["available"]]
    if fmt == "csv":
        typer.echo(df.to_csv(index=False), nl=False)
    elif fmt == "json":
        typer.echo(json.dumps(_records(df), indent=1))
    else:
        _print_table(spec, df, data_dir)


def _print_table(spec: DatasetSpec, df: pd.DataFrame, data_dir: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from faultlab.data.paths import dataset_dir

    columns = [*spec.listing, "available"]
    table = Table(
        title=f"{spec.label} catalogue: {len(df)} file(s); "
        f"data dir {dataset_dir(spec.name, data_dir)}"
    )
    numeric = {"file", "load_hp", "load", "rpm", "shaft_hz", "duration_s"}
    for col in columns:
        table.add_column(
            col, justify="right" if col in numeric else "left", no_wrap=col in ("file", "name")
        )
    for row in _records(df):
        cells = []
        for col in columns:
            v = row.get(col)
            cells.append("yes" if v is True else "" if v is None or v is False else str(v))
        table.add_row(*cells)
    Console(width=160).print(table)


@data_app.command("download")
def download_cmd(
    dataset: str = typer.Argument(..., help="dataset name: cwru | mfpt"),
    filter: list[str] | None = typer.Option(None, "--filter", "-f", help="KEY=VALUE; repeatable"),
    files: str | None = typer.Option(
        None, "--files", help="comma-separated files: 105,118 (cwru), baseline_1 (mfpt)"
    ),
    all_files: bool = typer.Option(
        False, "--all", help="every catalogue file (cwru: 161 files, ~0.8 GB; mfpt: 20, ~45 MB)"
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory"),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        help="URL template with {file}, or a folder (default: $FAULTLAB_<DATASET>_URL or the "
        "catalogue's URLs)",
    ),
    retries: int = typer.Option(2, "--retries", min=0, help="retries per file on failure"),
    redownload: bool = typer.Option(
        False, "--redownload", help="replace present files whose sha256 is wrong"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bars"),
) -> None:
    """Download catalogue files into <data-dir>/<dataset>/ (present, verified files are reused)."""
    from faultlab.data.download import FetchResult, download

    spec = _dataset(dataset)
    if not (filter or files or all_files):
        raise DataError("choose files with --filter KEY=VALUE, --files 105,118 or --all")
    df = _selection(spec, filter, files)
    if df.empty:
        raise DataError(f"the filters select no {spec.label} file")

    def report(result: FetchResult) -> None:
        typer.echo(f"{result.file}: {result.status} {result.path}")

    results = download(
        spec.name,
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
    """Keys (struct fields as bearing.gs), signal, sampling rate and catalogue labels of a file."""
    from faultlab.data import readers
    from faultlab.data.datasets import find_file, get_dataset

    file = Path(path)
    if not file.exists() and path.removesuffix(".mat").isdigit():
        file = get_dataset("cwru").catalogue.path(path, data_dir)
        if not file.exists():
            raise DataError(f"CWRU file {path}: not found at {file}; download it first")
    if not file.is_file():
        raise DataError(f"{path}: file not found")
    lines = [f"file: {file}", f"size: {file.stat().st_size} bytes"]
    found = find_file(file)
    spec, cat = found if found else (None, None)
    if file.suffix.lower() == ".mat":
        lines += _mat_lines(file, spec, cat, readers)
    else:
        rec = readers.read_recording(file, sampling_rate=sampling_rate)
        lines += [
            f"channels: {', '.join(rec.channels)}",
            f"samples: {rec.n_samples}",
            f"sampling rate: {rec.sampling_rate:g} Hz",
            f"duration: {rec.duration_s:.3f} s",
        ]
    if spec is not None and cat is not None:
        lines += _catalogue_lines(file, spec, cat)
    typer.echo("\n".join(lines))


def _catalogue_lines(file: Path, spec: DatasetSpec, cat: dict[str, Any]) -> list[str]:
    from faultlab.data.download import sha256

    if cat.get("condition") == "normal":
        label = "normal"
    else:
        size = cat.get("fault_diameter_in")
        label = f"fault {cat.get('fault_location')}" + (f", {size:g} in" if size else "")
    load = (
        f"{cat['load']:g} {cat.get('load_unit') or ''}".strip()
        if cat.get("load") is not None
        else "?"
    )
    lines = [
        f"label: {label} (load {load}, bearing {cat.get('bearing')})",
        f"catalogue ({spec.name}):",
    ]
    for key in (*spec.listing, "note"):
        if cat.get(key) is not None:
            lines.append(f"  {key}: {cat[key]}")
    if cat.get("sha256"):
        ok = sha256(file) == cat["sha256"]
        lines.append(f"  sha256: {'matches the catalogue' if ok else 'DIFFERS from the catalogue'}")
    else:
        lines.append("  sha256: not known to the catalogue")
    return lines


def _mat_lines(
    file: Path, spec: DatasetSpec | None, cat: dict[str, Any] | None, readers: Any
) -> list[str]:
    variables = readers.load_mat(file)
    lines = ["keys:"]
    for key, value in variables.items():
        shown = f"{value.ravel()[0]:g}" if value.size == 1 else f"shape {value.shape}"
        lines.append(f"  {key}: {value.dtype} {shown}")
    if spec is not None and spec.name == "cwru" and cat is not None:
        return lines + _cwru_lines(file, variables, cat, readers)
    try:
        keys, rate, rate_key = readers.detect_signal(variables, file)
    except DataError as exc:
        return [*lines, f"signal: not found ({exc})"]
    lines += [f"signal: {k} ({variables[k].size} samples)" for k in keys]
    if rate is not None:
        lines.append(f"sampling rate: {rate:g} Hz ({rate_key})")
    elif cat is not None:
        lines.append(f"sampling rate: {float(cat['sampling_rate_hz']):g} Hz (catalogue)")
    else:
        lines.append("sampling rate: unknown (not a catalogue file; no fs/sr variable)")
    if rate:
        lines.append(f"duration: {variables[keys[0]].size / rate:.3f} s")
    return lines


def _cwru_lines(
    file: Path, variables: dict[str, Any], cat: dict[str, Any], readers: Any
) -> list[str]:
    number = int(cat["file"])
    found = []
    prefix = None
    for ch in readers.SIGNAL_CHANNELS:
        try:
            key = readers.channel_key(variables, ch, file, number, prefer_prefix=prefix)
        except DataError:
            continue
        prefix = prefix or key[: -len(readers.CWRU_SUFFIXES[ch])]
        found.append(f"  {ch}: {key} ({variables[key].size} samples)")
    lines = ["channels:", *found] if found else []
    lines.append(f"sampling rate: {float(cat['sampling_rate_hz']):g} Hz (catalogue)")
    rpm = readers.stored_rpm(variables, prefix or "")
    lines.append(f"rpm stored: {rpm:g}" if rpm is not None else "rpm stored: none")
    return lines

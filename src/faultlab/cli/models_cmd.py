"""``faultlab models``: list registered models, or show one model's options (and summary)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from faultlab.cli import app
from faultlab.errors import ConfigError


def _shape(text: str) -> tuple[int, int]:
    try:
        c, length = (int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise ConfigError(
            f"--input-shape {text!r} must look like CHANNELS,LENGTH (e.g. 1,1024)"
        ) from None
    if c < 1 or length < 1:
        raise ConfigError(f"--input-shape {text!r}: channels and length must be >= 1")
    return c, length


def _echo_adaptation() -> None:
    from faultlab.training.adaptation import METHODS

    typer.echo(
        "\ndomain adaptation (training.adaptation.method; deep models, unlabelled target "
        "windows from split.adapt):"
    )
    width = max(len(n) for n in METHODS)
    for n, text in METHODS.items():
        typer.echo(f"  {n:<{width}}  {text}")
    typer.echo(
        "  model selection (training.adaptation.selection): last, source_val, "
        "target_entropy (never target labels)"
    )


def _echo_options(rows: list[tuple[str, str, object, str]]) -> None:
    """name, type, default, description as aligned columns (long defaults are cut)."""
    table = [("name", "type", "default", "description")]
    for key, kind, default, text in rows:
        shown = json.dumps(default)
        table.append((key, kind, shown if len(shown) <= 40 else shown[:37] + "...", text))
    widths = [max(len(r[i]) for r in table) for i in range(3)]
    for r in table:
        typer.echo("  " + "  ".join(f"{c:<{w}}" for c, w in zip(r[:3], widths)) + f"  {r[3]}")


@app.command("models")
def models(
    name: Annotated[str | None, typer.Argument(help="a model name: show its options")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="also print the layer table")] = False,
    input_shape: Annotated[str, typer.Option(help="CHANNELS,LENGTH for --summary")] = "1,1024",
    n_classes: Annotated[int, typer.Option(help="classes of the flat head for --summary")] = 10,
) -> None:
    """List every registered model (name, family, description), or one model's options."""
    from faultlab.models.base import build_model, get_spec, registry

    if name is None:
        specs = registry()
        width = max(len(n) for n in specs) if specs else 4
        for n in sorted(specs):
            s = specs[n]
            typer.echo(f"{n:<{width}}  {s.family:<10}  {s.description}")
        _echo_adaptation()
        return
    spec = get_spec(name)
    typer.echo(f"{spec.name} ({spec.family}): {spec.description}")
    typer.echo("options (model.params):")
    _echo_options(spec.options())
    if summary:
        shape = _shape(input_shape)
        classes = {"class": [f"c{i}" for i in range(n_classes)]}
        model = build_model(name, classes, shape)
        s = model.describe()
        typer.echo(
            f"\ninput [batch, {shape[0]}, {shape[1]}], {n_classes} classes: "
            f"{s.n_params:,} parameters ({s.trainable_params:,} trainable), "
            f"{s.size_bytes / 1024:.1f} KiB"
        )
        if s.text:
            typer.echo(s.text)

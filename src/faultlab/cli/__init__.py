"""The ``faultlab`` command: thin wrappers that parse, call one function and print.

Each command group lives in its own module under ``faultlab.cli`` and registers itself on
``app``; :func:`main` turns every expected failure into one ``error:`` line and exit code 2.
"""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    name="faultlab",
    help="Train, compare, report and deploy fault-diagnosis classifiers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



@app.callback()
def _root() -> None:
    """Train, compare, report and deploy fault-diagnosis classifiers."""


#: Command modules; each one adds its commands to ``app`` on import.
COMMAND_MODULES = [
    "faultlab.cli.data_cmd",
    "faultlab.cli.models_cmd",
    "faultlab.cli.train_cmd",
    "faultlab.cli.benchmark_cmd",
    "faultlab.cli.tune_cmd",
    "faultlab.cli.serve_cmd",
]


def _register() -> None:
    for mod in COMMAND_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; expected errors become one line on stderr and exit 2."""
    from faultlab.errors import FaultlabError

    _register()
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except FaultlabError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        typer.echo(f"error: {exc.filename or ''}: {exc.strerror}", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())

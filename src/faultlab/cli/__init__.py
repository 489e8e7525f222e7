"""The ``faultlab`` command: thin wrappers that parse, call one function and print.

Each command group lives in its own module under ``faultlab.cli`` and registers itself on
``app``; :func:`main` turns every expected failure into one ``error:`` line and exit code 2.
"""

from __future__ import annotations

import importlib
import os
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


def _printable(text: str) -> str:
    """``text`` with undecodable file-name bytes (lone surrogates) replaced, so it prints."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _click():
    """The click typer runs on (typer >= 0.2x vendors its own copy as ``typer._click``)."""
    try:
        from typer import _click as vendored

        vendored.exceptions.UsageError  # noqa: B018 - the attribute this module needs
        return vendored
    except (ImportError, AttributeError):
        import click

        return click


def _abort_types(click) -> tuple[type[BaseException], ...]:
    """click's/typer's Abort (where each defines it): an interrupted command."""
    found = (
        getattr(click.exceptions, "Abort", None),
        getattr(click, "Abort", None),
        getattr(typer, "Abort", None),
    )
    return tuple(t for t in found if isinstance(t, type))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; expected errors become one line on stderr and exit 2.

    Usage errors (an unknown option, a value out of an option's range) are one ``error:``
    line too, not click's usage box, so scripts can read the reason from a single line.
    """
    from faultlab.errors import FaultlabError

    click = _click()

    _register()
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="faultlab")
    except click.exceptions.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return 0
    except click.exceptions.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "faultlab"
        msg = " ".join(exc.format_message().split())
        typer.echo(f"error: {msg} (see {cmd} --help)", err=True)
        return 2
    except click.exceptions.ClickException as exc:
        typer.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except FaultlabError as exc:
        typer.echo(f"error: {_printable(' '.join(str(exc).split()))}", err=True)
        return 2
    except OSError as exc:  # --out on a file, a folder that cannot be made, a full disk, ...
        where = os.fsdecode(exc.filename) if exc.filename is not None else ""
        reason = exc.strerror or str(exc)
        typer.echo(f"error: {_printable(where)}: {reason}", err=True)
        return 2
    except (KeyboardInterrupt, *_abort_types(click)):
        typer.echo("interrupted", err=True)
        return 130
    return int(rv) if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())

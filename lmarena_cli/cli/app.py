"""The ``lmarena`` command: models, ask, chat, login, serve, doctor, history, templates.

Thin over the library: each command (a module of its own in this package) parses its input,
calls ``Client``, renders, and leaves the mapping of failures to exit codes to
:func:`.runtime.run`. stdout carries answers only; everything else goes to stderr. Heavy modules
(aiohttp, nodriver) are imported inside the commands so that ``--help`` and shell completion
stay fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .. import __version__
from ..errors import UsageError
from .ask import ask
from .chat import chat
from .doctor import doctor
from .history import history_app
from .login import login
from .models import models
from .options import PairsCommand
from .serve import serve
from .server_cmd import server_app
from .templates import templates_app

app = typer.Typer(
    name="lmarena",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lmarena {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """arena.ai's models from the shell: pipe a prompt in, get the answer on stdout.

    Exit codes: 0 ok, 1 unexpected, 2 usage, 3 site unavailable, 4 sign-in required,
    5 blocked by anti-bot checks, 6 rate-limited, 7 content rejected, 8 timeout,
    9 no usable browser, 10 no code block (-x), 11 the answer did not match the schema,
    130 interrupted.
    """


# The order here is the order of `lmarena --help`.
for command in (models, ask, chat, login, serve, doctor):
    app.command(cls=PairsCommand if command in (ask, chat) else None)(command)
app.add_typer(history_app)
app.add_typer(templates_app)
app.add_typer(server_app)


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="lmarena")
    except UsageError as error:  # settings errors raised while Typer parses
        sys.stderr.write(f"lmarena: {error}\n")
        sys.exit(error.exit_code)


__all__ = ["app", "main"]

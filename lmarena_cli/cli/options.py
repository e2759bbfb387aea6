"""Options that several commands share, spelled once so that their help reads the same."""

from __future__ import annotations

from typing import Annotated

import typer

from .catalog import complete_model
from .roles import complete_role

QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Hide notes on stderr.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of failures.")]
NoColorOpt = Annotated[
    bool,
    typer.Option("--no-color", help="No colour (notes on stderr, answers rendered on a terminal)."),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "-m",
        "--model",
        help="Model name (default: LM_ARENA_MODEL, else gemini-3-pro).",
        metavar="MODEL",
        autocompletion=complete_model,
        show_default=False,
    ),
]

RawOpt = Annotated[
    bool,
    typer.Option(
        "--raw",
        help="Print the answer as the model wrote it (no markdown rendering) on a terminal.",
    ),
]
SystemOpt = Annotated[
    str | None,
    typer.Option(
        "-s",
        "--system",
        help="A system prompt for a new conversation (folded into the first prompt).",
        metavar="TEXT",
        show_default=False,
    ),
]
RoleOpt = Annotated[
    str | None,
    typer.Option(
        "--role",
        help="A [roles.NAME] of the config file: its system prompt and model (-m wins).",
        metavar="NAME",
        autocompletion=complete_role,
        show_default=False,
    ),
]

__all__ = ["DebugOpt", "ModelOpt", "NoColorOpt", "QuietOpt", "RawOpt", "RoleOpt", "SystemOpt"]

"""Options that several commands share, spelled once so that their help reads the same."""

from __future__ import annotations

from typing import Annotated

import typer

from .catalog import complete_model

QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Hide notes on stderr.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of failures.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour on stderr.")]
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

__all__ = ["DebugOpt", "ModelOpt", "NoColorOpt", "QuietOpt"]

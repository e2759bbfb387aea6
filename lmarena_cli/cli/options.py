"""Options that several commands share, spelled once so that their help reads the same."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from .catalog import complete_model
from .roles import complete_role
from .template_files import complete_template

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
TemplateOpt = Annotated[
    str | None,
    typer.Option(
        "-t",
        "--template",
        help="A saved template (lmarena's, llm's or a Fabric pattern): its system prompt, "
        "prompt and options (the command line wins; `lmarena templates` lists them).",
        metavar="NAME",
        autocompletion=complete_template,
        show_default=False,
    ),
]
# Typer has no option of two values that repeats: declared as a list of strings for Typer, and the
# command class below (``PairsCommand``) makes each -p take two, so that the list holds
# (NAME, VALUE) pairs; :func:`.templates.pairs` reads it as such.
ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-p",
        "--param",
        help="A template's parameter: $NAME (or $1 for -p 1 VALUE) in its prompt. Repeatable.",
        metavar="NAME VALUE",
        show_default=False,
    ),
]


class PairsCommand(TyperCommand):
    """A command whose ``-p/--param`` takes two values each time (``-p NAME VALUE``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for option in self.params:
            if option.name == "param":
                option.nargs = 2


__all__ = [
    "DebugOpt",
    "ModelOpt",
    "NoColorOpt",
    "PairsCommand",
    "ParamOpt",
    "QuietOpt",
    "RawOpt",
    "RoleOpt",
    "SystemOpt",
    "TemplateOpt",
]

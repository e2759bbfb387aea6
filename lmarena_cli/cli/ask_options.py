"""``lmarena ask``'s own options, spelled once here so that its signature reads as a list.

The options several commands share (``-m``, ``-s``, ``--role``, ``-t``, ``-q`` ...) are in
:mod:`.options`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .catalog import complete_model

PromptArg = Annotated[
    str | None, typer.Argument(help="The instruction; stdin comes first.", metavar="PROMPT")
]
ImageOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--image",
        "-i",
        help="Image path, http(s) URL, or - for stdin. Repeatable.",
        metavar="PATH|URL|-",
    ),
]
AttachOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--attach",
        "-a",
        help="A text file or PDF, given to the model as text before the prompt. Repeatable.",
        metavar="FILE",
    ),
]
ResumeOpt = Annotated[
    str | None,
    typer.Option("--resume", help="Continue the conversation with this id.", metavar="ID"),
]
ContinueOpt = Annotated[
    bool, typer.Option("-c", "--continue", help="Continue this tool's latest conversation.")
]
VsOpt = Annotated[
    str | None,
    typer.Option(
        "--vs",
        help="A second model, side by side.",
        autocompletion=complete_model,
        metavar="MODEL",
    ),
]
BattleOpt = Annotated[bool, typer.Option("--battle", help="Two anonymous models.")]
RetryOpt = Annotated[
    bool,
    typer.Option(
        "--retry",
        help="Regenerate the latest answer of the latest conversation (or of --resume ID); "
        "takes no prompt.",
    ),
]
SaveOpt = Annotated[
    str | None,
    typer.Option(
        "--save",
        help="Save this command line's system prompt, prompt (the argument; $input stands "
        "for stdin), model, -x, --schema and -p values as the template NAME; send nothing.",
        metavar="NAME",
        show_default=False,
    ),
]
ExtractOpt = Annotated[
    bool,
    typer.Option(
        "-x",
        "--extract",
        help="Print only the answer's first fenced code block, without its fences "
        "(exit 10 when it has none).",
    ),
]
SchemaOpt = Annotated[
    str | None,
    typer.Option(
        "--schema",
        help="A JSON Schema (a file, or inline JSON) the answer must match: its JSON is "
        "printed on one line (exit 11 when it does not match).",
        metavar="FILE|JSON",
    ),
]
NoStreamOpt = Annotated[bool, typer.Option("--no-stream", help="Print the answer whole.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object at the end.")]
JsonlOpt = Annotated[bool, typer.Option("--jsonl", help="One JSON event per line.")]
OutputOpt = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Save generated images here.", metavar="PATH"),
]
ShowReasoningOpt = Annotated[
    bool, typer.Option("--show-reasoning", help="Print the model's thinking on stderr.")
]
UsageOpt = Annotated[
    bool,
    typer.Option(
        "--usage",
        help="Print on stderr the estimated tokens in and out, the time to the first byte "
        "and in all, and the account's state this machine knows.",
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help="Seconds to wait for a first token (default 120).",
        min=0.1,
        metavar="SECONDS",
    ),
]
NoStdinOpt = Annotated[bool, typer.Option("--no-stdin", help="Do not read stdin.")]

__all__ = [
    "AttachOpt",
    "BattleOpt",
    "ContinueOpt",
    "ExtractOpt",
    "ImageOpt",
    "JsonOpt",
    "JsonlOpt",
    "NoStdinOpt",
    "NoStreamOpt",
    "OutputOpt",
    "PromptArg",
    "ResumeOpt",
    "RetryOpt",
    "SaveOpt",
    "SchemaOpt",
    "ShowReasoningOpt",
    "TimeoutOpt",
    "UsageOpt",
    "VsOpt",
]

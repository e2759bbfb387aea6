"""What ``lmarena ask`` adds to a prompt, and how a structured answer is printed.

``-a/--attach FILE`` (:func:`attachments`): each file read into a named block of text before
anything starts (a missing or unreadable file exits 2). ``--schema FILE|JSON`` (:func:`schema`):
a JSON Schema, from a file or inline, that the answer must match; :func:`print_structured` reads
the whole answer, prints its JSON on one line, or exits 11 naming the first mismatch with the
model's text kept on stderr (or in ``--json``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..errors import ExitStatus, LmArenaError
from .terminal import Terminal

if TYPE_CHECKING:
    from ..client.content.structured import OutputFormat
    from ..client.reply import TextStream


def attachments(term: Terminal, paths: list[str]) -> list[str]:
    """Each file of ``-a`` as the block of text a model is given; exit 2 on one that cannot be."""
    from ..client.content.files import read_file

    blocks = []
    for path in paths:
        try:
            blocks.append(read_file(path))
        except LmArenaError as error:
            term.err(f"lmarena: {error}")
            raise typer.Exit(error.exit_code) from None
    return blocks


def schema(term: Terminal, value: str) -> OutputFormat:
    """``--schema``'s JSON Schema (inline JSON, or the path of a file holding it) as a strict
    output format; exit 2 when it is not readable JSON or not a valid schema."""
    from ..client.content.structured import OutputFormat

    try:
        if value.lstrip().startswith("{"):
            where, text = "--schema", value
        else:
            where, text = value, Path(value).read_text(encoding="utf-8")
        parsed = json.loads(text)
        if not isinstance(parsed, dict):
            raise ValueError("a JSON Schema is a JSON object")
        return OutputFormat("json_schema", parsed, strict=True)
    except OSError as exc:
        fail = f"cannot read the schema {value}: {exc.strerror or exc}"
    except UnicodeDecodeError:
        fail = f"the schema {value} is not UTF-8 text"
    except ValueError as exc:  # json's errors are ValueErrors
        fail = f"{where} is not a JSON Schema: {exc}"
    except LmArenaError as error:  # a JSON object that is not a valid schema
        fail = str(error)
    term.err(f"lmarena: {fail}")
    raise typer.Exit(2)


async def print_structured(
    term: Terminal,
    stream: TextStream,
    fmt: OutputFormat,
    *,
    json_: bool,
    usage: Callable[[Any], dict[str, Any]] | None = None,
) -> int:
    """``--schema``: the whole answer is read (nothing streams), then checked. A match prints its
    JSON on one line (``--json``: the reply with ``parsed``); a mismatch exits 11 with one line
    naming it, and the model's text after it on stderr (``--json``: in the reply's ``text``)."""
    import orjson

    from ..client.content.structured import check

    with term.spinner("waiting for the answer…"):
        reply = await stream.read_reply()
    result = check(fmt, reply.text)
    counted = usage(reply) if usage is not None else None
    if json_:
        data = {**reply.to_dict(), "parsed": result.value, "mismatch": result.mismatch}
        if counted is not None:
            data["usage_report"] = counted
        term.out(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif result.ok and result.json is not None:
        term.out(result.json + "\n")
    if not result.ok:
        term.err(
            term.style("lmarena: ", "1;31") + f"the answer did not match the schema: "
            f"{result.mismatch}"
        )
        if not json_:
            term.err("lmarena: the model's answer was:")
            term.err(reply.text.rstrip("\n"))
    term.info(f"conversation: {reply.evaluation_session_id}")
    return 0 if result.ok else int(ExitStatus.SCHEMA_MISMATCH)


__all__ = ["attachments", "print_structured", "schema"]

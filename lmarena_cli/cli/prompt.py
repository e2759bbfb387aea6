"""The prompt of ``lmarena ask``: stdin first (the context), then the argument (the instruction).

:func:`prompt_input` checks the combination of argument, stdin and ``--image -`` and exits with
status 2 and a usage line when it makes no sense; it never waits on a terminal's stdin.
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

from .terminal import Terminal


@dataclass(frozen=True)
class PromptInput:
    """What ``ask`` sends: the text, and stdin's bytes when stdin holds an image (``--image -``)."""

    text: str
    stdin_image: bytes | None


def compose_prompt(stdin_text: str, argument: str | None) -> str:
    """Context first, instruction last: stdin, a blank line, then the argument."""
    parts = [p for p in (stdin_text.strip("\n"), (argument or "").strip("\n")) if p.strip()]
    return "\n\n".join(parts)


def read_stdin(term: Terminal, no_stdin: bool) -> bytes:
    """stdin's bytes, or nothing when it is a terminal, closed, or --no-stdin was given."""
    if no_stdin or term.stdin is None or term.stdin_is_tty:
        return b""
    buffer = getattr(term.stdin, "buffer", None)
    try:
        return buffer.read() if buffer is not None else term.stdin.read().encode()
    except (OSError, ValueError):  # fd 0 closed
        return b""


def prompt_input(
    term: Terminal,
    argument: str | None,
    images: list[str],
    *,
    no_stdin: bool,
    optional: bool = False,
) -> PromptInput:
    """Read stdin as the command line says and compose the prompt; exit 2 when it is unusable.

    ``optional``: the prompt may be empty (a template's prompt needs no input), so no argument
    and stdin a terminal (or ``--no-stdin``) is no usage error, and an empty input is no error.
    """
    image_from_stdin = images.count("-")
    if image_from_stdin > 1:
        term.err("lmarena: --image - can be given once (stdin holds one image)")
        raise typer.Exit(2)
    if (
        argument is None
        and not optional
        and (no_stdin or image_from_stdin or term.stdin is None or term.stdin_is_tty)
    ):
        term.err("usage: lmarena ask [OPTIONS] PROMPT   (or pipe the prompt on stdin)")
        term.err("Try 'lmarena ask --help' for help.")
        raise typer.Exit(2)
    for image in images:
        unreadable = _unreadable(image)
        if unreadable:  # before stdin is read and before any browser starts
            term.err(f"lmarena: {unreadable}")
            raise typer.Exit(2)
    raw = read_stdin(term, no_stdin)
    stdin_image: bytes | None = None
    if image_from_stdin:
        stdin_image, raw = raw, b""
        if not stdin_image:
            term.err("lmarena: --image - was given but stdin was empty")
            raise typer.Exit(2)
    text = compose_prompt(raw.decode("utf-8", errors="replace"), argument)
    if not text.strip() and not images and not optional:
        term.err("lmarena: the prompt is empty")
        raise typer.Exit(2)
    return PromptInput(text, stdin_image)


def _unreadable(image: str) -> str | None:
    """Why a local image file of ``--image`` cannot be read (None for one that can, for stdin,
    URLs and data URIs, which are read and checked when sent), in the words of the send."""
    if image == "-" or "://" in image or image[:5].lower() == "data:":
        return None
    try:
        with open(image, "rb"):
            return None
    except OSError as exc:
        return f"cannot read {image}: {exc.strerror or exc}"


__all__ = ["PromptInput", "compose_prompt", "prompt_input", "read_stdin"]

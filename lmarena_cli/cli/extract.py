"""``lmarena ask -x``: the first fenced code block of an answer, without its fences.

Fences as CommonMark draws them: a line of three or more backticks or tildes, indented by at most
three spaces, optionally followed by an info string (``sh``, ``python``); the block ends at a line
of the same character, at least as long, with nothing after it but spaces, or at the end of the
answer. The fence's own indentation is taken off the block's lines, as CommonMark does, so a block
inside a list item comes out as it would run. Indented code blocks (four spaces, no fence) do not
count: models mark their code with fences, and an indented paragraph is too often prose.
"""

from __future__ import annotations

import re

_OPENING = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")


def first_code_block(text: str) -> str | None:
    """The content of the first fenced code block of ``text`` that is not blank, or None.

    The content ends with a newline. A blank block is passed over: piping nothing into ``sh``
    would look like success.
    """
    lines = text.splitlines()
    start = 0
    while start < len(lines):
        opening = _OPENING.match(lines[start])
        start += 1
        if opening is None:
            continue
        indent, fence, info = len(opening[1]), opening[2], opening[3]
        if fence[0] == "`" and "`" in info:
            continue  # not a fence: CommonMark forbids backticks in a backtick fence's info
        body: list[str] = []
        while start < len(lines) and not _closes(lines[start], fence):
            body.append(_dedent(lines[start], indent))
            start += 1
        start += 1  # past the closing fence
        if any(row.strip() for row in body):
            return "".join(f"{row}\n" for row in body)
    return None


def _closes(line: str, fence: str) -> bool:
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:
        return False
    run = len(stripped) - len(stripped.lstrip(fence[0]))
    return run >= len(fence) and not stripped[run:].strip()


def _dedent(line: str, indent: int) -> str:
    """Take up to ``indent`` leading spaces off ``line``."""
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent) :]


__all__ = ["first_code_block"]

"""Turns the site cannot take as they are, folded into one prompt: earlier messages, system prompts.

The site has no system role, and a new conversation starts with one user message. So whatever
comes before the first prompt (a system prompt from ``lmarena ask -s``/``--role``, or the earlier
turns and system messages of an OpenAI request that ``lmarena serve`` cannot match to a stored
conversation) is folded into that prompt, in this plain-text transcript form::

    [System]
    You are terse.

    [User]
    What is 2+2?

    [Assistant]
    4

    [User]
    And 3+3?

Each message is a ``[Role]`` header line (``System``, ``User``, ``Assistant``, ``Tool``; the OpenAI
``developer`` role counts as ``System``) followed by its text; messages are separated by a blank
line; an image in an earlier turn shows as ``[image]``. The last block is the new turn. A prompt
with nothing before it is sent as it is. :func:`fold_system` is :func:`fold_history` with one
system message: ``lmarena ask -s`` and ``lmarena serve`` fold a system prompt through the same code.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Header words that are not the role's name capitalised.
_HEADERS = {"developer": "System", "function": "Tool"}


def text_of(content: Any, *, image_marker: str | None = None) -> str:
    """The text of a message's content (string or OpenAI parts); images become ``image_marker``."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    pieces = []
    for part in content:
        if part.get("type") == "text":
            pieces.append(part["text"])
        elif image_marker is not None:
            pieces.append(image_marker)
    return "\n".join(pieces)


def header(role: str) -> str:
    """The ``[Role]`` header word of a message role."""
    return _HEADERS.get(role, role.capitalize())


def transcript_blocks(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each message as a ``[Role]`` header line and its text (images as ``[image]``)."""
    blocks = []
    for message in messages:
        text = text_of(message.get("content"), image_marker="[image]").strip()
        blocks.append(f"[{header(str(message.get('role')))}]\n{text}")
    return blocks


def fold_history(history: Sequence[Mapping[str, Any]], turn: str) -> str:
    """Earlier messages and the new turn as one prompt, in the transcript form of the module doc."""
    if not history:
        return turn
    return "\n\n".join([*transcript_blocks(history), f"[User]\n{turn}"])


def fold_system(system: str | None, turn: str) -> str:
    """A system prompt and the first turn of a new conversation as one prompt.

    Exactly what ``lmarena serve`` sends for a request made of one system message and one user
    message. An empty or blank system prompt adds nothing.
    """
    if system is None or not system.strip():
        return turn
    return fold_history([{"role": "system", "content": system}], turn)


__all__ = ["fold_history", "fold_system", "header", "text_of", "transcript_blocks"]

"""Transcripts as the conversation store keeps them: normalised turns, their hash, a title.

Pure (no I/O). :mod:`.store` keeps the turns; ``lmarena serve`` uses :func:`new_turn_start` to
find the new turn of a request, and ``lmarena history`` shows the titles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

TITLE_LENGTH = 80

Turn = dict[str, str]


def normalise_turns(messages: Iterable[Mapping[str, Any]]) -> list[Turn]:
    """Messages (OpenAI-style or stored) as ``{"role", "content"}`` with plain-text content.

    ``content`` may be a string, None, or a list of OpenAI parts: the text parts are joined with
    a newline and other parts (images) are left out, since only the text identifies a history.
    Content is stripped of surrounding whitespace (clients differ in trailing newlines) and the
    OpenAI ``developer`` role counts as ``system``.
    """
    turns = []
    for message in messages:
        role = str(message.get("role", ""))
        turns.append(
            {
                "role": "system" if role == "developer" else role,
                "content": _text(message.get("content")),
            }
        )
    return turns


def transcript_hash(turns: list[Turn]) -> str:
    """sha256 over a canonical encoding of normalised turns."""
    canonical = orjson.dumps([[turn["role"], turn["content"]] for turn in turns])
    return hashlib.sha256(canonical).hexdigest()


def make_title(text: str) -> str:
    """The first non-empty line of a prompt, cut to :data:`TITLE_LENGTH` characters."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"
    return ""


def head_hash(turns: list[Turn]) -> str:
    """The hash of a transcript without its final answer ('' when it does not end with one)."""
    if not turns or turns[-1].get("role") != "assistant":
        return ""
    return transcript_hash(turns[:-1])


def new_turn_start(messages: Sequence[Mapping[str, Any]]) -> int:
    """Index where the new turn (the trailing run of user and tool messages) begins: a tool's
    result is new input just like a user's words.

    Used by :meth:`.store.ConversationStore.find_by_transcript` and by ``lmarena serve``'s requests.
    """
    start = len(messages)
    while start > 0 and messages[start - 1].get("role") in ("user", "tool"):
        start -= 1
    return start


def candidate_cuts(turns: list[Turn]) -> list[int]:
    """Lengths of history that may precede the new turn: before each of its messages."""
    return [cut for cut in range(len(turns) - 1, new_turn_start(turns) - 1, -1) if cut > 0]


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        parts = [
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        ]
        return "\n".join(parts).strip()
    return str(content).strip()

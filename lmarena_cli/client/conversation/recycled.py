"""A conversation the site no longer has (protocol §15.3): the way on is a new one.

``post-to-evaluation`` answers 404 when the site has recycled a conversation. Nothing was said to
the model then, so the user's turn is not lost: it goes, once, into a new conversation whose first
prompt folds the stored transcript (:func:`~lmarena_cli.site.prompts.fold_history`, exactly as
``lmarena serve`` folds a client's history), and the store links the old id to the new one. The
404 is not counted as the user's send; the new conversation's send is the only one, and a failure
of it is raised as it is (never a second carry-over). A conversation this tool has no transcript
of (an id typed by hand, or from another machine) is not carried: its 404 stands.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ...errors import ErrorKind, LmArenaError
from ...state.store import ConversationStore
from .recording import Recorder

_log = logging.getLogger("lmarena")


def is_recycled(error: LmArenaError, conversation_id: str | None) -> bool:
    """Whether a send's failure says the site recycled the conversation: a 404 to a follow-up
    (not "Models not found" nor a stale server action, which have kinds of their own)."""
    return conversation_id is not None and error.kind == ErrorKind.NOT_FOUND


class Stored(Protocol):
    """What holds the conversation store (a ``Recorder``, a ``Client``)."""

    @property
    def store(self) -> ConversationStore: ...


def stored_transcript(holder: Stored, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's turns as this tool stored them ([] when it has none, or the store
    cannot be read: logged)."""
    try:
        known = holder.store.get(conversation_id)
    except LmArenaError as error:
        _log.info(f"could not read the conversation's transcript: {error}")
        return []
    return [dict(turn) for turn in known.transcript] if known is not None else []


def announce(conversation_id: str, transcript: list[dict[str, Any]]) -> None:
    """Say (a warning: stderr in the CLI) that the conversation goes on in a new one."""
    turns = sum(1 for turn in transcript if turn.get("role") == "user")
    _log.warning(
        f"the site no longer has the conversation {conversation_id} (it recycled it: HTTP 404); "
        f"going on in a new conversation with its {turns} earlier turn{'s' * (turns != 1)} "
        "folded into the first prompt"
    )


def follow(recorder: Recorder, conversation_id: str) -> str:
    """Where a conversation goes on now: a recycled one's successor (its links followed), else
    itself; logged when it moved, so that ``--resume OLD`` does not meet the 404 again."""
    try:
        latest = recorder.links.latest(conversation_id)
    except LmArenaError as error:
        _log.info(f"could not read the conversation's links: {error}")
        return conversation_id
    if latest != conversation_id:
        _log.info(
            f"the site recycled the conversation {conversation_id}; continuing {latest}, which "
            "carries its transcript"
        )
    return latest


__all__ = ["Stored", "announce", "follow", "is_recycled", "stored_transcript"]

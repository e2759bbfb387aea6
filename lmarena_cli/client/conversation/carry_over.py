"""A conversation the site will not let go on, continued in a new one: :func:`carry_over`.

Protocol §15.1: the site may refuse to skip a battle it put into a single-model chat ("only
allowed for first response"); the conversation is then stuck, and a new chat is the way out.
The refusal is written to the conversation store's ``ended_conversations``
(:class:`~lmarena_cli.state.turn_notes.TurnNotes`), so that whichever process sends the next turn
(``ask -c``, ``chat``, ``serve``, the kept server) starts a new conversation whose first prompt
folds the stored transcript (:func:`~lmarena_cli.site.prompts.fold_history`, as ``serve`` folds a
client's history), and links the old conversation to the new one in the links a recycled
conversation uses too (:mod:`lmarena_cli.state.links`, protocol §15.3). A conversation that
already has a successor is continued there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ...site.prompts import fold_history
from ...state.transcripts import Turn
from .recording import Recorder

_log = logging.getLogger("lmarena")
#: How many successors are followed at most (a chain of ended conversations).
MAX_HOPS = 8


@dataclass(frozen=True)
class CarryOver:
    """An ended conversation's history, to be folded into a new one's first prompt."""

    old_id: str
    reason: str
    transcript: list[Turn] = field(default_factory=list)

    def prompt(self, turn: str) -> str:
        """The new conversation's first prompt: the stored turns, then ``turn``."""
        return fold_history(self.transcript, turn)


def carry_over(recorder: Recorder, chat_id: str) -> tuple[str, CarryOver | None]:
    """Where a turn of ``chat_id`` goes: the id to send to (its latest successor, when it has
    one), and a :class:`CarryOver` when that one cannot go on either (a new conversation then
    starts; a notice says so)."""
    notes, links = recorder.notes, recorder.links
    for _ in range(MAX_HOPS):
        reason = notes.ended(chat_id)
        if reason is None:
            return chat_id, None
        successor = links.successor(chat_id)
        if successor is None:
            break
        chat_id = successor
    known = recorder.store.get(chat_id)
    _log.warning(
        f"the conversation {chat_id} cannot go on ({reason}); continuing in a new "
        "conversation with its history"
    )
    return chat_id, CarryOver(chat_id, reason or "", list(known.transcript) if known else [])


__all__ = ["MAX_HOPS", "CarryOver", "carry_over"]

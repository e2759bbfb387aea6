"""Remembering conversations: :class:`Recorder`, each exchange written to the conversation store.

What ``-c``, ``--resume``, ``lmarena history`` and ``serve``'s history matching read. A failing
store never loses an answer: its error is logged, not raised.
"""

from __future__ import annotations

import logging
from typing import Any

from ...errors import LmArenaError
from ...settings import Settings
from ...state.links import ConversationLinks
from ...state.store import ConversationStore
from ...state.turn_notes import TurnNotes
from ..reply import Reply

_log = logging.getLogger("lmarena")


class Recorder:
    """The conversation store (opened on first use) and what is written to it. With ``record``
    false, exchanges are not written (``serve`` records its own)."""

    def __init__(self, settings: Settings, *, record: bool = True) -> None:
        self._settings = settings
        self._record = record
        self._store: ConversationStore | None = None
        self._links: ConversationLinks | None = None
        self._notes: TurnNotes | None = None

    @property
    def records(self) -> bool:
        """Whether each exchange is written to the conversation store (``-c`` uses it)."""
        return self._record

    @property
    def store(self) -> ConversationStore:
        """The conversation store, opened on first use."""
        if self._store is None:
            self._store = ConversationStore(self._settings.store_path)
        return self._store

    @property
    def links(self) -> ConversationLinks:
        """Which conversation went on in which (a recycled one, protocol §15.3); opened on
        first use."""
        if self._links is None:
            self._links = ConversationLinks(self._settings.store_path)
        return self._links

    def record_link(self, old_id: str, new_id: str) -> None:
        """``old_id`` (recycled by the site) goes on in ``new_id``; logged, never raised, when
        the store fails."""
        try:
            self.links.link(old_id, new_id)
        except LmArenaError as error:
            _log.info(f"could not link the conversation to its successor: {error}")

    @property
    def notes(self) -> TurnNotes:
        """What the turns taught about each conversation (turn times, ended conversations),
        opened on first use."""
        if self._notes is None:
            self._notes = TurnNotes(self._settings.store_path)
        return self._notes

    def record_exchange(
        self,
        reply: Reply,
        *,
        mode: str,
        model: str | None,
        model_b: str | None,
        messages: list[dict[str, Any]],
        answer_id: str | None = None,
    ) -> None:
        """Write one exchange to the conversation store, for ``-c`` and ``serve``; ``answer_id``
        is the site's id of the answer that ``messages`` end with (what a regenerate names).

        A failing store never loses the answer: its error is logged, not raised.
        """
        try:
            self.store.record(
                reply.evaluation_session_id,
                model=model,
                model_b=model_b,
                mode=mode,
                messages=messages,
                answer_id=answer_id,
            )
            self._record_times(reply)
        except LmArenaError as error:
            _log.info(f"could not record the conversation: {error}")

    def _record_times(self, reply: Reply) -> None:
        """A watched turn's first-line offsets (protocol §15.1: what the hold is sized from)."""
        times = reply.timings
        if "battle_hold" in times:
            self.notes.add_times(
                reply.evaluation_session_id,
                first_a=times.get("first_a"),
                first_b=times.get("first_b"),
                hold=times.get("battle_hold") or 0.0,
            )

    def end(self, conversation_id: str, reason: str) -> None:
        """The site will not let the conversation go on (see :mod:`.carry_over`); logged, never
        raised, when the store fails."""
        try:
            self.notes.end(conversation_id, reason)
        except LmArenaError as error:
            _log.info(f"could not record that the conversation ended: {error}")

    def record_retry(self, reply: Reply, content: str | None = None) -> None:
        """A regenerated answer (``content``, default its text) replaces the conversation's
        last one in the store; logged, never raised, when the store fails."""
        try:
            self.store.replace_answer(
                reply.evaluation_session_id,
                reply.text if content is None else content,
                reply.a.message_id,
            )
        except LmArenaError as error:
            _log.info(f"could not record the regenerated answer: {error}")


__all__ = ["Recorder"]

"""Remembering conversations: :class:`Recorder`, each exchange written to the conversation store.

What ``-c``, ``--resume``, ``lmarena history`` and ``serve``'s history matching read. A failing
store never loses an answer: its error is logged, not raised.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ...errors import LmArenaError
from ...settings import Settings
from ...state.exchanges import TurnExchanges
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
        self._exchanges: TurnExchanges | None = None

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

    def close(self) -> None:
        """Close what was opened (the store and its side tables); they open again on use."""
        opened = (self._store, self._links, self._notes, self._exchanges)
        self._store = self._links = self._notes = self._exchanges = None
        for part in opened:
            if part is not None:
                part.close()

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
        images: list[str | None] | None = None,
    ) -> None:
        """Write one exchange to the conversation store, for ``-c`` and ``serve``; ``answer_id``
        is the site's id of the answer that ``messages`` end with (what a regenerate names).
        The turn's details (``images``: the prompt's images as :func:`image_ref` names them,
        each answer's model, text and images) go beside it for ``lmarena history export``.

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
            self._record_details(reply, images or [])
        except LmArenaError as error:
            _log.info(f"could not record the conversation: {error}")

    def _record_details(self, reply: Reply, images: list[str | None]) -> None:
        """The turn's images and answers (:mod:`..state.exchanges`), numbered as the stored
        transcript's user messages now count."""
        conversation = self.store.get(reply.evaluation_session_id)
        if conversation is None or conversation.turns == 0:
            return
        if self._exchanges is None:
            self._exchanges = TurnExchanges(self._settings.store_path)
        answers = [
            {"side": a.side, "model": a.model, "text": a.text, "images": list(a.images)}
            for a in reply.answers
        ]
        self._exchanges.add(
            reply.evaluation_session_id,
            conversation.turns,
            {"images": images, "answers": answers, "saved": []},
        )

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


def image_ref(source: Any) -> str | None:
    """How an image given to a send is remembered: a path as an absolute path, an http(s) URL as
    it is; None for bytes, a file object or a ``data:`` URI (nothing names them). A kept
    server's send names the command's file (``wire_images``)."""
    if isinstance(source, tuple) and source:
        source = source[0]  # (source, filename)
    ref = getattr(source, "ref", None)
    if isinstance(ref, str):
        return ref
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and not source.startswith("data:")
    ):
        text = os.fspath(source)
        if text.startswith(("http://", "https://")):
            return text
        return str(Path(text).expanduser().absolute())
    return None


__all__ = ["Recorder", "image_ref"]

"""What one exchange answered: :class:`Reply` (the whole exchange) and :class:`Answer` (one side).

Plain data, no I/O: the CLI's ``--json``, the server's OpenAI shapes and library users all read the
same fields, and ``to_dict`` is the one JSON shape of them. :class:`TextStream` is what the two
streamed answers (in-process and through the kept server) share.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..site.events import (
    Citation,
    Event,
    ImageOutput,
    MessageStart,
    ReasoningDelta,
    RoutedModel,
    TextDelta,
)


@dataclass
class Answer:
    """One model's answer. A single-model chat has one; side-by-side and battle have two."""

    side: str
    model: str | None = None
    model_id: str | None = None
    message_id: str | None = None
    text: str = ""
    reasoning: str = ""
    images: list[str] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None
    #: The organization of the model the site's router chose ("Max", protocol §15.2).
    routed_organization: str | None = None

    def add(self, event: Event) -> bool:
        """Add what an event says about this answer (text, reasoning, an image, a citation; the
        router's choice; the site's id of the message, protocol §15.2); False for any other
        event."""
        if isinstance(event, RoutedModel):
            self.routed_organization = event.organization or self.routed_organization
        elif isinstance(event, MessageStart):
            self.message_id = event.message_id  # the site's word for what a retry names
        elif isinstance(event, TextDelta):
            self.text += event.text
        elif isinstance(event, ReasoningDelta):
            self.reasoning += event.text
        elif isinstance(event, ImageOutput):
            self.images.append(event.url)
        elif isinstance(event, Citation):
            self.citations.append({"url": event.url, "title": event.title})
        else:
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """This answer as JSON: the ``answers`` items of :meth:`Reply.to_dict`."""
        return {
            "side": self.side,
            "model": self.model,
            "model_id": self.model_id,
            "message_id": self.message_id,
            **self.content_dict(),
            "error": self.error,
        }

    def content_dict(self) -> dict[str, Any]:
        """What the model said, as JSON; a reply's top level repeats it for model A."""
        return {
            "text": self.text,
            "reasoning": self.reasoning,
            "images": list(self.images),
            "citations": list(self.citations),
            "finish_reason": self.finish_reason,
            "usage": self.usage,
            "routed_organization": self.routed_organization,
        }


@dataclass(frozen=True)
class SkippedBattle:
    """A battle the site put into a single-model chat, which this tool skipped (protocol §14.5).

    In a ``direct-battle`` conversation the site may answer a turn with two anonymous models and
    refuse the next turn until the battle is skipped. ``message_a_id``/``message_b_id`` are the
    battle's message ids; ``message_id`` the id the skip asked the chosen model's answer under.
    ``answered``: the skip streamed that answer (it is the reply's text). ``earlier_turn``: the
    battle was an earlier turn's (the site refused this turn until it was skipped; whatever the
    skip answered belonged to that turn and is not shown). ``anonymous_text_shown``: the battle
    was recognised only after some of its side-A text had been streamed to the caller; that text
    was an anonymous model's, never part of :attr:`Reply.text`. ``ReplyStream.events`` yields
    this object when the skip is done.
    """

    message_a_id: str
    message_b_id: str
    message_id: str
    answered: bool
    earlier_turn: bool = False
    anonymous_text_shown: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The ``battle_skipped`` object of ``--json``, ``--jsonl`` and ``serve``."""
        return {
            "message_a_id": self.message_a_id,
            "message_b_id": self.message_b_id,
            "message_id": self.message_id,
            "answered": self.answered,
            "earlier_turn": self.earlier_turn,
            "anonymous_text_shown": self.anonymous_text_shown,
        }


@dataclass
class Reply:
    """A whole exchange. The top-level fields are model A's answer (the only one in a 1:1 chat)."""

    evaluation_session_id: str
    mode: str
    answers: list[Answer]
    user_message_id: str
    #: Seconds: ``first_token`` from the send to the first answer text; ``total`` to the end.
    timings: dict[str, float | None] = field(default_factory=dict)
    #: Set when the site answered this single-model turn (or left an earlier one) as an
    #: anonymous battle and it was skipped; the answers above are then never the battle's.
    battle_skipped: SkippedBattle | None = None

    @property
    def a(self) -> Answer:
        """Model A's answer (the only one in a 1:1 chat)."""
        return self.answers[0]

    @property
    def b(self) -> Answer | None:
        """Model B's answer in side by side and battle; None in a 1:1 chat."""
        return self.answers[1] if len(self.answers) > 1 else None

    @property
    def text(self) -> str:
        return self.a.text

    @property
    def reasoning(self) -> str:
        return self.a.reasoning

    @property
    def images(self) -> list[str]:
        return self.a.images

    @property
    def citations(self) -> list[dict[str, Any]]:
        return self.a.citations

    @property
    def finish_reason(self) -> str | None:
        return self.a.finish_reason

    @property
    def usage(self) -> dict[str, Any] | None:
        return self.a.usage

    @property
    def model(self) -> str | None:
        return self.a.model

    @property
    def message_ids(self) -> dict[str, str | None]:
        """The exchange's message ids: ``user``, then one per side (``a``, ``b``)."""
        ids: dict[str, str | None] = {"user": self.user_message_id}
        for answer in self.answers:
            ids[answer.side] = answer.message_id
        return ids

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape shared by ``lmarena ask --json`` and the library's users."""
        data: dict[str, Any] = {
            **self.a.content_dict(),
            "model": self.model,
            "evaluation_session_id": self.evaluation_session_id,
            "mode": self.mode,
            "message_ids": self.message_ids,
            "timings": dict(self.timings),
            "battle_skipped": self.battle_skipped.to_dict() if self.battle_skipped else None,
        }
        if len(self.answers) > 1:
            data["answers"] = [answer.to_dict() for answer in self.answers]
        return data


class TextStream(ABC):
    """An answer as it arrives: iterating yields model A's text deltas, :meth:`events` all,
    and :meth:`read_reply` reads it to its end for the whole :class:`Reply`; ``reply`` is the
    whole reply so far (complete once iteration has ended)."""

    @abstractmethod
    def events(self) -> AsyncIterator[Any]:
        """Every event of the answer, in order; the stream is closed once they end (however)."""

    @property
    @abstractmethod
    def reply(self) -> Reply:
        """The whole reply so far; complete once the events have ended."""

    async def read_reply(self) -> Reply:
        """Read the rest of the answer, every event, and return the whole reply (its failure
        raises here). Nothing is left to read or to close afterwards."""
        async for _ in self.events():
            pass
        return self.reply

    def __aiter__(self) -> AsyncIterator[str]:
        return self._text_deltas()

    async def _text_deltas(self) -> AsyncIterator[str]:
        async for event in self.events():
            if isinstance(event, TextDelta) and event.side == "a":
                yield event.text


__all__ = ["Answer", "Reply", "SkippedBattle", "TextStream"]

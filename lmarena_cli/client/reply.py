"""What one exchange answered: :class:`Reply` (the whole exchange) and :class:`Answer` (one side).

Plain data, no I/O: the CLI's ``--json``, the server's OpenAI shapes and library users all read the
same fields, and ``to_dict`` is the one JSON shape of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
        }
        if len(self.answers) > 1:
            data["answers"] = [answer.to_dict() for answer in self.answers]
        return data


__all__ = ["Answer", "Reply"]

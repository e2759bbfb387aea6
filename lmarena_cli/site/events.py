"""The typed events a chat stream is made of, as :class:`~.stream.StreamParser` yields them.

Every event but :class:`RawEvent` belongs to one side of the conversation: ``"a"`` (the only one
of a single-model chat) or ``"b"`` (the second model of a side-by-side chat or a battle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from . import facts

#: The side of a conversation an event belongs to.
Side = Literal["a", "b"]


def is_side(value: str) -> TypeGuard[Side]:
    """True when ``value`` names a side (the prefix of a stream line such as ``b0:``)."""
    return value in facts.SIDES


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer text (``a0:"..."``)."""

    side: Side
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's visible reasoning (``ag:"..."`` or ``ag:{"thinking": "..."}``)."""

    side: Side
    text: str


@dataclass(frozen=True)
class ImageOutput:
    """A generated image (``a2:[{"type":"image","image":"<url>"}]``): https URL or ``data:`` URI.

    An image sent inline (``ak:{"mimeType","data"}``, or an ``a2`` image item with ``data``
    instead of a URL, protocol §15.2) comes as a ``data:<mimeType>;base64,<data>`` URI."""

    side: Side
    url: str
    mime_type: str | None


@dataclass(frozen=True)
class Citation:
    """A source a search model cited (``ac:`` tool-call delta whose arguments carry ``source``)."""

    side: Side
    url: str
    title: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class Finish:
    """The terminal line of one side (``ad:``/``bd:``); ``usage`` exactly as the site sent it."""

    side: Side
    finish_reason: str
    usage: dict[str, Any] | None


@dataclass(frozen=True)
class StreamError:
    """The site or the model failed inside a 200 stream (``a3:"..."`` or ``a0:"hasArenaError"``).

    ``message`` is always the site's own text (``"hasArenaError"`` for the marker); callers word
    the user's message. ``arena_error`` tells the marker apart: the site's generic "this model
    failed" signal, worth a retry with fresh ids, where ``a3`` carries the model's own reason.
    """

    side: Side
    message: str
    arena_error: bool = False


@dataclass(frozen=True)
class Heartbeat:
    """A keep-alive (``a2:[{"type":"heartbeat"}]``): proof the stream is alive, no content."""

    side: Side


@dataclass(frozen=True)
class MessageStart:
    """The message id a side's answer is stored under (``af:{"messageId": ...}``; ``bf:`` on
    side B), which may open a stream since Aug-Oct 2026 (protocol §15.2). A ``bf`` line is, like
    any ``b`` line, the sign of a battle (§15.1)."""

    side: Side
    message_id: str


@dataclass(frozen=True)
class RoutedModel:
    """The router model ("Max") says which organization's model answers
    (``a2:[{"type":"routed_model","organization":"..."}]``, protocol §15.2). ``raw``: the item."""

    side: Side
    organization: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class RawEvent:
    """Anything else: an unknown code, a side other than a/b, or a payload that is not JSON.

    ``side`` is a plain string here: the line may name no side, or one this tool does not know.
    ``value`` is the decoded JSON when it parsed, else the raw text after the colon (or the whole
    line when it did not even have the ``<side><code>:`` shape; then ``side`` and ``code`` are "").
    """

    side: str
    code: str
    value: Any


#: One event of a chat stream.
Event = (
    TextDelta
    | ReasoningDelta
    | ImageOutput
    | Citation
    | Finish
    | StreamError
    | Heartbeat
    | MessageStart
    | RoutedModel
    | RawEvent
)

"""What a turn's answer is made of, as every codec reads it: :data:`Out` events and the
:class:`Outcome` they add up to.

The engine (:mod:`.engine`) yields the events while the answer streams: :class:`Opened` before
the first content, then text, reasoning, citations and whole tool calls per side (``index`` 0 is
model A; side by side and battle have an index 1), :class:`Finished` per side with the reason in
OpenAI's words (``stop``, ``length``, ``tool_calls``, ``content_filter``). Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..client.reply import SkippedBattle
from .tools import ToolCall


@dataclass(frozen=True)
class Opened:
    """The answer has begun: the conversation it belongs to, and how many sides answer."""

    conversation_id: str
    sides: int


@dataclass(frozen=True)
class Text:
    index: int
    text: str


@dataclass(frozen=True)
class Reasoning:
    index: int
    text: str


@dataclass(frozen=True)
class Cited:
    index: int
    url: str
    title: str | None


@dataclass(frozen=True)
class Called:
    """A whole tool call (codecs split it into their own deltas)."""

    index: int
    call: ToolCall


@dataclass(frozen=True)
class Finished:
    """One side is done: ``reason`` in OpenAI's words (stop, length, tool_calls,
    content_filter)."""

    index: int
    reason: str


@dataclass(frozen=True)
class BattleSkipped:
    skipped: SkippedBattle


Out = Opened | Text | Reasoning | Cited | Called | Finished | BattleSkipped


@dataclass
class Side:
    """One side's answer as the client sees it."""

    model: str | None = None
    text: str = ""
    reasoning: str = ""
    citations: list[dict[str, Any]] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    #: The parsed JSON of a structured answer (``text`` is then its compact JSON).
    parsed: Any = None


@dataclass
class Outcome:
    """The whole answer: what a non-streamed response is built from."""

    conversation_id: str = ""
    sides: list[Side] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    mode: str = ""
    battle_skipped: SkippedBattle | None = None

    @property
    def a(self) -> Side:
        return self.sides[0]

    @property
    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


__all__ = [
    "BattleSkipped",
    "Called",
    "Cited",
    "Finished",
    "Opened",
    "Out",
    "Outcome",
    "Reasoning",
    "Side",
    "Text",
]

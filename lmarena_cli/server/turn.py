"""One turn, whatever API shape asked for it: what every codec's request becomes.

A codec (:mod:`.chat_codec`, :mod:`.responses_codec`, :mod:`.messages_codec`) checks its own
request body and hands the engine (:mod:`.engine`) a :class:`Turn`:

* ``messages``: the conversation as this server stores and matches it, in one plain form:
  ``{"role", "content"}`` with roles ``system``, ``user``, ``assistant`` and ``tool``; content a
  string or a list of ``text`` and ``image_url`` parts. Whatever the site cannot take as it is
  was already written as text by the codec: an assistant's tool calls as the envelopes the model
  wrote (:func:`.tools.render_assistant`), a tool's output as a ``[Tool result ...]`` block
  (:func:`.tools.render_result`), a file as its text. So two requests of different shapes that
  say the same thing are the same transcript.
* the tools and how they may be used, the wanted output format, the output limits;
* the keys that pick the conversation: an explicit conversation id (``conversation_id``, or the
  one a ``previous_response_id`` names), and a client's session key (``prompt_cache_key``, a
  ``session-id`` or ``X-Claude-Code-Session-Id`` header) within which transcripts are matched.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..client.content.structured import OutputFormat
from ..state.transcripts import new_turn_start
from .tools import Tool, ToolChoice

Message = dict[str, Any]


@dataclass(frozen=True)
class Limits:
    """What cuts an answer short: ``max_tokens`` (estimated, ``finish_reason`` length) and stop
    sequences (``finish_reason`` stop; the sequence itself is not part of the answer)."""

    max_tokens: int | None = None
    stop: tuple[str, ...] = ()


@dataclass
class Turn:
    """A request of any API shape, as the engine runs it."""

    model: str
    messages: list[Message]
    stream: bool = False
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    parallel_tool_calls: bool = True
    output: OutputFormat | None = None
    limits: Limits = field(default_factory=Limits)
    #: An explicit conversation to continue (only the new turn is sent).
    conversation_id: str | None = None
    #: A client's session: transcripts are matched among the conversations it started.
    session_key: str | None = None
    #: Side by side (``versus``) and anonymous battle: chat completions' ``arena`` extension.
    versus: str | None = None
    battle: bool = False
    #: The prefix of the ids of the calls this turn's answer makes (``call_``, ``toolu_``).
    call_id_prefix: str = "call_"

    @property
    def turn_start(self) -> int:
        """Index of the new turn's first message: the trailing run of user and tool messages."""
        return new_turn_start(self.messages)

    @property
    def history(self) -> list[Message]:
        return self.messages[: self.turn_start]

    @property
    def new_messages(self) -> list[Message]:
        return self.messages[self.turn_start :]

    @property
    def uses_tools(self) -> bool:
        return bool(self.tools) and self.tool_choice.mode != "none"


def text_parts(content: Any) -> list[str]:
    """The texts of a plain message's content."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    return [part["text"] for part in content if part.get("type") == "text"]


def image_urls(content: Any) -> list[str]:
    """The ``image_url`` URLs of a plain message's content parts, in order."""
    if not isinstance(content, list):
        return []
    urls = []
    for part in content:
        if part.get("type") == "image_url":
            image = part["image_url"]
            urls.append(image["url"] if isinstance(image, Mapping) else image)
    return urls


def turn_text(messages: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """The new turn's text (each message's text, a blank line between) and its image URLs."""
    texts: list[str] = []
    images: list[str] = []
    for message in messages:
        text = "\n".join(text_parts(message.get("content"))).strip()
        if text:
            texts.append(text)
        images.extend(image_urls(message.get("content")))
    return "\n\n".join(texts), images


__all__ = [
    "Limits",
    "Message",
    "Turn",
    "image_urls",
    "text_parts",
    "turn_text",
]

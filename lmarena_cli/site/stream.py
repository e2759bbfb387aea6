"""The chat stream's bytes in, typed events out (protocol §2): ``a0:"text"`` lines and their kin.

Each line is ``<side><code>:<JSON>``: side ``a`` or ``b``, code ``0`` text, ``g`` reasoning, ``2``
data (heartbeats, images, the router's ``routed_model``), ``c`` tool-call deltas (citations), ``3``
errors, ``d`` the finish; since Aug-Oct 2026 also ``f`` the side's message id and ``k`` an inline
image (protocol §15.2). A ``data:`` prefix (SSE framing; the site labels the stream
``text/event-stream`` though it sends plain lines, §15.2) is read past.
The parser never raises: whatever it cannot read becomes a :class:`~.events.RawEvent`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Any

import orjson

from . import facts
from .decode import NOT_JSON, loads, loads_text
from .events import (
    Citation,
    Event,
    Finish,
    Heartbeat,
    ImageOutput,
    MessageStart,
    RawEvent,
    ReasoningDelta,
    RoutedModel,
    Side,
    StreamError,
    TextDelta,
    is_side,
)

_LINE = re.compile(r"^([a-z]?)([0-9a-z]):(.*)$", re.S)
#: Codes whose payload is text that may hold half a surrogate pair (see ``loads_text``).
_TEXT_CODES = ("0", "g")


class StreamParser:
    """Turns the bytes of a chat stream into events, however the network splits them.

    Lines may be cut anywhere, including inside a multi-byte UTF-8 character; :meth:`feed` keeps
    the unfinished tail for the next call. Call :meth:`close` at the end of the body: it reads a
    last line that had no newline and reports tool-call arguments that never became valid JSON.
    """

    def __init__(self) -> None:
        # errors="replace": one corrupt byte must cost one character, not the whole answer.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        # Tool-call argument text per (side, toolCallId), until it parses as JSON.
        self._tool_args: dict[tuple[Side, str], str] = {}
        # A high surrogate that ended a text chunk, per (side, code), waiting for its other half.
        self._half: dict[tuple[Side, str], str] = {}

    def feed(self, data: bytes) -> list[Event]:
        """Events for every complete line so far; an unfinished line waits for more bytes."""
        self._buffer += self._decoder.decode(data)
        if "\n" not in self._buffer:
            return []
        *lines, self._buffer = self._buffer.split("\n")
        events: list[Event] = []
        for line in lines:
            events.extend(self._line(line))
        return events

    def close(self) -> list[Event]:
        """Events for a last line without ``\\n`` and for tool-call arguments left unparsed."""
        self._buffer += self._decoder.decode(b"", final=True)
        tail, self._buffer = self._buffer, ""
        events = self._line(tail)
        for (side, code), _ in self._half.items():
            half = "\ufffd"  # the other half never came
            events.append(TextDelta(side, half) if code == "0" else ReasoningDelta(side, half))
        self._half.clear()
        for (side, call_id), text in self._tool_args.items():
            events.append(RawEvent(side, "c", {"toolCallId": call_id, "argsText": text}))
        self._tool_args.clear()
        return events

    # -- one line ----------------------------------------------------------------------------------

    def _line(self, line: str) -> list[Event]:
        line = line.strip()
        if line.startswith("data:"):  # some proxies add SSE framing; the site itself does not
            line = line[5:].lstrip()
        if not line:
            return []
        match = _LINE.match(line)
        if match is None:
            return [RawEvent("", "", line)]
        side, code, payload = match.groups()
        value = loads(payload)
        if value is NOT_JSON and code in _TEXT_CODES:
            value = loads_text(payload)
        if value is NOT_JSON:
            return [RawEvent(side, code, payload)]
        if not is_side(side):
            return [RawEvent(side, code, value)]
        handler = _HANDLERS.get(code)
        if handler is None:
            return [RawEvent(side, code, value)]
        return handler(self, side, value)

    def _text(self, side: Side, value: Any) -> list[Event]:
        if not isinstance(value, str):
            return [RawEvent(side, "0", value)]
        if value == facts.ARENA_ERROR_TEXT:
            return [StreamError(side, value, arena_error=True)]
        text = self._whole_characters(side, "0", value)
        return [TextDelta(side, text)] if text else []

    def _reasoning(self, side: Side, value: Any) -> list[Event]:
        text: Any = value
        if isinstance(value, dict):
            text = next(
                (value[k] for k in ("thinking", "text") if isinstance(value.get(k), str)), None
            )
        if not isinstance(text, str):
            return [RawEvent(side, "g", value)]
        text = self._whole_characters(side, "g", text)
        return [ReasoningDelta(side, text)] if text else []

    def _whole_characters(self, side: Side, code: str, text: str) -> str:
        """``text`` with surrogate halves joined across chunks; a lone half becomes U+FFFD.

        A lone surrogate left in a Python string would crash the first ``print`` of it.
        """
        text = self._half.pop((side, code), "") + text
        if text and "\ud800" <= text[-1] <= "\udbff":
            self._half[(side, code)] = text[-1]
            text = text[:-1]
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")

    def _data(self, side: Side, value: Any) -> list[Event]:
        if not isinstance(value, list):
            return [RawEvent(side, "2", value)]
        events: list[Event] = []
        for item in value:
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == facts.HEARTBEAT_ITEM:
                events.append(Heartbeat(side))
                continue
            if kind == facts.ROUTED_MODEL_ITEM:
                organization = item.get("organization")
                org = organization if isinstance(organization, str) and organization else None
                events.append(RoutedModel(side, org, item))
                continue
            url = _image_url(item) if kind == facts.IMAGE_ITEM else _inline_image_item(item)
            if url is not None:
                mime = item.get("mimeType")
                events.append(ImageOutput(side, url, mime if isinstance(mime, str) else None))
            else:
                events.append(RawEvent(side, "2", item))
        return events

    def _message_id(self, side: Side, value: Any) -> list[Event]:
        message_id = value.get("messageId") if isinstance(value, dict) else None
        if not isinstance(message_id, str) or not message_id:
            return [RawEvent(side, "f", value)]
        return [MessageStart(side, message_id)]

    def _inline_image(self, side: Side, value: Any) -> list[Event]:
        url = _inline_url(value) if isinstance(value, dict) else None
        if url is None:
            return [RawEvent(side, "k", value)]
        return [ImageOutput(side, url, str(value["mimeType"]))]

    def _tool_delta(self, side: Side, value: Any) -> list[Event]:
        if not isinstance(value, dict):
            return [RawEvent(side, "c", value)]
        delta = value.get("argsTextDelta")
        if isinstance(delta, dict | list):  # already decoded by whoever framed it
            return _citations(side, delta, value)
        if not isinstance(delta, str):
            return [RawEvent(side, "c", value)]
        key = (side, str(value.get("toolCallId", "")))
        text = self._tool_args.pop(key, "") + delta
        args = loads(text)
        if args is NOT_JSON:
            # The arguments of one call may arrive in several deltas: wait for the rest.
            self._tool_args[key] = text
            return []
        return _citations(side, args, value)

    def _error(self, side: Side, value: Any) -> list[Event]:
        message = value if isinstance(value, str) else orjson.dumps(value).decode()
        return [StreamError(side, message)]

    def _finish(self, side: Side, value: Any) -> list[Event]:
        if not isinstance(value, dict):
            return [RawEvent(side, "d", value)]
        reason = value.get("finishReason")
        usage = value.get("usage")
        return [
            Finish(
                side,
                reason if isinstance(reason, str) else "unknown",
                usage if isinstance(usage, dict) else None,
            )
        ]


_HANDLERS: dict[str, Callable[[StreamParser, Side, Any], list[Event]]] = {
    "0": StreamParser._text,
    "g": StreamParser._reasoning,
    "2": StreamParser._data,
    "c": StreamParser._tool_delta,
    "3": StreamParser._error,
    "d": StreamParser._finish,
    "f": StreamParser._message_id,
    "k": StreamParser._inline_image,
}


def _image_url(item: dict[str, Any]) -> str | None:
    # "image" is what the site sends; "url" is accepted in case it renames the key; an item
    # with the picture itself ("data" and "mimeType", §15.2) becomes a data: URI.
    for key in ("image", "url"):
        value = item.get(key)
        if isinstance(value, str) and value:
            return value
    return _inline_url(item)


def _inline_image_item(item: Any) -> str | None:
    """An ``a2`` item of another type that carries an image itself (``data`` and an image
    ``mimeType``): its data: URI; else None."""
    if not isinstance(item, dict) or not str(item.get("mimeType", "")).startswith("image/"):
        return None
    return _inline_url(item)


def _inline_url(item: dict[str, Any]) -> str | None:
    """``data:<mimeType>;base64,<data>`` for an inline image (protocol §15.2), else None."""
    data, mime = item.get("data"), item.get("mimeType")
    if not (isinstance(data, str) and data and isinstance(mime, str) and "/" in mime):
        return None
    return f"data:{mime};base64,{''.join(data.split())}"


def _citations(side: Side, args: Any, envelope: dict[str, Any]) -> list[Event]:
    """One Citation per source in decoded tool-call arguments; RawEvent when there is none."""
    sources: Any = None
    if isinstance(args, dict):
        sources = args.get("source", args.get("sources"))
    items = sources if isinstance(sources, list) else [sources] if sources is not None else []
    events: list[Event] = []
    for item in items:
        url = item.get("url") if isinstance(item, dict) else None
        if isinstance(url, str) and url:
            title = item.get("title")
            events.append(Citation(side, url, title if isinstance(title, str) else None, item))
    if not events:
        return [RawEvent(side, "c", {**envelope, "args": args})]
    return events

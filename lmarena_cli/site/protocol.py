"""The wire format of arena.ai, as pure functions: no sockets, no files, no clocks but UUIDv7's.

* :func:`uuid7` — the ids the site expects (it validates version 7 and the timestamp).
* :class:`StreamParser` — bytes of a chat stream in, typed events out (``a0:"text"`` lines).
* :func:`create_evaluation_body` / :func:`post_to_evaluation_body` — the stream endpoints' JSON.
* :func:`parse_action_reply` — the value of a Next.js server action's flight reply.
* :func:`error_from_response` — an HTTP error answer turned into the right :mod:`errors` class.

``shared/arena-protocol.md`` (sections 1.5, 2, 6.3, 7.2, 8 and 10) is the reference for every
shape here.
"""

from __future__ import annotations

import codecs
import email.utils
import html as html_lib
import json
import re
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import (
    Blocked,
    ContentRejected,
    ConversationNotFound,
    InputError,
    LmArenaError,
    ProtocolError,
    RateLimited,
    SignInRequired,
    UpstreamError,
    UpstreamUnavailable,
    UsageError,
)
from . import facts

# --- UUIDv7 ---------------------------------------------------------------------------------------

_UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
_UUID_ANY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_clock_lock = threading.Lock()
_last_ms = 0


def _now_ms() -> int:
    """Milliseconds since the epoch, never going backwards within this process.

    The site checks the timestamp in the ids; a wall clock stepped back by NTP must not make a
    later message look older than an earlier one.
    """
    global _last_ms
    with _clock_lock:
        _last_ms = max(_last_ms, time.time_ns() // 1_000_000)
        return _last_ms


def uuid7() -> str:
    """A fresh UUID version 7: 48-bit Unix ms timestamp, version 7, variant ``10``, random rest."""
    value = (_now_ms() & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_uuid7(value: str) -> bool:
    """True when ``value`` is a canonical 8-4-4-4-12 UUID of version 7 and RFC 4122 variant."""
    return isinstance(value, str) and _UUID7.match(value) is not None


def uuid7_timestamp_ms(value: str) -> int | None:
    """The millisecond timestamp inside a UUIDv7, or None for any other string (v4 ids, names)."""
    if not is_uuid7(value):
        return None
    return int(value.replace("-", "")[:12], 16)


def is_uuid(value: str) -> bool:
    """True for any canonical UUID string (any version): the shape of the site's model ids."""
    return isinstance(value, str) and _UUID_ANY.match(value) is not None


# --- stream events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer text (``a0:"..."``)."""

    side: str
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's visible reasoning (``ag:"..."`` or ``ag:{"thinking": "..."}``)."""

    side: str
    text: str


@dataclass(frozen=True)
class ImageOutput:
    """A generated image (``a2:[{"type":"image","image":"<url>"}]``): https URL or ``data:`` URI."""

    side: str
    url: str
    mime_type: str | None


@dataclass(frozen=True)
class Citation:
    """A source a search model cited (``ac:`` tool-call delta whose arguments carry ``source``)."""

    side: str
    url: str
    title: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class Finish:
    """The terminal line of one side (``ad:``/``bd:``); ``usage`` exactly as the site sent it."""

    side: str
    finish_reason: str
    usage: dict[str, Any] | None


@dataclass(frozen=True)
class StreamError:
    """The site or the model failed inside a 200 stream (``a3:"..."`` or ``a0:"hasArenaError"``).

    ``message`` is always the site's own text (``"hasArenaError"`` for the marker); callers word
    the user's message. ``arena_error`` tells the marker apart: the site's generic "this model
    failed" signal, worth a retry with fresh ids, where ``a3`` carries the model's own reason.
    """

    side: str
    message: str
    arena_error: bool = False


@dataclass(frozen=True)
class Heartbeat:
    """A keep-alive (``a2:[{"type":"heartbeat"}]``): proof the stream is alive, no content."""

    side: str


@dataclass(frozen=True)
class RawEvent:
    """Anything else: an unknown code, a side other than a/b, or a payload that is not JSON.

    ``value`` is the decoded JSON when it parsed, else the raw text after the colon (or the whole
    line when it did not even have the ``<side><code>:`` shape; then ``side`` and ``code`` are "").
    """

    side: str
    code: str
    value: Any


Event = (
    TextDelta
    | ReasoningDelta
    | ImageOutput
    | Citation
    | Finish
    | StreamError
    | Heartbeat
    | RawEvent
)

SIDES = ("a", "b")
_LINE = re.compile(r"^([a-z]?)([0-9a-z]):(.*)$", re.S)
_NOT_JSON = object()


def _loads(text: str) -> Any:
    """JSON value of ``text``, or the ``_NOT_JSON`` sentinel: the parser must never raise."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _loads_text(text: str) -> Any:
    """Like :func:`_loads`, but lets lone UTF-16 surrogates (``"\\ud83d"``) through.

    The site's server is JavaScript: a text chunk cut between the two halves of an emoji arrives
    as two JSON strings each holding half a surrogate pair, which orjson refuses.
    """
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


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
        self._tool_args: dict[tuple[str, str], str] = {}
        # A high surrogate that ended a text chunk, per (side, code), waiting for its other half.
        self._half: dict[tuple[str, str], str] = {}

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
        value = _loads(payload)
        if value is _NOT_JSON and code in ("0", "g"):
            value = _loads_text(payload)
        if value is _NOT_JSON:
            return [RawEvent(side, code, payload)]
        if side not in SIDES:
            return [RawEvent(side, code, value)]
        handler = _HANDLERS.get(code)
        if handler is None:
            return [RawEvent(side, code, value)]
        return handler(self, side, value)

    def _text(self, side: str, value: Any) -> list[Event]:
        if not isinstance(value, str):
            return [RawEvent(side, "0", value)]
        if value == facts.ARENA_ERROR_TEXT:
            return [StreamError(side, value, arena_error=True)]
        text = self._whole_characters(side, "0", value)
        return [TextDelta(side, text)] if text else []

    def _reasoning(self, side: str, value: Any) -> list[Event]:
        text: Any = value
        if isinstance(value, dict):
            text = next(
                (value[k] for k in ("thinking", "text") if isinstance(value.get(k), str)), None
            )
        if not isinstance(text, str):
            return [RawEvent(side, "g", value)]
        text = self._whole_characters(side, "g", text)
        return [ReasoningDelta(side, text)] if text else []

    def _whole_characters(self, side: str, code: str, text: str) -> str:
        """``text`` with surrogate halves joined across chunks; a lone half becomes U+FFFD.

        A lone surrogate left in a Python string would crash the first ``print`` of it.
        """
        text = self._half.pop((side, code), "") + text
        if text and "\ud800" <= text[-1] <= "\udbff":
            self._half[(side, code)] = text[-1]
            text = text[:-1]
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")

    def _data(self, side: str, value: Any) -> list[Event]:
        if not isinstance(value, list):
            return [RawEvent(side, "2", value)]
        events: list[Event] = []
        for item in value:
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "heartbeat":
                events.append(Heartbeat(side))
                continue
            url = _image_url(item) if kind == "image" else None
            if url is not None:
                mime = item.get("mimeType")
                events.append(ImageOutput(side, url, mime if isinstance(mime, str) else None))
            else:
                events.append(RawEvent(side, "2", item))
        return events

    def _tool_delta(self, side: str, value: Any) -> list[Event]:
        if not isinstance(value, dict):
            return [RawEvent(side, "c", value)]
        delta = value.get("argsTextDelta")
        if isinstance(delta, dict | list):  # already decoded by whoever framed it
            return _citations(side, delta, value)
        if not isinstance(delta, str):
            return [RawEvent(side, "c", value)]
        key = (side, str(value.get("toolCallId", "")))
        text = self._tool_args.pop(key, "") + delta
        args = _loads(text)
        if args is _NOT_JSON:
            # The arguments of one call may arrive in several deltas: wait for the rest.
            self._tool_args[key] = text
            return []
        return _citations(side, args, value)

    def _error(self, side: str, value: Any) -> list[Event]:
        message = value if isinstance(value, str) else orjson.dumps(value).decode()
        return [StreamError(side, message)]

    def _finish(self, side: str, value: Any) -> list[Event]:
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


_HANDLERS = {
    "0": StreamParser._text,
    "g": StreamParser._reasoning,
    "2": StreamParser._data,
    "c": StreamParser._tool_delta,
    "3": StreamParser._error,
    "d": StreamParser._finish,
}


def _image_url(item: dict[str, Any]) -> str | None:
    # "image" is what the site sends; "url" is accepted in case it renames the key.
    for key in ("image", "url"):
        value = item.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _citations(side: str, args: Any, envelope: dict[str, Any]) -> list[Event]:
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


# --- request bodies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageIds:
    """The three message ids of one attempt. Fresh per attempt: the site refuses reused ids."""

    user: str
    model_a: str
    model_b: str

    @classmethod
    def fresh(cls) -> MessageIds:
        """Three new, distinct UUIDv7s."""
        return cls(uuid7(), uuid7(), uuid7())


def _user_message(content: str, attachments: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    # Both lists/objects are always present: the site answers a bare 500 when they are missing.
    return {
        "content": content,
        "experimental_attachments": [dict(a) for a in attachments or ()],
        "metadata": {},
    }


def create_evaluation_body(
    *,
    session_id: str,
    mode: str,
    modality: str,
    model_a_id: str | None,
    model_b_id: str | None,
    ids: MessageIds,
    content: str,
    attachments: Sequence[Mapping[str, Any]] | None,
    recaptcha_token: str | None,
) -> dict[str, Any]:
    """Body of ``POST /nextjs-api/stream/create-evaluation`` (protocol §1.5).

    ``modelAId`` is left out in battle mode (the site picks the pair) and ``modelBId`` is sent only
    side by side; ``modelBMessageId`` is always sent, as the site's own client does.
    """
    if mode != facts.MODE_BATTLE and not model_a_id:
        raise ValueError(f"mode {mode!r} needs model_a_id")
    if mode == facts.MODE_SIDE_BY_SIDE and not model_b_id:
        raise ValueError("side-by-side needs model_b_id")
    body: dict[str, Any] = {"id": session_id, "mode": mode}
    if mode != facts.MODE_BATTLE:
        body["modelAId"] = model_a_id
    if mode == facts.MODE_SIDE_BY_SIDE:
        body["modelBId"] = model_b_id
    body.update(_envelope(ids, content, attachments, modality, recaptcha_token))
    return body


def post_to_evaluation_body(
    *,
    session_id: str,
    modality: str,
    model_a_id: str | None,
    model_b_id: str | None,
    ids: MessageIds,
    content: str,
    attachments: Sequence[Mapping[str, Any]] | None,
    recaptcha_token: str | None,
) -> dict[str, Any]:
    """Body of ``POST /nextjs-api/stream/post-to-evaluation/{id}`` (protocol §7.2).

    Same envelope as create-evaluation without ``mode``; model ids only when known (battle
    conversations never learn them before the vote). Only the new prompt is sent: the site keeps
    the history.
    """
    body: dict[str, Any] = {"id": session_id}
    if model_a_id:
        body["modelAId"] = model_a_id
    if model_b_id:
        body["modelBId"] = model_b_id
    body.update(_envelope(ids, content, attachments, modality, recaptcha_token))
    return body


def _envelope(
    ids: MessageIds,
    content: str,
    attachments: Sequence[Mapping[str, Any]] | None,
    modality: str,
    recaptcha_token: str | None,
) -> dict[str, Any]:
    return {
        "userMessageId": ids.user,
        "modelAMessageId": ids.model_a,
        "modelBMessageId": ids.model_b,
        "userMessage": _user_message(content, attachments),
        "modality": modality,
        "recaptchaV3Token": recaptcha_token,
    }


# --- server action replies ------------------------------------------------------------------------


def parse_action_reply(text: str) -> Any:
    """The return value of a Next.js server action: the JSON on the reply's ``1:`` line.

    Raises ProtocolError when there is no readable ``1:`` line (kind "stale_action" when the site
    said the action id is unknown) and UpstreamError when the action reports ``success: false``.
    """
    if facts.ACTION_NOT_FOUND in text[:500]:
        raise ProtocolError(
            "the site no longer knows this server action id (it redeployed); "
            "the action ids have to be discovered again",
            detail=_excerpt(text),
            kind="stale_action",
        )
    for payload in _action_value_rows(text):
        if payload.startswith("E{"):  # a flight error row: the action threw on the server
            raise UpstreamError(
                "the site's server action failed on its side",
                detail=_excerpt(payload[1:]),
                kind="action_failed",
            )
        value = _loads(payload)
        if value is _NOT_JSON:
            raise ProtocolError(
                "the site's server action reply has a line 1: that is not JSON; "
                "the site's protocol may have changed",
                detail=_excerpt(payload),
                kind="unexpected",
            )
        if isinstance(value, dict) and value.get("success") is False:
            reason = _error_text(value.get("error")) or _error_text(value.get("message"))
            raise UpstreamError(
                "the site's server action reported a failure"
                + (f": {_excerpt(reason, 200)}" if reason else ""),
                detail=_excerpt(reason or orjson.dumps(value).decode()),
                kind="action_failed",
            )
        return value
    raise ProtocolError(
        "expected a server action reply (RSC flight lines, the value on line '1:') "
        f"but the site answered: {_excerpt(text, 120) or 'nothing'}",
        detail=_excerpt(text),
        kind="unexpected",
    )


_ROW = re.compile(r"^([0-9a-fA-F]+):(.*)$")


def _action_value_rows(text: str) -> list[str]:
    """The flight row(s) that may hold an action's return value, most likely first.

    Line ``0:`` is framework metadata whose exact shape was never recorded (protocol §6.3,
    §13.1). When it names the value (``{"a": "$@1", ...}`` or ``["$@1", ...]``), that row is
    read; when it holds the value inline (``{"a": {...}}``), line 0's ``a`` is used; otherwise
    the ``1:`` row, as every known client does.
    """
    rows: dict[str, str] = {}
    for line in text.splitlines():
        match = _ROW.match(line)
        if match is not None:
            rows.setdefault(match.group(1).lower(), match.group(2))
    head = _loads(rows.get("0", "null"))
    pointer = head.get("a") if isinstance(head, dict) else None
    if pointer is None and isinstance(head, list) and head:
        pointer = head[0]
    wanted: list[str] = []
    if isinstance(pointer, str) and (ref := _REF.match(pointer)) is not None:
        wanted.append(ref.group(1).lower())
    elif isinstance(pointer, dict):
        return [orjson.dumps(pointer).decode()]
    wanted.append("1")
    return [rows[key] for key in dict.fromkeys(wanted) if key in rows]


_REF = re.compile(r"^\$@?([0-9a-fA-F]+)$")


# --- HTTP error answers ---------------------------------------------------------------------------

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_DETAIL_LIMIT = 300


def _excerpt(text: str, limit: int = _DETAIL_LIMIT) -> str:
    """Text fit for a message: an HTML page shrinks to its title, whitespace collapses, capped."""
    stripped = text.lstrip()
    if stripped[:1] == "<":
        title = _TITLE.search(text)
        if title is None:
            return "an HTML page"
        text = f"an HTML page titled {html_lib.unescape(title.group(1)).strip()!r}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_text(value: Any) -> str | None:
    """The human text inside the site's error JSON (``{"error": "..."}`` and its variants)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        # {"error": "LOGIN_GATE", "message": "Please sign in ..."}: the code and the sentence both
        # matter (one to classify, the other to show).
        texts = [_error_text(value.get(k)) for k in ("error", "message", "detail", "reason")]
        found = list(dict.fromkeys(t for t in texts if t))
        return ": ".join(found[:2]) if found else None
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()  # plain dicts are case-sensitive; aiohttp's CIMultiDict is not
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a date without zone is read as such
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _zod_issues(data: Any) -> list[dict[str, Any]] | None:
    """The issues of a ZodError body in any of the shapes seen, or None when it is not one."""
    error = data.get("error") if isinstance(data, dict) else None
    candidates = [error, data]
    if isinstance(error, dict):
        candidates.insert(0, error.get("issues"))
        message = error.get("message")
        if isinstance(message, str):  # zod's own message is the issues as a JSON string
            candidates.append(_loads(message))
    if isinstance(error, str):
        candidates.append(_loads(error))
    for candidate in candidates:
        if isinstance(candidate, dict):
            candidate = candidate.get("issues")
        if (
            isinstance(candidate, list)
            and candidate
            and all(isinstance(i, dict) and "path" in i for i in candidate)
        ):
            return candidate
    return None


def _describe_issue(issue: Mapping[str, Any]) -> str:
    path = issue.get("path")
    parts = [str(p) for p in path] if isinstance(path, list) else []
    field = ".".join(parts) or "(the whole body)"
    return f"field {field}: {issue.get('message') or issue.get('code') or 'invalid'}"


def error_from_stream(message: str) -> LmArenaError:
    """The exception for an error reported inside a 200 stream (``a3`` or ``hasArenaError``).

    The site words rate limits and moderation there too (protocol §8.2); scripts that wait on
    exit 6 or give up on exit 7 should not see those as a plain upstream failure.
    """
    low = message.lower()
    if message == facts.ARENA_ERROR_TEXT:
        return UpstreamError(
            "the model failed on the site's side (hasArenaError)",
            detail=message,
            kind="arena_error",
        )
    if any(marker in low for marker in facts.STREAM_RATE_MARKERS):
        return RateLimited(
            "the site is rate-limiting this model or account", detail=message, kind="a3_rate"
        )
    if any(marker.lower() in low for marker in facts.MODERATION_MARKERS):
        return ContentRejected(
            "the site's moderation rejected the prompt", detail=message, kind="a3_moderation"
        )
    return UpstreamError(f"the site reported a failure: {message}", detail=message, kind="a3")


def error_from_response(status: int, body: str, headers: Mapping[str, str]) -> LmArenaError:
    """The error to raise for an HTTP answer that is not a stream (any status but a good 200).

    Every error keeps the site's words (shortened; never a whole HTML page) in ``.detail`` and a
    ``.kind`` that the retry policy decides on: cloudflare, recaptcha, login_gate, auth_expired,
    forbidden, rate_limited, moderation, invalid_content, too_large, zod, not_selectable,
    duplicate_ids, stale_action, not_found, server, unexpected.
    """
    data = _loads(body) if body.lstrip()[:1] in ("{", "[", '"') else _NOT_JSON
    said = (_error_text(data) if data is not _NOT_JSON else None) or body
    detail = _excerpt(said) if said.strip() else None
    low = said.lower()

    # A 429 stays a rate limit even when Cloudflare's page says so ("You are being rate limited").
    if status != 429 and any(marker in body for marker in facts.CLOUDFLARE_MARKERS):
        return Blocked(
            "Cloudflare's anti-bot check refused the request (it answered with its challenge "
            f"page, HTTP {status}); the browser has to pass the check again",
            detail=detail,
            kind="cloudflare",
        )
    if facts.RECAPTCHA_FAILED in low:
        return Blocked(
            "the site's reCAPTCHA check refused the request (the browser's score was too low or "
            "the token was stale); try again later, or with a visible browser "
            "(LM_ARENA_BROWSER_HEADLESS=0)",
            detail=detail,
            kind="recaptcha",
        )
    if status == 401 or facts.LOGIN_GATE in said:
        return _auth_error(status, said, detail)
    if status == 429:
        retry_after = parse_retry_after(_header(headers, "Retry-After"))
        wait = f"; the site asks to wait {retry_after:.0f} s" if retry_after is not None else ""
        return RateLimited(
            f"the site is rate-limiting this account or address (HTTP 429){wait}",
            retry_after=retry_after,
            detail=detail,
            kind="rate_limited",
        )
    content = _content_error(status, said, low, detail)
    if content is not None:
        return content
    if status == 400:
        return _bad_request(data, said, low, detail)
    if status == 404:
        return _not_found(said, low, detail)
    if status == 403:
        if "route not allowed" in low:
            return ProtocolError(
                "the site no longer accepts this endpoint (403 Route not allowed); "
                "the site's protocol changed; update lmarena",
                detail=detail,
                kind="forbidden",
            )
        return Blocked("the site refused the request (HTTP 403)", detail=detail, kind="forbidden")
    if status >= 500:
        return UpstreamUnavailable(
            f"the site failed to answer (HTTP {status}); try again in a moment",
            detail=detail,
            kind="server",
        )
    return ProtocolError(
        f"the site answered HTTP {status}, which this version of lmarena does not expect",
        detail=detail,
        kind="unexpected",
    )


def _auth_error(status: int, said: str, detail: str | None) -> LmArenaError:
    low = said.lower()
    if facts.LOGIN_GATE in said:
        return SignInRequired(
            "the site wants a signed-in account for this kind of chat; "
            "run `lmarena login` and sign in in the browser window",
            detail=detail,
            kind="login_gate",
        )
    if "does not have access" in low:
        return SignInRequired(
            "this conversation belongs to another account than the one signed in; "
            "sign in as its owner with `lmarena login`, or start a new conversation",
            detail=detail,
            kind="forbidden",
        )
    expired = any(marker in low for marker in facts.AUTH_EXPIRED_MARKERS)
    return SignInRequired(
        (
            "the sign-in has expired"
            if expired
            else f"the site wants a signed-in user (HTTP {status})"
        )
        + "; run `lmarena login` to sign in again",
        detail=detail,
        kind="auth_expired",
    )


def _content_error(status: int, said: str, low: str, detail: str | None) -> LmArenaError | None:
    if status == 413:
        return InputError(
            "the site refused the upload as too large (HTTP 413); send a smaller image",
            detail=detail,
            kind="too_large",
        )
    if status not in (400, 422):
        return None
    if "invalid content" in low or "user message is invalid" in low:
        return ContentRejected(
            "the site refused the prompt or image as invalid content",
            detail=detail,
            kind="invalid_content",
        )
    if status == 422 or any(m.lower() in low for m in facts.MODERATION_MARKERS):
        return ContentRejected(
            "the site's moderation refused the prompt (it violates the site's terms of use)",
            detail=detail,
            kind="moderation",
        )
    return None


def _bad_request(data: Any, said: str, low: str, detail: str | None) -> LmArenaError:
    issues = _zod_issues(data) if data is not _NOT_JSON else None
    if issues is not None:
        fields = "; ".join(_describe_issue(i) for i in issues[:5])
        return ProtocolError(
            f"the site rejected the request body: {fields} — the site's protocol changed; "
            "update lmarena",
            detail=_excerpt(orjson.dumps(issues).decode()),
            kind="zod",
        )
    if facts.NOT_SELECTABLE in low:
        return UsageError(
            "the site does not let users pick this model (not available for user selection); "
            "choose another from `lmarena models`",
            detail=detail,
            kind="not_selectable",
        )
    if "duplicate" in low:
        return UpstreamError(
            "the site refused reused message ids; a new attempt needs fresh ids",
            detail=detail,
            kind="duplicate_ids",
        )
    return ProtocolError(
        "the site refused the request as malformed (HTTP 400); the site's protocol may have "
        "changed",
        detail=detail,
        kind="unexpected",
    )


def _not_found(said: str, low: str, detail: str | None) -> LmArenaError:
    if facts.ACTION_NOT_FOUND.lower() in low:
        return ProtocolError(
            "the site no longer knows this server action id (it redeployed); "
            "the action ids have to be discovered again",
            detail=detail,
            kind="stale_action",
        )
    if "session" in low or "evaluation" in low:
        return ConversationNotFound(
            "the site does not know this conversation (HTTP 404)", detail=detail, kind="not_found"
        )
    return ProtocolError(
        "the site answered 404 for this endpoint; the site's protocol may have changed",
        detail=detail,
        kind="not_found",
    )

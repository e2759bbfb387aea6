"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``: Anthropic's Messages API over
the engine.

The body is checked by :mod:`.messages_fields` into a :class:`~.turn.Turn` (tool calls get
``toolu_`` ids; ``X-Claude-Code-Session-Id`` is the turn's session key). The answer is one
``message`` object, or, with ``stream: true``, Anthropic's named events: ``message_start``, a
``ping``, then for each content block ``content_block_start``, its deltas (``thinking_delta``
then a ``signature_delta``, ``text_delta``, ``citations_delta``, ``input_json_delta``) and
``content_block_stop``; then ``message_delta`` (``stop_reason``, ``stop_sequence``, ``usage``)
and ``message_stop``. Keep-alives are ``ping`` events. Only model A's answer is written (a
single-model chat the site answered as a battle is skipped by the client, as for chat
completions).

**Stop reasons.** The engine says ``stop`` both for a natural end and for a stop sequence (the
sequence is cut off before the client sees it). The two are told apart from the raw answer the
site sent (``reply.a.text``, which the engine's limiter cut): when a stop sequence of the request
occurs in it, the answer was cut there (the limiter cuts at the first occurrence of any of them),
``stop_reason`` is ``stop_sequence`` and ``stop_sequence`` is the earliest one; else ``end_turn``.
``tool_calls`` is ``tool_use``, ``length`` is ``max_tokens``, ``content_filter`` is ``refusal``.

**Errors** are Anthropic's envelope ``{"type": "error", "error": {"type", "message"}}``: before a
stream starts (and for a whole answer) with the HTTP status of :mod:`lmarena_cli.errors`, after
it as an ``error`` event. The types: 400 ``invalid_request_error`` (a prompt over the budget says
"prompt is too long", which Claude Code looks for), 401 ``authentication_error``, 403
``permission_error``, 404 ``not_found_error``, 413 ``request_too_large``, 429
``rate_limit_error`` (with ``retry-after``), 503 ``overloaded_error`` (the browser, the sign-in
or the server is unavailable: the status stays 503 rather than Anthropic's 529, so a client's
retry rules read it as the server's own unavailability), 504 ``timeout_error``, and any other
5xx (502: the site failed the answer) ``api_error``.

**count_tokens** is :func:`~lmarena_cli.client.content.usage.estimate_tokens` of the prompt that
:func:`.engine.compose` would send for the same body (the tool contract and the folded history
included; a continued conversation sends only the new turn), even when it is over the prompt
budget; nothing reaches the site.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import sys
from typing import Any

from aiohttp import web

from ..client.content.usage import estimate_tokens
from ..errors import LmArenaError, PromptTooLong, RateLimited
from . import engine, relay
from .advice import say
from .context import STATE, ServerState, json_response, read_json, tracked
from .messages_fields import MessagesRequest, parse_messages_request
from .sse import SSE
from .turn import Turn

#: The paths whose errors are written in Anthropic's envelope.
PATH = "/v1/messages"
#: A keep-alive, as Anthropic sends it.
PING = b'event: ping\ndata: {"type":"ping"}\n\n'
#: The ``signature`` of a thinking block: the site signs nothing, and a client that sends the
#: block back has it ignored, so this only has to be a non-empty string.
SIGNATURE = "lmarena-unsigned"
SESSION_HEADER = "X-Claude-Code-Session-Id"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}
_STOP_REASONS = {"tool_calls": "tool_use", "length": "max_tokens", "content_filter": "refusal"}


def is_messages_path(path: str) -> bool:
    return path == PATH or path.startswith(PATH + "/")


# --- handlers -------------------------------------------------------------------------------------


async def messages(request: web.Request) -> web.StreamResponse:
    """``POST /v1/messages``, with ``stream`` false (one message) or true (events)."""
    state = request.app[STATE]
    body = parse_messages_request(await read_json(request))
    for kind in body.dropped_tools:
        state.log(f"tools: a {kind!r} tool is a server tool; dropped (the site has no tools)")
    turn = _turn(request, body)
    async with tracked(state):
        run = await relay.prepare(state, turn)
        message_id = new_message_id()
        if not body.stream:
            outcome = await relay.whole(state, run)
            return json_response(message(message_id, body.model, run, outcome))
        sse = SSE(request, keepalive=state.keepalive, closing=state.closing, ping=PING)
        writer = MessageWriter(message_id, body.model, run)
        return await relay.streamed(request, state, run, writer, sse)


async def count_tokens(request: web.Request) -> web.Response:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": N}``, estimated; nothing is sent."""
    state = request.app[STATE]
    turn = _turn(request, parse_messages_request(await read_json(request), counting=True))
    return json_response({"input_tokens": estimate_tokens(prompt_text(state, turn))})


def prompt_text(state: ServerState, turn: Turn) -> str:
    """The prompt :func:`.engine.compose` would send for ``turn``, whatever its size (the count
    is what tells a client to shorten its history). A regenerate sends no new text; its turn is
    counted as sent to the conversation it regenerates."""
    where = engine.route(state, turn)
    if where.retry:
        where = engine.Route(where.conversation_id, turn.new_messages)
    unlimited = state.settings.replace(max_prompt_chars=sys.maxsize)
    # The copy shares the server's store (opened now if it was not) rather than opening its own.
    counting = dataclasses.replace(state, settings=unlimited, _served=state.served)
    return engine.compose(counting, turn, where).text


def _turn(request: web.Request, body: MessagesRequest) -> Turn:
    return body.to_turn(session_key=request.headers.get(SESSION_HEADER) or None)


def new_message_id() -> str:
    """A ``msg_`` id no other message of this server's life has (96 random bits)."""
    return "msg_" + secrets.token_urlsafe(18).replace("-", "a").replace("_", "b")


# --- the answer -----------------------------------------------------------------------------------


def message(
    message_id: str, model: str, run: engine.TurnRun, outcome: engine.Outcome
) -> dict[str, Any]:
    """The whole ``message``: thinking, text and tool_use blocks, the stop reason, the usage."""
    side = outcome.a
    content: list[dict[str, Any]] = []
    if side.reasoning:
        content.append({"type": "thinking", "thinking": side.reasoning, "signature": SIGNATURE})
    if side.text:
        block: dict[str, Any] = {"type": "text", "text": side.text}
        if side.citations:
            block["citations"] = [citation(c["url"], c["title"]) for c in side.citations]
        content.append(block)
    for call in side.calls:
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.args})
    reason, sequence = stop_reason(side.finish_reason, run)
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": usage(outcome.prompt_tokens, outcome.completion_tokens),
    }


def usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def citation(url: str, title: str | None) -> dict[str, Any]:
    """A search source as Anthropic's web search citation (the site gives no cited text)."""
    return {
        "type": "web_search_result_location",
        "url": url,
        "title": title,
        "cited_text": "",
        "encrypted_index": "",
    }


def stop_reason(reason: str | None, run: engine.TurnRun) -> tuple[str, str | None]:
    """Anthropic's ``stop_reason`` and ``stop_sequence`` for the engine's finish reason."""
    if reason in _STOP_REASONS:
        return _STOP_REASONS[reason], None
    sequence = matched_stop(run)
    return ("stop_sequence", sequence) if sequence is not None else ("end_turn", None)


def matched_stop(run: engine.TurnRun) -> str | None:
    """The stop sequence the answer was cut at: the earliest one in the site's raw text."""
    stops = run.turn.limits.stop
    reply = run.stream.reply if run.stream is not None else None
    if not stops or reply is None:
        return None
    raw = reply.a.text
    found = [(raw.find(stop), index) for index, stop in enumerate(stops) if stop in raw]
    return stops[min(found)[1]] if found else None


class MessageWriter:
    """A streamed answer as the Messages API's events (model A's side only)."""

    def __init__(self, message_id: str, model: str, run: engine.TurnRun) -> None:
        self.message_id, self.model, self.run = message_id, model, run
        self.started = False
        self.block: str | None = None  # the type of the content block open now
        self.index = -1
        self.held: list[dict[str, Any]] = []  # citations that came while no text block was open
        self.reason: str | None = None

    async def event(self, sse: SSE, out: engine.Out) -> None:
        if isinstance(out, engine.Opened):
            await self._start(sse)
        elif isinstance(out, engine.BattleSkipped) or out.index != 0:
            return
        elif isinstance(out, engine.Reasoning):
            await self._open(sse, "thinking")
            await self._delta(sse, {"type": "thinking_delta", "thinking": out.text})
        elif isinstance(out, engine.Text):
            await self._open(sse, "text")
            await self._delta(sse, {"type": "text_delta", "text": out.text})
        elif isinstance(out, engine.Cited):
            self.held.append(citation(out.url, out.title))
            if self.block == "text":
                await self._citations(sse)
        elif isinstance(out, engine.Called):
            await self._close(sse)
            call = out.call
            head = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            await self._begin(sse, head)
            await self._delta(sse, {"type": "input_json_delta", "partial_json": call.arguments})
            await self._close(sse)
        elif isinstance(out, engine.Finished):
            await self._close(sse)
            self.reason = out.reason

    async def finish(self, sse: SSE, outcome: engine.Outcome) -> None:
        await self._start(sse)
        await self._close(sse)
        reason, sequence = stop_reason(self.reason or outcome.a.finish_reason, self.run)
        delta = {"stop_reason": reason, "stop_sequence": sequence}
        spent = usage(outcome.prompt_tokens, outcome.completion_tokens)
        await sse.event("message_delta", {"type": "message_delta", "delta": delta, "usage": spent})
        await sse.event("message_stop", {"type": "message_stop"})
        await sse.end()

    async def fail(self, sse: SSE, error: LmArenaError) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await sse.event("error", error_body(error))
            await sse.end()

    async def _start(self, sse: SSE) -> None:
        if self.started:
            return
        self.started = True
        body: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage(estimate_tokens(self.run.prompt.text), 0),
        }
        await sse.event("message_start", {"type": "message_start", "message": body})
        await sse.event("ping", {"type": "ping"})

    async def _open(self, sse: SSE, kind: str) -> None:
        if self.block == kind:
            return
        await self._close(sse)
        if kind == "thinking":
            await self._begin(sse, {"type": "thinking", "thinking": "", "signature": ""})
        else:
            await self._begin(sse, {"type": "text", "text": ""})
            await self._citations(sse)

    async def _begin(self, sse: SSE, block: dict[str, Any]) -> None:
        self.index += 1
        self.block = block["type"]
        body: dict[str, Any] = {
            "type": "content_block_start",
            "index": self.index,
            "content_block": block,
        }
        await sse.event("content_block_start", body)

    async def _delta(self, sse: SSE, delta: dict[str, Any]) -> None:
        body = {"type": "content_block_delta", "index": self.index, "delta": delta}
        await sse.event("content_block_delta", body)

    async def _citations(self, sse: SSE) -> None:
        for held in self.held:
            await self._delta(sse, {"type": "citations_delta", "citation": held})
        self.held.clear()

    async def _close(self, sse: SSE) -> None:
        if self.block is None:
            return
        if self.block == "thinking":
            await self._delta(sse, {"type": "signature_delta", "signature": SIGNATURE})
        self.block = None
        body = {"type": "content_block_stop", "index": self.index}
        await sse.event("content_block_stop", body)


# --- errors ---------------------------------------------------------------------------------------


def error_type(status: int) -> str:
    """Anthropic's ``error.type`` for an HTTP status."""
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def envelope(message: str, status: int) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(status), "message": message}}


def error_body(error: LmArenaError) -> dict[str, Any]:
    text = say(error)
    if isinstance(error, PromptTooLong):
        text = f"prompt is too long: {text}"
    return envelope(text, error.http_status)


def error_response(error: LmArenaError) -> web.Response:
    """An error before anything was sent: the envelope with its status (``retry-after`` too)."""
    response = json_response(error_body(error), status=error.http_status)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        response.headers["Retry-After"] = str(max(0, round(error.retry_after)))
    return response


def http_error(status: int, message: str) -> web.Response:
    """An HTTP-level failure (401, 404, 405, 413, 500) in Anthropic's envelope."""
    return json_response(envelope(message, status), status=status)


__all__ = [
    "PATH",
    "PING",
    "MessageWriter",
    "count_tokens",
    "error_body",
    "error_response",
    "http_error",
    "is_messages_path",
    "message",
    "messages",
    "new_message_id",
    "prompt_text",
    "stop_reason",
]

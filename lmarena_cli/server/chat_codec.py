"""``POST /v1/chat/completions``: OpenAI's chat completions over the engine.

The body is checked by :mod:`.requests` (and :mod:`.chat_fields`) into a :class:`~.turn.Turn`;
the answer is written as one ``chat.completion`` or as ``chat.completion.chunk`` events ending
with ``data: [DONE]``. Tool calls are ``message.tool_calls`` (``finish_reason: "tool_calls"``);
in a stream each call is a first delta with its ``index``, ``id``, ``type`` and
``function.name``, then a delta with its arguments. Side by side and battle answers are
``choices[0]`` (model A) and ``choices[1]`` (model B), with the ``arena`` extension field.
``usage`` is always there: the site's counts when it sent them, else this server's estimate.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ..errors import LmArenaError
from . import engine, openai_shapes, relay, requests
from .context import STATE, json_response, read_json, tracked
from .sse import SSE


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/chat/completions``, with ``stream`` false (one body) or true (events)."""
    state = request.app[STATE]
    chat = requests.parse_chat_request(await read_json(request))
    for kind in chat.dropped_tools:
        state.log(f"tools: a {kind!r} tool is not a function; dropped (the site has no tools)")
    key = chat.prompt_cache_key or request.headers.get("session-id") or None
    turn = chat.to_turn(session_key=key)
    async with tracked(state):
        run = await relay.prepare(state, turn)
        maker = openai_shapes.ChunkMaker(
            openai_shapes.completion_id(), int(time.time()), chat.model, chat.include_usage
        )
        if not chat.stream:
            outcome = await relay.whole(state, run)
            return json_response(completion(outcome, maker, legacy=chat.legacy_functions))
        sse = SSE(request, keepalive=state.keepalive, closing=state.closing)
        writer = ChunkWriter(maker, legacy=chat.legacy_functions)
        return await relay.streamed(request, state, run, writer, sse)


def completion(
    outcome: engine.Outcome, maker: openai_shapes.ChunkMaker, *, legacy: bool = False
) -> dict[str, Any]:
    """A ``chat.completion``; side by side and battle answer in ``choices[0]`` and ``[1]``.

    ``legacy``: the request declared ``functions``, so a call is ``message.function_call``
    (the first one) with ``finish_reason`` ``function_call``."""
    choices = []
    for index, side in enumerate(outcome.sides):
        message: dict[str, Any] = {"role": "assistant", "content": side.text}
        reason = side.finish_reason or "stop"
        if side.calls and legacy:
            first = side.calls[0]
            message["content"] = side.text or None
            message["function_call"] = {"name": first.name, "arguments": first.arguments}
            reason = "function_call"
        elif side.calls:
            message["content"] = side.text or None
            message["tool_calls"] = [_call(call) for call in side.calls]
        if side.reasoning:
            message["reasoning_content"] = side.reasoning
        if side.citations:
            message["citations"] = list(side.citations)
        choice: dict[str, Any] = {
            "index": index,
            "message": message,
            "finish_reason": reason,
            "logprobs": None,
        }
        if len(outcome.sides) > 1:
            choice["model"] = side.model
        choices.append(choice)
    body: dict[str, Any] = {
        "id": maker.completion_id,
        "object": "chat.completion",
        "created": maker.created,
        "model": maker.model,
        "choices": choices,
        "usage": outcome.usage,
        **openai_shapes.conversation_fields(outcome.conversation_id),
    }
    if len(outcome.sides) > 1:
        body["arena"] = {"mode": outcome.mode, "models": [side.model for side in outcome.sides]}
    if outcome.battle_skipped is not None:
        body.update(openai_shapes.battle_fields(outcome.battle_skipped))
    return body


def _call(call: Any) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


class ChunkWriter:
    """A streamed answer as ``chat.completion.chunk`` events."""

    def __init__(self, maker: openai_shapes.ChunkMaker, *, legacy: bool = False) -> None:
        self.maker = maker
        self.legacy = legacy  # calls as the legacy ``function_call`` deltas
        self.calls: dict[int, int] = {}  # choice index -> tool calls sent

    async def event(self, sse: SSE, out: engine.Out) -> None:
        maker = self.maker
        if isinstance(out, engine.Opened):
            await sse.data(maker.first(out.conversation_id, out.sides))
        elif isinstance(out, engine.Text):
            await sse.data(maker.delta(out.index, content=out.text))
        elif isinstance(out, engine.Reasoning):
            await sse.data(maker.delta(out.index, reasoning_content=out.text))
        elif isinstance(out, engine.Cited):
            citation = {"url": out.url, "title": out.title}
            await sse.data(maker.delta(out.index, citations=[citation]))
        elif isinstance(out, engine.Called) and self.legacy:
            if self.calls.setdefault(out.index, 0) == 0:  # one function_call per answer
                self.calls[out.index] = 1
                named = {"name": out.call.name, "arguments": ""}
                await sse.data(maker.delta(out.index, function_call=named))
                rest = {"arguments": out.call.arguments}
                await sse.data(maker.delta(out.index, function_call=rest))
        elif isinstance(out, engine.Called):
            number = self.calls.get(out.index, 0)
            self.calls[out.index] = number + 1
            head: dict[str, Any] = {
                "index": number,
                "id": out.call.id,
                "type": "function",
                "function": {"name": out.call.name, "arguments": ""},
            }
            await sse.data(maker.delta(out.index, tool_calls=[head]))
            arguments = {"index": number, "function": {"arguments": out.call.arguments}}
            await sse.data(maker.delta(out.index, tool_calls=[arguments]))
        elif isinstance(out, engine.Finished):
            legacy_call = self.legacy and out.reason == "tool_calls"
            reason = "function_call" if legacy_call else out.reason
            await sse.data(maker.finish(out.index, reason))
        elif isinstance(out, engine.BattleSkipped):
            await sse.data(maker.chunk([], **openai_shapes.battle_fields(out.skipped)))

    async def finish(self, sse: SSE, outcome: engine.Outcome) -> None:
        if self.maker.include_usage:
            await sse.data(self.maker.usage(outcome.usage))
        await sse.done()

    async def fail(self, sse: SSE, error: LmArenaError) -> None:
        await end_with_error(sse, self.maker, error)


async def end_with_error(sse: SSE, maker: openai_shapes.ChunkMaker, error: LmArenaError) -> None:
    """End a started stream with a chunk carrying ``error``, then ``data: [DONE]``."""
    import contextlib

    with contextlib.suppress(ConnectionError, RuntimeError):
        await sse.data(maker.error(error))
        await sse.done()


__all__ = ["ChunkWriter", "chat_completions", "completion", "end_with_error"]

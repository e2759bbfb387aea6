"""``POST /v1/responses`` and ``GET``/``DELETE /v1/responses/{id}``: OpenAI's Responses API over
the engine.

The body is checked by :mod:`.responses_input` into a :class:`~.turn.Turn`; the answer is one
response object (:mod:`.responses_output`) or a stream of named events with a
``sequence_number``, in the order the SDKs check: ``response.created``,
``response.in_progress``, then per output item ``response.output_item.added``, its parts and
deltas, ``response.output_item.done``, and last ``response.completed`` (``response.incomplete``
when cut by ``max_output_tokens``) with the whole response; a failure after the start is
``response.failed`` with ``error.code``.

Every response is kept in the conversation store (:class:`~..state.served.ServedStore`) with the
conversation it belongs to. ``previous_response_id`` naming a conversation's latest response
continues that conversation with only the new input; an older one is 409 (the site cannot branch
a conversation); an unknown one 404 ``previous_response_not_found``. An ``item_reference``
input item is replaced by the kept item it names (output item ids name their response). With
``store: false`` only a marker is kept: the response cannot be fetched or continued from, but
it still counts as its conversation's latest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..errors import FieldError, LmArenaError, StoreError
from ..state.served import StoredResponse
from . import engine, relay
from . import responses_output as out
from .context import STATE, ServerState, json_response, read_json, tracked
from .openai_shapes import plain_error
from .responses_input import parse_request, previous_response_id
from .sse import SSE


async def create_response(request: web.Request) -> web.StreamResponse:
    """``POST /v1/responses``, with ``stream`` false (one body) or true (named events)."""
    state = request.app[STATE]
    data = await read_json(request)
    if isinstance(data, Mapping) and isinstance(data.get("input"), list):
        data = {**data, "input": resolve_references(state, data["input"])}
    previous: StoredResponse | None = None
    wanted = previous_response_id(data) if isinstance(data, Mapping) else None
    if wanted is not None:
        previous = state.served.response(wanted)
        if previous is None or not kept(previous):
            return not_found(
                wanted, param="previous_response_id", code="previous_response_not_found"
            )
        if not previous.latest:
            return cannot_branch(wanted)
    req = parse_request(data, call_names=call_names(previous.body) if previous else None)
    for note in req.notes:
        state.log(note)
    headers = request.headers
    session = headers.get("session-id") or headers.get("session_id") or None
    turn = req.to_turn(
        conversation_id=previous.conversation_id if previous else None, session_key=session
    )
    shape = out.Shape.of(req)
    async with tracked(state):
        run = await relay.prepare(state, turn)
        if not req.stream:
            outcome = await relay.whole(state, run)
            body = shape.finished(outcome, out.items_of(shape, outcome))
            save(state, body, outcome.conversation_id)
            return json_response(body)
        sse = SSE(request, keepalive=state.keepalive, closing=state.closing)
        return await relay.streamed(request, state, run, EventWriter(state, shape), sse)


async def get_response(request: web.Request) -> web.Response:
    """``GET /v1/responses/{id}``: the response as it was returned."""
    response_id = request.match_info["id"]
    stored = request.app[STATE].served.response(response_id)
    if stored is None or not kept(stored):
        return not_found(response_id)
    return json_response(stored.body)


async def delete_response(request: web.Request) -> web.Response:
    """``DELETE /v1/responses/{id}``. A conversation's latest response leaves a marker behind,
    so that an older one does not become continuable."""
    response_id = request.match_info["id"]
    served = request.app[STATE].served
    stored = served.response(response_id)
    if stored is None or not kept(stored):
        return not_found(response_id)
    if stored.latest:
        served.save_response(response_id, stored.conversation_id, _marker(response_id))
    else:
        served.delete_response(response_id)
    return json_response({"id": response_id, "object": "response.deleted", "deleted": True})


def resolve_references(state: ServerState, items: list[Any]) -> list[Any]:
    """``item_reference`` items replaced by the kept output items they name: what the AI SDK
    sends for earlier answers with ``store: true``."""
    resolved: list[Any] = []
    seen: dict[str, StoredResponse | None] = {}
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or item.get("type") != "item_reference":
            resolved.append(item)
            continue
        item_id = item.get("id")
        response_id = out.response_of_item(item_id) if isinstance(item_id, str) else None
        if response_id is not None and response_id not in seen:
            seen[response_id] = state.served.response(response_id)
        stored = seen.get(response_id) if response_id is not None else None
        found = [
            kept_item
            for kept_item in (stored.body.get("output") or [] if stored else [])
            if kept_item.get("id") == item_id
        ]
        if not found:
            raise FieldError(
                f"input[{index}].id",
                f"input[{index}] refers to {item_id!r}, which no response kept by this server "
                "holds; send the item itself",
            )
        resolved.append(found[0])
    return resolved


def save(state: ServerState, body: dict[str, Any], conversation_id: str) -> None:
    """Keep the response (only a marker with ``store: false``); never lose the answer for it."""
    if not conversation_id:
        return
    kept_body = body if body.get("store", True) is not False else _marker(body["id"])
    try:
        state.served.save_response(body["id"], conversation_id, kept_body)
    except StoreError as error:
        state.log(f"could not keep response {body['id']}: {error}")


def _marker(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "object": "response", "kept": False}


def kept(stored: StoredResponse) -> bool:
    return stored.body.get("kept") is not False


def call_names(body: Mapping[str, Any]) -> dict[str, str]:
    """Call id -> tool name of a stored response's calls (to name their outputs)."""
    names = {}
    for item in body.get("output") or []:
        if item.get("type") in ("function_call", "custom_tool_call"):
            names[str(item.get("call_id"))] = str(item.get("name"))
    return names


def not_found(
    response_id: str, *, param: str | None = None, code: str = "not_found"
) -> web.Response:
    message = f"no response with id {response_id!r} is kept by this server"
    body = plain_error(message, error_type="invalid_request_error", code=code, param=param)
    return json_response(body, status=404)


def cannot_branch(response_id: str) -> web.Response:
    message = (
        f"response {response_id!r} is not the latest of its conversation, and the site cannot "
        "branch a conversation: continue from its latest response, or send the whole history "
        "without previous_response_id (it then starts a new conversation)"
    )
    body = plain_error(
        message,
        error_type="invalid_request_error",
        code="conversation_cannot_branch",
        param="previous_response_id",
    )
    return json_response(body, status=409)


class EventWriter:
    """A streamed answer as the Responses API's named events. Model A only (the API has one
    answer per response). Whitespace before a call is held back, so that a call alone makes no
    empty message item (the non-streamed body has none either)."""

    def __init__(self, state: ServerState, shape: out.Shape) -> None:
        self.state, self.shape = state, shape
        self.sequence = 0
        self.started = False
        self.items: list[dict[str, Any]] = []
        self.open: dict[str, Any] | None = None  # the message or reasoning item being written
        self.text = ""  # the open item's text so far
        self.held = ""  # whitespace not yet given to a message item
        self.citations: list[dict[str, Any]] = []
        self.calls = 0
        self.reason: str | None = None

    async def send(self, sse: SSE, name: str, /, **fields: Any) -> None:
        await sse.event(name, {"type": name, "sequence_number": self.sequence, **fields})
        self.sequence += 1

    async def start(self, sse: SSE) -> None:
        if not self.started:
            self.started = True
            body = self.shape.body("in_progress", [])
            await self.send(sse, "response.created", response=body)
            await self.send(sse, "response.in_progress", response=body)

    async def event(self, sse: SSE, event: engine.Out) -> None:
        if isinstance(event, engine.Opened):
            await self.start(sse)
        elif getattr(event, "index", 0) != 0:
            return
        elif isinstance(event, engine.Text):
            await self._text(sse, event.text)
        elif isinstance(event, engine.Reasoning):
            await self._reasoning(sse, event.text)
        elif isinstance(event, engine.Cited):
            self.citations.append({"url": event.url, "title": event.title})
        elif isinstance(event, engine.Called):
            self.held = ""
            await self._close(sse)
            await self._call(sse, event.call)
        elif isinstance(event, engine.Finished):
            self.reason = event.reason
            if self.held and not self.calls:
                await self._text(sse, "", flush=True)
            await self._close(sse)
            if not self.items:
                await self._text(sse, "", flush=True)  # an empty answer is an empty message
                await self._close(sse)

    async def _text(self, sse: SSE, text: str, *, flush: bool = False) -> None:
        if self.open is None or self.open["type"] != "message":
            if not flush and not text.strip():
                self.held += text
                return
            await self._close(sse)
            item_id = self.shape.item_id("msg_", len(self.items))
            await self._open(sse, out.message_item(item_id, "", [], "in_progress"))
            await self.send(
                sse,
                "response.content_part.added",
                **self._where(),
                content_index=0,
                part=out.text_part("", []),
            )
        text, self.held = self.held + text, ""
        if text:
            self.text += text
            await self.send(
                sse,
                "response.output_text.delta",
                **self._where(),
                content_index=0,
                delta=text,
                logprobs=[],
            )

    async def _reasoning(self, sse: SSE, text: str) -> None:
        if self.open is None or self.open["type"] != "reasoning":
            await self._close(sse)
            item_id = self.shape.item_id("rs_", len(self.items))
            await self._open(sse, out.reasoning_item(item_id, "", "in_progress"))
            part = {"type": "summary_text", "text": ""}
            await self.send(
                sse,
                "response.reasoning_summary_part.added",
                **self._where(),
                summary_index=0,
                part=part,
            )
        self.text += text
        await self.send(
            sse,
            "response.reasoning_summary_text.delta",
            **self._where(),
            summary_index=0,
            delta=text,
        )

    async def _call(self, sse: SSE, call: Any) -> None:
        self.calls += 1
        shape, index = self.shape, len(self.items)
        added = shape.call_item(call, "in_progress", index, arguments="")
        await self.send(sse, "response.output_item.added", output_index=index, item=added)
        done = shape.call_item(call, "completed", index)
        where = {"item_id": added["id"], "output_index": index}
        text = shape.call_text(call)
        if done["type"] == "custom_tool_call":
            await self.send(sse, "response.custom_tool_call_input.delta", **where, delta=text)
            await self.send(sse, "response.custom_tool_call_input.done", **where, input=text)
        else:
            await self.send(sse, "response.function_call_arguments.delta", **where, delta=text)
            await self.send(
                sse,
                "response.function_call_arguments.done",
                **where,
                name=call.name,
                arguments=text,
            )
        self.items.append(done)
        await self.send(sse, "response.output_item.done", output_index=index, item=done)

    async def _open(self, sse: SSE, item: dict[str, Any]) -> None:
        self.open, self.text = item, ""
        await self.send(sse, "response.output_item.added", output_index=len(self.items), item=item)

    def _where(self) -> dict[str, Any]:
        assert self.open is not None
        return {"item_id": self.open["id"], "output_index": len(self.items)}

    async def _close(self, sse: SSE) -> None:
        item, text = self.open, self.text
        if item is None:
            return
        where = self._where()
        if item["type"] == "message":
            status = "incomplete" if out.status_of(self.reason)[0] == "incomplete" else "completed"
            part = out.text_part(text, out.cited(self.citations, text))
            await self.send(
                sse, "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
            )
            await self.send(sse, "response.content_part.done", **where, content_index=0, part=part)
            done = out.message_item(item["id"], text, part["annotations"], status)
        else:
            part = {"type": "summary_text", "text": text}
            await self.send(
                sse, "response.reasoning_summary_text.done", **where, summary_index=0, text=text
            )
            await self.send(
                sse, "response.reasoning_summary_part.done", **where, summary_index=0, part=part
            )
            done = out.reasoning_item(item["id"], text, "completed")
        self.open, self.text = None, ""
        self.items.append(done)
        await self.send(
            sse, "response.output_item.done", output_index=where["output_index"], item=done
        )

    async def finish(self, sse: SSE, outcome: engine.Outcome) -> None:
        await self.start(sse)
        await self._close(sse)
        body = self.shape.finished(outcome, self.items)
        name = "response.completed" if body["status"] == "completed" else "response.incomplete"
        await self.send(sse, name, response=body)
        save(self.state, body, outcome.conversation_id)
        await sse.end()

    async def fail(self, sse: SSE, error: LmArenaError) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.start(sse)
            body = self.shape.body("failed", self.items, error=out.failure(error))
            await self.send(sse, "response.failed", response=body)
            await sse.end()


__all__ = ["EventWriter", "create_response", "delete_response", "get_response"]

"""The routes of ``lmarena serve``: health, models, chat completions (whole or streamed), images.

Each handler checks the request with :mod:`.requests`, calls the client, and shapes the answer
with :mod:`.responses`; failures are left to the error middleware of :mod:`.app`, which turns
them into OpenAI's error envelope with the right HTTP status. See :mod:`.app` for the extension
fields and how a conversation is picked.

**Regenerate.** A request whose messages are a stored transcript up to and including its last user
message, that is, the same history again without the answer that followed (what a client's
"regenerate" sends), asks for that answer again: the site's retry endpoint answers it (protocol
§7.4) instead of the user message being posted a second time, and the new answer replaces the old
one in the store. Only for single-model conversations whose answer id is stored, under
``LM_ARENA_SERVE_HISTORY=match``, and when the request names the same model.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..client.client import ChatSession, Client, Reply, ReplyStream
from ..client.netguard import check_url
from ..errors import (
    FieldError,
    InputError,
    LmArenaError,
    ShuttingDown,
    UpstreamError,
    UsageError,
)
from ..site import facts
from . import requests, responses
from .context import STATE, ServerState, json_response, read_json, tracked
from .sse import SSE, end_with_error, relay
from .tasks import abandon, race

# --- small endpoints ------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    """``{"ready", "status", "reason"}``; 503 while not ready, so load balancers can use it."""
    state = request.app[STATE]
    ready = state.status == "ready"
    body = {"ready": ready, "status": state.status, "reason": state.reason}
    return json_response(body, status=200 if ready else 503)


async def list_models(request: web.Request) -> web.Response:
    """``GET /v1/models``: OpenAI's list shape, capabilities as extension fields."""
    client = request.app[STATE].client
    return json_response(responses.model_list(await client.list_models()))


async def get_model(request: web.Request) -> web.Response:
    """``GET /v1/models/{name}``: one model, or 404 ``model_not_found``."""
    client = request.app[STATE].client
    return json_response(responses.model_entry(await client.model(request.match_info["name"])))


# --- chat completions -----------------------------------------------------------------------------


@dataclass
class Plan:
    """What one chat request sends: to which conversation, which text, which images."""

    chat: ChatSession
    prompt: str
    images: list[str]
    #: The request's messages that are new to the stored transcript (recorded after the answer).
    new_messages: list[dict[str, Any]]
    #: A regenerate: the conversation's latest answer is asked for again (see the module doc).
    retry: bool = False


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """``POST /v1/chat/completions``, with ``stream`` false (one body) or true (events)."""
    state = request.app[STATE]
    chat_request = requests.parse_chat_request(await read_json(request))
    async with tracked(state):
        plan = await _plan(state, chat_request)
        await _check_images(state, plan.images)
        if chat_request.stream:
            return await _stream(request, state, chat_request, plan)
        return await _complete(state, chat_request, plan)


async def _plan(state: ServerState, req: requests.ChatRequest) -> Plan:
    """Pick the conversation (named, matched by transcript, or new) and the text to send."""
    client, turn = state.client, req.turn
    model = None if req.battle else req.model
    if req.conversation_id is not None:
        chat = await client.chats.resume(req.conversation_id, model=model, versus=req.versus)
        return Plan(chat, turn.text, turn.images, req.messages[req.turn_start :])
    if state.history == "match" and state.records and not (req.battle or req.versus):
        again = await _regenerate(state, req, model)
        if again is not None:
            return again
    if state.history == "match" and req.history:
        found = client.store.find_by_transcript(req.messages)
        if found is not None:
            chat = await client.chats.resume(found.id, model=model, versus=req.versus)
            new = req.messages[len(found.transcript) :]
            new_turn = requests.user_turn(new)
            return Plan(chat, new_turn.text, new_turn.images, new)
    chat = await client.chats.create(model=model, versus=req.versus, battle=req.battle)
    prompt = turn.text
    if state.history == "match":
        prompt = requests.fold_history(req.history, turn.text)
    return Plan(chat, prompt, turn.images, list(req.messages))


async def _regenerate(
    state: ServerState, req: requests.ChatRequest, model: str | None
) -> Plan | None:
    """A regenerate (see the module doc), or None when the request is not one."""
    if req.turn.images:
        return None  # images are not in the stored transcript: it cannot be told apart
    found = state.client.store.find_regenerate(req.messages)
    if found is None or not found.answer_id:
        return None
    chat = await state.client.chats.resume(found.id, model=model)
    if chat.mode != facts.Mode.DIRECT or chat.model is None or chat.model.name != found.model:
        return None  # another model was asked for: the site's retry would answer with the old
    return Plan(chat, "", [], [], retry=True)


async def _check_images(state: ServerState, images: list[str]) -> None:
    """Refuse image URLs the address guard forbids before anything reaches the site.

    The client's fetch applies the same guard again, on every redirect and after DNS
    resolution; this early check makes a refusal a clear 400 before a token is spent.
    """
    for url in images:
        scheme = url.partition(":")[0].lower()
        if scheme in ("http", "https"):
            await check_url(url, allow_private=state.settings.allow_private_urls)
        elif scheme != "data":
            raise InputError(
                f"an image_url must be a data: URI or an http(s) URL, not {url[:40]!r}"
            )


async def _complete(state: ServerState, req: requests.ChatRequest, plan: Plan) -> web.Response:
    async def answer() -> Reply:
        return await _drain(await _send(plan))

    reply = await _unless_closing(state, asyncio.ensure_future(answer()))
    _record(state, plan, reply)
    body = responses.completion(
        reply, completion_id=responses.completion_id(), created=int(time.time()), model=req.model
    )
    return json_response(body)


async def _send(plan: Plan) -> ReplyStream:
    if plan.retry:
        return await plan.chat.retry(stream=True)
    stream: ReplyStream = await plan.chat.send(plan.prompt, images=plan.images or None, stream=True)
    return stream


async def _unless_closing(state: ServerState, task: asyncio.Future[Reply]) -> Reply:
    """``task``'s reply; :class:`ShuttingDown` when shutdown ends open requests first."""
    if not await race(task, state.closing):
        await abandon(task)
        raise ShuttingDown()
    return task.result()


def _record(state: ServerState, plan: Plan, reply: Reply, content: str | None = None) -> None:
    """Store the exchange as the client will send it back next time; never lose the answer.

    ``content`` is model A's answer exactly as it was streamed (text and images in the order
    they came), else the non-streamed shape of it.
    """
    if not state.records:
        return
    chat = plan.chat
    if content is None:
        content = responses.answer_content(reply.a)
    if plan.retry:
        state.client.record_retry(reply, content)
        return
    answer = {"role": "assistant", "content": content}
    # A failing store is logged by the client (the "lmarena" logger), never raised.
    state.client.record_exchange(
        reply,
        model=chat.model.name if chat.model else (reply.a.model or "battle"),
        model_b=chat.model_b.name if chat.model_b else reply.b.model if reply.b else None,
        mode=str(chat.mode),
        messages=[*plan.new_messages, answer],
        answer_id=reply.a.message_id,
    )


async def _stream(
    request: web.Request, state: ServerState, req: requests.ChatRequest, plan: Plan
) -> web.StreamResponse:
    sse = SSE(request, keepalive=state.keepalive, closing=state.closing)
    maker = responses.ChunkMaker(
        responses.completion_id(), int(time.time()), req.model, include_usage=req.include_usage
    )
    stream: ReplyStream | None = None
    try:
        # If the site takes long to accept the request, the event stream starts with keep-alives.
        sending = asyncio.ensure_future(_send(plan))
        if not await sse.wait_for(sending):  # shutdown came first
            await end_with_error(sse, maker, ShuttingDown())
        else:
            stream = sending.result()
            content = await relay(stream, sse, maker)
            if content is not None:  # None: shutdown cut the answer short
                _record(state, plan, stream.reply, content)
    except LmArenaError as error:
        if sse.response is None:
            raise  # nothing sent yet: a plain HTTP error with its status
        await end_with_error(sse, maker, error)
    except ConnectionError:
        pass  # the client went away; the upstream request is closed below
    except Exception as exc:
        if sse.response is None:
            raise
        state.log(f"internal error while streaming: {type(exc).__name__}: {exc}")
        await end_with_error(sse, maker, LmArenaError(f"internal server error ({exc})"))
    finally:
        if stream is not None:
            await stream.aclose()
    assert sse.response is not None
    return sse.response


# --- images ---------------------------------------------------------------------------------------


async def image_generations(request: web.Request) -> web.Response:
    """``POST /v1/images/generations``: ``n`` images from an image model, as URLs or base64."""
    state = request.app[STATE]
    req = requests.parse_image_request(await read_json(request))
    client = state.client
    async with tracked(state):
        model = await _image_model(client, req.model)
        urls: list[str] = []
        for _ in range(req.n):
            chat = await client.chats.create(model=model)
            stream = await chat.send(req.prompt, stream=True)
            reply = await _unless_closing(state, asyncio.ensure_future(_drain(stream)))
            if not reply.images:
                raise UpstreamError(
                    f"{model} answered without an image", detail=reply.text[:200] or None
                )
            urls.extend(reply.images)
        blobs = [await client.download(url) for url in urls] if req.b64 else None
    return json_response(responses.images_response(int(time.time()), urls, blobs))


async def _drain(stream: ReplyStream) -> Reply:
    try:
        async for _ in stream.events():
            pass
    finally:
        await stream.aclose()
    return stream.reply


async def _image_model(client: Client, name: str | None) -> str:
    """The named model (which must make images), else the first model that makes images."""
    if name:
        model = await client.model(name)
        if not model.outputs_images:
            raise FieldError("model", f"{model.name} does not generate images")
        return model.name
    for model in await client.list_models():
        if model.outputs_images:
            return model.name
    raise UsageError("the site lists no image generation model")


__all__ = [
    "Plan",
    "chat_completions",
    "get_model",
    "health",
    "image_generations",
    "list_models",
]

"""The small routes of ``lmarena serve``: health, models, images.

The model routes of the three API shapes are codecs of their own (:mod:`.chat_codec`, and the
others named in :mod:`.app`), over the one engine (:mod:`.engine`). Failures are left to the
error middleware of :mod:`.app`, which writes the error envelope with the right HTTP status.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from ..client.client import Client
from ..errors import FieldError, ShuttingDown, UpstreamError, UsageError
from . import openai_shapes, requests
from .context import STATE, json_response, read_json, tracked
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
    return json_response(openai_shapes.model_list(await client.list_models()))


async def get_model(request: web.Request) -> web.Response:
    """``GET /v1/models/{name}``: one model, or 404 ``model_not_found``."""
    client = request.app[STATE].client
    return json_response(openai_shapes.model_entry(await client.model(request.match_info["name"])))


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
            task = asyncio.ensure_future(stream.read_reply())
            if not await race(task, state.closing):
                await abandon(task)
                raise ShuttingDown()
            reply = task.result()
            if not reply.images:
                raise UpstreamError(
                    f"{model} answered without an image", detail=reply.text[:200] or None
                )
            urls.extend(reply.images)
        blobs = [await client.download(url) for url in urls] if req.b64 else None
    return json_response(openai_shapes.images_response(int(time.time()), urls, blobs))


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
    "get_model",
    "health",
    "image_generations",
    "list_models",
]

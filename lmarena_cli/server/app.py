"""``lmarena serve``: the OpenAI-compatible application (routes and middlewares) on aiohttp.web.

Endpoints::

    GET  /v1/models                 OpenAI list shape; capabilities as extension fields
    GET  /v1/models/{name}          one model
    POST /v1/chat/completions       stream false or true (server-sent events)
    POST /v1/images/generations     image models; ``url`` items (or ``b64_json``)
    POST /v1/responses              OpenAI's Responses API (:mod:`.responses_codec`)
    GET|DELETE /v1/responses/{id}   a kept response
    POST /v1/messages               Anthropic's Messages API (:mod:`.messages_codec`)
    POST /v1/messages/count_tokens  its prompt estimate; nothing is sent
    GET  /health                    {"ready": bool, "status": ..., "reason": ...}; no API key needed

Extension fields of a chat completion request (all optional):

* ``conversation: {"evaluationSessionId": "<id>"}`` or ``conversation_id: "<id>"``: continue that
  conversation on the site; only the last user turn is sent (the site keeps the history).
* ``arena: {"versus": "<model>"}``: side by side. ``arena: {"battle": true}``: an anonymous battle
  (``model`` is then only a label). Both answers come back: ``choices[0]`` is model A and
  ``choices[1]`` (index 1) is model B, each with its ``model`` when known, and ``arena: {"mode",
  "models"}`` at the top level; in a stream, each chunk's ``choices[].index`` says whose text it is.

Every answer carries ``conversation_id`` and ``conversation: {"evaluationSessionId": ...}`` (a
stream: in its first chunk), which resume it. Stock clients send the whole history and no id: the
server then looks in the conversation store for a conversation whose transcript is the history
before the new user turn, and continues it. When none matches, it starts a new conversation with
the earlier turns and system messages folded into the first prompt (the transcript form is in
:mod:`.requests`). ``LM_ARENA_SERVE_HISTORY=last`` sends only the last user turn instead.
The server records each exchange (the request's messages and the answer) in the store itself,
so the client it is given must be made with ``record=False``.

Errors use OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}`` with the HTTP
status of :mod:`lmarena_cli.errors`; a stream that has started ends with a chunk carrying
``error`` and then ``data: [DONE]``. Under ``/v1/messages`` (401, 404 and 405 included) they use
Anthropic's envelope instead (:mod:`.messages_codec`). The API key is sent as
``Authorization: Bearer <key>`` or as ``x-api-key: <key>`` (Anthropic's clients).

The handlers are in :mod:`.handlers`; starting, stopping and ``serve`` itself in :mod:`.run`.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from ..client.client import Client
from ..client.session.pacing import never_wait_out
from ..errors import ConfigError, LmArenaError, RateLimited
from ..settings import Settings
from . import chat_codec, handlers, messages_codec, openai_shapes, responses_codec
from .context import STATE, Log, ServerState, json_response

#: Request bodies larger than this are refused with 413 (base64 images make bodies big).
MAX_BODY = 20 * 1024 * 1024
#: Seconds of silence after which a stream gets a ``: keep-alive`` comment line.
KEEPALIVE = 10.0
HISTORY_MODES = ("match", "last")


def make_app(
    client: Client,
    settings: Settings,
    *,
    cors_origins: Sequence[str] = (),
    access_log: Log | None = None,
    keepalive: float = KEEPALIVE,
) -> web.Application:
    """The application; run it with :func:`.run.start` (or any aiohttp runner).

    ``client`` should be made with ``record=False`` (the server records exchanges itself).
    ``access_log`` gets one line per request (method, path, status, milliseconds).
    """
    if settings.serve_history not in HISTORY_MODES:
        raise ConfigError(
            f"LM_ARENA_SERVE_HISTORY must be one of match, last, not {settings.serve_history!r}"
        )
    log = access_log or (lambda line: None)
    state = ServerState(client, settings, settings.serve_history, keepalive, log)
    state.idle.set()
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[
            _access_log_middleware(log),
            _cors_middleware(tuple(cors_origins)),
            _error_middleware(log),
            _auth_middleware(settings.api_key),
        ],
    )
    app[STATE] = state
    if cors_origins:
        app.on_response_prepare.append(_cors_headers(tuple(cors_origins)))
    app.router.add_get("/health", handlers.health)
    app.router.add_get("/v1/models", handlers.list_models)
    app.router.add_get("/v1/models/{name:.+}", handlers.get_model)
    app.router.add_post("/v1/chat/completions", chat_codec.chat_completions)
    app.router.add_post("/v1/images/generations", handlers.image_generations)
    app.router.add_post("/v1/responses", responses_codec.create_response)
    app.router.add_get("/v1/responses/{id}", responses_codec.get_response)
    app.router.add_delete("/v1/responses/{id}", responses_codec.delete_response)
    app.router.add_post(messages_codec.PATH, messages_codec.messages)
    app.router.add_post(messages_codec.PATH + "/count_tokens", messages_codec.count_tokens)
    return app


# --- middlewares ---------------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _access_log_middleware(log: Log) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away (nginx's word for it)
            raise
        finally:
            # Path only: no query string, headers or body, so no key or prompt reaches the log.
            elapsed = (time.monotonic() - started) * 1000
            log(f"{request.method} {request.path} {status} {elapsed:.0f}ms")

    return middleware


def _cors_middleware(origins: tuple[str, ...]) -> Any:
    allowed = set(origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not allowed:
            return await handler(request)
        ok = origin is not None and ("*" in allowed or origin in allowed)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response: web.StreamResponse = web.Response(status=204 if ok else 403)
            if ok:
                response.headers.update(
                    {
                        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                        "Access-Control-Allow-Headers": request.headers.get(
                            "Access-Control-Request-Headers", "Authorization, Content-Type"
                        ),
                        "Access-Control-Max-Age": "600",
                    }
                )
            return response
        return await handler(request)

    return middleware


def _cors_headers(origins: tuple[str, ...]) -> Any:
    """Add the CORS headers just before any response (streams included) sends its headers."""
    allowed = set(origins)

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and ("*" in allowed or origin in allowed):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"

    return on_prepare


def _error_middleware(log: Log) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        anthropic = messages_codec.is_messages_path(request.path)
        try:
            # A 429 goes back at once with its Retry-After, for the client to wait by: the
            # wait-out of LM_ARENA_MAX_WAIT is a command's, where nobody else can wait.
            with never_wait_out():
                return await handler(request)
        except LmArenaError as error:
            return messages_codec.error_response(error) if anthropic else error_response(error)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _http_error(exc, anthropic=anthropic)
        except Exception as exc:  # the last resort: a JSON 500, never a traceback
            log(f"internal error on {request.method} {request.path}: {type(exc).__name__}: {exc}")
            message = f"internal server error ({type(exc).__name__})"
            if anthropic:
                return messages_codec.http_error(500, message)
            body = openai_shapes.plain_error(message, error_type="server_error")
            return json_response(body, status=500)

    return middleware


def _http_error(exc: web.HTTPException, *, anthropic: bool = False) -> web.Response:
    if exc.status == 413:
        message = f"the request body is larger than {MAX_BODY // (1024 * 1024)} MiB"
    elif exc.status == 404:
        message = (
            "no such endpoint; this server offers /v1/models, /v1/chat/completions, "
            "/v1/responses, /v1/images/generations, /v1/messages, /v1/messages/count_tokens "
            "and /health"
        )
    elif exc.status == 405:
        message = f"method not allowed: {exc.reason}"
    else:
        message = exc.reason
    if anthropic:
        response = messages_codec.http_error(exc.status, message)
    else:
        body = openai_shapes.plain_error(message, error_type="invalid_request_error")
        response = json_response(body, status=exc.status)
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def _auth_middleware(api_key: str | None) -> Any:
    expected = api_key.encode() if api_key else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is None or request.path == "/health" or request.method == "OPTIONS":
            return await handler(request)
        anthropic = messages_codec.is_messages_path(request.path)
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            given = request.headers.get("x-api-key", "")  # Anthropic's clients send it so
        if not given.strip():
            message = (
                "missing API key: send the header Authorization: Bearer <key> (or x-api-key: <key>)"
            )
            return _unauthorized(message, anthropic=anthropic)
        if not hmac.compare_digest(given.strip().encode(), expected):
            message = "wrong API key (the one in LM_ARENA_API_KEY is expected)"
            return _unauthorized(message, anthropic=anthropic)
        return await handler(request)

    return middleware


def _unauthorized(message: str, *, anthropic: bool = False) -> web.Response:
    if anthropic:
        return messages_codec.http_error(401, message)
    body = openai_shapes.plain_error(
        message, error_type="invalid_request_error", code="invalid_api_key"
    )
    response = json_response(body, status=401)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def error_response(error: LmArenaError) -> web.Response:
    """An error as OpenAI's envelope with its HTTP status (and ``Retry-After`` for 429s)."""
    response = json_response(openai_shapes.error_body(error), status=error.http_status)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        response.headers["Retry-After"] = str(max(0, round(error.retry_after)))
    return response


__all__ = ["HISTORY_MODES", "KEEPALIVE", "MAX_BODY", "error_response", "make_app"]

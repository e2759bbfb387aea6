"""``lmarena serve``: an OpenAI-compatible HTTP server on aiohttp.web.

Endpoints::

    GET  /v1/models                 OpenAI list shape; capabilities as extension fields
    GET  /v1/models/{name}          one model
    POST /v1/chat/completions       stream false or true (server-sent events)
    POST /v1/images/generations     image models; ``url`` items (or ``b64_json``)
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
:mod:`openai_shapes`). ``LM_ARENA_SERVE_HISTORY=last`` sends only the last user turn instead.
The server records each exchange (the request's messages and the answer) in the store itself,
so the client it is given must be made with ``record=False``.

Errors use OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}`` with the HTTP
status of :mod:`errors`; a stream that has started ends with a chunk carrying ``error`` and then
``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import ipaddress
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from ..cli.terminal import Terminal
from ..client.client import ChatSession, Client, Reply, ReplyStream
from ..client.netguard import check_url
from ..errors import (
    ConfigError,
    InputError,
    LmArenaError,
    RateLimited,
    UpstreamError,
    UsageError,
)
from ..settings import Settings
from . import shapes as shapes
from .sse import SSE, ShuttingDown, end_with_error, relay

#: Request bodies larger than this are refused with 413 (base64 images make bodies big).
MAX_BODY = 20 * 1024 * 1024
#: Seconds of silence after which a stream gets a ``: keep-alive`` comment line.
KEEPALIVE = 10.0
#: Seconds open requests get to finish after SIGINT/SIGTERM before they are ended.
SHUTDOWN_GRACE = 5.0
HISTORY_MODES = ("match", "last")

Log = Callable[[str], None]


@dataclass
class ServerState:
    """What every handler shares."""

    client: Client
    settings: Settings
    history: str
    keepalive: float
    log: Log
    status: str = "starting"
    reason: str = "the browser has not been started yet"
    #: Set when shutdown's grace period is over: open requests end at once.
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    active: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def records(self) -> bool:
        # A client that records exchanges itself would store folded prompts, which no later
        # full-history request could match; the server records the OpenAI messages instead.
        return not self.client.records


STATE = web.AppKey("lmarena_state", ServerState)


def make_app(
    client: Client,
    settings: Settings,
    *,
    cors_origins: Sequence[str] = (),
    access_log: Log | None = None,
    keepalive: float = KEEPALIVE,
) -> web.Application:
    """The application; run it with :func:`start` (or any aiohttp runner).

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
    app.router.add_get("/health", health)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{name:.+}", get_model)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/images/generations", image_generations)
    return app


async def warm_up(app: web.Application) -> None:
    """Bootstrap the client (browser, cookies, models); ``/health`` reports how it went."""
    state = app[STATE]
    try:
        await state.client.bootstrap()
        models = await state.client.list_models()
    except LmArenaError as error:
        state.status, state.reason = "failed", str(error)
        raise
    state.status, state.reason = "ready", f"{len(models)} models available"


# --------------------------------------------------------------------------------------------------
# Middlewares
# --------------------------------------------------------------------------------------------------

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
        try:
            return await handler(request)
        except LmArenaError as error:
            return error_response(error)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _http_error(exc)
        except Exception as exc:  # the last resort: a JSON 500, never a traceback
            log(f"internal error on {request.method} {request.path}: {type(exc).__name__}: {exc}")
            body = shapes.plain_error(
                f"internal server error ({type(exc).__name__})", error_type="server_error"
            )
            return _json(body, status=500)

    return middleware


def _http_error(exc: web.HTTPException) -> web.Response:
    if exc.status == 413:
        message = f"the request body is larger than {MAX_BODY // (1024 * 1024)} MiB"
        return _json(shapes.plain_error(message, error_type="invalid_request_error"), status=413)
    if exc.status == 404:
        message = (
            "no such endpoint; this server offers /v1/models, /v1/chat/completions, "
            "/v1/images/generations and /health"
        )
    elif exc.status == 405:
        message = f"method not allowed: {exc.reason}"
    else:
        message = exc.reason
    body = shapes.plain_error(message, error_type="invalid_request_error")
    response = _json(body, status=exc.status)
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


def _auth_middleware(api_key: str | None) -> Any:
    expected = api_key.encode() if api_key else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is None or request.path == "/health" or request.method == "OPTIONS":
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return _unauthorized("missing API key: send the header Authorization: Bearer <key>")
        if not hmac.compare_digest(given.strip().encode(), expected):
            return _unauthorized("wrong API key (the one in LM_ARENA_API_KEY is expected)")
        return await handler(request)

    return middleware


def _unauthorized(message: str) -> web.Response:
    body = shapes.plain_error(message, error_type="invalid_request_error", code="invalid_api_key")
    response = _json(body, status=401)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def error_response(error: LmArenaError) -> web.Response:
    """An error as OpenAI's envelope with its HTTP status (and ``Retry-After`` for 429s)."""
    response = _json(shapes.error_body(error), status=error.http_status)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        response.headers["Retry-After"] = str(max(0, round(error.retry_after)))
    return response


def _json(body: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise shapes.FieldError("", "the request body is empty; a JSON object was expected")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise shapes.FieldError("", f"the request body is not valid JSON: {exc}") from None


# --------------------------------------------------------------------------------------------------
# Small endpoints
# --------------------------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    """``{"ready", "status", "reason"}``; 503 while not ready, so load balancers can use it."""
    state = request.app[STATE]
    ready = state.status == "ready"
    body = {"ready": ready, "status": state.status, "reason": state.reason}
    return _json(body, status=200 if ready else 503)


async def list_models(request: web.Request) -> web.Response:
    client = request.app[STATE].client
    return _json(shapes.model_list(await client.list_models()))


async def get_model(request: web.Request) -> web.Response:
    client = request.app[STATE].client
    return _json(shapes.model_entry(await client.model(request.match_info["name"])))


# --------------------------------------------------------------------------------------------------
# Chat completions
# --------------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What one chat request sends: to which conversation, which text, which images."""

    chat: ChatSession
    prompt: str
    images: list[str]
    #: The request's messages that are new to the stored transcript (recorded after the answer).
    new_messages: list[dict[str, Any]]


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    chat_request = shapes.parse_chat_request(await _read_json(request))
    async with _tracked(state):
        plan = await _plan(state, chat_request)
        await _check_images(state, plan.images)
        if chat_request.stream:
            return await _stream(request, state, chat_request, plan)
        return await _complete(state, chat_request, plan)


async def _plan(state: ServerState, req: shapes.ChatRequest) -> Plan:
    """Pick the conversation (named, matched by transcript, or new) and the text to send."""
    client, turn = state.client, req.turn
    model = None if req.battle else req.model
    if req.conversation_id is not None:
        chat = await client.chats.resume(req.conversation_id, model=model, versus=req.versus)
        return Plan(chat, turn.text, turn.images, req.messages[req.turn_start :])
    if state.history == "match" and req.history:
        found = client.store.find_by_transcript(req.messages)
        if found is not None:
            chat = await client.chats.resume(found.id, model=model, versus=req.versus)
            new = req.messages[len(found.transcript) :]
            new_turn = shapes.user_turn(new)
            return Plan(chat, new_turn.text, new_turn.images, new)
    chat = await client.chats.create(model=model, versus=req.versus, battle=req.battle)
    prompt = turn.text
    if state.history == "match":
        prompt = shapes.fold_history(req.history, turn.text)
    return Plan(chat, prompt, turn.images, list(req.messages))


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


async def _complete(state: ServerState, req: shapes.ChatRequest, plan: Plan) -> web.Response:
    async def answer() -> Reply:
        return await _drain(await _send(plan))

    task = asyncio.ensure_future(answer())
    if not await _race_closing(state, task):
        raise ShuttingDown()
    reply = task.result()
    _record(state, plan, reply)
    body = shapes.completion(
        reply, completion_id=shapes.completion_id(), created=int(time.time()), model=req.model
    )
    return _json(body)


async def _send(plan: Plan) -> ReplyStream:
    stream: ReplyStream = await plan.chat.send(plan.prompt, images=plan.images or None, stream=True)
    return stream


async def _race_closing(state: ServerState, task: asyncio.Future[Any]) -> bool:
    """Wait for ``task``; False (and ``task`` cancelled) when shutdown ends open requests first."""
    closing = asyncio.ensure_future(state.closing.wait())
    try:
        await asyncio.wait({task, closing}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the client went away: cancel the upstream request
        task.cancel()
        raise
    finally:
        closing.cancel()
    if task.done():
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, LmArenaError):
        await task
    return False


def _record(state: ServerState, plan: Plan, reply: Reply, content: str | None = None) -> None:
    """Store the exchange as the client will send it back next time; never lose the answer.

    ``content`` is model A's answer exactly as it was streamed (text and images in the order
    they came), else the non-streamed shape of it.
    """
    if not state.records:
        return
    chat = plan.chat
    if content is None:
        content = shapes.answer_content(reply.a)
    answer = {"role": "assistant", "content": content}
    try:
        state.client.store.record(
            reply.evaluation_session_id,
            model=chat.model.name if chat.model else (reply.a.model or "battle"),
            model_b=chat.model_b.name if chat.model_b else reply.b.model if reply.b else None,
            mode=chat.mode,
            messages=[*plan.new_messages, answer],
        )
    except LmArenaError as error:
        state.log(f"could not record the conversation: {error}")


# --------------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------------


async def _stream(
    request: web.Request, state: ServerState, req: shapes.ChatRequest, plan: Plan
) -> web.StreamResponse:
    sse = SSE(request, keepalive=state.keepalive, closing=state.closing)
    maker = shapes.ChunkMaker(
        shapes.completion_id(), int(time.time()), req.model, include_usage=req.include_usage
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


# --------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------


async def image_generations(request: web.Request) -> web.Response:
    state = request.app[STATE]
    req = shapes.parse_image_request(await _read_json(request))
    client = state.client
    async with _tracked(state):
        model = await _image_model(client, req.model)
        urls: list[str] = []
        for _ in range(req.n):
            chat = await client.chats.create(model=model)
            stream = await chat.send(req.prompt, stream=True)
            task = asyncio.ensure_future(_drain(stream))
            if not await _race_closing(state, task):
                raise ShuttingDown()
            reply = task.result()
            if not reply.images:
                raise UpstreamError(
                    f"{model} answered without an image", detail=reply.text[:200] or None
                )
            urls.extend(reply.images)
        blobs = [await client.download(url) for url in urls] if req.b64 else None
    return _json(shapes.images_response(int(time.time()), urls, blobs))


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
            raise shapes.FieldError("model", f"{model.name} does not generate images")
        return model.name
    for model in await client.list_models():
        if model.outputs_images:
            return model.name
    raise UsageError("the site lists no image generation model")


# --------------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _tracked(state: ServerState) -> AsyncIterator[None]:
    """Count open model requests, so shutdown knows when they are all done."""
    state.active += 1
    state.idle.clear()
    try:
        yield
    finally:
        state.active -= 1
        if state.active == 0:
            state.idle.set()


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, api_key: str | None, insecure: bool) -> None:
    """Refuse to serve a non-loopback address without an API key, unless ``insecure``."""
    if is_loopback(host) or api_key or insecure:
        return
    raise UsageError(
        f"refusing to listen on {host} without an API key: anyone who can reach it could use "
        "your arena.ai session. Set LM_ARENA_API_KEY (clients then send Authorization: Bearer "
        "<key>), bind 127.0.0.1, or pass --insecure if the network is trusted"
    )


@dataclass
class Running:
    """A started server: its runner and the URL it listens on."""

    runner: web.AppRunner
    url: str


async def start(app: web.Application, host: str, port: int) -> Running:
    """Bind ``host:port`` (0: any free port) and serve ``app`` in the background."""
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {host} is already in use (another lmarena serve?); "
                "choose another with --port or LM_ARENA_PORT"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = runner.addresses[0]
    shown = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
    return Running(runner, f"http://{shown}:{bound[1]}")


async def stop(app: web.Application, running: Running, *, grace: float = SHUTDOWN_GRACE) -> None:
    """Stop accepting, give open requests ``grace`` seconds, end the rest, close the client."""
    state = app[STATE]
    state.status, state.reason = "stopping", "the server is shutting down"
    for site in list(running.runner.sites):
        await site.stop()
    waits = [asyncio.ensure_future(state.idle.wait()), asyncio.ensure_future(state.closing.wait())]
    await asyncio.wait(waits, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
    for waiting in waits:
        waiting.cancel()
    state.closing.set()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2.0):
            await state.idle.wait()
    await running.runner.cleanup()
    await state.client.close()


async def serve(
    settings: Settings,
    *,
    term: Terminal,
    insecure: bool = False,
    cors_origins: Sequence[str] = (),
    grace: float = SHUTDOWN_GRACE,
) -> None:
    """Run the server until SIGINT or SIGTERM; return normally (exit 0) after a clean stop."""
    check_bind(settings.host, api_key=settings.api_key, insecure=insecure)
    if not is_loopback(settings.host) and not settings.api_key:
        term.err(f"lmarena serve: warning: serving {settings.host} without an API key (--insecure)")
    client = Client(settings, record=False, log=term.info)
    app = make_app(client, settings, cors_origins=cors_origins, access_log=term.info)
    try:
        running = await start(app, settings.host, settings.port)
    except BaseException:
        await client.close()
        raise
    stopped = asyncio.Event()

    def on_signal() -> None:
        if stopped.is_set():  # a second Ctrl-C: end open requests now, without the grace period
            app[STATE].closing.set()
        stopped.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    try:
        term.err(f"lmarena serve: listening on {running.url}")
        await _bootstrap_until(app, stopped, term)
        if not stopped.is_set():
            term.info(f"lmarena serve: ready ({app[STATE].reason})")
            await stopped.wait()
        term.info("lmarena serve: shutting down")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await stop(app, running, grace=grace)


async def _bootstrap_until(app: web.Application, stopped: asyncio.Event, term: Terminal) -> None:
    """Bootstrap unless a signal comes first; a failed bootstrap ends the server with its error."""
    task = asyncio.ensure_future(warm_up(app))
    waiter = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        return
    task.result()


__all__ = [
    "KEEPALIVE",
    "MAX_BODY",
    "SHUTDOWN_GRACE",
    "Running",
    "check_bind",
    "error_response",
    "is_loopback",
    "make_app",
    "serve",
    "start",
    "stop",
    "warm_up",
]

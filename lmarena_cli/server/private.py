"""The private endpoint: this user's commands run the library in this process, over a Unix socket.

One connection is one request: a JSON line read into its class
(:mod:`lmarena_cli.client.kept.wire_requests`, which the commands write with), answered with lines
(:mod:`lmarena_cli.client.kept.wire`) until the connection closes. ``Hello`` says who serves (pid,
settings fingerprint, wire version, activity); ``Stop`` ends the server; ``OpenChat`` starts or
resumes a conversation; ``Send`` and ``Retry`` run a turn and stream the library's events, then
the reply (or the failure); ``ListModels`` and ``Download`` do what ``Client`` does. The
notices the library logs while it works for a request travel on that request's connection, in
order with its events; those of work done for every request
(:meth:`.private_notices.Notices.shared`: the kept server's start-up) go to each request open
then, or to the next one. A command that closes its connection stops its send (Ctrl-C).

Only this user: the socket is 0600 in a 0700 folder, and each connection's peer is checked
(``SO_PEERCRED``) by :func:`peer_allowed`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client.client import Client
from ..client.conversation.chats import ChatSession
from ..client.kept import wire
from ..client.kept.remote import STREAM_LIMIT
from ..client.kept.wire_images import image_from_json
from ..client.kept.wire_requests import (
    ChatState,
    Download,
    Hello,
    ListModels,
    OpenChat,
    Request,
    Retry,
    Send,
    Stop,
    Unknown,
    read_request,
)
from ..errors import InputError, LmArenaError, ShuttingDown
from ..state.kept import remove_stale
from .private_notices import Notices
from .tasks import abandon

logger = logging.getLogger("lmarena.server")

#: Seconds a connection gets to send its request line.
REQUEST_WAIT = 10.0


def peer_allowed(peer_uid: int | None, own_uid: int | None = None) -> bool:
    """Whether a connection's peer may use this server: this user only."""
    own = os.getuid() if own_uid is None else own_uid
    return peer_uid is not None and peer_uid == own


def peer_uid(sock: socket.socket | None) -> int | None:
    """The uid of the process at the other end of a Unix socket (None when unknown)."""
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


@dataclass
class Activity:
    """What the idle timer and ``lmarena server status`` read."""

    started: float = field(default_factory=time.time)
    last: float = field(default_factory=time.monotonic)
    active: int = 0
    requests: int = 0

    def idle_for(self) -> float:
        return 0.0 if self.active else time.monotonic() - self.last


class PrivateEndpoint:
    """The socket's server: ``client`` does the work; ``info`` adds to ``hello``'s answer."""

    def __init__(
        self,
        client: Client,
        *,
        fingerprint: str,
        on_stop: Callable[[], None],
        info: Callable[[], dict[str, Any]],
    ) -> None:
        self.client = client
        self.fingerprint = fingerprint
        self.activity = Activity()
        self.closing = asyncio.Event()
        self._on_stop = on_stop
        self._info = info
        self._server: asyncio.Server | None = None
        self._path: Path | None = None
        self._inode: int | None = None
        self.notices = Notices()
        self._quiet = asyncio.Event()  # set while no request is open
        self._quiet.set()

    async def listen(self, path: Path) -> None:
        """Listen on ``path`` (anything left there must be removed first), mode 0600."""
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._handle, path=str(path), limit=STREAM_LIMIT
            )
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self._path, self._inode = path, os.stat(path).st_ino
        self.notices.install()

    def still_ours(self) -> bool:
        """False once the socket file was removed or replaced (the state directory is gone)."""
        if self._path is None:
            return False
        try:
            return os.stat(self._path).st_ino == self._inode
        except OSError:
            return False

    async def close(self, *, grace: float) -> None:
        """Stop accepting, give open requests ``grace`` seconds, then end them."""
        if self._server is not None:
            self._server.close()
        if self._path is not None and self.still_ours():
            remove_stale(self._path)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._quiet.wait()
        self.closing.set()  # the requests still open end now, each told why
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self._quiet.wait()
        self.notices.uninstall()

    # -- one connection ----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        uid = peer_uid(writer.get_extra_info("socket"))
        try:
            if not peer_allowed(uid):
                logger.warning("refused a connection from uid %s (not this user)", uid)
                return
            try:
                incoming = read_request(await asyncio.wait_for(reader.readline(), REQUEST_WAIT))
            except (ValueError, TimeoutError, OSError):
                return
            match request := incoming.request:
                case Hello(touch=touch):
                    writer.write(wire.line(self.hello()))
                    if touch:  # a command about to use this server: not idle now
                        self.activity.last = time.monotonic()
                case Stop():
                    writer.write(wire.line({"t": "ok", "pid": os.getpid()}))
                    self._on_stop()
                case _ if self.closing.is_set() or not self._serving():
                    error = ShuttingDown("the kept server is stopping; run the command again")
                    writer.write(wire.line({"t": "error", "error": wire.error_to_json(error)}))
                case _:
                    await self._serve(request, reader, writer, debug=incoming.debug)
            with contextlib.suppress(OSError, ConnectionError):
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    def _serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    def hello(self) -> dict[str, Any]:
        return {
            "t": "hello",
            "pid": os.getpid(),
            "fingerprint": self.fingerprint,
            "wire": wire.WIRE_VERSION,
            "started": self.activity.started,
            "requests": self.activity.requests,
            "active": self.activity.active,
            "idle_s": round(self.activity.idle_for(), 1),
            "closing": not self._serving(),
            **self._info(),
        }

    async def _serve(
        self,
        request: Request | Unknown,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        debug: bool,
    ) -> None:
        activity = self.activity
        activity.active += 1
        activity.requests += 1
        self._quiet.clear()
        loop = asyncio.get_running_loop()
        owner = threading.get_ident()
        finished = False

        def send(message: dict[str, Any]) -> None:
            # A task the library started for this request may log after it ended: dropped.
            if finished or writer.is_closing():
                return
            if threading.get_ident() == owner:
                writer.write(wire.line(message))
            else:  # a notice logged in a worker thread
                loop.call_soon_threadsafe(writer.write, wire.line(message))

        try:
            with self.notices.of_request(send, debug=debug):
                await self._until_done(request, send, reader, writer)
        finally:
            finished = True
            activity.active -= 1
            activity.last = time.monotonic()
            if not activity.active:
                self._quiet.set()

    async def _until_done(
        self,
        request: Request | Unknown,
        send: Callable[[dict[str, Any]], None],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Serve ``request`` until it is done, the command goes away or the server stops."""
        work = asyncio.ensure_future(self._run(request, send, writer))
        gone = asyncio.ensure_future(reader.read(1))  # b"" once the command closes
        stop = asyncio.ensure_future(self.closing.wait())
        try:
            await asyncio.wait({work, gone, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when this handler is cancelled: nothing of the request is left
            for waiter in (gone, stop):
                waiter.cancel()
            ended = work.done()
            if not ended:
                await abandon(work)
        if not ended and self.closing.is_set():
            send({"t": "error", "error": wire.error_to_json(ShuttingDown(STOPPED))})

    async def _run(
        self,
        request: Request | Unknown,
        send: Callable[[dict[str, Any]], None],
        writer: asyncio.StreamWriter,
    ) -> None:
        chat: ChatSession | None = None
        try:
            match request:
                case Send() | Retry():
                    chat = session_from(self.client, request.chat)
                    await self._turn(chat, request, send, writer)
                case OpenChat():
                    chat = await self._open(request)
                    send({"t": "ok", "chat": state_of(chat).to_json()})
                case ListModels(refresh=refresh):
                    models = await self.client.list_models(refresh=refresh)
                    send({"t": "ok", "models": [wire.model_to_json(m) for m in models]})
                case Download(url=url):
                    data = await self.client.download(url)
                    send({"t": "ok", "data": base64.b64encode(data).decode()})
                case Unknown(op=op, reason=""):
                    raise InputError(f"the kept server does not know the request {op!r}")
                case Unknown(op=op, reason=reason):
                    raise InputError(f"the kept server could not read the request {op!r}: {reason}")
                case _:  # hello and stop are answered before a request is served
                    raise InputError(f"the kept server does not serve {type(request).__name__}")
        except (ConnectionError, BrokenPipeError):
            return  # the command went away
        except Exception as error:  # every failure goes back to the command
            if not isinstance(error, LmArenaError):
                logger.exception("a request failed unexpectedly")
            answer: dict[str, Any] = {"t": "error", "error": wire.error_to_json(error)}
            if chat is not None:
                answer["chat"] = state_of(chat).to_json()
            send(answer)

    async def _open(self, request: OpenChat) -> ChatSession:
        chats = self.client.chats
        if request.how == "resume":
            return await chats.resume(
                str(request.chat_id), model=request.model, versus=request.versus
            )
        if request.how == "latest":
            return await chats.latest()
        return await chats.create(
            request.model, versus=request.versus, battle=request.battle, system=request.system
        )

    async def _turn(
        self,
        chat: ChatSession,
        request: Send | Retry,
        send: Callable[[dict[str, Any]], None],
        writer: asyncio.StreamWriter,
    ) -> None:
        timeout, wait = request.timeout, float(request.rate_limit_wait or 0.0)
        if isinstance(request, Retry):
            stream = await chat.retry(stream=True, timeout=timeout, rate_limit_wait=wait)
        else:
            images = [image_from_json(item, n) for n, item in enumerate(request.images, 1)]
            stream = await chat.send(
                request.prompt,
                images=images or None,
                stream=True,
                timeout=timeout,
                rate_limit_wait=wait,
            )
        send({"t": "started"})
        await writer.drain()
        async for event in stream.events():
            send({"t": "event", "event": wire.event_to_json(event)})
            await writer.drain()
        done = {"t": "done", "reply": wire.reply_to_json(stream.reply)}
        send({**done, "chat": state_of(chat).to_json()})


#: What a command whose answer a stopping server cut short is told.
STOPPED = "the kept server was stopped before the answer was complete"


def session_from(client: Client, state: ChatState) -> ChatSession:
    """A conversation as a command's request describes it."""
    chat = client.chats.session(state.model, state.model_b, state.mode)
    state.apply(chat)
    return chat


def state_of(chat: ChatSession) -> ChatState:
    """What a command is sent back of its conversation."""
    return ChatState.of(chat)


__all__ = [
    "Activity",
    "PrivateEndpoint",
    "peer_allowed",
    "peer_uid",
    "session_from",
    "state_of",
]

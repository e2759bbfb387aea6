"""A client of a kept server (``lmarena server``): what the commands use of ``Client``, over a
Unix socket.

:class:`RemoteClient` offers ``chats.create/resume/latest``, ``store``, ``list_models``,
``download`` and ``close``; its conversations (:class:`RemoteChatSession`) ``send`` and ``retry``
like :class:`~..conversation.chats.ChatSession`, and a streaming send returns a
:class:`RemoteStream` whose ``events()`` yields the library's own event objects and whose ``reply``
is a :class:`Reply`. The server runs each request with the library (its browser already warm) and
streams back what the library did (:mod:`.wire`): the events, the notices it logged (logged again
here, so that the command shows them as it would in-process), the reply, or the failure, raised here
as the same exception. The server keeps no conversation of its own: each request carries the
conversation's state, and the reply brings it back updated.

Nothing here imports aiohttp or nodriver: a command that talks to a server starts fast. A server
that goes away mid-answer (killed) is :class:`~lmarena_cli.errors.UpstreamUnavailable` (exit 3).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from ...errors import ErrorKind, UpstreamUnavailable
from ...settings import Settings
from ...site import facts
from ...site.models import Model
from ..reply import Reply
from . import wire
from .remote_stream import Exchange, RemoteStream
from .wire_images import image_to_json
from .wire_requests import (
    ChatState,
    Download,
    ListModels,
    OpenChat,
    Request,
    Retry,
    Send,
    request_line,
)

if TYPE_CHECKING:
    from ...state.store import ConversationStore

#: The longest line the wire takes (an image of 10 MB in base64, with room to spare).
STREAM_LIMIT = 64 * 1024 * 1024

#: Called when the server is gone before a request: a live server's socket, or None.
Restart = Callable[[], Path | None]


class RemoteClient:
    """The commands' client when a kept server runs (see the module doc); like ``Client``, a
    :class:`~..api.ClientApi`."""

    def __init__(
        self,
        settings: Settings,
        socket_path: Path,
        *,
        pid: int | None = None,
        restart: Restart | None = None,
    ) -> None:
        self.settings = settings
        self.socket_path = socket_path
        self.pid = pid
        self._restart = restart
        self._store: ConversationStore | None = None
        #: Start a conversation or pick one up again (on the server).
        self.chats = RemoteChats(self)

    @property
    def records(self) -> bool:
        return True  # the server records each exchange in this user's conversation store

    @property
    def store(self) -> ConversationStore:
        """The conversation store (the server's is the same file)."""
        if self._store is None:
            from ...state.store import ConversationStore  # sqlite3: only when asked for

            self._store = ConversationStore(self.settings.store_path)
        return self._store

    async def list_models(self, *, refresh: bool = False) -> list[Model]:
        answer = await self.call(ListModels(refresh=refresh))
        return [m for m in map(wire.model_from_json, answer["models"]) if m is not None]

    async def download(self, url: str) -> bytes:
        """A generated image's bytes, fetched by the server."""
        answer = await self.call(Download(url=url))
        return base64.b64decode(answer["data"])

    async def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- the wire ---------------------------------------------------------------------------------

    async def open(self, request: Request) -> Exchange:
        """Send ``request`` on a new connection; its answer lines come from the exchange."""
        try:
            return await self._connect(request)
        except OSError:
            # Gone before this request (it idled out while a chat waited for a line): start
            # another (the request carries all the server needs) and ask it instead.
            path = await asyncio.to_thread(self._restart) if self._restart else None
            if path is None:
                raise self.gone() from None
            self.socket_path = path
            try:
                return await self._connect(request)
            except OSError:
                raise self.gone() from None

    async def _connect(self, request: Request) -> Exchange:
        reader, writer = await asyncio.open_unix_connection(
            str(self.socket_path), limit=STREAM_LIMIT
        )
        # --debug: the server relays this request's DEBUG records too.
        debug = logging.getLogger("lmarena").isEnabledFor(logging.DEBUG)
        writer.write(request_line(request, debug=debug))
        await writer.drain()
        return Exchange(self.gone, reader, writer)

    async def call(self, request: Request) -> dict[str, Any]:
        """One request and its one answer (an ``error`` answer raises)."""
        exchange = await self.open(request)
        try:
            answer = await exchange.next()
            if answer.get("t") == "error":
                raise wire.error_from_json(answer["error"])
            return answer
        finally:
            await exchange.close()

    def gone(self, partial: str = "") -> UpstreamUnavailable:
        """The server ended before it answered (it was killed, or crashed)."""
        who = f"the kept server (pid {self.pid})" if self.pid else "the kept server"
        log = self.socket_path.parent / "server.log"
        return UpstreamUnavailable(
            f"{who} ended before it answered (was it killed?); run the command again and a new "
            f"server starts (its log: {log})",
            kind=ErrorKind.NETWORK,
            partial=partial,
        )


class RemoteChats:
    """``client.chats`` of a :class:`RemoteClient`: the same calls as
    :class:`~..conversation.chats.Chats` (both are a :class:`~..api.ChatsApi`)."""

    def __init__(self, remote: RemoteClient) -> None:
        self._remote = remote

    async def create(
        self,
        model: str | Model | None = None,
        *,
        versus: str | Model | None = None,
        battle: bool = False,
        system: str | None = None,
    ) -> RemoteChatSession:
        return await self._open(
            OpenChat(
                how="create", model=_name(model), versus=_name(versus), battle=battle, system=system
            )
        )

    async def resume(
        self, chat_id: str, *, model: str | Model | None = None, versus: str | Model | None = None
    ) -> RemoteChatSession:
        return await self._open(
            OpenChat(how="resume", chat_id=chat_id, model=_name(model), versus=_name(versus))
        )

    async def latest(self) -> RemoteChatSession:
        return await self._open(OpenChat(how="latest"))

    async def _open(self, request: OpenChat) -> RemoteChatSession:
        answer = await self._remote.call(request)
        return RemoteChatSession(self._remote, ChatState.from_json(answer["chat"]))


def _name(model: str | Model | None) -> str | None:
    return model.name if isinstance(model, Model) else model


class RemoteChatSession:
    """One conversation, sent through the server (see :class:`~..conversation.chats.ChatSession`;
    both are a :class:`~..api.ChatApi`)."""

    def __init__(self, remote: RemoteClient, state: ChatState) -> None:
        self.client = remote
        self.model: Model | None = None
        self.model_b: Model | None = None
        self.mode = facts.Mode.DIRECT
        self.id: str | None = None
        self.system: str | None = None
        self.answer_id: str | None = None
        self.pending_battle: tuple[str, str] | None = None
        self.apply(state)

    def apply(self, state: ChatState) -> None:
        """Take the conversation's state as the server last left it."""
        state.apply(self)

    def state(self) -> ChatState:
        """The conversation's state, for the server to send with."""
        return ChatState.of(self)

    @property
    def modality(self) -> facts.Modality:
        return self.model.modality if self.model is not None else facts.Modality.CHAT

    @overload
    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[Any] | None = ...,
        stream: Literal[False] = ...,
        timeout: float | None = ...,
        rate_limit_wait: float = ...,
    ) -> Reply: ...

    @overload
    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[Any] | None = ...,
        stream: Literal[True],
        timeout: float | None = ...,
        rate_limit_wait: float = ...,
    ) -> RemoteStream: ...

    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[Any] | None = None,
        stream: bool = False,
        timeout: float | None = None,
        rate_limit_wait: float = 0.0,
    ) -> Reply | RemoteStream:
        """Send one user turn (as ``ChatSession.send``): a :class:`Reply`, or with ``stream``
        a :class:`RemoteStream` once the site has accepted the request."""
        request = Send(
            chat=self.state(),
            prompt=prompt,
            images=[image_to_json(item) for item in images or []],
            timeout=timeout or self.client.settings.timeout,
            rate_limit_wait=rate_limit_wait,
        )
        return await self._start(request, stream)

    @overload
    async def retry(
        self,
        *,
        stream: Literal[False] = ...,
        timeout: float | None = ...,
        rate_limit_wait: float = ...,
    ) -> Reply: ...

    @overload
    async def retry(
        self, *, stream: Literal[True], timeout: float | None = ..., rate_limit_wait: float = ...
    ) -> RemoteStream: ...

    async def retry(
        self, *, stream: bool = False, timeout: float | None = None, rate_limit_wait: float = 0.0
    ) -> Reply | RemoteStream:
        """Regenerate the latest answer (as ``ChatSession.retry``)."""
        request = Retry(
            chat=self.state(),
            timeout=timeout or self.client.settings.timeout,
            rate_limit_wait=rate_limit_wait,
        )
        return await self._start(request, stream)

    async def _start(self, request: Send | Retry, stream: bool) -> Reply | RemoteStream:
        reply_stream = RemoteStream(self, await self.client.open(request))
        await reply_stream.start()
        if stream:
            return reply_stream
        return await reply_stream.read_reply()


__all__ = [
    "STREAM_LIMIT",
    "Exchange",
    "RemoteChatSession",
    "RemoteChats",
    "RemoteClient",
    "RemoteStream",
]

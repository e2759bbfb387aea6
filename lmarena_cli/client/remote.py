"""A client of a kept server (``lmarena server``): what the commands use of ``Client``, over a
Unix socket.

:class:`RemoteClient` offers ``chats.create/resume/latest``, ``store``, ``list_models``,
``download`` and ``close``; its conversations (:class:`RemoteChatSession`) ``send`` and ``retry``
like :class:`~.chats.ChatSession`, and a streaming send returns a :class:`RemoteStream` whose
``events()`` yields the library's own event objects and whose ``reply`` is a :class:`Reply`. The
server runs each request with the library (its browser already warm) and streams back what the
library did (:mod:`.wire`): the events, the notices it logged (logged again here, so that the
command shows them as it would in-process), the reply, or the failure, raised here as the same
exception. The server keeps no conversation of its own: each request carries the conversation's
state, and the reply brings it back updated.

Nothing here imports aiohttp or nodriver: a command that talks to a server starts fast. A server
that goes away mid-answer (killed) is :class:`~lmarena_cli.errors.UpstreamUnavailable` (exit 3).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ErrorKind, LmArenaError, ProtocolError, UpstreamUnavailable
from ..settings import Settings
from ..site import facts
from ..site.models import Model
from . import wire
from .reply import Answer, Reply, TextStream
from .wire_images import image_to_json

if TYPE_CHECKING:
    from ..state.store import ConversationStore

#: The longest line the wire takes (an image of 10 MB in base64, with room to spare).
STREAM_LIMIT = 64 * 1024 * 1024

#: Called when the server is gone before a request: a live server's socket, or None.
Restart = Callable[[], Path | None]


class RemoteClient:
    """The commands' client when a kept server runs (see the module doc)."""

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
            from ..state.store import ConversationStore  # sqlite3: only when asked for

            self._store = ConversationStore(self.settings.store_path)
        return self._store

    async def list_models(self, *, refresh: bool = False) -> list[Model]:
        answer = await self.call({"op": "models", "refresh": refresh})
        return [m for m in map(wire.model_from_json, answer["models"]) if m is not None]

    async def download(self, url: str) -> bytes:
        """A generated image's bytes, fetched by the server."""
        answer = await self.call({"op": "download", "url": url})
        return base64.b64decode(answer["data"])

    async def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- the wire ---------------------------------------------------------------------------------

    async def open(self, request: dict[str, Any]) -> Exchange:
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

    async def _connect(self, request: dict[str, Any]) -> Exchange:
        reader, writer = await asyncio.open_unix_connection(
            str(self.socket_path), limit=STREAM_LIMIT
        )
        writer.write(wire.line(request))
        await writer.drain()
        return Exchange(self, reader, writer)

    async def call(self, request: dict[str, Any]) -> dict[str, Any]:
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


class Exchange:
    """One connection to the server: the answer lines of one request."""

    def __init__(
        self, remote: RemoteClient, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._remote = remote
        self._reader = reader
        self._writer = writer

    async def next(self, partial: str = "") -> dict[str, Any]:
        """The next answer line; the server's notices on the way are logged here again."""
        while True:
            try:
                raw = await self._reader.readline()
            except (OSError, asyncio.LimitOverrunError, ValueError):
                raw = b""
            if not raw.endswith(b"\n"):
                raise self._remote.gone(partial)
            try:
                message = wire.parse(raw)
            except ValueError as exc:
                raise ProtocolError(
                    f"the kept server answered something unreadable: {exc}"
                ) from None
            if message.get("t") == "log":
                wire.replay_record(message)
                continue
            return message

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self._writer.wait_closed()


class RemoteChats:
    """``client.chats`` of a :class:`RemoteClient`: the same calls as :class:`~.chats.Chats`."""

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
            how="create", model=_name(model), versus=_name(versus), battle=battle, system=system
        )

    async def resume(
        self, chat_id: str, *, model: str | Model | None = None, versus: str | Model | None = None
    ) -> RemoteChatSession:
        return await self._open(
            how="resume", chat_id=chat_id, model=_name(model), versus=_name(versus)
        )

    async def latest(self) -> RemoteChatSession:
        return await self._open(how="latest")

    async def _open(self, **request: Any) -> RemoteChatSession:
        answer = await self._remote.call({"op": "open", **request})
        return RemoteChatSession(self._remote, answer["chat"])


def _name(model: str | Model | None) -> str | None:
    return model.name if isinstance(model, Model) else model


class RemoteChatSession:
    """One conversation, sent through the server (see :class:`~.chats.ChatSession`)."""

    def __init__(self, remote: RemoteClient, state: dict[str, Any]) -> None:
        self.client = remote
        self.model: Model | None = None
        self.model_b: Model | None = None
        self.mode = facts.Mode.DIRECT
        self.id: str | None = None
        self.system: str | None = None
        self.answer_id: str | None = None
        self.pending_battle: tuple[str, str] | None = None
        self.apply(state)

    def apply(self, state: dict[str, Any]) -> None:
        """Take the conversation's state as the server last left it."""
        self.mode = wire.mode_of(state["mode"])
        self.model = wire.model_from_json(state.get("model"))
        self.model_b = wire.model_from_json(state.get("model_b"))
        self.id = state.get("id")
        self.system = state.get("system")
        self.answer_id = state.get("answer_id")
        pending = state.get("pending_battle")
        self.pending_battle = (pending[0], pending[1]) if pending else None

    def state(self) -> dict[str, Any]:
        return {
            "mode": str(self.mode),
            "model": wire.model_to_json(self.model),
            "model_b": wire.model_to_json(self.model_b),
            "id": self.id,
            "system": self.system,
            "answer_id": self.answer_id,
            "pending_battle": list(self.pending_battle) if self.pending_battle else None,
        }

    @property
    def modality(self) -> facts.Modality:
        return self.model.modality if self.model is not None else facts.Modality.CHAT

    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[Any] | None = None,
        stream: bool = False,
        timeout: float | None = None,
        rate_limit_wait: float = 0.0,
    ) -> Any:
        """Send one user turn (as ``ChatSession.send``): a :class:`Reply`, or with ``stream``
        a :class:`RemoteStream` once the site has accepted the request."""
        request = {
            "op": "send",
            "prompt": prompt,
            "images": [image_to_json(item) for item in images or []],
        }
        return await self._start(request, stream, timeout, rate_limit_wait)

    async def retry(
        self, *, stream: bool = False, timeout: float | None = None, rate_limit_wait: float = 0.0
    ) -> Any:
        """Regenerate the latest answer (as ``ChatSession.retry``)."""
        return await self._start({"op": "retry"}, stream, timeout, rate_limit_wait)

    async def _start(
        self, request: dict[str, Any], stream: bool, timeout: float | None, rate_limit_wait: float
    ) -> Any:
        request.update(
            chat=self.state(),
            timeout=timeout or self.client.settings.timeout,
            rate_limit_wait=rate_limit_wait,
        )
        reply_stream = RemoteStream(self, await self.client.open(request))
        await reply_stream.start()
        if stream:
            return reply_stream
        return await reply_stream.read_reply()


class RemoteStream(TextStream):
    """An answer as the server streams it (see :class:`~.exchange.ReplyStream`)."""

    def __init__(self, chat: RemoteChatSession, exchange: Exchange) -> None:
        self._chat = chat
        self._exchange = exchange
        self._reply: Reply | None = None
        self._final = False
        self._done = False

    @property
    def reply(self) -> Reply:
        """The whole reply so far; complete once iteration has ended."""
        if self._reply is None:
            chat = self._chat
            answers = [Answer("a", chat.model.name if chat.model else None)]
            if chat.mode in (facts.Mode.SIDE_BY_SIDE, facts.Mode.BATTLE):
                answers.append(Answer("b", chat.model_b.name if chat.model_b else None))
            self._reply = Reply(chat.id or "", str(chat.mode), answers, "")
        return self._reply

    @property
    def evaluation_session_id(self) -> str:
        return self.reply.evaluation_session_id

    async def start(self) -> None:
        """Wait until the site has accepted the request; its refusal raises here."""
        try:
            answer = await self._exchange.next()
            if answer.get("t") != "started":
                self._fail(answer)
        except BaseException:
            await self.aclose()
            raise

    async def events(self) -> AsyncGenerator[Any, None]:
        """Every event of the library, as the server's stream yielded it."""
        if self._done:
            return
        try:
            while True:
                answer = await self._exchange.next(partial=self.reply.text)
                kind = answer.get("t")
                if kind == "event":
                    event = wire.event_from_json(answer["event"])
                    self._note(event)
                    yield event
                elif kind == "done":
                    self._reply = wire.reply_from_json(answer["reply"])
                    self._final = True
                    self._chat.apply(answer["chat"])
                    return
                else:
                    self._fail(answer)
        finally:
            await self.aclose()

    def _fail(self, answer: dict[str, Any]) -> None:
        if "chat" in answer:
            self._chat.apply(answer["chat"])
        if answer.get("t") != "error":
            raise ProtocolError(f"the kept server answered {answer.get('t')!r} out of turn")
        error = wire.error_from_json(answer["error"])
        if isinstance(error, LmArenaError) and not error.partial:
            error.partial = self.reply.text
        raise error

    def _note(self, event: Any) -> None:
        """Keep the reply so far (its text, reasoning, images, citations) as the events come."""
        answers = {answer.side: answer for answer in self.reply.answers}
        answer = answers.get(getattr(event, "side", ""))
        if answer is not None and not self._final:
            answer.add(event)

    async def aclose(self) -> None:
        """Stop reading: the closed connection tells the server to stop the send."""
        if not self._done:
            self._done = True
            await self._exchange.close()


__all__ = [
    "Exchange",
    "RemoteChatSession",
    "RemoteChats",
    "RemoteClient",
    "RemoteStream",
]

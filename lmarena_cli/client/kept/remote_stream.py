"""A kept server's answer as it arrives: :class:`RemoteStream`, read from one
:class:`Exchange` (one connection to the server, one request's answer lines).

The lines are :mod:`.wire`'s: the events, the notices logged on the way (logged again here),
then the reply and the conversation's new state, or the failure, raised here as the same
exception. Nothing here imports aiohttp or nodriver.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import Any, Protocol

from ...errors import LmArenaError, ProtocolError, UpstreamUnavailable
from ...site import facts
from ...site.models import Model
from ..reply import Answer, Reply, TextStream
from . import wire
from .wire_requests import ChatState

#: The failure of a server that ended before it answered, given the text so far.
Gone = Callable[[str], UpstreamUnavailable]


class StreamedChat(Protocol):
    """What a stream needs of its conversation (a :class:`~.remote.RemoteChatSession`)."""

    @property
    def id(self) -> str | None: ...

    @property
    def model(self) -> Model | None: ...

    @property
    def model_b(self) -> Model | None: ...

    @property
    def mode(self) -> facts.Mode: ...

    def apply(self, state: ChatState) -> None:
        """Take the conversation's state as the server last left it."""


class Exchange:
    """One connection to the server: the answer lines of one request."""

    def __init__(
        self, gone: Gone, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._gone = gone
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
                raise self._gone(partial)
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


class RemoteStream(TextStream):
    """An answer as the server streams it (see :class:`~..turn.exchange.ReplyStream`)."""

    def __init__(self, chat: StreamedChat, exchange: Exchange) -> None:
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
                    self._chat.apply(ChatState.from_json(answer["chat"]))
                    return
                else:
                    self._fail(answer)
        finally:
            await self.aclose()

    def _fail(self, answer: dict[str, Any]) -> None:
        if "chat" in answer:
            self._chat.apply(ChatState.from_json(answer["chat"]))
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


__all__ = ["Exchange", "Gone", "RemoteStream", "StreamedChat"]

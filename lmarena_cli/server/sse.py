"""Server-sent events for ``lmarena serve``: one reply relayed as OpenAI chunks, kept alive.

:class:`SSE` is the event stream of one response (prepared lazily, so that an error before
anything was sent keeps its own HTTP status); :meth:`SSE.wait_for` waits for a step of the
answer with a ``: keep-alive`` line every so often and gives up when the server shuts down;
:func:`relay` turns a :class:`ReplyStream`'s events into chunks of ``chat.completion.chunk``.
What to send and how to record it is decided by the handler in :mod:`.handlers`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from aiohttp import web

from ..client.exchange import ReplyStream
from ..client.reply import SkippedBattle
from ..errors import LmArenaError, ShuttingDown
from ..site.events import Citation, Event, Finish, ImageOutput, ReasoningDelta, TextDelta
from . import responses
from .tasks import abandon, race


class SSE:
    """The event stream of one response; prepared lazily so early errors keep their status."""

    def __init__(self, request: web.Request, *, keepalive: float, closing: asyncio.Event) -> None:
        self.request = request
        self.response: web.StreamResponse | None = None
        #: Seconds of silence after which a ``: keep-alive`` line is sent.
        self.interval = keepalive
        #: Set when the server's shutdown grace period is over: the stream ends at once.
        self.closing = closing

    async def prepare(self) -> web.StreamResponse:
        if self.response is None:
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream; charset=utf-8",
                    "Cache-Control": "no-cache",
                    "X-Accel-Buffering": "no",  # nginx would otherwise hold the stream back
                }
            )
            await response.prepare(self.request)
            self.response = response
        return self.response

    async def data(self, body: dict[str, Any]) -> None:
        response = await self.prepare()
        await response.write(b"data: " + orjson.dumps(body) + b"\n\n")

    async def keepalive(self) -> None:
        response = await self.prepare()
        await response.write(b": keep-alive\n\n")

    async def done(self) -> None:
        response = await self.prepare()
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()

    async def wait_for(self, task: asyncio.Future[Any]) -> bool:
        """Wait for ``task``, with a keep-alive line after each ``interval`` of silence.

        True once ``task`` is done (its result or error is then the caller's to read); False
        when shutdown came first, and ``task`` was cancelled. If the wait itself fails (the
        client went away, the handler was cancelled), ``task`` is cancelled too.
        """
        try:
            while not await race(task, self.closing, timeout=self.interval):
                if self.closing.is_set():
                    await abandon(task)
                    break
                await self.keepalive()
        except BaseException:
            task.cancel()
            raise
        return not task.cancelled()


async def relay(stream: ReplyStream, sse: SSE, maker: responses.ChunkMaker) -> str | None:
    """Turn the reply's events into chunks; return model A's content as sent.

    None when shutdown cut the answer short (the stream then ends with an error chunk). The
    first chunk waits for the first content (see :meth:`_Relay._start`).
    """
    await sse.prepare()
    chunks = _Relay(stream, sse, maker)
    events = stream.events()
    try:
        while True:
            task = asyncio.ensure_future(anext(events))
            if not await sse.wait_for(task):
                await end_with_error(sse, maker, ShuttingDown())
                return None
            try:
                event = task.result()
            except StopAsyncIteration:
                break
            await chunks.event(event)
    finally:
        await events.aclose()
    await chunks.finish()
    if maker.include_usage:
        await sse.data(maker.usage(stream.reply.usage))
    await sse.done()
    return chunks.content.get("a", "")


class _Relay:
    """State of one stream's chunks: which sides have started, spoken and finished."""

    def __init__(self, stream: ReplyStream, sse: SSE, maker: responses.ChunkMaker) -> None:
        self.stream, self.sse, self.maker = stream, sse, maker
        self.sides = {answer.side: index for index, answer in enumerate(stream.reply.answers)}
        self.started = False
        #: The content sent so far per side, and the sides whose last content was an image.
        self.content: dict[str, str] = {}
        self.after_image: set[str] = set()
        self.finished: set[str] = set()

    async def event(self, event: Event | SkippedBattle) -> None:
        if isinstance(event, SkippedBattle):
            # The site answered a single-model turn as an anonymous battle, skipped: say so in
            # a chunk of its own (no choices), before the chosen model's answer.
            await self._start()
            await self.sse.data(self.maker.chunk([], **responses.battle_fields(event)))
            return
        index = self.sides.get(event.side)
        if index is None:
            return
        if isinstance(event, TextDelta | ReasoningDelta | ImageOutput | Finish | Citation):
            await self._start()
        if isinstance(event, TextDelta):
            await self._content(event.side, index, event.text, image=False)
        elif isinstance(event, ReasoningDelta):
            await self.sse.data(self.maker.delta(index, reasoning_content=event.text))
        elif isinstance(event, ImageOutput):
            await self._content(event.side, index, responses.image_markdown(event.url), image=True)
        elif isinstance(event, Citation):
            citation = {"url": event.url, "title": event.title}
            await self.sse.data(self.maker.delta(index, citations=[citation]))
        elif isinstance(event, Finish):
            self.finished.add(event.side)
            await self.sse.data(self.maker.finish(index, event.finish_reason))

    async def _content(self, side: str, index: int, piece: str, *, image: bool) -> None:
        # Images stand in paragraphs of their own, as in the non-streamed answer_content().
        if self.content.get(side) and (image or side in self.after_image):
            piece = "\n\n" + piece
        if image:
            self.after_image.add(side)
        else:
            self.after_image.discard(side)
        self.content[side] = self.content.get(side, "") + piece
        await self.sse.data(self.maker.delta(index, content=piece))

    async def _start(self) -> None:
        # Sent at the first content, not at once: until then a retry may still pick a new
        # conversation id, and the first chunk is what names it.
        if not self.started:
            self.started = True
            first = self.maker.first(self.stream.evaluation_session_id, len(self.sides))
            await self.sse.data(first)

    async def finish(self) -> None:
        await self._start()
        for side, index in self.sides.items():
            if side not in self.finished:
                answer = self.stream.reply.answers[index]
                await self.sse.data(self.maker.finish(index, answer.finish_reason))


async def end_with_error(sse: SSE, maker: responses.ChunkMaker, error: LmArenaError) -> None:
    """End a started stream with a chunk carrying ``error``, then ``data: [DONE]``."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        await sse.data(maker.error(error))
        await sse.done()


__all__ = ["SSE", "end_with_error", "relay"]

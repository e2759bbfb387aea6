"""Server-sent events for ``lmarena serve``: one answer's event stream, kept alive.

:class:`SSE` is the event stream of one response (prepared lazily, so that an error before
anything was sent keeps its own HTTP status); :meth:`SSE.wait_for` waits for a step of the
answer with a keep-alive every so often and gives up when the server shuts down;
:meth:`SSE.follow` does that for each event of an answer. Plain ``data:`` lines (chat
completions) and named events (``event:`` + ``data:``, the Responses and Messages APIs) both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import orjson
from aiohttp import web

from ..errors import ShuttingDown
from .tasks import abandon, race

T = TypeVar("T")


class SSE:
    """The event stream of one response; prepared lazily so early errors keep their status."""

    def __init__(
        self,
        request: web.Request,
        *,
        keepalive: float,
        closing: asyncio.Event,
        ping: bytes = b": keep-alive\n\n",
    ) -> None:
        self.request = request
        #: What a keep-alive writes (a comment line; Anthropic's clients get a ``ping`` event).
        self.ping = ping
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

    async def event(self, name: str, body: dict[str, Any]) -> None:
        """One named event (``event:`` then ``data:``), as the Responses and Messages APIs send."""
        response = await self.prepare()
        await response.write(
            b"event: " + name.encode() + b"\ndata: " + orjson.dumps(body) + b"\n\n"
        )

    async def keepalive(self) -> None:
        response = await self.prepare()
        await response.write(self.ping)

    async def end(self) -> None:
        """End the stream (no ``[DONE]``: the named-event APIs end with their last event)."""
        response = await self.prepare()
        await response.write_eof()

    async def follow(self, events: AsyncIterator[T]) -> AsyncIterator[T]:
        """``events`` with a keep-alive after each ``interval`` of silence between them;
        :class:`ShuttingDown` when the server's shutdown comes first."""
        iterator = aiter(events)
        while True:
            task = asyncio.ensure_future(anext(iterator))
            if not await self.wait_for(task):
                raise ShuttingDown()
            try:
                value = task.result()
            except StopAsyncIteration:
                return
            yield value

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


__all__ = ["SSE"]

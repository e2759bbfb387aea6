"""Running a :class:`~.turn.Turn` for a handler: whole (one body) or streamed (events).

Every API shape runs its turns through these two functions, so shutdown, keep-alives, a client
that goes away, and an error before or after the stream started are handled once: an error
before anything was sent keeps its own HTTP status (the codec's error envelope), an error after
the start goes to the codec's :meth:`Writer.fail`, and a finished answer is recorded in the
store exactly once.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from aiohttp import web

from ..client.transport.netguard import check_url
from ..errors import InputError, LmArenaError, ShuttingDown
from . import engine
from .context import ServerState
from .sse import SSE
from .tasks import abandon, race
from .turn import Turn


async def prepare(state: ServerState, turn: Turn) -> engine.TurnRun:
    """Route the turn, compose its prompt (refused when over the budget), check its images and
    open its conversation: everything short of sending."""
    where = engine.route(state, turn)
    prompt = engine.compose(state, turn, where)
    await check_images(state, prompt.images)
    chat = await engine.open_chat(state, turn, where)
    return engine.TurnRun(state, turn, where, prompt, chat)


async def check_images(state: ServerState, images: list[str]) -> None:
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


async def whole(state: ServerState, run: engine.TurnRun) -> engine.Outcome:
    """Send and read the whole answer; :class:`ShuttingDown` when shutdown ends it first."""

    async def answer() -> engine.Outcome:
        try:
            await run.start()
            async for _ in run.events():
                pass
        finally:
            await run.aclose()
        return run.outcome

    task = asyncio.ensure_future(answer())
    if not await race(task, state.closing):
        await abandon(task)
        raise ShuttingDown()
    outcome = task.result()
    run.record()
    return outcome


class Writer(Protocol):
    """How one API shape writes a streamed answer."""

    async def event(self, sse: SSE, out: engine.Out) -> None: ...

    async def finish(self, sse: SSE, outcome: engine.Outcome) -> None:
        """The answer is complete: the closing events."""

    async def fail(self, sse: SSE, error: LmArenaError) -> None:
        """The stream started, then failed: the shape's error event, then the end."""


async def streamed(
    request: web.Request, state: ServerState, run: engine.TurnRun, writer: Writer, sse: SSE
) -> web.StreamResponse:
    """Send, and write the answer's events as they come (keep-alives while the site is slow)."""
    try:
        sending = asyncio.ensure_future(run.start())
        if not await sse.wait_for(sending):  # shutdown came first
            raise ShuttingDown()
        sending.result()
        async for out in sse.follow(run.events()):
            await writer.event(sse, out)
        await writer.finish(sse, run.outcome)
        run.record()
    except LmArenaError as error:
        if sse.response is None:
            raise  # nothing sent yet: a plain HTTP error with its status
        await writer.fail(sse, error)
    except ConnectionError:
        pass  # the client went away; the upstream request is closed below
    except Exception as exc:
        if sse.response is None:
            raise
        state.log(f"internal error while streaming: {type(exc).__name__}: {exc}")
        await writer.fail(sse, LmArenaError(f"internal server error ({exc})"))
    finally:
        await run.aclose()
    assert sse.response is not None
    return sse.response


__all__ = ["Writer", "check_images", "prepare", "streamed", "whole"]

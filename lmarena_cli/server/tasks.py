"""Waiting for a piece of work or a stop signal, whichever comes first.

The server waits this way in four places: a request's answer against the shutdown, a stream's
next event against the shutdown (with keep-alives in between), the bootstrap against a signal,
and the shutdown's grace period against the open requests. :func:`race` is that wait, and
:func:`abandon` ends the work that lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def race(
    task: asyncio.Future[Any], stop: asyncio.Event, *, timeout: float | None = None
) -> bool:
    """Wait until ``task`` is done or ``stop`` is set, at most ``timeout`` seconds.

    True when ``task`` is done (its result or error is then the caller's to read); False when
    ``stop`` came first or the time ran out (``stop.is_set()`` tells which). ``task`` is left
    running then, except when the wait itself is cancelled: nobody would read its result, so
    it is cancelled too.
    """
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        stopping.cancel()
    return task.done()


async def abandon(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait for it to end, ignoring how it ends."""
    task.cancel()
    # Its outcome no longer matters: whoever raced it has moved on (shutdown, a signal).
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


__all__ = ["abandon", "race"]

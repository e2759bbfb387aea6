"""Waiting for a piece of work or a stop signal, whichever comes first.

The server waits this way in four places: a request's answer against the shutdown, a stream's
next event against the shutdown (with keep-alives in between), the bootstrap against a signal,
and the shutdown's grace period against the open requests. :func:`race` is that wait, and
:func:`abandon` ends the work that lost (also the private endpoint's request when its command
goes away, and the kept server's warm-up) without swallowing its caller's own cancellation.
"""

from __future__ import annotations

import asyncio
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
    """Cancel ``task`` and wait for it to end, ignoring how it ends, unless the caller itself is
    being cancelled meanwhile (or was, and is cleaning up): that cancellation goes on."""
    task.cancel()
    # Its outcome no longer matters: whoever raced it has moved on (shutdown, a signal).
    try:
        await task
    except asyncio.CancelledError:
        # The task's own end, or the caller's cancellation arriving while it waited: the
        # caller's (a timeout, a shutdown) is never swallowed.
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except Exception:
        pass


__all__ = ["abandon", "race"]

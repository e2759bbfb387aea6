"""Fake arenas on an event loop of their own, for tests that block on a subprocess.

A CLI subprocess (or Typer's in-process runner, which runs its own loop) cannot share the test's
event loop, so the fake arena runs on a thread. ``close`` stops every arena it started, the loop
and the thread, and closes the loop: nothing is left for the garbage collector to warn about.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from tests.fake_arena import FakeArena

T = TypeVar("T")


class ArenaHost:
    """An event loop on a daemon thread that runs fake arenas while the test blocks."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._arenas: list[FakeArena] = []

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the host's loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=timeout)

    def serve(self, arena: FakeArena) -> FakeArena:
        """Start ``arena`` on the host's loop; ``close`` stops it."""
        self.call(arena.start())
        self._arenas.append(arena)
        return arena

    def start(self, **options: Any) -> FakeArena:
        """A new ``FakeArena(**options)``, started."""
        return self.serve(FakeArena(**options))

    def stop(self, arena: FakeArena) -> None:
        self.call(arena.stop())
        self._arenas.remove(arena)

    def close(self) -> None:
        for arena in list(self._arenas):
            self.stop(arena)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


__all__ = ["ArenaHost"]

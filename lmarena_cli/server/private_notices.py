"""Where the library's notices go while the private endpoint serves commands (:mod:`.private`).

A command run in-process shows the notices the library logs as it works (waits, retries, the
browser's start); served by the kept server, it gets the same ones on its connection, in order
with its events. :class:`Notices` routes each record of the ``"lmarena"`` logger to the request
it was logged for (a context variable set for that request's tasks); the records of work done for
every request (:meth:`Notices.shared`: the kept server's start-up) go to each request open then,
or to the next one. A command run with ``--debug`` gets its request's DEBUG records too, while the
server's own log stays at INFO.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from typing import Any

from ..client.kept import wire

Sink = Callable[[dict[str, Any]], None]

#: Where a request's notices go: set for the tasks that serve it.
_SINK: contextvars.ContextVar[Sink | None] = contextvars.ContextVar(
    "lmarena_private_sink", default=None
)
#: The lowest level relayed to that request (DEBUG for a command run with ``--debug``).
_LEVEL: contextvars.ContextVar[int] = contextvars.ContextVar(
    "lmarena_private_level", default=logging.INFO
)
#: Shared notices kept for the next request when none is open (the rest are only logged).
UNSENT_LIMIT = 50


class RelayHandler(logging.Handler):
    """Sends each notice of the library to the request it was logged for."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        sink = _SINK.get()
        if sink is not None and record.levelno >= _LEVEL.get():
            with contextlib.suppress(Exception):
                sink(wire.record_to_json(record))


class Notices:
    """The relay of one endpoint: the open requests' sinks and the notices none took yet."""

    def __init__(self) -> None:
        self._relay = RelayHandler()
        self._sinks: set[Sink] = set()
        self._unsent: list[dict[str, Any]] = []
        #: Open requests of commands run with ``--debug``, and the library's level before them.
        self._debugging = 0
        self._level = logging.NOTSET

    def install(self) -> None:
        """Relay the library's records from now on (INFO and above unless a request asks)."""
        lib = logging.getLogger("lmarena")
        lib.addHandler(self._relay)
        if lib.level == logging.NOTSET or lib.level > logging.INFO:
            lib.setLevel(logging.INFO)

    def uninstall(self) -> None:
        logging.getLogger("lmarena").removeHandler(self._relay)

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Inside the block (and in tasks it starts), the library's notices go to every request
        open at the time, or to the next request when none is: for work that all requests wait
        on, such as starting the browser, whose notices a command run in-process would show."""
        token = _SINK.set(self._to_all)
        try:
            yield
        finally:
            _SINK.reset(token)

    def _to_all(self, message: dict[str, Any]) -> None:
        if self._sinks:
            for sink in list(self._sinks):
                sink(message)
        elif len(self._unsent) < UNSENT_LIMIT:
            self._unsent.append(message)

    @contextlib.contextmanager
    def of_request(self, send: Sink, *, debug: bool) -> Iterator[None]:
        """Inside the block (and in tasks it starts), the library's notices go to ``send``,
        after the shared ones no request took yet; ``debug``: DEBUG records too."""
        unsent, self._unsent = self._unsent, []
        for message in unsent:
            send(message)
        self._sinks.add(send)
        sink, level = _SINK.set(send), _LEVEL.set(logging.DEBUG if debug else logging.INFO)
        if debug:
            self._debug(+1)
        try:
            yield
        finally:
            if debug:
                self._debug(-1)
            _LEVEL.reset(level)
            _SINK.reset(sink)
            self._sinks.discard(send)

    def _debug(self, step: int) -> None:
        """The library logs DEBUG records while a ``--debug`` command's request is open."""
        lib = logging.getLogger("lmarena")
        if step > 0 and not self._debugging:
            self._level = lib.level
            lib.setLevel(logging.DEBUG)
        self._debugging += step
        if step < 0 and not self._debugging:
            lib.setLevel(self._level)


__all__ = ["UNSENT_LIMIT", "Notices", "RelayHandler", "Sink"]

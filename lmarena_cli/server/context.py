"""What every handler of ``lmarena serve`` shares: the server's state and the JSON plumbing.

:class:`ServerState` lives on the application under :data:`STATE`; :func:`tracked` counts the
model requests in flight so that shutdown knows when they are done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from ..client.client import Client
from ..errors import FieldError
from ..settings import Settings
from ..state.served import ServedStore

#: Where one-line notices go (the access log, internal errors).
Log = Callable[[str], None]


@dataclass
class ServerState:
    """What every handler shares."""

    client: Client
    settings: Settings
    #: ``match`` (continue a stored conversation with the same transcript) or ``last``.
    history: str
    keepalive: float
    log: Log
    status: str = "starting"
    reason: str = "the browser has not been started yet"
    #: Set when shutdown's grace period is over: open requests end at once.
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    active: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    _served: ServedStore | None = None

    @property
    def served(self) -> ServedStore:
        """The server's own tables (session keys, contracts, responses), opened on first use."""
        if self._served is None:
            self._served = ServedStore(self.settings.store_path)
        return self._served

    @property
    def records(self) -> bool:
        """True when the server records exchanges (its client does not)."""
        # A client that records exchanges itself would store folded prompts, which no later
        # full-history request could match; the server records the OpenAI messages instead.
        return not self.client.records


STATE = web.AppKey("lmarena_state", ServerState)


@contextlib.asynccontextmanager
async def tracked(state: ServerState) -> AsyncIterator[None]:
    """Count open model requests, so shutdown knows when they are all done."""
    state.active += 1
    state.idle.clear()
    try:
        yield
    finally:
        state.active -= 1
        if state.active == 0:
            state.idle.set()


def json_response(body: Any, *, status: int = 200) -> web.Response:
    """``body`` as an ``application/json`` response."""
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def read_json(request: web.Request) -> Any:
    """The request's JSON body; :class:`FieldError` (a 400) when it is empty or not JSON."""
    raw = await request.read()
    if not raw.strip():
        raise FieldError("", "the request body is empty; a JSON object was expected")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FieldError("", f"the request body is not valid JSON: {exc}") from None


__all__ = ["STATE", "Log", "ServerState", "json_response", "read_json", "tracked"]

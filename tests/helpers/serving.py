"""``lmarena serve`` in the test's own process, on a client the test made, for the openai package.

::

    async with serving(client) as url:          # "http://127.0.0.1:<port>/v1"
        api = openai_client(url)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmarena_cli.client.client import Client
from lmarena_cli.server.app import make_app
from lmarena_cli.server.run import start, warm_up
from lmarena_cli.settings import Settings
from tests.fake_arena import FakeArena


@contextlib.asynccontextmanager
async def serving(client: Client) -> AsyncIterator[str]:
    """The server's ``/v1`` base URL while the block runs; stopped after it."""
    await client.bootstrap()
    app = make_app(client, client.settings)
    running = await start(app, "127.0.0.1", 0)
    await warm_up(app)
    try:
        yield f"{running.url}/v1"
    finally:
        await running.runner.cleanup()


def openai_client(url: str) -> Any:
    """The official client (``openai.AsyncOpenAI``), pointed at ``url``, with no retries of its
    own. Typed ``Any``: the tests send this server's extensions (``conversation_id``...)."""
    import openai

    return openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0)


@dataclass
class Served:
    """A fake arena and `serve` on a client of it (on the browser's stand-in), all on loopback."""

    arena: FakeArena
    client: Client
    settings: Settings
    #: The server's origin, ``http://127.0.0.1:<port>`` (no ``/v1``).
    url: str
    #: The server's access log, one line per request.
    log: list[str]


@contextlib.asynccontextmanager
async def served_fake(
    state_dir: Path, *, recaptcha_delay: float = 0.05, **settings_changes: Any
) -> AsyncIterator[Served]:
    """A new fake arena and a server of it, stopped (with its client and stand-in) after."""
    from tests.fakes import HttpBrowser

    async with FakeArena(recaptcha_delay=recaptcha_delay) as arena:
        settings = Settings(
            base_url=arena.url, state_dir=state_dir, browser_headless=True, **settings_changes
        )
        browser = HttpBrowser(settings)
        client = Client(settings, browser=browser, record=False)
        log: list[str] = []
        app = make_app(client, settings, access_log=log.append)
        running = await start(app, "127.0.0.1", 0)
        try:
            await warm_up(app)
            yield Served(arena, client, settings, running.url, log)
        finally:
            await running.runner.cleanup()
            await client.close()
            await browser.close()


@contextlib.asynccontextmanager
async def extra_server(
    client: Client,
    settings: Settings,
    *,
    cors_origins: tuple[str, ...] = (),
    keepalive: float = 10.0,
) -> AsyncIterator[str]:
    """Another app on the same client (and browser), with other settings; its origin."""
    app = make_app(client, settings, cors_origins=cors_origins, keepalive=keepalive)
    running = await start(app, "127.0.0.1", 0)
    await warm_up(app)
    try:
        yield running.url
    finally:
        await running.runner.cleanup()


__all__ = ["Served", "extra_server", "openai_client", "served_fake", "serving"]

"""``lmarena serve`` in the test's own process, on a client the test made, for the openai package.

::

    async with serving(client) as url:          # "http://127.0.0.1:<port>/v1"
        api = openai_client(url)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from lmarena_cli.client.client import Client
from lmarena_cli.server.app import make_app
from lmarena_cli.server.run import start, warm_up


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


__all__ = ["openai_client", "serving"]

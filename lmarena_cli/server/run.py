"""Running ``lmarena serve``: the bind check, start, warm-up, graceful stop, and ``serve`` itself.

``serve`` says where it listens (and warns about an open bind) with plain writes to stderr,
which ``-q`` does not hide; its other notices, the access log and the library's notices are
records on the ``lmarena`` logger, which the front end routes to stderr (see
``lmarena_cli.cli.notices``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from ..client.factory import new_client
from ..errors import LmArenaError, UsageError
from ..settings import Settings
from .advice import say
from .app import make_app
from .context import STATE
from .kept import private_for_serve
from .tasks import abandon, race

#: Seconds open requests get to finish after SIGINT/SIGTERM before they are ended.
SHUTDOWN_GRACE = 5.0

logger = logging.getLogger("lmarena.server")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, api_key: str | None, insecure: bool) -> None:
    """Refuse to serve a non-loopback address without an API key, unless ``insecure``."""
    if is_loopback(host) or api_key or insecure:
        return
    raise UsageError(
        f"refusing to listen on {host} without an API key: anyone who can reach it could use "
        "your arena.ai session. Set LM_ARENA_API_KEY (clients then send Authorization: Bearer "
        "<key>), bind 127.0.0.1, or pass --insecure if the network is trusted"
    )


@dataclass
class Running:
    """A started server: its runner and the URL it listens on."""

    runner: web.AppRunner
    url: str


async def start(app: web.Application, host: str, port: int) -> Running:
    """Bind ``host:port`` (0: any free port) and serve ``app`` in the background."""
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {host} is already in use (another lmarena serve?); "
                "choose another with --port or LM_ARENA_PORT"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = runner.addresses[0]
    shown = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
    return Running(runner, f"http://{shown}:{bound[1]}")


async def warm_up(app: web.Application) -> None:
    """Bootstrap the client (browser, cookies, models); ``/health`` reports how it went."""
    state = app[STATE]
    try:
        await state.client.bootstrap()
        models = await state.client.list_models()
    except LmArenaError as error:
        state.status, state.reason = "failed", say(error)
        raise
    state.status, state.reason = "ready", f"{len(models)} models available"


async def stop(app: web.Application, running: Running, *, grace: float = SHUTDOWN_GRACE) -> None:
    """Stop accepting, give open requests ``grace`` seconds, end the rest, close the client."""
    state = app[STATE]
    state.status, state.reason = "stopping", "the server is shutting down"
    for site in list(running.runner.sites):
        await site.stop()
    # The grace period ends early when the open requests are done or a second signal came.
    idle = asyncio.ensure_future(state.idle.wait())
    await race(idle, state.closing, timeout=grace)
    idle.cancel()
    state.closing.set()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2.0):
            await state.idle.wait()
    await running.runner.cleanup()
    await state.client.close()


async def serve(
    settings: Settings,
    *,
    insecure: bool = False,
    cors_origins: Sequence[str] = (),
    grace: float = SHUTDOWN_GRACE,
) -> None:
    """Run the server until SIGINT or SIGTERM; return normally (exit 0) after a clean stop."""
    check_bind(settings.host, api_key=settings.api_key, insecure=insecure)
    if not is_loopback(settings.host) and not settings.api_key:
        _say(f"lmarena serve: warning: serving {settings.host} without an API key (--insecure)")
    client = new_client(settings, record=False)  # Chromium, or the browser of client/factory.py
    app = make_app(client, settings, cors_origins=cors_origins, access_log=logger.info)
    try:
        running = await start(app, settings.host, settings.port)
    except BaseException:
        await client.close()
        raise
    stopped = asyncio.Event()

    def on_signal() -> None:
        if stopped.is_set():  # a second Ctrl-C: end open requests now, without the grace period
            app[STATE].closing.set()
        stopped.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    private = None
    try:
        _say(f"lmarena serve: listening on {running.url}")
        # Also this user's commands (ask, chat), on the kept server's socket (server/kept.py).
        private = await private_for_serve(settings, client.browser, stopped.set)
        await _bootstrap_until(app, stopped)
        if not stopped.is_set():
            if private is not None:
                private.endpoint.client.keep_token_ready()
            logger.info("lmarena serve: ready (%s)", app[STATE].reason)
            await stopped.wait()
        logger.info("lmarena serve: shutting down")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if private is not None:
            await private.close(grace=grace, client=True)
        await stop(app, running, grace=grace)


def _say(line: str) -> None:
    """A line every user of ``serve`` must see (``-q`` does not hide it): straight to stderr."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


async def _bootstrap_until(app: web.Application, stopped: asyncio.Event) -> None:
    """Bootstrap unless a signal comes first; a failed bootstrap ends the server with its error."""
    task = asyncio.ensure_future(warm_up(app))
    if not await race(task, stopped):
        await abandon(task)
        return
    task.result()


__all__ = [
    "SHUTDOWN_GRACE",
    "Running",
    "check_bind",
    "is_loopback",
    "serve",
    "start",
    "stop",
    "warm_up",
]

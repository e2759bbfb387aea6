"""The kept server: a warm browser for this user's commands, on a Unix socket, until idle.

``python -m lmarena_cli.server.kept`` is what ``lmarena ask`` and ``chat`` start in the
background when no server runs (``lmarena_cli.cli.kept``): it owns the socket of
:class:`~lmarena_cli.state.kept.KeptPaths` (holding ``server.lock`` for its whole life), serves
the private endpoint (:mod:`.private`) with one :class:`~lmarena_cli.client.client.Client` whose
Chromium is always headless, keeps a reCAPTCHA token minted ahead, and exits after
``LM_ARENA_KEEP_ALIVE`` seconds without a request, on SIGTERM/SIGINT, on ``lmarena server stop``,
or when its socket file is removed or replaced. Exiting closes the browser: no Chromium is left.

``lmarena serve`` serves the same endpoint next to its HTTP API (:func:`open_private`), without
the idle timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from ..client.client import Client
from ..client.factory import new_client
from ..client.kept.wire import absolute_paths, fingerprint
from ..errors import LmArenaError
from ..settings import Settings
from ..state.kept import KeptPaths, open_lock, read_pid, remove_stale, try_lock, write_pid
from .private import PrivateEndpoint
from .tasks import abandon

logger = logging.getLogger("lmarena.server")

#: Seconds open requests get to finish when the server stops.
GRACE = 5.0
#: How often the idle timer looks (at most; shorter for short keep-alives).
TICK = 5.0


@dataclass
class WarmUp:
    """How the kept server's start of the browser went, for ``lmarena server status``."""

    #: None until the warm-up ran; then None when it worked, else what failed.
    error: str | None = None
    running: bool = False


@dataclass
class Private:
    """A listening private endpoint and the lock that makes its socket this process's."""

    endpoint: PrivateEndpoint
    paths: KeptPaths
    lock_fd: int
    warm_up: WarmUp = field(default_factory=WarmUp)

    async def close(
        self, *, grace: float = GRACE, client: bool = False, groups: set[int] | None = None
    ) -> None:
        """Stop serving; with ``client``, close its client too (a shared browser stays) and wait
        for ``groups`` (Chromium's processes) to be gone. The lock goes last: a command waiting
        for this server to end (``lmarena server stop``) returns once all of it has."""
        try:
            await self.endpoint.close(grace=grace)
            if client:
                await self.endpoint.client.close()
                await _gone(groups or set(), seconds=5.0)
        finally:
            with contextlib.suppress(OSError):
                if read_pid(self.paths.pid) == os.getpid():
                    os.unlink(self.paths.pid)
            os.close(self.lock_fd)  # releases server.lock


async def open_private(
    client: Client, settings: Settings, *, on_stop: Any, kept: bool
) -> Private | None:
    """Serve ``client`` on this user's socket; None when another server owns it."""
    paths = KeptPaths.of(settings.state_dir)
    paths.prepare()
    lock_fd = open_lock(paths.lock)
    if not try_lock(lock_fd):
        os.close(lock_fd)
        return None
    warm_up = WarmUp()
    try:
        remove_stale(paths.socket)  # a killed server's socket, or anything else left there
        endpoint = PrivateEndpoint(
            client,
            fingerprint=fingerprint(settings),
            on_stop=on_stop,
            info=lambda: _info(client, settings, paths, kept, warm_up),
        )
        await endpoint.listen(paths.socket)
        write_pid(paths.pid, os.getpid())
    except BaseException:
        os.close(lock_fd)
        raise
    return Private(endpoint, paths, lock_fd, warm_up)


async def private_for_serve(settings: Settings, browser: Any, on_stop: Any) -> Private | None:
    """``lmarena serve``'s socket for this user's commands, sharing its browser; None when the
    kept server is off (``LM_ARENA_KEEP_ALIVE=0``), another server owns the socket, or the
    state directory cannot hold it (said in a notice)."""
    if settings.keep_alive <= 0:
        return None
    client = Client(settings, browser=browser, record=True)
    try:
        private = await open_private(client, settings, on_stop=on_stop, kept=False)
    except OSError as exc:
        logger.info("lmarena serve: no socket for lmarena's commands: %s", exc)
        private = None
    if private is None:
        await client.close()
        logger.info("lmarena serve: another lmarena server serves lmarena's commands")
        return None
    logger.info("lmarena serve: lmarena's commands use this server (%s)", private.paths.socket)
    return private


def _info(
    client: Client, settings: Settings, paths: KeptPaths, kept: bool, warm_up: WarmUp
) -> dict[str, Any]:
    ready = client.state is not None
    return {
        "kept": kept,
        "keep_alive": settings.keep_alive if kept else None,
        "ready": ready,
        "starting": warm_up.running and not ready,
        "start_error": None if ready else warm_up.error,
        "socket": str(paths.socket),
        "log": str(paths.log) if kept else None,
        "base_url": settings.base_url,
        "rss_kb": _rss_kb(),
    }


def _rss_kb() -> int | None:
    """This process's resident memory (Chromium's is its own processes')."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for text in status:
            if text.startswith("VmRSS:"):
                return int(text.split()[1])
    return None


async def run_kept(settings: Settings) -> int:
    """Serve until idle, stopped or signalled; 0 also when another server owns the socket."""
    settings = settings.replace(browser_headless=True)  # never a window in the user's way
    client = new_client(settings)
    stopped = asyncio.Event()
    try:
        private = await open_private(client, settings, on_stop=stopped.set, kept=True)
    except BaseException:
        await client.close()
        raise
    if private is None:
        logger.info("another lmarena server owns the socket; exiting")
        await client.close()
        return 0
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    endpoint = private.endpoint
    logger.info(
        "kept server %d listening on %s (exits after %.0f s without a request)",
        os.getpid(),
        private.paths.socket,
        settings.keep_alive,
    )
    warm = asyncio.ensure_future(_warm_up(client, endpoint, private.warm_up))
    try:
        tick = min(TICK, max(0.05, settings.keep_alive / 4))
        while not stopped.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(tick):
                    await stopped.wait()
            if endpoint.activity.idle_for() >= settings.keep_alive:
                logger.info("no request for %.0f s; exiting", settings.keep_alive)
                break
            if not endpoint.still_ours():
                logger.info("the socket file was removed or replaced; exiting")
                break
        logger.info("kept server %d stopping", os.getpid())
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        try:
            await abandon(warm)  # (raises when this server's task is being cancelled)
        finally:
            try:  # the browser, with every Chromium process, then the lock
                await private.close(client=True, groups=_child_groups())
            finally:
                await client.close()  # (again, when closing failed half-way: it is safe)
    logger.info("kept server %d stopped", os.getpid())
    return 0


def _stats() -> list[list[str]]:
    """The fields after the command name of every process's ``/proc/<pid>/stat``."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as stat:
                    found.append([entry, *stat.read().rpartition(")")[2].split()])
    return found


def _child_groups() -> set[int]:
    """The process groups of this process's children (Chromium leads a group of its own)."""
    me = str(os.getpid())
    return {int(fields[0]) for fields in _stats() if len(fields) > 2 and fields[2] == me}


async def _gone(groups: set[int], *, seconds: float) -> None:
    """Wait until no process of ``groups`` is left (Chromium's helpers die a moment after it)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while groups and asyncio.get_running_loop().time() < deadline:
        left = [f for f in _stats() if len(f) > 3 and int(f[3]) in groups and f[1] != "Z"]
        if not left:
            return
        await asyncio.sleep(0.05)


async def _warm_up(client: Client, endpoint: PrivateEndpoint, warm_up: WarmUp) -> None:
    """Start the browser and keep a token minted ahead, before the first request wants them.
    What the start-up says (a profile copy, the Terms of Use accepted) goes to the commands
    waiting for it, as it would on their stderr in-process."""
    warm_up.running = True
    try:
        with endpoint.notices.shared():
            await client.bootstrap()
    except LmArenaError as error:  # each request tries again, and says why it failed
        warm_up.error = str(error)
        logger.info("the browser could not be started ahead: %s", error)
        return
    finally:
        warm_up.running = False
    client.keep_token_ready()
    logger.info("ready")


def close_inherited_fds() -> None:
    """Close every descriptor but 0-2 that a parent let this process inherit."""
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd > 2:
                with contextlib.suppress(OSError):
                    if os.get_inheritable(fd):
                        os.close(fd)


def main() -> None:
    """``python -m lmarena_cli.server.kept``: run a kept server (its log is stderr)."""
    close_inherited_fds()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.setLevel(logging.INFO)  # a --debug command's DEBUG records go to it, not here
    lib = logging.getLogger("lmarena")
    lib.addHandler(handler)
    lib.setLevel(logging.INFO)
    try:
        settings = absolute_paths(Settings.load())
        paths = KeptPaths.of(settings.state_dir)
        paths.prepare()
        os.chdir(paths.directory)  # not the starting command's folder: it may be unmounted
        code = asyncio.run(run_kept(settings))
    except LmArenaError as error:
        logger.error("cannot run a kept server: %s", error)
        code = error.exit_code
    except OSError as error:
        logger.error("cannot run a kept server: %s", error)
        code = 1
    sys.exit(code)


__all__ = [
    "GRACE",
    "Private",
    "close_inherited_fds",
    "main",
    "open_private",
    "private_for_serve",
    "run_kept",
]

if __name__ == "__main__":
    main()

"""Finding the kept server for a command, and starting one when none runs.

``ask`` and ``chat`` (and ``models`` when it must ask the site) talk to a kept server when one
serves this state directory with the same settings
(:func:`~lmarena_cli.client.kept.wire.fingerprint`); ``ask`` and ``chat`` start one when none runs
(``LM_ARENA_KEEP_ALIVE`` > 0). Starting is under ``start.lock``, so that two commands started at
once start one server; the server is fully detached (its own session, no descriptor of ours but its
log, working directory its folder), and the command waits for its socket (bounded), then uses it. A
socket no server answers (a killed server's, or any file at that path) is replaced by the new
server, and so is an idle kept server of other settings (the user changed them: it would hold the
browser profile).

Whenever a server cannot be found or started (the folder is not private, the server fails to
start, a busy server or ``lmarena serve`` of other settings owns the socket), the command runs
in-process as it would with ``LM_ARENA_KEEP_ALIVE=0``: the kept server is a speed-up, never a
new way to fail.
Nothing here imports aiohttp or nodriver.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..client.factory import kept_server_command
from ..client.kept.remote import RemoteClient
from ..client.kept.wire import fingerprint, parse
from ..client.kept.wire_requests import Hello, Request, Stop, request_line
from ..settings import Settings
from ..state.kept import KeptPaths, lock_held, pid_alive, waiting_lock

_log = logging.getLogger("lmarena.keep")

#: Seconds a command waits for a server it started to listen (it listens before its browser
#: starts: about half a second).
START_WAIT = 20.0
#: Seconds a stopping server (its open answers get 5 s) may hold the socket before a command
#: gives up on it and runs in-process.
STOPPING_WAIT = 8.0
#: Seconds a running server gets to answer ``hello``.
PROBE_WAIT = 3.0
#: A log larger than this is moved to ``server.log.1`` when a server starts.
LOG_LIMIT = 1024 * 1024


def probe(path: Path, *, wait: float = PROBE_WAIT, touch: bool = False) -> dict[str, Any] | None:
    """The ``hello`` of the server listening at ``path``; None when none answers. ``touch``:
    a request follows, so the server counts this as activity (it does not idle out now)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(wait)
            sock.connect(str(path))
            sock.sendall(request_line(Hello(touch=touch)))
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                data += chunk
        hello = parse(data)
    except (OSError, ValueError):
        return None
    return hello if hello.get("t") == "hello" else None


def request(path: Path, message: Request, *, wait: float = PROBE_WAIT) -> bool:
    """Send a one-line request (``stop``) and read its answer; False when nobody answered."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(wait)
            sock.connect(str(path))
            sock.sendall(request_line(message))
            return bool(sock.recv(65536))
    except OSError:
        return False


def kept_client(settings: Settings, *, start: bool) -> RemoteClient | None:
    """A client of the kept server for ``settings``, started when ``start`` and none runs;
    None: run in-process."""
    if settings.keep_alive <= 0:
        return None
    try:
        paths = KeptPaths.of(settings.state_dir)
        paths.prepare()
    except OSError as exc:
        _log.debug("no kept server: %s", exc)
        return None
    wanted = fingerprint(settings)
    hello = probe(paths.socket, touch=True)
    if hello is None or hello.get("closing"):
        if not start:
            return None
        hello = ensure_server(settings, paths)
    if hello is None:
        return None
    if hello.get("fingerprint") != wanted:
        hello = _replaced(settings, paths, hello) if start else None
        if hello is None or hello.get("fingerprint") != wanted:
            return None

    def restart() -> Path | None:
        again = ensure_server(settings, paths)
        ok = again is not None and again.get("fingerprint") == wanted
        return paths.socket if ok else None

    return RemoteClient(settings, paths.socket, pid=hello.get("pid"), restart=restart)


def _replaced(settings: Settings, paths: KeptPaths, hello: dict[str, Any]) -> dict[str, Any] | None:
    """A kept server of other settings (the user changed them) is stopped and one of these
    started, unless it is busy or is ``lmarena serve``'s: then None (run in-process)."""
    pid = hello.get("pid")
    if not hello.get("kept") or hello.get("active"):
        _log.debug("the server %s serves other settings and is in use; running in-process", pid)
        return None
    _log.debug("the kept server %s serves other settings; replacing it", pid)
    stop_server(paths)
    return ensure_server(settings, paths)


def ensure_server(settings: Settings, paths: KeptPaths) -> dict[str, Any] | None:
    """The ``hello`` of a live server, started here unless another command is starting one."""
    with waiting_lock(paths.start_lock, wait=START_WAIT + 5.0) as taken:
        if not taken:
            return None
        hello = _settled(paths)
        if hello is not None:
            return hello
        pid = spawn(settings, paths)
        return _wait_for(paths, pid)


def _settled(paths: KeptPaths) -> dict[str, Any] | None:
    """A live server's hello; None once no server holds the socket (a stopping one is waited
    for, so that its successor can take the socket)."""
    deadline = time.monotonic() + STOPPING_WAIT
    while True:
        hello = probe(paths.socket, touch=True)
        if hello is not None and not hello.get("closing"):
            return hello
        if not lock_held(paths.lock) or time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def spawn(settings: Settings, paths: KeptPaths) -> int:
    """Start a kept server (``python -m lmarena_cli.server.kept``: see
    :func:`~lmarena_cli.client.factory.kept_server_command`) detached; its pid."""
    _rotate(paths.log)
    env = dict(os.environ)
    env["LM_ARENA_STATE_DIR"] = str(settings.state_dir.expanduser().absolute())
    command = kept_server_command()
    log = os.open(paths.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        return os.posix_spawn(
            command[0],
            command,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log, 1),
                (os.POSIX_SPAWN_DUP2, log, 2),
            ],
            setsid=True,  # its own session: no terminal's signals (Ctrl-C) reach it
        )
    finally:
        os.close(log)


def _rotate(log: Path) -> None:
    with contextlib.suppress(OSError):
        if log.stat().st_size > LOG_LIMIT:
            os.replace(log, log.with_name(log.name + ".1"))


def _wait_for(paths: KeptPaths, pid: int) -> dict[str, Any] | None:
    """The started server's hello once it listens; None when it exited or took too long."""
    deadline = time.monotonic() + START_WAIT
    delay = 0.01
    while time.monotonic() < deadline:
        hello = probe(paths.socket, touch=True)
        if hello is not None and not hello.get("closing"):
            return hello
        with contextlib.suppress(ChildProcessError):
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done:
                _log.debug("the kept server exited at start; see %s", paths.log)
                return None
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)
    _log.debug("the kept server did not listen within %.0f s", START_WAIT)
    return None


def stop_server(paths: KeptPaths, *, wait: float = 15.0) -> int | None:
    """Ask the running server to stop and wait (up to ``wait`` s) until its process has ended,
    its browser closed before it; its pid, or None when none ran."""
    hello = probe(paths.socket)
    if hello is None:
        return None
    pid = int(hello["pid"])
    request(paths.socket, Stop())
    deadline = time.monotonic() + wait
    # The lock is let go as the server's last act; its process ends a moment later.
    while (lock_held(paths.lock) or pid_alive(pid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return pid


def stop_for_profile(settings: Settings, say: Callable[[str], None]) -> None:
    """Stop the kept server of ``settings``'s state directory (it holds the browser profile)."""
    with contextlib.suppress(OSError):
        pid = stop_server(KeptPaths.of(settings.state_dir))
        if pid is not None:
            say(f"stopped the kept server (pid {pid}): it held the browser profile")


__all__ = [
    "LOG_LIMIT",
    "START_WAIT",
    "ensure_server",
    "kept_client",
    "probe",
    "request",
    "spawn",
    "stop_for_profile",
    "stop_server",
]

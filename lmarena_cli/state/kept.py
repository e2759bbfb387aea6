"""The kept server's files: its socket, pid file, locks and log, in a private folder.

``<state dir>/server/`` (mode 0700, owned by this user) holds:

* ``server.sock``: the Unix socket ``ask``, ``chat`` and ``models`` talk to (mode 0600);
* ``server.lock``: held (``flock``) by the server that owns the socket, for its whole life, so
  that two servers never fight over one socket and a dead one's lock is released by the kernel;
* ``start.lock``: held by a command while it starts a server, so that two commands started at
  once start one server;
* ``server.pid``: the owner's process id, for ``lmarena server status`` (a hint only: garbage or
  a dead pid is ignored, the socket and the lock decide);
* ``server.log``: what a server started in the background logged.

A socket path longer than the system allows (108 bytes on Linux) moves to a private folder under
the temporary directory, named after the state directory.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .files import atomic_write

#: The folder inside the state directory.
FOLDER = "server"
#: The longest socket path ``bind`` takes on Linux (``sun_path`` is 108 bytes with its NUL).
MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class KeptPaths:
    """Where the kept server's files are for one state directory."""

    directory: Path
    socket: Path
    lock: Path
    start_lock: Path
    pid: Path
    log: Path

    @classmethod
    def of(cls, state_dir: Path) -> KeptPaths:
        directory = Path(state_dir).expanduser().absolute() / FOLDER
        socket = directory / "server.sock"
        if len(os.fsencode(socket)) > MAX_SOCKET_PATH:
            digest = hashlib.sha256(os.fsencode(directory)).hexdigest()[:16]
            socket = Path(tempfile.gettempdir()) / f"lmarena-{os.getuid()}" / f"{digest}.sock"
        return cls(
            directory=directory,
            socket=socket,
            lock=directory / "server.lock",
            start_lock=directory / "start.lock",
            pid=directory / "server.pid",
            log=directory / "server.log",
        )

    def prepare(self) -> None:
        """Create the folders (0700) and check they are this user's own and private.

        Raises ``OSError`` (``PermissionError`` for another user's folder) when they cannot be
        made safe: the caller then does without a kept server.
        """
        private_dir(self.directory)
        if self.socket.parent != self.directory:
            private_dir(self.socket.parent)


def private_dir(path: Path) -> None:
    """``path`` as a directory of this user's with mode 0700 (made so when it is not)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))
    if info.st_uid != os.getuid():
        raise PermissionError(errno.EPERM, "owned by another user", str(path))
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)


def read_pid(path: Path) -> int | None:
    """The pid in ``path``; None when it is missing, unreadable or not a positive number."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() and 0 < int(text) < 2**22 else None


def write_pid(path: Path, pid: int) -> None:
    atomic_write(path, f"{pid}\n".encode(), mode=0o600)


def open_lock(path: Path) -> int:
    """A descriptor of the lock file ``path`` (created 0600), for :func:`try_lock`."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    return fd


def try_lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` without waiting; False when another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def lock_held(path: Path) -> bool:
    """True when some process holds the lock at ``path`` (a running server holds its own)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def waiting_lock(path: Path, *, wait: float, poll: float = 0.02) -> Iterator[bool]:
    """Hold the exclusive lock at ``path`` inside the block; True when it was taken within
    ``wait`` seconds, False (the block runs without it) when not."""
    fd = open_lock(path)
    try:
        deadline = time.monotonic() + wait
        taken = try_lock(fd)
        while not taken and time.monotonic() < deadline:
            time.sleep(poll)
            taken = try_lock(fd)
        yield taken
    finally:
        os.close(fd)  # closing releases the lock


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs; one that has exited (a zombie not yet reaped by its
    parent included) has not."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (not Linux): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return bool(fields) and fields[0] not in ("Z", "X")


def remove_stale(path: Path) -> None:
    """Remove what is at ``path`` (a dead server's socket, or any file left there)."""
    with contextlib.suppress(FileNotFoundError):
        info = os.lstat(path)
        if stat.S_ISDIR(info.st_mode):
            os.rmdir(path)  # an empty folder only; anything else stays and binding fails
        else:
            os.unlink(path)


__all__ = [
    "FOLDER",
    "KeptPaths",
    "lock_held",
    "open_lock",
    "pid_alive",
    "private_dir",
    "read_pid",
    "remove_stale",
    "try_lock",
    "waiting_lock",
    "write_pid",
]

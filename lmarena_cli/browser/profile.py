"""Which profile directory a Chromium launch uses, and the lock that keeps it to one process.

Two lmarena processes must not open one profile at once (Chromium would hand the second one to
the first, or refuse). The first takes an advisory lock on it; a second one waits
:data:`PROFILE_WAIT` seconds and then runs on a throwaway copy of the profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..settings import Settings

logger = logging.getLogger("lmarena.browser")

#: Seconds a second process waits for the profile before using a throwaway copy of it.
PROFILE_WAIT = 3.0


class ProfileLock:
    """An advisory lock on a profile: ``flock`` on POSIX, an exclusive pid file elsewhere."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:
            return self._try_pidfile()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        self._hold(fd)
        return True

    def _try_pidfile(self) -> bool:
        if self._create_pidfile():
            return True
        if self._holder_alive():
            return False
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        return self._create_pidfile()

    def _create_pidfile(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        self._hold(fd)
        return True

    def _hold(self, fd: int) -> None:
        """Keep ``fd`` (the lock) open, with our pid in it for whoever finds the lock taken."""
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def _holder_alive(self) -> bool:
        try:
            pid = int(self.path.read_text().strip() or "0")
        except (OSError, ValueError):
            return False
        if pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.close(fd)
        if os.name != "posix":
            with contextlib.suppress(OSError):
                os.unlink(self.path)


_COPY_IGNORE = shutil.ignore_patterns(
    "Singleton*",
    "DevToolsActivePort",
    "lockfile",
    "*Cache*",
    "Crashpad",
    "Crash Reports",
    "Service Worker",
)


def _copy_profile(source: Path, target: Path) -> None:
    if not source.exists():
        target.mkdir(mode=0o700, parents=True)
        return
    # A profile in use changes under us: copy what can be copied.
    with contextlib.suppress(shutil.Error, OSError):
        shutil.copytree(source, target, ignore=_COPY_IGNORE, dirs_exist_ok=True)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)


async def choose_profile(settings: Settings) -> tuple[Path, Path | None, ProfileLock | None]:
    """(user data dir, temp dir to delete, lock held) for this launch; a copy is logged."""
    if settings.browser_incognito:
        temp = Path(tempfile.mkdtemp(prefix="lmarena-incognito-"))
        return temp, temp, None
    profile = settings.browser_user_data_dir or settings.profile_dir
    if settings.browser_user_data_dir:
        digest = hashlib.sha256(str(profile.resolve()).encode()).hexdigest()[:12]
        lock_path = settings.state_dir / f"browser-profile-{digest}.lock"
    else:
        lock_path = settings.state_dir / "browser-profile.lock"
    lock = ProfileLock(lock_path)
    deadline = time.monotonic() + PROFILE_WAIT
    while True:
        if lock.try_acquire():
            profile.mkdir(mode=0o700, parents=True, exist_ok=True)
            return profile, None, lock
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.1)
    temp = Path(tempfile.mkdtemp(prefix="lmarena-profile-copy-"))
    copy = temp / "profile"
    await asyncio.to_thread(_copy_profile, profile, copy)
    logger.info(
        f"the browser profile {profile} is in use by another lmarena process; "
        "using a temporary copy of it for this run"
    )
    return copy, temp, None


__all__ = ["PROFILE_WAIT", "ProfileLock", "choose_profile"]

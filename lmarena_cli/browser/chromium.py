"""Start and reap a Chromium process: nothing here knows about the site.

Lifecycle, and why it is done by hand rather than by ``nodriver.start()``:

* Chromium is started here with :class:`subprocess.Popen` in its **own process group** (and, on
  Linux, with a parent-death signal), so that one ``killpg`` ends the browser and every helper
  process it forked, and a terminal's Ctrl-C reaches only Python, which then shuts Chromium down.
  nodriver only speaks CDP to it (it connects to the DevTools port Chromium writes to
  ``DevToolsActivePort``).
* Every launched browser is registered; an ``atexit`` hook and a SIGTERM/SIGHUP handler (installed
  only when the program has none) kill what is left, so no Chromium outlives the program.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import BrowserUnavailable
from ..settings import Settings
from .options import browser_args
from .profile import ProfileLock

#: Seconds Chromium gets to start and open its DevTools port.
LAUNCH_TIMEOUT = 30.0


# --------------------------------------------------------------------------------------------------
# Processes: launch in a group, and kill every one of them whatever way the program ends
# --------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Launched:
    """One running Chromium and what must be undone when it goes."""

    proc: subprocess.Popen[bytes]
    user_data_dir: Path
    headless: bool
    stderr: IO[bytes]
    #: A throwaway profile (incognito, or a copy) to delete afterwards.
    temp_dir: Path | None = None
    lock: ProfileLock | None = None
    #: The CDP connection was lost: treat as dead (killed and relaunched on the next call).
    broken: bool = False

    def alive(self) -> bool:
        return not self.broken and self.proc.poll() is None


_LIVE: list[Launched] = []
_LIVE_GUARD = threading.Lock()
_HOOKS_INSTALLED = False
_PDEATHSIG: Any = None


def _register(launched: Launched) -> None:
    with _LIVE_GUARD:
        _LIVE.append(launched)
    _install_hooks()


def _install_hooks() -> None:
    """atexit for every ending, plus SIGTERM/SIGHUP when nobody else handles them."""
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(_kill_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _on_terminate)


def _on_terminate(signum: int, frame: object) -> None:
    """Kill the browsers, then die of the same signal as the default handler would."""
    _kill_all(grace=1.0)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _kill_all(grace: float = 2.0) -> None:
    with _LIVE_GUARD:
        launched = list(_LIVE)
    for item in launched:
        finish(item, grace)


def finish(item: Launched, grace: float) -> None:
    """Synchronously end one browser: its whole process group, its lock and its temp profile."""
    _kill_tree(item.proc, grace)
    if item.lock is not None:
        item.lock.release()
    if item.temp_dir is not None:
        shutil.rmtree(item.temp_dir, ignore_errors=True)
    with contextlib.suppress(OSError, ValueError):
        item.stderr.close()
    with _LIVE_GUARD, contextlib.suppress(ValueError):
        _LIVE.remove(item)


def _kill_tree(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the group (Chromium shuts down cleanly and saves its cookies), then SIGKILL it."""
    if os.name != "posix":
        if proc.poll() is None:
            subprocess.run(
                ["taskkill", "/F", "/T", "/PID", str(proc.pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
        return
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # Helpers may outlive the main process for a moment: the group takes them all.
    _signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _child_preexec() -> None:
    """In the forked child: die with the parent (Linux), even when Python is SIGKILLed."""
    if _PDEATHSIG is not None:
        _PDEATHSIG(1, signal.SIGKILL)  # prctl(PR_SET_PDEATHSIG, SIGKILL)


def _load_prctl() -> None:
    # Loaded in the parent: dlopen after fork in a threaded program can deadlock.
    global _PDEATHSIG
    if _PDEATHSIG is not None or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _PDEATHSIG = libc.prctl


# --------------------------------------------------------------------------------------------------
# Starting one
# --------------------------------------------------------------------------------------------------


def start(
    settings: Settings,
    exe: str,
    user_data_dir: Path,
    *,
    headless: bool,
    temp_dir: Path | None = None,
    lock: ProfileLock | None = None,
) -> Launched:
    """Start ``exe`` on ``user_data_dir`` in its own process group and register it for reaping.

    On failure the lock is released and the temp dir deleted; raises BrowserUnavailable.
    """
    with contextlib.suppress(OSError):
        _port_file(user_data_dir).unlink()
    args = browser_args(settings, user_data_dir=user_data_dir, headless=headless)
    _load_prctl()
    # Chromium's stderr, read only to explain a failed start; closed by finish.
    errors = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        # Popen only forks and execs: quick, and it keeps the process out of the loop's hands.
        proc = subprocess.Popen(
            [exe, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            close_fds=True,
            **_spawn_options(),
        )
    except OSError as exc:
        errors.close()
        if lock is not None:
            lock.release()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise BrowserUnavailable(f"could not start {exe}: {exc.strerror or exc}") from None
    launched = Launched(proc, user_data_dir, headless, errors, temp_dir, lock)
    _register(launched)
    return launched


async def wait_for_port(launched: Launched, exe: str) -> int:
    """The DevTools port Chromium writes to its profile once it is up; BrowserUnavailable else."""
    port_file = _port_file(launched.user_data_dir)
    deadline = time.monotonic() + LAUNCH_TIMEOUT
    while time.monotonic() < deadline:
        code = launched.proc.poll()
        if code is not None:
            raise BrowserUnavailable(
                f"{exe} exited (status {code}) right after starting" + _hint_for_exit(launched)
            )
        try:
            first = port_file.read_text().split("\n", 1)[0].strip()
        except OSError:
            first = ""
        if first.isdigit() and int(first) > 0:
            return int(first)
        await asyncio.sleep(0.05)
    raise BrowserUnavailable(f"{exe} did not open its DevTools port within {LAUNCH_TIMEOUT:.0f} s")


async def wait_exit(launched: Launched, seconds: float) -> None:
    """Give the process up to ``seconds`` to exit on its own, without blocking the loop."""
    deadline = time.monotonic() + seconds
    # Polling: a Popen has no awaitable exit, and we must not block the loop in wait().
    while launched.proc.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _port_file(user_data_dir: Path) -> Path:
    return user_data_dir / "DevToolsActivePort"


def _spawn_options() -> dict[str, Any]:
    if os.name == "posix":
        # Own process group: killpg reaches every helper; Ctrl-C in a terminal reaches Python
        # only, which then closes Chromium in order.
        return {"process_group": 0, "preexec_fn": _child_preexec}
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


def _hint_for_exit(launched: Launched) -> str:
    with contextlib.suppress(OSError, ValueError):
        launched.stderr.seek(0)
        text = launched.stderr.read()[-1500:].decode(errors="replace")
        if "existing browser session" in text:
            return (
                f"; the profile {launched.user_data_dir} is open in another browser window: "
                "close it, or use a copy of the profile"
            )
        last = [line for line in text.splitlines() if line.strip()][-3:]
        if last:
            return ": " + " | ".join(last)
    return ""


__all__ = [
    "LAUNCH_TIMEOUT",
    "Launched",
    "finish",
    "start",
    "wait_exit",
    "wait_for_port",
]

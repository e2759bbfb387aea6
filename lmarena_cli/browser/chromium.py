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
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import BrowserUnavailable
from ..settings import Settings
from .profile import ProfileLock

#: Names tried on PATH, in order.
BROWSER_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
    "brave-browser",
    "microsoft-edge",
)
#: Seconds Chromium gets to start and open its DevTools port.
LAUNCH_TIMEOUT = 30.0
#: Flags that keep Chromium quiet and ordinary: no background traffic, no first-run UI, no
#: automation marker (``navigator.webdriver``), and TCP rather than QUIC (proxies, Cloudflare).
QUIET_FLAGS = (
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-breakpad",
    "--disable-session-crashed-bubble",
    "--disable-search-engine-choice-screen",
    "--password-store=basic",
    "--use-mock-keychain",
    "--disable-blink-features=AutomationControlled",
    # Cross-site iframes (Turnstile, reCAPTCHA) stay in the page's target, so the User-Agent
    # override set on the page covers them too.
    "--disable-features=IsolateOrigins,site-per-process",
)


# --------------------------------------------------------------------------------------------------
# Finding the browser and deciding how to run it
# --------------------------------------------------------------------------------------------------


def _install_paths() -> list[str]:
    """Where Chromium-family browsers are usually installed on this platform."""
    if sys.platform == "darwin":
        apps = [
            "Google Chrome.app/Contents/MacOS/Google Chrome",
            "Chromium.app/Contents/MacOS/Chromium",
            "Brave Browser.app/Contents/MacOS/Brave Browser",
            "Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
        ]
        roots = ["/Applications", str(Path.home() / "Applications")]
        return [f"{root}/{app}" for root in roots for app in apps]
    if os.name == "nt":
        roots = [
            os.environ.get(var)
            for var in ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA", "PROGRAMW6432")
        ]
        apps = [
            r"Google\Chrome\Application\chrome.exe",
            r"Chromium\Application\chrome.exe",
            r"BraveSoftware\Brave-Browser\Application\brave.exe",
            r"Microsoft\Edge\Application\msedge.exe",
        ]
        return [os.path.join(root, app) for root in roots if root for app in apps]
    return [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
        "/usr/bin/google-chrome-stable",
        "/opt/google/chrome/chrome",
        "/usr/bin/brave-browser",
        "/opt/brave.com/brave/brave",
        "/usr/bin/microsoft-edge",
        "/opt/microsoft/msedge/msedge",
        "/snap/bin/chromium",
    ]


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_browser(
    settings: Settings,
    *,
    search_path: str | None = None,
    install_paths: Sequence[str] | None = None,
) -> str:
    """The Chromium-family executable to use.

    ``LM_ARENA_BROWSER_EXECUTABLE_PATH`` (``settings.browser_executable_path``) wins; then the
    names of :data:`BROWSER_NAMES` on ``PATH`` (or ``search_path``); then the usual install
    paths of Linux, macOS and Windows. Raises BrowserUnavailable (exit code 9) saying how to
    install one when none is found.
    """
    wanted = settings.browser_executable_path
    if wanted:
        resolved = shutil.which(wanted) if os.sep not in wanted else wanted
        if resolved and _executable(resolved):
            return resolved
        raise BrowserUnavailable(
            f"LM_ARENA_BROWSER_EXECUTABLE_PATH is {wanted!r}, but that is not an executable file; "
            "point it at Chromium, Chrome, Brave or Edge"
        )
    for name in BROWSER_NAMES:
        found = shutil.which(name, path=search_path)
        if found and _executable(found):
            return found
    for candidate in _install_paths() if install_paths is None else install_paths:
        if _executable(candidate):
            return candidate
    raise BrowserUnavailable(
        "no Chromium-family browser found (looked for "
        + ", ".join(BROWSER_NAMES)
        + " on PATH and in the usual install folders). Install one, e.g. "
        "`sudo apt-get install chromium`, or set LM_ARENA_BROWSER_EXECUTABLE_PATH to the "
        "browser's executable"
    )


def has_display(environ: dict[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether a window can be shown: always on macOS and Windows, X11/Wayland on the others."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform == "darwin" or platform.startswith(("win", "cygwin")):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def decide_headless(
    settings: Settings,
    *,
    environ: dict[str, str] | None = None,
    platform: str | None = None,
) -> bool:
    """``LM_ARENA_BROWSER_HEADLESS`` when set; else headless exactly when there is no display.

    The real site's checks are kinder to a headful browser, so a desktop gets a window.
    """
    if settings.browser_headless is not None:
        return settings.browser_headless
    return not has_display(environ, platform)


def browser_args(
    settings: Settings,
    *,
    user_data_dir: Path,
    headless: bool,
    environ: dict[str, str] | None = None,
) -> list[str]:
    """Chromium's command-line flags (without the executable)."""
    env = os.environ if environ is None else environ
    args = [f"--user-data-dir={user_data_dir}", "--remote-debugging-port=0", *QUIET_FLAGS]
    if settings.browser_profile_directory:
        args.append(f"--profile-directory={settings.browser_profile_directory}")
    if headless:
        args += ["--headless=new", "--disable-gpu", "--window-size=1366,900"]
    if _is_root():
        # Chromium refuses to run as root with its sandbox on.
        args.append("--no-sandbox")
    if sys.platform.startswith("linux"):
        # Containers often have a tiny /dev/shm.
        args.append("--disable-dev-shm-usage")
    if settings.proxy:
        args.append(f"--proxy-server={proxy_for_chromium(settings.proxy)}")
        bypass = env.get("NO_PROXY") or env.get("no_proxy")
        if bypass:
            rules = ";".join(part.strip() for part in bypass.split(",") if part.strip())
            args.append(f"--proxy-bypass-list={rules}")
    args.append("about:blank")
    return args


def proxy_for_chromium(proxy: str) -> str:
    """The proxy URL without credentials: Chromium takes none on its command line."""
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


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
    "BROWSER_NAMES",
    "LAUNCH_TIMEOUT",
    "Launched",
    "browser_args",
    "decide_headless",
    "find_browser",
    "finish",
    "has_display",
    "proxy_for_chromium",
    "start",
    "wait_exit",
    "wait_for_port",
]

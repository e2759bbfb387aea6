"""One real Chromium, driven through nodriver, for what only a browser can do.

The browser passes the site's anti-bot checks, signs in, mints reCAPTCHA tokens and discovers the
site key, the model list and the server action ids. Everything else (the chat requests) is made
with aiohttp from the cookies and User-Agent this module hands over in a :class:`SiteState`.

Lifecycle, and why it is done by hand rather than by ``nodriver.start()``:

* Chromium is started here with :class:`subprocess.Popen` in its **own process group** (and, on
  Linux, with a parent-death signal), so that one ``killpg`` ends the browser and every helper
  process it forked, and a terminal's Ctrl-C reaches only Python, which then shuts Chromium down.
  nodriver only speaks CDP to it (it connects to the DevTools port Chromium writes to
  ``DevToolsActivePort``).
* Every launched browser is registered; an ``atexit`` hook and a SIGTERM/SIGHUP handler (installed
  only when the program has none) kill what is left, so no Chromium outlives the program.
* All browser work is serialized behind one :class:`asyncio.Lock` (FIFO). Every wait is bounded
  and watches the process: if Chromium dies mid-call the caller gets
  :class:`~lmarena_cli.errors.BrowserUnavailable`, and the next call starts a new Chromium (with
  the cookies put back), so waiting callers never hang.

Headless Chromium announces itself (``HeadlessChrome`` in the User-Agent); the real User-Agent and
client hints of the same browser are read from the browser itself and set on the page before the
site is loaded, so a headless run looks like the headful Chrome of the same version.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from . import discovery, site
from .errors import (
    Blocked,
    BrowserUnavailable,
    ConfigError,
    LmArenaError,
    ProtocolError,
    SignInRequired,
    Timeout,
    UpstreamUnavailable,
    UsageError,
)
from .settings import Settings
from .state import SiteCache, SiteState, encode_auth_cookies, session_from_body

Log = Callable[[str], None]

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
#: Seconds a second process waits for the profile before using a throwaway copy of it.
PROFILE_WAIT = 3.0
#: Seconds Chromium gets to start and open its DevTools port.
LAUNCH_TIMEOUT = 30.0
#: Seconds to wait for the site to sign the browser up (the auth cookie to appear).
AUTH_COOKIE_TIMEOUT = 30.0
#: Seconds the site's own script gets to sign up before we post the sign-up ourselves.
SIGN_UP_GRACE = 5.0
#: Seconds to wait for the lazily loaded ``grecaptcha.enterprise``.
RECAPTCHA_WAIT = 15.0
#: Seconds for ``grecaptcha.enterprise.execute`` itself.
RECAPTCHA_EXECUTE_TIMEOUT = 30.0
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


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
class _Launched:
    """One running Chromium and what must be undone when it goes."""

    proc: subprocess.Popen[bytes]
    user_data_dir: Path
    headless: bool
    stderr: IO[bytes]
    #: A throwaway profile (incognito, or a copy) to delete afterwards.
    temp_dir: Path | None = None
    lock: _ProfileLock | None = None
    #: The CDP connection was lost: treat as dead (killed and relaunched on the next call).
    broken: bool = False

    def alive(self) -> bool:
        return not self.broken and self.proc.poll() is None


_LIVE: list[_Launched] = []
_LIVE_GUARD = threading.Lock()
_HOOKS_INSTALLED = False
_PDEATHSIG: Any = None


def _register(launched: _Launched) -> None:
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
        _finish(item, grace)


def _finish(item: _Launched, grace: float) -> None:
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
# Profile lock
# --------------------------------------------------------------------------------------------------


class _ProfileLock:
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
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def _try_pidfile(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if self._holder_alive():
                return False
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            return self._try_pidfile_once()
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def _try_pidfile_once(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

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


# --------------------------------------------------------------------------------------------------
# CDP helpers
# --------------------------------------------------------------------------------------------------


def _command(method: str, **params: Any) -> Generator[dict[str, Any], Any, Any]:
    """A raw CDP command for nodriver's ``send``: the reply comes back as plain JSON."""
    reply = yield {"method": method, "params": params}
    return reply


class _PageError(Exception):
    """A JavaScript exception in the page."""


_STATE_JS = """(() => {
  const t = document.title || "";
  const err = document.getElementById("challenge-error-text");
  const box = document.querySelector(
    'iframe[src*="challenges.cloudflare.com"], #cf-turnstile, .cf-turnstile');
  let rect = null;
  if (box) { const r = box.getBoundingClientRect(); rect = [r.left, r.top, r.width, r.height]; }
  return {title: t, ready: document.readyState, url: location.href,
          challenge: t.startsWith("Just a moment") || !!window._cf_chl_opt
                     || !!document.getElementById("challenge-running"),
          refused: t.startsWith("Attention Required"),
          error: err && !err.hidden ? err.textContent.trim() : "",
          box: rect};
})()"""

_FETCH_JS = """(async () => {
  const r = await fetch(%s, {credentials: "include", headers: {accept: %s}});
  return {status: r.status, text: await r.text()};
})()"""

_MINT_JS = """(async () => {
  const key = %s, action = %s, deadline = Date.now() + %d;
  const ready = () => window.grecaptcha && window.grecaptcha.enterprise
    && typeof window.grecaptcha.enterprise.execute === "function";
  while (!ready()) {
    if (Date.now() > deadline) return {error: "absent"};
    await new Promise(r => setTimeout(r, 100));
  }
  // ready() can hang on the real site: never wait on it for more than 5 s, and only once per
  // page load (a ready() that never calls back would otherwise cost 5 s on every message).
  if (%s) {
    await Promise.race([new Promise(r => grecaptcha.enterprise.ready(r)),
                        new Promise(r => setTimeout(r, 5000))]);
  }
  try {
    const token = await grecaptcha.enterprise.execute(key, {action});
    return {token: token};
  } catch (e) {
    return {error: "execute", message: String((e && e.message) || e)};
  }
})()"""

#: The anonymous sign-up the site's own script does on a first visit (protocol §5.3), for pages
#: that leave it to the client. The provisional id is kept where the site keeps it (cookie and
#: localStorage); one "User already exists" starts over with a fresh id, as the site does.
_SIGN_UP_JS = """(async () => {
  const path = %s, key = %s, name = "provisional_user_id";
  let token = "";
  const g = window.grecaptcha && window.grecaptcha.enterprise;
  if (key && g && typeof g.execute === "function") {
    try {
      token = await Promise.race([g.execute(key, {action: "sign_up"}),
                                  new Promise(r => setTimeout(() => r(""), 5000))]) || "";
    } catch (e) { token = ""; }
  }
  const stored = (document.cookie.match(/(?:^|; )provisional_user_id=([^;]*)/) || [])[1];
  let pid = localStorage.getItem(name) || stored || crypto.randomUUID();
  for (let attempt = 0; ; attempt++) {
    localStorage.setItem(name, pid);
    document.cookie = name + "=" + pid + "; path=/; max-age=31536000; samesite=lax";
    const r = await fetch(path, {method: "POST", credentials: "include",
      body: JSON.stringify({recaptchaToken: token, provisionalUserId: pid})});
    const text = await r.text();
    if (r.status === 400 && /already exists/i.test(text) && attempt === 0) {
      pid = crypto.randomUUID();
      continue;
    }
    return {status: r.status, text: text};
  }
})()"""

_CLIENT_HINTS_JS = """navigator.userAgentData ? navigator.userAgentData.getHighEntropyValues(
  ["architecture", "bitness", "fullVersionList", "model", "platformVersion", "wow64",
   "formFactors"]) : null"""


def _js(value: Any) -> str:
    return orjson.dumps(value).decode()


# --------------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------------


@dataclass
class _Page:
    """What the currently loaded page told us."""

    html: str = ""
    loaded: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Browser:
    """The one Chromium of this process: launched lazily, closed on exit, relaunched if it dies.

    ``log`` receives one-line notices for stderr (a throwaway profile copy, an ignored cache,
    a relaunch). ``challenge_timeout`` bounds the wait for the site's Cloudflare check.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        cache: SiteCache | None = None,
        log: Log | None = None,
        challenge_timeout: float | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache if cache is not None else SiteCache(settings.cache_path)
        self._log: Log = log or _stderr
        self.challenge_timeout = challenge_timeout or min(settings.timeout, 60.0)
        self._lock = asyncio.Lock()
        self._launched: _Launched | None = None
        self._driver: Any = None
        self._tab: Any = None
        self._page = _Page()
        self._state: SiteState | None = None
        self._cache_read = False
        self._user_agent: str | None = None

    # -- public API --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.settings.base_url.rstrip("/")

    @property
    def tab(self) -> Any:
        """The nodriver Tab showing the site (None before launch); for tests and debugging."""
        return self._tab

    @property
    def pid(self) -> int | None:
        """The pid of the running Chromium, or None."""
        return self._launched.proc.pid if self._launched and self._launched.alive() else None

    @property
    def running(self) -> bool:
        return self._launched is not None and self._launched.alive()

    def cached_state(self) -> SiteState | None:
        """What the last bootstrap learned (this process, else the cache file). Never launches."""
        if self._state is None and not self._cache_read:
            self._cache_read = True
            self._state = self.cache.load(self.base_url, warn=self._log)
        return self._state

    async def bootstrap(self, *, refresh: bool = False) -> SiteState:
        """Open the site, pass its checks and learn cookies, User-Agent, site key, models, actions.

        Cached cookies are put back first, so a warm start skips the challenge and the sign-up.
        The model list and action ids are rediscovered when ``refresh`` is true or the cached
        ones are stale (:meth:`SiteState.discovery_stale`); the site key is read from the page
        every time.
        """
        async with self._lock:
            if self._state is not None and self._page.loaded and self.running and not refresh:
                return self._state
            return await self._open_site(rediscover=refresh)

    async def refresh_session(self) -> SiteState:
        """Reload the site's page (it renews the clearance and the auth cookie) and re-read it."""
        async with self._lock:
            return await self._open_site(rediscover=False, reload=True)

    async def rediscover_actions(self) -> dict[str, str]:
        """Reload the page and read the server action ids again from its JS chunks."""
        async with self._lock:
            state = await self._open_site(rediscover=True, reload=True)
            actions = state.action_ids
            missing = [name for name in site.UPLOAD_ACTIONS if name not in actions]
            if missing:
                raise ProtocolError(
                    "expected the site's JS chunks to define the server actions "
                    + ", ".join(site.UPLOAD_ACTIONS)
                    + f", but {', '.join(missing)} could not be found; the site has changed",
                    kind="stale_action",
                )
            return dict(actions)

    async def mint_token(self, action: str = site.ACTION_CHAT_SUBMIT) -> str:
        """A fresh reCAPTCHA Enterprise token for ``action``, minted in the page's main world.

        Tokens are single-use and short-lived: one is never cached or handed out twice.
        """
        async with self._lock:
            if not (self._page.loaded and self.running and self._state is not None):
                await self._open_site(rediscover=False)
            state = self._state
            assert state is not None
            if not state.site_key:
                raise ProtocolError(
                    "cannot mint a reCAPTCHA token: the site's page carries no reCAPTCHA site "
                    "key (looked for recaptcha/enterprise.js?render=<key> and "
                    'grecaptcha.enterprise.execute("<key>")); the site has changed',
                    kind="no_site_key",
                )
            return await self._mint(state.site_key, action)

    async def login(self, *, timeout: float) -> SiteState:
        """Open the sign-in page in a window and wait until a real (not anonymous) user is in.

        Needs a display unless ``LM_ARENA_BROWSER_HEADLESS`` is explicitly true (tests).
        """
        headless = self.settings.browser_headless is True
        if not headless and not has_display():
            raise UsageError(
                "`lmarena login` opens a browser window, and this machine has no display "
                "(neither DISPLAY nor WAYLAND_DISPLAY is set). Sign in on a desktop instead: run "
                "`lmarena login` there, copy its browser profile (the folder "
                f"{self.settings.profile_dir.name!r} in the state directory) to this machine, "
                "and point LM_ARENA_BROWSER_USER_DATA_DIR at the copy"
            )
        async with self._lock:
            if self._launched is not None and self._launched.headless != headless:
                await self._teardown()
            await self._ensure_started(headless=headless)
            await self._inject_cookies(self._state or self.cached_state())
            await self._navigate(site.LOGIN_PAGE)
            await self._pass_challenge()
            self._log(f"waiting up to {timeout:.0f} s for you to sign in in the browser window")
            try:
                await self._wait_signed_in(timeout)
            except BrowserUnavailable:
                raise BrowserUnavailable(
                    "the browser closed before the sign-in finished; run `lmarena login` again"
                ) from None
            return await self._open_site(rediscover=False, reload=True)

    async def close(self) -> None:
        """Shut Chromium down (gracefully, then by force) and release the profile."""
        await self._teardown()

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- launching ---------------------------------------------------------------------------------

    async def _ensure_started(self, *, headless: bool | None = None) -> None:
        if self._launched is not None and self._launched.alive() and self._tab is not None:
            return
        if self._launched is not None:
            code = self._launched.proc.poll()
            how = "stopped answering" if code is None else f"exited (status {code})"
            self._log(f"Chromium {how} unexpectedly; starting it again")
            await self._teardown()
        await self._launch(decide_headless(self.settings) if headless is None else headless)

    async def _launch(self, headless: bool) -> None:
        exe = find_browser(self.settings)
        user_data_dir, temp_dir, lock = await self._choose_profile()
        port_file = user_data_dir / "DevToolsActivePort"
        with contextlib.suppress(OSError):
            port_file.unlink()
        args = browser_args(self.settings, user_data_dir=user_data_dir, headless=headless)
        _load_prctl()
        # Chromium's stderr, read only to explain a failed start; closed by _finish.
        errors = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            # Popen only forks and execs: quick, and it keeps the process out of the loop's hands.
            proc = subprocess.Popen(  # noqa: ASYNC220
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
        launched = _Launched(proc, user_data_dir, headless, errors, temp_dir, lock)
        _register(launched)
        self._launched = launched
        try:
            port = await self._wait_for_port(launched, port_file, exe)
            await self._connect(port, exe, user_data_dir)
            await self._disguise_headless()
        except BaseException:
            await self._teardown()
            raise

    async def _choose_profile(self) -> tuple[Path, Path | None, _ProfileLock | None]:
        """(user data dir, temp dir to delete, lock held) for this launch."""
        settings = self.settings
        if settings.browser_incognito:
            temp = Path(tempfile.mkdtemp(prefix="lmarena-incognito-"))
            return temp, temp, None
        profile = settings.browser_user_data_dir or settings.profile_dir
        if settings.browser_user_data_dir:
            digest = hashlib.sha256(str(profile.resolve()).encode()).hexdigest()[:12]
            lock_path = settings.state_dir / f"browser-profile-{digest}.lock"
        else:
            lock_path = settings.state_dir / "browser-profile.lock"
        lock = _ProfileLock(lock_path)
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
        self._log(
            f"the browser profile {profile} is in use by another lmarena process; "
            "using a temporary copy of it for this run"
        )
        return copy, temp, None

    async def _wait_for_port(self, launched: _Launched, port_file: Path, exe: str) -> int:
        deadline = time.monotonic() + LAUNCH_TIMEOUT
        while time.monotonic() < deadline:
            code = launched.proc.poll()
            if code is not None:
                raise BrowserUnavailable(
                    f"{exe} exited (status {code}) right after starting" + _hint_for_exit(launched)
                )
            try:
                first = port_file.read_text().split("\n", 1)[0].strip()  # noqa: ASYNC240
            except OSError:
                first = ""
            if first.isdigit() and int(first) > 0:
                return int(first)
            await asyncio.sleep(0.05)
        raise BrowserUnavailable(
            f"{exe} did not open its DevTools port within {LAUNCH_TIMEOUT:.0f} s"
        )

    async def _connect(self, port: int, exe: str, user_data_dir: Path) -> None:
        import nodriver

        config = nodriver.Config(
            user_data_dir=str(user_data_dir),
            browser_executable_path=exe,
            host="127.0.0.1",
            port=port,
        )
        try:
            driver = await self._guard(
                nodriver.Browser.create(config), what="connecting to Chromium", timeout=15
            )
        except LmArenaError:
            raise
        except Exception as exc:
            raise BrowserUnavailable(f"could not connect to Chromium: {exc}") from None
        self._driver = driver
        deadline = time.monotonic() + 10
        while True:
            pages = [t for t in driver.targets if getattr(t.target, "type_", "") == "page"]
            if pages:
                self._tab = pages[0]
                return
            if time.monotonic() > deadline:
                raise BrowserUnavailable("Chromium started without a page to use")
            await asyncio.sleep(0.1)
            await self._guard(driver.update_targets(), what="listing Chromium's tabs", timeout=5)

    async def _disguise_headless(self) -> None:
        """Give a headless browser the User-Agent and client hints of its headful self."""
        version = await self._send(_command("Browser.getVersion"), what="reading the version")
        user_agent = str(version.get("userAgent", ""))
        if "Headless" not in user_agent:
            self._user_agent = user_agent
            return
        user_agent = user_agent.replace("HeadlessChrome", "Chrome")
        # chrome://version is a secure context that needs no network: the browser's own client
        # hints can be read there before any site is loaded.
        await self._navigate_raw("chrome://version")
        hints = await self._poll_eval(_CLIENT_HINTS_JS, what="reading the client hints", wait=10)
        metadata = _client_hints_metadata(hints, user_agent)
        await self._send(
            _command(
                "Network.setUserAgentOverride", userAgent=user_agent, userAgentMetadata=metadata
            ),
            what="setting the User-Agent",
        )
        self._user_agent = user_agent

    # -- the site ----------------------------------------------------------------------------------

    async def _open_site(self, *, rediscover: bool, reload: bool = False) -> SiteState:
        """Launch if needed, load the chat page, pass the checks, read and save the state."""
        previous = self._state or self.cached_state()
        fresh_start = not self.running or self._tab is None
        await self._ensure_started()
        if fresh_start or not self._page.loaded:
            await self._inject_cookies(previous)
        if fresh_start or reload or not self._page.loaded:
            self._page = _Page()
            await self._navigate(site.CHAT_PAGE)
            await self._pass_challenge()
        cookies = await self._wait_auth_cookie()
        html = str(await self._eval("document.documentElement.outerHTML", what="reading the page"))
        user_agent = str(await self._eval("navigator.userAgent", what="reading the User-Agent"))
        now = time.time()
        state = SiteState(
            base_url=self.base_url,
            user_agent=user_agent,
            cookies=_cookie_map(cookies),
            cookie_records=cookies,
            site_key=discovery.find_site_key(html),
            created_at=previous.created_at if previous else now,
            updated_at=now,
        )
        if state.site_key is None:
            # The page may name the key only in its bundle's execute("<key>") call (§4.2).
            state.site_key = await self._site_key_from_chunks(html)
        if state.site_key is None:
            self._log(
                "the site's page carries no reCAPTCHA site key (expected "
                "recaptcha/enterprise.js?render=<key>); sending messages will fail"
            )
        stale = previous is None or rediscover or previous.discovery_stale(now)
        await self._fill_models(state, html, previous if not stale else None)
        if stale or previous is None:
            state.action_ids = await self._discover_actions(html)
            state.discovered_at = now
        else:
            state.action_ids = dict(previous.action_ids)
            state.discovered_at = previous.discovered_at
        self._page = _Page(html=html, loaded=True)
        self._state = state
        self._save(state)
        return state

    async def _fill_models(self, state: SiteState, html: str, cached: SiteState | None) -> None:
        """Models from the page, else the cached ones when fresh, else the catalog endpoint."""
        embedded = discovery.models_from_html(html)
        if embedded:
            state.models = [model.raw for model in embedded]
            return
        if cached is not None and cached.models:
            state.models = list(cached.models)
            return
        status, text = await self._fetch(site.MODEL_CATALOG, accept="application/json")
        if status != 200:
            raise ProtocolError(
                "the site's page embeds no model list and "
                f"{site.MODEL_CATALOG} answered HTTP {status} instead of a JSON catalog",
                detail=text[:300],
                kind="no_models",
            )
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ProtocolError(
                f"{site.MODEL_CATALOG} answered something that is not JSON",
                detail=text[:300],
                kind="no_models",
            ) from None
        state.models = [model.raw for model in discovery.models_from_catalog(data)]

    async def _site_key_from_chunks(self, html: str) -> str | None:
        """The reCAPTCHA site key from the page's JS chunks (the components' chunks first)."""
        for path in discovery.chunk_paths(html):
            status, text = await self._fetch(path, accept="*/*")
            key = discovery.find_site_key(text) if status == 200 else None
            if key is not None:
                return key
        return None

    async def _discover_actions(self, html: str) -> dict[str, str]:
        """Fetch the page's JS chunks in order until both upload actions are found."""
        actions: dict[str, str] = {}
        paths = discovery.chunk_paths(html)
        for path in paths:
            status, text = await self._fetch(path, accept="*/*")
            if status != 200:
                continue
            for name, action_id in discovery.find_actions(text).items():
                actions.setdefault(name, action_id)
            if all(name in actions for name in site.UPLOAD_ACTIONS):
                break
        if not all(name in actions for name in site.UPLOAD_ACTIONS):
            self._log(
                f"found no server action ids for {', '.join(site.UPLOAD_ACTIONS)} in the site's "
                f"{len(paths)} JS chunks; image uploads will fail"
            )
        return actions

    async def _inject_cookies(self, state: SiteState | None) -> None:
        """Put cached cookies back, except those the browser's own profile already holds."""
        if state is None or not state.cookies:
            return
        held = await self._get_cookies()
        have = {(c.get("name"), c.get("domain"), c.get("path")) for c in held}
        params = [
            param
            for param in _cookie_params(state, self.base_url)
            if (param["name"], param.get("domain"), param.get("path")) not in have
        ]
        if params:
            await self._send(_command("Network.setCookies", cookies=params), what="setting cookies")

    async def _get_cookies(self) -> list[dict[str, Any]]:
        reply = await self._send(
            _command("Network.getCookies", urls=[self.base_url + "/"]), what="reading cookies"
        )
        cookies = reply.get("cookies") or []
        return [c for c in cookies if isinstance(c, dict)]

    async def _wait_auth_cookie(self) -> list[dict[str, Any]]:
        """The site's cookies, once the auth cookie (bare or chunked) is among them.

        The site's own script signs a first visitor up; when no cookie has come after
        :data:`SIGN_UP_GRACE` seconds, the sign-up is posted from the page once (§5.3).
        """
        start = time.monotonic()
        deadline = start + AUTH_COOKIE_TIMEOUT
        signed_up = False
        while True:
            cookies = await self._get_cookies()
            names = {c.get("name") for c in cookies if c.get("value")}
            if site.AUTH_COOKIE in names or f"{site.AUTH_COOKIE}.0" in names:
                return cookies
            if not signed_up and time.monotonic() - start > SIGN_UP_GRACE:
                signed_up = True
                await self._sign_up()
                continue
            if time.monotonic() > deadline:
                raise SignInRequired(
                    f"the site did not start a session: no {site.AUTH_COOKIE} cookie appeared "
                    f"within {AUTH_COOKIE_TIMEOUT:.0f} s of loading {self.base_url}; "
                    "try `lmarena login`",
                    kind="no_session",
                )
            await asyncio.sleep(0.2)

    async def _sign_up(self) -> None:
        """Post the anonymous sign-up from the page; keep a session the answer has in its body.

        The usual answer sets the cookie itself; some answers carry the Supabase session JSON
        instead, which the site's client then writes as the cookie: so do we. Failures are only
        logged: the caller's wait for the cookie reports the outcome.
        """
        html = str(await self._eval("document.documentElement.outerHTML", what="reading the page"))
        key = discovery.find_site_key(html)
        try:
            reply = await self._eval(
                _SIGN_UP_JS % (_js(site.SIGN_UP), _js(key)),
                what="signing up",
                timeout=self.settings.timeout,
                await_promise=True,
            )
        except _PageError as exc:
            self._log(f"the anonymous sign-up failed in the page: {exc}")
            return
        status = int(reply.get("status") or 0) if isinstance(reply, dict) else 0
        text = str(reply.get("text") or "") if isinstance(reply, dict) else ""
        if status != 200:
            self._log(f"the site's sign-up answered HTTP {status}: {text[:200]}")
            return
        try:
            session = session_from_body(orjson.loads(text))
        except orjson.JSONDecodeError:
            session = None
        if session is None:
            return  # the answer set the cookie itself (or set nothing: the wait will say)
        url = self.base_url + "/"
        expires = time.time() + 400 * 86400  # what @supabase/ssr gives its cookie
        params = [
            {"name": name, "value": value, "url": url, "path": "/", "expires": expires}
            for name, value in encode_auth_cookies(session).items()
        ]
        await self._send(_command("Network.setCookies", cookies=params), what="setting cookies")

    async def _wait_signed_in(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            cookies = await self._get_cookies()
            probe = SiteState(base_url=self.base_url, user_agent="", cookies=_cookie_map(cookies))
            session = probe.auth_session()
            if session is not None and session.signed_in:
                return
            if time.monotonic() > deadline:
                raise Timeout(f"no sign-in happened within {timeout:.0f} s", kind="login")
            await asyncio.sleep(0.3)

    async def _pass_challenge(self) -> None:
        """Wait until the page is the site's and not Cloudflare's; click Turnstile if shown."""
        deadline = time.monotonic() + self.challenge_timeout
        last_click = 0.0
        seen: dict[str, Any] = {}
        while True:
            try:
                seen = await self._eval(_STATE_JS, what="watching the page", timeout=10) or {}
            except _PageError:
                seen = {}  # the page navigated under us (the challenge reloads it)
            if seen.get("refused"):
                raise Blocked(
                    'Cloudflare refused this browser outright ("Attention Required"); '
                    "try another network or a headful browser",
                    kind="cloudflare",
                )
            ready = seen.get("ready") in ("interactive", "complete")
            on_site = str(seen.get("url", "")).startswith(self.base_url)
            if ready and not on_site:
                self._refuse_other_origin(str(seen.get("url", "")))
            if ready and on_site and not seen.get("challenge"):
                return
            box = seen.get("box")
            if box and time.monotonic() - last_click > 3:
                last_click = time.monotonic()
                await self._click(box[0] + min(30.0, box[2] / 2), box[1] + box[3] / 2)
            if time.monotonic() > deadline:
                raise Blocked(
                    f"the site's Cloudflare check did not clear within "
                    f"{self.challenge_timeout:.0f} s (page title {seen.get('title', '')!r})",
                    detail=seen.get("error") or None,
                    kind="cloudflare",
                )
            await asyncio.sleep(0.1)

    def _refuse_other_origin(self, url: str) -> None:
        """Fail at once when the site sent the browser to another origin (lmarena.ai -> arena.ai).

        API calls go to LM_ARENA_BASE_URL with cookies of the origin the browser ended on; they
        cannot work, and waiting for a page that never comes would end in a misleading Blocked.
        """
        parts, base = urllib.parse.urlsplit(url), urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https"):
            return  # about:blank or chrome:// before the navigation commits
        origin = f"{parts.scheme}://{parts.netloc}"
        if (parts.scheme, parts.netloc.lower()) == (base.scheme, base.netloc.lower()):
            return
        raise ConfigError(
            f"LM_ARENA_BASE_URL is {self.base_url}, but that address sends the browser on to "
            f"{origin} (the site moved: lmarena.ai is now arena.ai); set "
            f"LM_ARENA_BASE_URL={origin}",
            kind="redirected",
        )

    async def _click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            extra = {"button": "left", "clickCount": 1} if kind != "mouseMoved" else {}
            await self._send(
                _command("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra),
                what="clicking the Turnstile box",
            )

    async def _mint(self, site_key: str, action: str) -> str:
        wait_ready = not self._page.extra.get("recaptcha_ready")
        expression = _MINT_JS % (
            _js(site_key),
            _js(action),
            int(RECAPTCHA_WAIT * 1000),
            _js(wait_ready),
        )
        try:
            reply = await self._eval(
                expression,
                what="minting a reCAPTCHA token",
                timeout=RECAPTCHA_WAIT + RECAPTCHA_EXECUTE_TIMEOUT,
                await_promise=True,
            )
        except _PageError as exc:
            raise Blocked(
                "reCAPTCHA failed in the page", detail=str(exc), kind="recaptcha"
            ) from None
        if not isinstance(reply, dict):
            raise Blocked("reCAPTCHA gave no answer in the page", kind="recaptcha")
        if reply.get("error") == "absent":
            raise Blocked(
                f"the site's reCAPTCHA script (grecaptcha.enterprise) did not load within "
                f"{RECAPTCHA_WAIT:.0f} s",
                kind="recaptcha",
            )
        if reply.get("error"):
            raise Blocked(
                f"reCAPTCHA refused to mint a token for site key {site_key} and action {action!r}",
                detail=str(reply.get("message") or "") or None,
                kind="recaptcha",
            )
        token = reply.get("token")
        if not isinstance(token, str) or not token:
            raise Blocked("reCAPTCHA returned an empty token", kind="recaptcha")
        self._page.extra["recaptcha_ready"] = True
        return token

    async def _fetch(self, path: str, *, accept: str) -> tuple[int, str]:
        """GET a same-origin path from inside the page (its cookies, UA and TLS)."""
        url = urllib.parse.urljoin(self.base_url + "/", path)
        try:
            reply = await self._eval(
                _FETCH_JS % (_js(url), _js(accept)),
                what=f"fetching {path}",
                timeout=self.settings.timeout,
                await_promise=True,
            )
        except _PageError as exc:
            raise UpstreamUnavailable(f"fetching {path} in the browser failed: {exc}") from None
        if not isinstance(reply, dict):
            return 0, ""
        return int(reply.get("status") or 0), str(reply.get("text") or "")

    def _save(self, state: SiteState) -> None:
        try:
            self.cache.save(state)
        except OSError as exc:
            self._log(f"could not write the site cache {self.cache.path}: {exc.strerror or exc}")

    # -- CDP plumbing ------------------------------------------------------------------------------

    async def _navigate(self, path: str) -> None:
        await self._navigate_raw(urllib.parse.urljoin(self.base_url + "/", path.lstrip("/")))

    async def _navigate_raw(self, url: str) -> None:
        reply = await self._send(
            _command("Page.navigate", url=url),
            what=f"loading {url}",
            timeout=min(self.settings.timeout, 60.0),
        )
        error = reply.get("errorText") if isinstance(reply, dict) else None
        if error:
            raise UpstreamUnavailable(f"the browser could not load {url}: {error}")

    async def _poll_eval(self, expression: str, *, what: str, wait: float) -> Any:
        """Evaluate until the page answers something (it may still be loading)."""
        deadline = time.monotonic() + wait
        while True:
            with contextlib.suppress(_PageError):
                value = await self._eval(expression, what=what, await_promise=True, timeout=5)
                if value:
                    return value
            if time.monotonic() > deadline:
                raise BrowserUnavailable(f"Chromium gave no answer while {what}")
            await asyncio.sleep(0.1)

    async def _eval(
        self,
        expression: str,
        *,
        what: str,
        timeout: float = 30.0,
        await_promise: bool = False,
    ) -> Any:
        """``Runtime.evaluate`` in the page's main world; the value, or _PageError."""
        try:
            reply = await self._send(
                _command(
                    "Runtime.evaluate",
                    expression=expression,
                    returnByValue=True,
                    awaitPromise=await_promise,
                    userGesture=True,
                    allowUnsafeEvalBlockedByCSP=True,
                ),
                what=what,
                timeout=timeout,
            )
        except _CdpError as exc:
            raise _PageError(str(exc)) from None
        details = reply.get("exceptionDetails")
        if details:
            exception = details.get("exception") or {}
            raise _PageError(
                str(exception.get("description") or exception.get("value") or details.get("text"))
            )
        return (reply.get("result") or {}).get("value")

    async def _send(
        self, command: Generator[dict[str, Any], Any, Any], *, what: str, timeout: float = 30.0
    ) -> Any:
        import nodriver

        if self._tab is None:
            raise BrowserUnavailable(f"Chromium is not running (while {what})")
        try:
            return await self._guard(self._tab.send(command), what=what, timeout=timeout)
        except nodriver.ProtocolException as exc:
            raise _CdpError(str(exc)) from None

    async def _guard(self, awaitable: Any, *, what: str, timeout: float) -> Any:
        """Await ``awaitable`` for at most ``timeout`` s, failing at once if Chromium dies."""
        task = asyncio.ensure_future(awaitable)
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                done, _ = await asyncio.wait({task}, timeout=max(0.0, min(0.25, remaining)))
                if task in done:
                    try:
                        return self._result(task)
                    except _ConnectionLost as exc:
                        raise await self._connection_lost(what, str(exc)) from None
                launched = self._launched
                if launched is None or launched.proc.poll() is not None:
                    code = launched.proc.poll() if launched else None
                    raise BrowserUnavailable(f"Chromium exited (status {code}) while {what}")
                if remaining <= 0:
                    raise Timeout(f"Chromium did not finish {what} within {timeout:.0f} s")
        finally:
            if not task.done():
                task.cancel()
                # asyncio.wait never raises the task's error, and lets our own cancellation through.
                await asyncio.wait({task}, timeout=1.0)

    def _result(self, task: asyncio.Future[Any]) -> Any:
        import nodriver

        try:
            return task.result()
        except nodriver.ProtocolException:
            raise
        except (ConnectionError, RuntimeError, OSError) as exc:
            raise _ConnectionLost(str(exc)) from None
        except Exception as exc:
            if type(exc).__module__.startswith("websockets"):
                raise _ConnectionLost(type(exc).__name__) from None
            raise

    async def _connection_lost(self, what: str, reason: str) -> BrowserUnavailable:
        """The error for a dropped CDP connection; the browser is relaunched on the next call."""
        launched = self._launched
        if launched is None:
            return BrowserUnavailable(f"Chromium was closed while {what}")
        launched.broken = True
        deadline = time.monotonic() + 1.0
        # Polling: a Popen has no awaitable exit, and we must not block the loop in wait().
        while launched.proc.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        code = launched.proc.poll()
        if code is None:
            return BrowserUnavailable(f"Chromium dropped its connection while {what} ({reason})")
        return BrowserUnavailable(f"Chromium exited (status {code}) while {what}")

    # -- shutting down -----------------------------------------------------------------------------

    async def _teardown(self) -> None:
        launched, driver = self._launched, self._driver
        self._launched, self._driver, self._tab = None, None, None
        self._page = _Page()
        if driver is not None and launched is not None and launched.alive():
            with contextlib.suppress(Exception):
                # A clean close lets Chromium write its cookies to the profile.
                await asyncio.wait_for(driver.send(_command("Browser.close")), 2.0)
            deadline = time.monotonic() + 3.0
            while launched.alive() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        if driver is not None:
            await _disconnect(driver)
        if launched is not None:
            await asyncio.to_thread(_finish, launched, 1.0)


class _ConnectionLost(Exception):
    """nodriver's websocket to Chromium closed."""


class _CdpError(BrowserUnavailable):
    """Chromium refused a CDP command (nodriver.ProtocolException)."""


async def _disconnect(driver: Any) -> None:
    """Close nodriver's websockets without letting it touch the process (that is ours)."""
    import nodriver

    for connection in [*getattr(driver, "_targets", []), driver]:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.aclose(), 2.0)
    with contextlib.suppress(Exception):
        nodriver.core.util.get_registered_instances().discard(driver)


def _spawn_options() -> dict[str, Any]:
    if os.name == "posix":
        # Own process group: killpg reaches every helper; Ctrl-C in a terminal reaches Python
        # only, which then closes Chromium in order.
        return {"process_group": 0, "preexec_fn": _child_preexec}
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


def _hint_for_exit(launched: _Launched) -> str:
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


def _copy_profile(source: Path, target: Path) -> None:
    if not source.exists():
        target.mkdir(mode=0o700, parents=True)
        return
    # A profile in use changes under us: copy what can be copied.
    with contextlib.suppress(shutil.Error, OSError):
        shutil.copytree(source, target, ignore=_COPY_IGNORE, dirs_exist_ok=True)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)


def _client_hints_metadata(hints: Any, user_agent: str) -> dict[str, Any]:
    """CDP ``UserAgentMetadata`` from ``getHighEntropyValues``, with any "Headless" brand fixed."""
    data = hints if isinstance(hints, dict) else {}

    def brands(key: str) -> list[dict[str, str]]:
        rows = data.get(key) or []
        return [
            {
                "brand": str(b.get("brand", "")).replace("HeadlessChrome", "Chromium"),
                "version": str(b.get("version", "")),
            }
            for b in rows
            if isinstance(b, dict)
        ]

    metadata: dict[str, Any] = {
        "brands": brands("brands"),
        "fullVersionList": brands("fullVersionList"),
        "platform": str(data.get("platform") or _platform_name(user_agent)),
        "platformVersion": str(data.get("platformVersion") or ""),
        "architecture": str(data.get("architecture") or ""),
        "model": str(data.get("model") or ""),
        "mobile": bool(data.get("mobile", False)),
        "bitness": str(data.get("bitness") or ""),
        "wow64": bool(data.get("wow64", False)),
    }
    if isinstance(data.get("formFactors"), list):
        metadata["formFactors"] = [str(f) for f in data["formFactors"]]
    return metadata


def _platform_name(user_agent: str) -> str:
    for marker, name in (("Windows", "Windows"), ("Mac OS", "macOS"), ("Android", "Android")):
        if marker in user_agent:
            return name
    return "Linux"


def _cookie_map(cookies: Iterable[dict[str, Any]]) -> dict[str, str]:
    """name -> value; when a name is held twice, the first (most specific, as sent) wins."""
    result: dict[str, str] = {}
    for cookie in cookies:
        name, value = cookie.get("name"), cookie.get("value")
        if isinstance(name, str) and isinstance(value, str) and name not in result:
            result[name] = value
    return result


def _cookie_params(state: SiteState, base_url: str) -> list[dict[str, Any]]:
    """CDP ``CookieParam`` objects for the cached cookies (full records when we have them)."""
    now = time.time()
    params: list[dict[str, Any]] = []
    recorded: set[str] = set()
    for record in state.cookie_records:
        name, value = record.get("name"), record.get("value")
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        expires = record.get("expires")
        if record.get("session") or not isinstance(expires, int | float) or expires <= 0:
            expires = None
        elif expires < now:
            continue
        param: dict[str, Any] = {"name": name, "value": value}
        for key in ("domain", "path", "secure", "httpOnly", "sameSite"):
            if record.get(key) not in (None, ""):
                param[key] = record[key]
        if "domain" not in param:
            param["url"] = base_url + "/"
        if expires is not None:
            param["expires"] = expires
        params.append(param)
        recorded.add(name)
    for name, value in state.cookies.items():
        if name not in recorded:
            params.append({"name": name, "value": value, "url": base_url + "/"})
    return params


__all__ = [
    "BROWSER_NAMES",
    "Browser",
    "browser_args",
    "decide_headless",
    "find_browser",
    "has_display",
    "proxy_for_chromium",
]

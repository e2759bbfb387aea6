"""One real Chromium, driven through nodriver, for what only a browser can do.

The browser passes the site's anti-bot checks, signs in, mints reCAPTCHA tokens and discovers the
site key, the model list and the server action ids. Everything else (the chat requests) is made
with aiohttp from the cookies and User-Agent this module hands over in a :class:`SiteState`.

Starting and reaping the Chromium process is :mod:`lmarena_cli.chromium`'s job (its profile lock
is :mod:`lmarena_cli.profile`'s); speaking CDP to it is :mod:`lmarena_cli.cdp`'s. This module does
the site's work with them.

All browser work is serialized behind one :class:`asyncio.Lock` (FIFO). Every wait is bounded
and watches the process: if Chromium dies mid-call the caller gets
:class:`~lmarena_cli.errors.BrowserUnavailable`, and the next call starts a new Chromium (with
the cookies put back), so waiting callers never hang.
"""

from __future__ import annotations

import asyncio
import sys
import time
import urllib.parse
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import (
    Blocked,
    BrowserUnavailable,
    ConfigError,
    ProtocolError,
    SignInRequired,
    Timeout,
    UpstreamUnavailable,
    UsageError,
)
from ..settings import Settings
from ..site import discovery, facts
from ..state.cache import SiteCache, SiteState, encode_auth_cookies, session_from_body
from .cdp import Connection, PageError, command, cookie_map, cookie_params, js
from .chromium import decide_headless, find_browser, has_display, start, wait_for_port
from .profile import choose_profile

Log = Callable[[str], None]

#: Seconds to wait for the site to sign the browser up (the auth cookie to appear).
AUTH_COOKIE_TIMEOUT = 30.0
#: Seconds the site's own script gets to sign up before we post the sign-up ourselves.
SIGN_UP_GRACE = 5.0
#: Seconds to wait for the lazily loaded ``grecaptcha.enterprise``.
RECAPTCHA_WAIT = 15.0
#: Seconds for ``grecaptcha.enterprise.execute`` itself.
RECAPTCHA_EXECUTE_TIMEOUT = 30.0


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Scripts run in the site's page
# --------------------------------------------------------------------------------------------------

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
        self._conn: Connection | None = None
        self._page = _Page()
        self._state: SiteState | None = None
        self._cache_read = False

    # -- public API --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.settings.base_url.rstrip("/")

    @property
    def tab(self) -> Any:
        """The nodriver Tab showing the site (None before launch); for tests and debugging."""
        return self._conn.tab if self._conn is not None else None

    @property
    def pid(self) -> int | None:
        """The pid of the running Chromium, or None."""
        launched = self._conn.launched if self._conn is not None else None
        return launched.proc.pid if launched and launched.alive() else None

    @property
    def running(self) -> bool:
        return self._conn is not None and self._conn.alive

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
            missing = [name for name in facts.UPLOAD_ACTIONS if name not in actions]
            if missing:
                raise ProtocolError(
                    "expected the site's JS chunks to define the server actions "
                    + ", ".join(facts.UPLOAD_ACTIONS)
                    + f", but {', '.join(missing)} could not be found; the site has changed",
                    kind="stale_action",
                )
            return dict(actions)

    async def mint_token(self, action: str = facts.ACTION_CHAT_SUBMIT) -> str:
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
            launched = self._conn.launched if self._conn is not None else None
            if launched is not None and launched.headless != headless:
                await self._teardown()
            await self._ensure_started(headless=headless)
            await self._inject_cookies(self._state or self.cached_state())
            await self._navigate(facts.LOGIN_PAGE)
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
        conn = self._conn
        if conn is not None and conn.alive and conn.tab is not None:
            return
        if conn is not None:
            code = conn.launched.proc.poll() if conn.launched is not None else None
            how = "stopped answering" if code is None else f"exited (status {code})"
            self._log(f"Chromium {how} unexpectedly; starting it again")
            await self._teardown()
        await self._launch(decide_headless(self.settings) if headless is None else headless)

    async def _launch(self, headless: bool) -> None:
        exe = find_browser(self.settings)
        user_data_dir, temp_dir, lock = await choose_profile(self.settings, self._log)
        launched = start(
            self.settings, exe, user_data_dir, headless=headless, temp_dir=temp_dir, lock=lock
        )
        conn = self._conn = Connection(launched, load_timeout=min(self.settings.timeout, 60.0))
        try:
            port = await wait_for_port(launched, exe)
            await conn.connect(port, exe, user_data_dir)
            await conn.disguise_headless()
        except BaseException:
            await self._teardown()
            raise

    # -- the site ----------------------------------------------------------------------------------

    async def _open_site(self, *, rediscover: bool, reload: bool = False) -> SiteState:
        """Launch if needed, load the chat page, pass the checks, read and save the state."""
        previous = self._state or self.cached_state()
        fresh_start = not self.running or self.tab is None
        await self._ensure_started()
        if fresh_start or not self._page.loaded:
            await self._inject_cookies(previous)
        if fresh_start or reload or not self._page.loaded:
            self._page = _Page()
            await self._navigate(facts.CHAT_PAGE)
            await self._pass_challenge()
        cookies = await self._wait_auth_cookie()
        html = await self._read_html()
        user_agent = str(await self._eval("navigator.userAgent", what="reading the User-Agent"))
        now = time.time()
        state = SiteState(
            base_url=self.base_url,
            user_agent=user_agent,
            cookies=cookie_map(cookies),
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
        status, text = await self._fetch(facts.MODEL_CATALOG, accept="application/json")
        if status != 200:
            raise ProtocolError(
                "the site's page embeds no model list and "
                f"{facts.MODEL_CATALOG} answered HTTP {status} instead of a JSON catalog",
                detail=text[:300],
                kind="no_models",
            )
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ProtocolError(
                f"{facts.MODEL_CATALOG} answered something that is not JSON",
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
            if all(name in actions for name in facts.UPLOAD_ACTIONS):
                break
        if not all(name in actions for name in facts.UPLOAD_ACTIONS):
            self._log(
                f"found no server action ids for {', '.join(facts.UPLOAD_ACTIONS)} in the site's "
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
            for param in cookie_params(state, self.base_url)
            if (param["name"], param.get("domain"), param.get("path")) not in have
        ]
        if params:
            await self._set_cookies(params)

    async def _set_cookies(self, params: list[dict[str, Any]]) -> None:
        await self._send(command("Network.setCookies", cookies=params), what="setting cookies")

    async def _get_cookies(self) -> list[dict[str, Any]]:
        reply = await self._send(
            command("Network.getCookies", urls=[self.base_url + "/"]), what="reading cookies"
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
            if facts.AUTH_COOKIE in names or f"{facts.AUTH_COOKIE}.0" in names:
                return cookies
            if not signed_up and time.monotonic() - start > SIGN_UP_GRACE:
                signed_up = True
                await self._sign_up()
                continue
            if time.monotonic() > deadline:
                raise SignInRequired(
                    f"the site did not start a session: no {facts.AUTH_COOKIE} cookie appeared "
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
        html = await self._read_html()
        key = discovery.find_site_key(html)
        try:
            reply = await self._eval(
                _SIGN_UP_JS % (js(facts.SIGN_UP), js(key)),
                what="signing up",
                timeout=self.settings.timeout,
                await_promise=True,
            )
        except PageError as exc:
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
        await self._set_cookies(params)

    async def _wait_signed_in(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            cookies = await self._get_cookies()
            probe = SiteState(base_url=self.base_url, user_agent="", cookies=cookie_map(cookies))
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
            except PageError:
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
                command("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra),
                what="clicking the Turnstile box",
            )

    async def _mint(self, site_key: str, action: str) -> str:
        wait_ready = not self._page.extra.get("recaptcha_ready")
        expression = _MINT_JS % (
            js(site_key),
            js(action),
            int(RECAPTCHA_WAIT * 1000),
            js(wait_ready),
        )
        try:
            reply = await self._eval(
                expression,
                what="minting a reCAPTCHA token",
                timeout=RECAPTCHA_WAIT + RECAPTCHA_EXECUTE_TIMEOUT,
                await_promise=True,
            )
        except PageError as exc:
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
                _FETCH_JS % (js(url), js(accept)),
                what=f"fetching {path}",
                timeout=self.settings.timeout,
                await_promise=True,
            )
        except PageError as exc:
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

    def _connection(self, what: str) -> Connection:
        if self._conn is None:
            raise BrowserUnavailable(f"Chromium is not running (while {what})")
        return self._conn

    async def _read_html(self) -> str:
        return str(await self._eval("document.documentElement.outerHTML", what="reading the page"))

    async def _navigate(self, path: str) -> None:
        url = urllib.parse.urljoin(self.base_url + "/", path.lstrip("/"))
        await self._connection(f"loading {url}").navigate(url)

    async def _eval(
        self, expression: str, *, what: str, timeout: float = 30.0, await_promise: bool = False
    ) -> Any:
        """``Runtime.evaluate`` in the page's main world; the value, or PageError."""
        return await self._connection(what).evaluate(
            expression, what=what, timeout=timeout, await_promise=await_promise
        )

    async def _send(
        self, request: Generator[dict[str, Any], Any, Any], *, what: str, timeout: float = 30.0
    ) -> Any:
        return await self._connection(what).send(request, what=what, timeout=timeout)

    # -- shutting down -----------------------------------------------------------------------------

    async def _teardown(self) -> None:
        conn, self._conn = self._conn, None
        self._page = _Page()
        if conn is not None:
            await conn.close()


__all__ = ["Browser"]

"""One real Chromium, driven through nodriver, for what only a browser can do.

:class:`Browser` is the real :class:`~lmarena_cli.browser.interface.BrowserInterface`: it passes
the site's anti-bot checks, signs in, mints reCAPTCHA tokens and discovers the site key, the model
list and the server action ids. The chat requests are made with aiohttp from the cookies and
User-Agent it hands over in a :class:`SiteState`, or by the page itself (:meth:`Browser.open_fetch`,
the page transport of :mod:`.fetch`) when the site refuses aiohttp.

It composes the browser's parts, each in its own module: the tab and its Chromium
(:mod:`.page`, which uses :mod:`.chromium`, :mod:`.profile` and :mod:`.cdp`), the Cloudflare check
(:mod:`.challenge`), sign-up and sign-in (:mod:`.signup`), reading the page (:mod:`.discover`), the
account's consent to the Terms of Use and the site's clock (:mod:`.account`) and minting tokens
(:mod:`.recaptcha`).

Loading the site (launching, reloading, signing in) is serialized behind one
:class:`asyncio.Lock` (FIFO); minting tokens and the page's requests take it only to make sure
the site is loaded, then run side by side, and a reload waits for the tokens being minted (a
reload under a mint would throw its token away). Every wait is bounded and watches the process:
if Chromium dies mid-call the caller gets :class:`~lmarena_cli.errors.BrowserUnavailable`, and
the next call starts a new Chromium (with the cookies put back), so waiting callers never hang.
Notices (a throwaway profile copy, an ignored cache, a relaunch) are INFO records of the
``lmarena`` logger.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..errors import Advice, BrowserUnavailable, ErrorKind, ProtocolError
from ..settings import Settings
from ..site import facts
from ..state.cache import SiteCache, SiteState
from .account import settle_account
from .cdp import command
from .challenge import pass_challenge
from .discover import missing_upload_actions, read_site
from .fetch import PageFetch, open_fetch
from .interface import FetchRequest
from .page import Page
from .recaptcha import mint
from .signup import require_display, wait_auth_cookie, wait_signed_in

logger = logging.getLogger("lmarena.browser")


class Browser:
    """The one Chromium of this process: launched lazily, closed on exit, relaunched if it dies.

    ``challenge_timeout`` bounds the wait for the site's Cloudflare check.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        cache: SiteCache | None = None,
        challenge_timeout: float | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache if cache is not None else SiteCache(settings.cache_path)
        self.challenge_timeout = challenge_timeout or min(settings.timeout, 60.0)
        #: Held while the page is (re)loaded or relaunched; minting and requests take it only
        #: to make sure the site is loaded, then run side by side.
        self._lock = asyncio.Lock()
        #: Set while no token is being minted: a reload waits for it (a reload under a mint
        #: would fail the mint and throw its token away).
        self._no_mints = asyncio.Event()
        self._no_mints.set()
        self._minting = 0
        self._page = Page(settings)
        self._state: SiteState | None = None
        self._cache_read = False
        self._fetches = 0  # the ids of the page's requests
        #: Seconds the site's anti-bot check took on the last page load (None before one).
        self.challenge_seconds: float | None = None

    # -- public API --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.settings.base_url.rstrip("/")

    @property
    def tab(self) -> Any:
        """The nodriver Tab showing the site (None before launch); for tests and debugging."""
        return self._page.tab

    @property
    def pid(self) -> int | None:
        """The pid of the running Chromium, or None."""
        return self._page.pid

    @property
    def running(self) -> bool:
        """Whether a Chromium of this browser is running."""
        return self._page.running

    @property
    def html(self) -> str:
        """The HTML of the site's page as last read ("" before); for tests and debugging."""
        return self._page.html

    async def start(self) -> str:
        """Launch Chromium unless it runs (the site is not loaded) and return its version as
        DevTools reports it (``HeadlessChrome/131.0.6778.85``); ``lmarena doctor`` uses it."""
        async with self._lock:
            await self._page.ensure_started()
            reply = await self._page.send(
                command("Browser.getVersion"), what="reading the browser's version"
            )
        return str(reply.get("product") or "") if isinstance(reply, dict) else ""

    def cached_state(self) -> SiteState | None:
        """What the last bootstrap learned (this process, else the cache file). Never launches."""
        if self._state is None and not self._cache_read:
            self._cache_read = True
            self._state = self.cache.load(self.base_url, warn=logger.info)
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
            error = missing_upload_actions(state.action_ids)
            if error is not None:
                raise error
            return dict(state.action_ids)

    async def mint_token(self, action: str = facts.ACTION_CHAT_SUBMIT) -> str:
        """A fresh reCAPTCHA Enterprise token for ``action``, minted in the page's main world.

        Tokens are single-use and short-lived: one is never cached or handed out twice. Tokens
        for several requests are minted side by side (the site's script allows it); a reload of
        the page waits until they are done.
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
                    kind=ErrorKind.NO_SITE_KEY,
                )
            self._minting += 1
            self._no_mints.clear()
        try:
            return await mint(self._page, state.site_key, action)
        finally:
            self._minting -= 1
            if not self._minting:
                self._no_mints.set()

    async def open_fetch(self, request: FetchRequest, *, wait: float) -> PageFetch:
        """Make ``request`` from inside the site's page (the page transport; see :mod:`.fetch`),
        loading the site first when needed: the answer once its headers came.

        Only loading the site holds the lock: a streaming body must not keep tokens from being
        minted for other requests meanwhile.
        """
        async with self._lock:
            if not (self._page.loaded and self.running and self._state is not None):
                await self._open_site(rediscover=False)
            self._fetches += 1
            fetch_id = self._fetches
        return await open_fetch(self._page, request, wait=wait, fetch_id=fetch_id)

    async def login(self, *, timeout: float) -> SiteState:
        """Open the sign-in page in a window and wait until a real (not anonymous) user is in.

        Needs a display unless ``LM_ARENA_BROWSER_HEADLESS`` is explicitly true (tests).
        """
        headless = require_display(self.settings)
        async with self._lock:
            await self._no_mints.wait()
            if self._page.headless not in (None, headless):
                await self._page.teardown()
            await self._page.ensure_started(headless=headless)
            await self._put_cookies_back(self._state or self.cached_state())
            await self._page.navigate(facts.LOGIN_PAGE)
            await pass_challenge(self._page, self.challenge_timeout)
            logger.info(f"waiting up to {timeout:.0f} s for you to sign in in the browser window")
            try:
                await wait_signed_in(self._page, timeout)
            except BrowserUnavailable:
                raise BrowserUnavailable(
                    "the browser closed before the sign-in finished", advice=Advice.LOGIN_AGAIN
                ) from None
            return await self._open_site(rediscover=False, reload=True)

    async def close(self) -> None:
        """Shut Chromium down (gracefully, then by force) and release the profile."""
        await self._page.teardown()

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- the site ----------------------------------------------------------------------------------

    async def _open_site(self, *, rediscover: bool, reload: bool = False) -> SiteState:
        """Launch if needed, load the chat page, pass the checks, read and save the state."""
        page = self._page
        previous = self._state or self.cached_state()
        fresh_start = not self.running or self.tab is None
        await page.ensure_started()
        if fresh_start or not page.loaded:
            await self._put_cookies_back(previous)
        if fresh_start or reload or not page.loaded:
            await self._no_mints.wait()  # bounded: a mint has a time limit of its own
            page.forget()
            await page.navigate(facts.CHAT_PAGE)
            began = time.monotonic()
            await pass_challenge(page, self.challenge_timeout)
            self.challenge_seconds = time.monotonic() - began
        cookies = await wait_auth_cookie(page)
        state = await read_site(page, cookies, previous, rediscover=rediscover)
        await settle_account(page, state, previous)
        self._state = state
        self._save(state)
        return state

    async def _put_cookies_back(self, state: SiteState | None) -> None:
        if state is not None:
            await self._page.inject_cookies(state.cookie_records, state.cookies)

    def _save(self, state: SiteState) -> None:
        try:
            self.cache.save(state)
        except OSError as exc:
            logger.info(f"could not write the site cache {self.cache.path}: {exc.strerror or exc}")


__all__ = ["Browser"]

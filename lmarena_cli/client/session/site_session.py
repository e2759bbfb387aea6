"""The browser's part of a client: :class:`SiteSession`, what the site let us in with.

One browser (made on first use, launched only when a request needs it), the
:class:`~lmarena_cli.state.cache.SiteState` its last bootstrap or page load learned (cookies,
User-Agent, site key, models, action ids), and the reCAPTCHA tokens it mints, one of them
optionally minted ahead (:class:`~.tokens.TokenReserve`). Every page load throws a token minted
before it away: a new clearance or site key may refuse it.
"""

from __future__ import annotations

import asyncio

from ...browser.interface import BrowserInterface
from ...browser.session import Browser
from ...settings import Settings
from ...site import facts
from ...state.cache import SiteState
from .tokens import TOKEN_MAX_AGE, TokenReserve


class SiteSession:
    """The browser, what it learned, and its tokens.

    ``browser`` shares one (it is then not closed here, unless ``owns_browser`` hands it over:
    :meth:`close` closes it too); without it, a :class:`Browser` is made on first use.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        browser: BrowserInterface | None = None,
        owns_browser: bool | None = None,
    ) -> None:
        self.settings = settings
        self._browser = browser
        self._owns_browser = browser is None if owns_browser is None else owns_browser
        self._state: SiteState | None = None
        self._bootstrap_lock = asyncio.Lock()
        self._tokens: TokenReserve | None = None

    @property
    def browser(self) -> BrowserInterface:
        """The browser: the one given, else a :class:`Browser` made (not launched) on first use."""
        if self._browser is None:
            self._browser = Browser(self.settings)
        return self._browser

    @property
    def state(self) -> SiteState | None:
        """What the last bootstrap or refresh learned; None before the first."""
        return self._state

    def known_state(self) -> SiteState | None:
        """The state in use, else the one cached on disk by an earlier run (no browser)."""
        return self._state or self.browser.cached_state()

    async def bootstrap(self, *, refresh: bool = False) -> SiteState:
        """Start the browser, pass the site's checks and learn what a send needs."""
        async with self._bootstrap_lock:
            if self._state is None or refresh:
                if refresh:
                    self._discard_tokens()
                self._state = await self.browser.bootstrap(refresh=refresh)
                if refresh:
                    self._discard_tokens()
            return self._state

    async def current_state(self) -> SiteState:
        """The site state, bootstrapping first when there is none yet."""
        return self._state or await self.bootstrap()

    async def refresh(self) -> None:
        """Reload the site in the browser: a new clearance and a refreshed auth cookie."""
        self._discard_tokens()
        self._state = await self.browser.refresh_session()
        self._discard_tokens()

    async def rediscover_actions(self) -> None:
        """Read the site's server action ids again (a redeploy rotated them)."""
        state = await self.current_state()
        self._discard_tokens()
        state.action_ids.update(await self.browser.rediscover_actions())
        self._discard_tokens()

    # -- tokens ----------------------------------------------------------------------------------

    async def mint_token(self, action: str = facts.ACTION_CHAT_SUBMIT) -> str:
        """A fresh reCAPTCHA token for ``action``: the one minted ahead when
        :meth:`keep_token_ready` is on and it is fresh, else one minted by the browser now."""
        if self._tokens is not None and action == self._tokens.action:
            token = await self._tokens.take()
            if token is not None:
                return token
        return await self.browser.mint_token(action)

    def keep_token_ready(self, *, max_age: float = TOKEN_MAX_AGE) -> TokenReserve:
        """Keep one ``chat_submit`` token minted ahead from now on, so that a send does not wait
        for minting (:class:`~.tokens.TokenReserve`; off by default, for long-running processes
        such as ``serve``). Call inside the event loop; :meth:`close` stops it."""
        if self._tokens is None:
            self._tokens = TokenReserve(self.browser.mint_token, max_age=max_age)
            self._tokens.start()
        return self._tokens

    def _discard_tokens(self) -> None:
        """A token minted before a page load may be refused after it (a new clearance or key)."""
        if self._tokens is not None:
            self._tokens.discard()

    async def stop_tokens(self) -> None:
        """Stop minting ahead (safe to call again)."""
        if self._tokens is not None:
            await self._tokens.close()

    async def close(self) -> None:
        """Stop minting ahead; close the browser when this session started it (or was given it)."""
        await self.stop_tokens()
        if self._browser is not None and self._owns_browser:
            await self._browser.close()


__all__ = ["SiteSession"]

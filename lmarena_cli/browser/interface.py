"""What the library needs from a browser: the seam between ``client`` and ``browser``.

The real implementation is :class:`lmarena_cli.browser.session.Browser` (one Chromium driven
through nodriver). Tests may stand in for it with anything that has these methods; the tests'
HTTP stand-in does the browser's part over plain HTTP against the fake arena.
"""

from __future__ import annotations

from typing import Protocol

from ..site import facts
from ..state.cache import SiteState


class BrowserInterface(Protocol):
    """The browser's jobs, as the library calls them."""

    def cached_state(self) -> SiteState | None:
        """What the last bootstrap learned (this process, else the cache file). Never launches."""
        ...

    async def bootstrap(self, *, refresh: bool = False) -> SiteState:
        """Open the site, pass its checks, and learn cookies, User-Agent, site key, models and
        action ids. ``refresh`` rediscovers the model list and action ids."""
        ...

    async def mint_token(self, action: str = facts.ACTION_CHAT_SUBMIT) -> str:
        """A fresh, never reused reCAPTCHA token for ``action``."""
        ...

    async def refresh_session(self) -> SiteState:
        """Load the site's page again: a new clearance and a refreshed auth cookie."""
        ...

    async def rediscover_actions(self) -> dict[str, str]:
        """Read the site's server action ids again (after a redeploy rotated them)."""
        ...

    async def close(self) -> None:
        """Release the browser and everything it holds; safe to call twice."""
        ...


__all__ = ["BrowserInterface"]

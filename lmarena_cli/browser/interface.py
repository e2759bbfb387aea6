"""What the library needs from a browser: the seam between ``client`` and ``browser``.

The real implementation is :class:`lmarena_cli.browser.session.Browser` (one Chromium driven
through nodriver). Tests may stand in for it with anything that has these methods; the tests'
HTTP stand-in does the browser's part over plain HTTP against the fake arena.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..site import facts
from ..state.cache import SiteState


@dataclass(frozen=True)
class FetchRequest:
    """A request for the page to make with its own ``fetch`` (the page transport).

    ``headers`` are those a script may set (the browser adds its User-Agent, client hints,
    cookies, ``Origin`` and the ``Sec-Fetch-*`` headers itself); ``referrer`` must be of the
    site's origin; ``credentials`` is fetch's: "include" for the site, "omit" for a presigned
    upload URL on another host.
    """

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    referrer: str | None = None
    credentials: str = "include"


class FetchedBody(Protocol):
    """An answer to a :class:`FetchRequest` whose headers have come; its body is read as it
    arrives, and dropped (the request aborted in the page) by :meth:`aclose`."""

    @property
    def status(self) -> int:
        """The HTTP status."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """The headers (names lower-case)."""
        ...

    async def read(self, wait: float) -> bytes:
        """The next bytes of the body (``b""`` at its end). ``TimeoutError`` after ``wait``
        seconds of silence; :class:`~lmarena_cli.errors.IncompleteAnswer` when it is cut."""
        ...

    async def aclose(self) -> None:
        """Stop reading; a body not read to its end is aborted in the page. Safe to call twice."""
        ...


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

    async def open_fetch(self, request: FetchRequest, *, wait: float) -> FetchedBody:
        """Make ``request`` from inside the site's page (its cookies, User-Agent and TLS), loading
        the site first when needed: the answer once its headers came, its body still streaming.
        ``TimeoutError`` when no headers came within ``wait`` seconds (the request is then
        aborted); :class:`~lmarena_cli.errors.UpstreamUnavailable` when it failed."""
        ...

    async def close(self) -> None:
        """Release the browser and everything it holds; safe to call twice."""
        ...


__all__ = ["BrowserInterface", "FetchRequest", "FetchedBody"]

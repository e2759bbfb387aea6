"""Which transport a request takes: :class:`SiteTransport`, the connection's HTTP object.

``LM_ARENA_TRANSPORT`` (config key ``transport``) decides:

* ``http``: always aiohttp (:class:`~.http.SiteHttp`);
* ``page``: always the site's page in the browser (:class:`~.page.PageTransport`);
* ``auto``, the default: aiohttp, until the site's Cloudflare refuses it and one refresh in the
  browser does not cure it (the retry policy calls :meth:`SiteTransport.fall_back`); then the
  page for the rest of the process, said once on the ``lmarena`` logger (a WARNING), and
  remembered in the site cache for a day (``SiteState.page_transport_until``), so that later
  runs start on the page (said once, at INFO).

What only aiohttp does whichever is chosen: probing the site with no cookies (``lmarena
doctor``), downloading generated images (links of the site's storage, not behind its
Cloudflare) and the site's clock (which the page's answers set too).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ...browser.interface import BrowserInterface
from ...errors import ErrorKind, LmArenaError
from ...settings import Settings
from ...site.ids import SiteClock
from ...state.cache import PAGE_TRANSPORT_TTL, SiteCache, SiteState
from .base import AnswerBody, Transport
from .http import SiteHttp
from .page import PageTransport

_log = logging.getLogger("lmarena")

#: How a transport is named in messages and in ``lmarena doctor``.
NAMES = {"http": "aiohttp", "page": "the browser page"}


class SiteTransport:
    """Every request of the library, each through the transport chosen for it.

    ``current_state`` gives the connection's :class:`SiteState` (None before a bootstrap);
    ``browser`` gives the browser (made on first use) that the page transport asks.
    """

    def __init__(
        self,
        settings: Settings,
        current_state: Callable[[], SiteState | None],
        browser: Callable[[], BrowserInterface],
    ) -> None:
        self.settings = settings
        self._current_state = current_state
        self._browser = browser
        #: The aiohttp transport (also the site's clock, the probe and downloads).
        self.aiohttp = SiteHttp(settings, current_state)
        #: The page transport.
        self.page = PageTransport(settings, self.aiohttp, browser)
        #: When this process switched to the page (``auto``); None while it has not.
        self.switched_at: float | None = None
        self._told = False

    # -- the choice ------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """``auto``, ``http`` or ``page``: the setting."""
        return self.settings.transport

    def _state(self, state: SiteState | None = None) -> SiteState | None:
        return state or self._current_state() or self._browser().cached_state()

    def active(self, state: SiteState | None = None) -> str:
        """``http`` or ``page``: the transport the next request takes."""
        if self.mode != "auto":
            return self.mode
        if self.switched_at is not None:
            return "page"
        held = self._state(state)
        if held is not None and held.page_transport_remembered():
            if not self._told:
                self._told = True
                _log.info(
                    "sending from the browser page: the site's anti-bot check refused requests "
                    f"from Python until {_when(held.page_transport_until)} "
                    "(LM_ARENA_TRANSPORT=http tries them again)"
                )
            return "page"
        return "http"

    def describe(self) -> tuple[str, str]:
        """The transport in use and why, in words (``lmarena doctor``)."""
        active = self.active()
        if self.mode != "auto":
            return NAMES[active], f"LM_ARENA_TRANSPORT={self.mode}"
        held = self._state()
        until = _when(held.page_transport_until) if held is not None else "?"
        if self.switched_at is not None:
            return NAMES[active], (
                "the site's anti-bot check refused aiohttp in this run even after a refresh; "
                f"remembered until {until}"
            )
        if active == "page":
            return NAMES[active], (
                f"the site's anti-bot check refused aiohttp on an earlier run; remembered until "
                f"{until} (LM_ARENA_TRANSPORT=http tries it again)"
            )
        return NAMES[active], (
            "LM_ARENA_TRANSPORT=auto, the default: the browser page takes over if the site's "
            "anti-bot check refuses aiohttp"
        )

    async def fall_back(self, error: LmArenaError) -> bool:
        """After ``error`` (a Cloudflare refusal that one refresh did not cure): switch to the
        page if the setting allows and aiohttp is in use; whether it switched (then the request
        is tried again through the page)."""
        if self.mode != "auto" or error.kind != ErrorKind.CLOUDFLARE or self.active() == "page":
            return False
        self.switched_at = time.time()
        self._told = True
        state = self._state()
        if state is not None:
            state.remember_page_transport(self.switched_at)
            try:
                SiteCache(self.settings.cache_path).save(state)
            except OSError as exc:
                _log.info(f"could not remember the transport in the site cache: {exc}")
        _log.warning(
            "the site's anti-bot check refuses requests sent from Python even after a refresh; "
            "sending them from the browser page from now on (remembered for "
            f"{PAGE_TRANSPORT_TTL / 3600:.0f} hours; LM_ARENA_TRANSPORT=http or page chooses)"
        )
        return True

    def _pick(self, state: SiteState | None = None) -> Transport:
        return self.page if self.active(state) == "page" else self.aiohttp

    # -- the requests (see Transport) ------------------------------------------------------------

    @property
    def clock(self) -> SiteClock:
        """The site's clock, as last learned (what the ids of a send are minted from)."""
        return self.aiohttp.clock

    async def post_stream(
        self,
        state: SiteState,
        path: str,
        *,
        referer: str,
        body: Any,
        wait: float,
        timeout: float,
        method: str = "POST",
    ) -> AnswerBody:
        """A send (``method``: PUT for a regenerate): the answer stream, else the error."""
        return await self._pick(state).post_stream(
            state, path, referer=referer, body=body, wait=wait, timeout=timeout, method=method
        )

    async def server_action(self, state: SiteState, name: str, args: list[Any]) -> Any:
        """Call the site's server action ``name`` once: its value, or the error."""
        return await self._pick(state).server_action(state, name, args)

    async def get_page(self, state: SiteState, path: str) -> str:
        """The HTML of one of the site's pages ("" when it answers other than 200)."""
        return await self._pick(state).get_page(state, path)

    async def get_api(self, state: SiteState, path: str) -> tuple[int, Any]:
        """GET one of the site's JSON endpoints: the status and the JSON (None if not JSON)."""
        return await self._pick(state).get_api(state, path)

    async def learn_clock(self, state: SiteState) -> float:
        """Read the site's clock and set ours by it: the offset (site minus ours, seconds)."""
        return await self._pick(state).learn_clock(state)

    async def put(self, url: str, data: bytes, *, content_type: str, what: str) -> tuple[int, str]:
        """PUT ``data`` to a presigned upload URL: the status, and for a failure its start."""
        return await self._pick().put(url, data, content_type=content_type, what=what)

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        """GET a generated image's link (aiohttp: the site's storage is not behind its
        anti-bot check), at most ``max_bytes``."""
        return await self.aiohttp.download(url, max_bytes=max_bytes)

    async def probe(self, path: str = "/") -> tuple[int, dict[str, str]]:
        """GET ``path`` with no cookies (aiohttp): the status and the headers."""
        return await self.aiohttp.probe(path)

    async def close(self) -> None:
        """Close aiohttp's session (the page's requests end with the browser)."""
        await self.aiohttp.close()


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


__all__ = ["NAMES", "SiteTransport"]

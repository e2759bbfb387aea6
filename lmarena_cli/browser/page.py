"""The tab that shows the site, in the one Chromium of a :class:`~.session.Browser`.

A :class:`Page` launches Chromium when first needed (and again when it died), and offers what the
site's jobs are built of: load a path, evaluate a script, fetch a same-origin path, read and set
cookies, click. It knows nothing of what the site's pages mean; :mod:`.challenge`,
:mod:`.signup`, :mod:`.discover` and :mod:`.recaptcha` do.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import BrowserUnavailable, PageError, UpstreamUnavailable
from ..settings import Settings
from ..site.ids import offset_from_date
from .cdp import Connection, command, cookie_params, js
from .chromium import start, wait_for_port
from .options import decide_headless, find_browser
from .profile import choose_profile
from .scripts import REQUEST_JS

logger = logging.getLogger("lmarena.browser")


@dataclass(frozen=True)
class PageReply:
    """What a request made from inside the page answered."""

    status: int
    text: str
    #: The ``Content-Type`` header ("" when absent).
    content_type: str = ""
    #: The ``Date`` header ("" when absent).
    date: str = ""
    #: The page's clock (Unix seconds) when the answer's headers came.
    at: float = 0.0

    @property
    def is_html(self) -> bool:
        """An HTML page (a soft-404 "not found" page answers 200 where JSON was expected)."""
        return "html" in self.content_type.lower() or self.text.lstrip()[:1] == "<"

    def clock_offset(self) -> float | None:
        """The site's clock minus ours (seconds) from the ``Date`` header; None without one."""
        if not self.at:
            return None
        offset = offset_from_date(self.date, now=self.at)
        return None if offset is None else round(offset, 3)


class Page:
    """One Chromium (launched lazily, relaunched if it dies) and what its tab has loaded."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: Connection | None = None
        #: The HTML of the site's page as last read ("" before).
        self.html = ""
        #: The site's page is loaded and its checks passed.
        self.loaded = False
        #: ``grecaptcha.enterprise.ready`` has been waited for once on this page load.
        self.recaptcha_ready = False

    @property
    def base_url(self) -> str:
        return self.settings.base_url.rstrip("/")

    @property
    def tab(self) -> Any:
        """The nodriver Tab (None before launch)."""
        return self._conn.tab if self._conn is not None else None

    @property
    def pid(self) -> int | None:
        """The pid of the running Chromium, or None."""
        launched = self._conn.launched if self._conn is not None else None
        return launched.proc.pid if launched and launched.alive() else None

    @property
    def running(self) -> bool:
        return self._conn is not None and self._conn.alive

    @property
    def headless(self) -> bool | None:
        """Whether the running Chromium is headless (None when none runs)."""
        launched = self._conn.launched if self._conn is not None else None
        return launched.headless if launched is not None else None

    def forget(self) -> None:
        """Nothing of the site is loaded any more (before a navigation, after a teardown)."""
        self.html, self.loaded, self.recaptcha_ready = "", False, False

    def loaded_with(self, html: str) -> None:
        """The site's page is loaded and reads ``html``."""
        self.html, self.loaded, self.recaptcha_ready = html, True, False

    # -- launching ---------------------------------------------------------------------------------

    async def ensure_started(self, *, headless: bool | None = None) -> None:
        """Launch Chromium unless a live one answers; a dead one is reaped and replaced."""
        conn = self._conn
        if conn is not None and conn.alive and conn.tab is not None:
            return
        if conn is not None:
            code = conn.launched.proc.poll() if conn.launched is not None else None
            how = "stopped answering" if code is None else f"exited (status {code})"
            logger.info(f"Chromium {how} unexpectedly; starting it again")
            await self.teardown()
        await self._launch(decide_headless(self.settings) if headless is None else headless)

    async def _launch(self, headless: bool) -> None:
        exe = find_browser(self.settings)
        user_data_dir, temp_dir, lock = await choose_profile(self.settings)
        launched = start(
            self.settings, exe, user_data_dir, headless=headless, temp_dir=temp_dir, lock=lock
        )
        conn = self._conn = Connection(launched, load_timeout=min(self.settings.timeout, 60.0))
        try:
            port = await wait_for_port(launched, exe)
            await conn.connect(port, exe, user_data_dir)
            await conn.disguise_headless()
        except BaseException:
            await self.teardown()
            raise

    async def teardown(self) -> None:
        """Shut Chromium down (gracefully, then by force) and release its profile."""
        conn, self._conn = self._conn, None
        self.forget()
        if conn is not None:
            await conn.close()

    # -- the tab -----------------------------------------------------------------------------------

    def _connection(self, what: str) -> Connection:
        if self._conn is None:
            raise BrowserUnavailable(f"Chromium is not running (while {what})")
        return self._conn

    async def navigate(self, path: str) -> None:
        """Load ``path`` of the site in the tab."""
        url = urllib.parse.urljoin(self.base_url + "/", path.lstrip("/"))
        await self._connection(f"loading {url}").navigate(url)

    async def read_html(self) -> str:
        return str(await self.eval("document.documentElement.outerHTML", what="reading the page"))

    async def eval(
        self, expression: str, *, what: str, timeout: float = 30.0, await_promise: bool = False
    ) -> Any:
        """``Runtime.evaluate`` in the page's main world; the value, or PageError."""
        return await self._connection(what).evaluate(
            expression, what=what, timeout=timeout, await_promise=await_promise
        )

    async def send(
        self, request: Generator[dict[str, Any], Any, Any], *, what: str, timeout: float = 30.0
    ) -> Any:
        """A raw CDP command (see :func:`.cdp.command`)."""
        return await self._connection(what).send(request, what=what, timeout=timeout)

    async def fetch(self, path: str, *, accept: str) -> tuple[int, str]:
        """GET a same-origin path from inside the page, as :meth:`request` does but letting the
        browser's cache answer (the site's script chunks): the status and the text."""
        reply = await self.request(path, accept=accept, cache="default")
        return reply.status, reply.text

    async def request(
        self,
        path: str,
        *,
        method: str = "GET",
        accept: str,
        body: str | None = None,
        cache: str = "no-store",
    ) -> PageReply:
        """A same-origin request from inside the page (its cookies, UA and TLS); uncached unless
        ``cache`` (a fetch cache mode) says otherwise.

        A GET carries no ``Origin`` header (Chromium sends none for same-origin GETs); a
        ``body`` is sent as JSON.
        """
        url = urllib.parse.urljoin(self.base_url + "/", path)
        try:
            reply = await self.eval(
                REQUEST_JS % (js(method), js(cache), js(accept), js(body), js(url)),
                what=f"requesting {method} {path}",
                timeout=self.settings.timeout,
                await_promise=True,
            )
        except PageError as exc:
            raise UpstreamUnavailable(f"{method} {path} in the browser failed: {exc}") from None
        if not isinstance(reply, dict):
            return PageReply(0, "")
        at = reply.get("at")
        return PageReply(
            status=int(reply.get("status") or 0),
            text=str(reply.get("text") or ""),
            content_type=str(reply.get("type") or ""),
            date=str(reply.get("date") or ""),
            at=float(at) / 1000 if isinstance(at, int | float) else 0.0,
        )

    async def click(self, x: float, y: float, *, what: str) -> None:
        """A trusted left click at (x, y) of the viewport."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            extra = {"button": "left", "clickCount": 1} if kind != "mouseMoved" else {}
            await self.send(
                command("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra), what=what
            )

    # -- cookies -----------------------------------------------------------------------------------

    async def get_cookies(self) -> list[dict[str, Any]]:
        """The browser's cookies for the site (CDP ``Cookie`` records)."""
        reply = await self.send(
            command("Network.getCookies", urls=[self.base_url + "/"]), what="reading cookies"
        )
        cookies = reply.get("cookies") or []
        return [c for c in cookies if isinstance(c, dict)]

    async def set_cookies(self, params: list[dict[str, Any]]) -> None:
        await self.send(command("Network.setCookies", cookies=params), what="setting cookies")

    async def inject_cookies(
        self, records: Iterable[dict[str, Any]], cookies: Mapping[str, str]
    ) -> None:
        """Put cached cookies back, except those the browser's own profile already holds."""
        if not cookies:
            return
        held = await self.get_cookies()
        have = {(c.get("name"), c.get("domain"), c.get("path")) for c in held}
        params = [
            param
            for param in cookie_params(records, cookies, self.base_url)
            if (param["name"], param.get("domain"), param.get("path")) not in have
        ]
        if params:
            await self.set_cookies(params)


__all__ = ["Page", "PageReply"]

"""The page transport: the site's requests made by the site's own page, in the browser.

Cloudflare binds its clearance to the TLS fingerprint too, and Python's is not Chrome's; when the
site refuses aiohttp but serves the browser, the requests are made by the page itself (``fetch``
with its credentials, in the site's origin: protocol §5.1, §14.9), through
:meth:`~lmarena_cli.browser.interface.BrowserInterface.open_fetch`. A send's body comes back as
it arrives (:class:`~lmarena_cli.browser.interface.FetchedBody`), read by the same
:class:`~..turn.reading.AnswerReading` as aiohttp's; refusals go through the same
:func:`~.base.stream_refusal` and :func:`~.base.action_value`, so the retry policy and
the error mapping are the same whichever way a request went. The token of a send is minted in the
same page. What the page answers also sets the site's clock (its ``Date``).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import orjson

from ...browser.interface import BrowserInterface, FetchedBody, FetchRequest
from ...errors import Advice, ErrorKind, ProtocolError, TimedOut, UpstreamUnavailable
from ...settings import Settings
from ...site import facts
from ...state.cache import SiteState
from .base import REFUSAL_PEEK, AnswerBody, action_value, stream_refusal
from .http import NO_FIRST_ANSWER_HINT, SiteHttp


class PageTransport:
    """The site's requests made from the browser's page (a :class:`~.base.Transport`).

    ``browser`` gives the browser (started when first needed); ``http`` keeps the site's clock,
    which the page's answers set as aiohttp's do.
    """

    def __init__(
        self, settings: Settings, http: SiteHttp, browser: Callable[[], BrowserInterface]
    ) -> None:
        self.settings = settings
        self._http = http
        self._browser = browser

    def _url(self, path: str) -> str:
        return urllib.parse.urljoin(self.settings.base_url + "/", path.lstrip("/"))

    async def _open(self, request: FetchRequest, what: str) -> FetchedBody:
        """The answer once its headers came; a missing answer is :class:`TimedOut`."""
        bound = self.settings.timeout
        try:
            return await self._browser().open_fetch(request, wait=bound)
        except TimeoutError:
            raise TimedOut(
                f"{what}: no answer within {bound:.0f} s", kind=ErrorKind.TIMEOUT
            ) from None

    async def _text(self, fetched: FetchedBody, limit: int | None = None) -> str:
        """The body as text (its first ``limit`` bytes), within the short requests' total cap."""
        deadline = time.monotonic() + self.settings.timeout
        data = bytearray()
        try:
            while limit is None or len(data) < limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                chunk = await fetched.read(left)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            raise TimedOut(
                f"the site's answer did not end within {self.settings.timeout:.0f} s",
                kind=ErrorKind.TIMEOUT,
            ) from None
        finally:
            await fetched.aclose()
        return data[:limit].decode(errors="replace") if limit else data.decode(errors="replace")

    def _absorb(self, state: SiteState, fetched: FetchedBody, *, exact: bool = False) -> None:
        self._http.set_clock(state, fetched.headers.get("date"), exact=exact)

    # -- the requests ----------------------------------------------------------------------------

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
        """A send made by the page: the answer stream of a 200 as it arrives, else the error."""
        url = self._url(path)
        request = FetchRequest(
            method,
            url,
            headers={"content-type": facts.REQUEST_CONTENT_TYPE, "accept": facts.API_ACCEPT},
            body=orjson.dumps(body),
            referrer=self._url(referer),
        )
        try:
            fetched = await self._browser().open_fetch(request, wait=wait)
        except TimeoutError:
            raise TimedOut(
                f"the site did not start answering within {timeout:.0f} s "
                "(no first answer in time)" + NO_FIRST_ANSWER_HINT,
                kind=ErrorKind.TIMEOUT,
                advice=Advice.CHECK_ACCOUNT,
            ) from None
        self._absorb(state, fetched)
        content_type = fetched.headers.get("content-type", "")
        page = fetched.status == 200 and "html" in content_type.lower()
        if fetched.status == 200 and not page:
            return fetched
        text = await self._text(fetched, REFUSAL_PEEK)
        raise stream_refusal(
            url,
            fetched.status,
            text,
            fetched.headers,
            content_type=content_type if page else "",
            state=state,
            body=body,
        )

    async def server_action(self, state: SiteState, name: str, args: list[Any]) -> Any:
        """Call the site's Next.js server action ``name`` from the page: its value, or the error."""
        action_id = state.action_ids.get(name)
        if not action_id:
            raise ProtocolError(
                f"the site's pages no longer name the server action {name!r}, which image "
                "uploads need; the site changed and lmarena needs an update"
            )
        url = self._url(facts.ACTION_PAGE)
        request = FetchRequest(
            "POST",
            url,
            headers={
                "next-action": action_id,
                "accept": facts.ACTION_ACCEPT,
                "content-type": facts.REQUEST_CONTENT_TYPE,
            },
            body=orjson.dumps(args),
            referrer=url,
        )
        fetched = await self._open(request, f"the site's {name} action")
        self._absorb(state, fetched)
        text = await self._text(fetched)
        content_type = fetched.headers.get("content-type", "")
        return action_value(url, fetched.status, text, fetched.headers, content_type=content_type)

    async def _get(self, path: str, accept: str, what: str) -> tuple[FetchedBody, str]:
        url = self._url(path)
        request = FetchRequest("GET", url, headers={"accept": accept}, referrer=url)
        fetched = await self._open(request, what)
        return fetched, await self._text(fetched)

    async def get_page(self, state: SiteState, path: str) -> str:
        """The HTML of one of the site's pages ("" when it answers other than 200)."""
        fetched, text = await self._get(path, "text/html", f"loading {path}")
        self._absorb(state, fetched)
        return text if fetched.status == 200 else ""

    async def get_api(self, state: SiteState, path: str) -> tuple[int, Any]:
        """GET one of the site's JSON endpoints from the page (a same-origin GET: no
        ``Origin``): the status and the JSON (None when the answer is not JSON)."""
        fetched, text = await self._get(path, "application/json", f"GET {path}")
        self._absorb(state, fetched)
        try:
            return fetched.status, orjson.loads(text)
        except orjson.JSONDecodeError:
            return fetched.status, None

    async def learn_clock(self, state: SiteState) -> float:
        """Ask the site for the time from the page (one short GET) and set the clock by it."""
        fetched, _ = await self._get(facts.ME, "application/json", "asking the site for its clock")
        self._absorb(state, fetched, exact=True)
        return self._http.clock.offset

    async def put(self, url: str, data: bytes, *, content_type: str, what: str) -> tuple[int, str]:
        """PUT ``data`` to a presigned URL from the page, as the site's own upload does (no
        cookies: the URL carries its signature): the status, and for a failure the first 200
        characters of the answer."""
        request = FetchRequest(
            "PUT", url, headers={"content-type": content_type}, body=data, credentials="omit"
        )
        try:
            fetched = await self._open(request, what)
        except UpstreamUnavailable as error:
            raise UpstreamUnavailable(f"{what} failed: {error.message}", kind=error.kind) from None
        text = await self._text(fetched, 200)
        return fetched.status, text if fetched.status >= 300 else ""


__all__ = ["PageTransport"]

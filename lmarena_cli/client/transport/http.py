"""The HTTP seam: :class:`SiteHttp`, the one object through which the library talks HTTP.

It owns the aiohttp session (made on first use), the site's request headers, the cookies the site
rotates on its answers, the proxy (:func:`.proxy.proxy_for`), the timeouts and the mapping of
network failures to the exceptions of :mod:`lmarena_cli.errors`. Callers get either what they
asked for or one of those exceptions, never an aiohttp one.

The site's clock: every answer's ``Date`` header tells how far the site's clock is from ours;
:attr:`SiteHttp.clock` is ours corrected by that offset (kept in ``SiteState.clock_offset``), and
the ids of a send are minted from it (the site refuses ids far from its clock, protocol §14.3).

Answers of the wrong kind: a 200 HTML page where JSON, the answer stream or a server action's
reply was expected (the site's soft 404) is a :class:`ProtocolError` naming the URL.

Timeouts: connecting is bounded by ``Settings.timeout``; the short requests (pages, server actions,
uploads, downloads) also have that total cap; the answer stream has none: only the wait for its
start (:meth:`SiteHttp.post_stream`) and the silences while reading it (:func:`read_chunk`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import orjson

from ...errors import (
    Advice,
    ErrorKind,
    IncompleteAnswer,
    ProtocolError,
    TimedOut,
    UpstreamUnavailable,
)
from ...settings import Settings
from ...site import facts
from ...site.classify import looks_like_page
from ...site.ids import CLOCK_SLACK, SiteClock, offset_from_date
from ...state.cache import SiteState
from .base import REFUSAL_PEEK, AnswerBody, action_value, stream_refusal
from .proxy import proxy_for

#: Largest read of the answer stream at once.
_CHUNK = 65536
#: What a missing first answer may mean, added to the timeout's message: the site holds the
#: sends of an account that has not accepted its Terms of Use, without failing them (§14.2).
#: The error's advice (``Advice.CHECK_ACCOUNT``) says how to find out.
NO_FIRST_ANSWER_HINT = (
    "; the site holds the sends of an account that has not accepted its Terms of Use (or is "
    "otherwise held) without saying so"
)


def site_headers(
    state: SiteState, base_url: str, referer_path: str, **extra: str
) -> dict[str, str]:
    """The headers of an API call as the site's own page sends them: the browser's User-Agent
    and cookies, the page as Origin and Referer; ``extra`` adds or overrides."""
    headers = {
        "User-Agent": state.user_agent,
        "Accept": facts.API_ACCEPT,
        "Accept-Language": facts.ACCEPT_LANGUAGE,
        "Origin": base_url,
        "Referer": base_url + referer_path,
        **facts.FETCH_METADATA,
        "Cookie": "; ".join(f"{name}={value}" for name, value in state.cookies.items()),
    }
    headers.update(extra)
    return headers


def describe(error: BaseException) -> str:
    """``"ClientOSError: [Errno 111] ..."``: an exception named for a message."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def read_chunk(response: aiohttp.ClientResponse, wait: float) -> bytes:
    """The next bytes of a streamed answer (``b""`` at its end).

    Raises ``TimeoutError`` after ``wait`` seconds of silence (the caller knows what it waited
    for) and :class:`IncompleteAnswer` (``cut``) when the connection breaks.
    """
    try:
        async with asyncio.timeout(wait):
            return await response.content.readany()
    except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too: silence, not a cut
        raise
    except (aiohttp.ClientError, OSError) as error:
        raise IncompleteAnswer(
            f"the answer was cut off: the connection broke ({describe(error)})", kind=ErrorKind.CUT
        ) from None


class HttpBody:
    """The answer stream of a send made with aiohttp (an :class:`~.base.AnswerBody`)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def read(self, wait: float) -> bytes:
        return await read_chunk(self.response, wait)

    async def aclose(self) -> None:
        self.response.close()


class SiteHttp:
    """The aiohttp transport (a :class:`~.base.Transport`): every request of the library
    made from Python, to the site and to the links the site hands out.

    ``current_state`` gives the :class:`SiteState` that cookies from the site's answers go into
    (the client's latest one; None before the first bootstrap).
    """

    def __init__(self, settings: Settings, current_state: Callable[[], SiteState | None]) -> None:
        self.settings = settings
        self._current_state = current_state
        self._session: aiohttp.ClientSession | None = None
        self._clock = SiteClock()

    # -- the site's clock ------------------------------------------------------------------------

    @property
    def clock(self) -> SiteClock:
        """Our clock corrected by the current ``SiteState.clock_offset`` (the site's clock minus
        ours, from its ``Date`` headers): what the ids of a send are minted from."""
        state = self._current_state()
        if state is not None:
            self._clock.offset = state.clock_offset
        return self._clock

    def set_clock(self, state: SiteState | None, date: str | None, *, exact: bool) -> None:
        """Set the offset by an answer's ``Date`` header, in the clock and the states (the one
        the request used, and the current one); unless ``exact``, only a change over the
        header's precision (:data:`CLOCK_SLACK`) counts, so that ids never jitter back."""
        offset = offset_from_date(date)
        if offset is None or (not exact and abs(offset - self.clock.offset) <= CLOCK_SLACK):
            return
        self._clock.offset = offset
        for held in (state, self._current_state()):
            if held is not None:
                held.clock_offset = offset

    async def learn_clock(self, state: SiteState) -> float:
        """Ask the site for the time (one short GET that reads its ``Date`` header) and set the
        clock by it: the offset in use afterwards (the site's clock minus ours, in seconds)."""
        url = self.settings.base_url + facts.ME
        with self._network("asking the site for its clock"):
            async with self._client_session().get(
                url,
                headers=self._get_headers(state),
                proxy=self.proxy(url),
                timeout=self._bounded(),
            ) as response:
                self._absorb_cookies(response)
                self.set_clock(state, response.headers.get(facts.DATE), exact=True)
        return self.clock.offset

    # -- the pieces every request shares ---------------------------------------------------------

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self.settings.timeout, sock_connect=self.settings.timeout
            )
            # Cookies are the browser's, sent by hand: a cookie jar would drop them for hosts
            # such as 127.0.0.1 and would not follow the browser's refreshes.
            self._session = aiohttp.ClientSession(
                timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(), trust_env=True
            )
        return self._session

    def headers(self, state: SiteState, referer_path: str, **extra: str) -> dict[str, str]:
        """:func:`site_headers` for this client's site."""
        return site_headers(state, self.settings.base_url, referer_path, **extra)

    def proxy(self, url: str) -> str | None:
        """The proxy for ``url`` (None: direct), as :func:`.proxy.proxy_for` decides."""
        return proxy_for(url, self.settings.proxy)

    def _bounded(self) -> aiohttp.ClientTimeout:
        """For the short requests: a total cap. Answers are never capped in total, only in
        silence (see :func:`read_chunk`)."""
        return aiohttp.ClientTimeout(total=self.settings.timeout)

    def _get_headers(self, state: SiteState) -> dict[str, str]:
        # A same-origin GET carries no Origin (and the catalog refuses one that does, §14.4).
        headers = self.headers(state, facts.CHAT_PAGE, Accept="application/json")
        del headers["Origin"]
        return headers

    def _absorb(self, state: SiteState, response: aiohttp.ClientResponse) -> None:
        """What every answer of the site teaches: its rotated cookies and its clock."""
        self._absorb_cookies(response)
        self.set_clock(state, response.headers.get(facts.DATE), exact=False)

    def _absorb_cookies(self, response: aiohttp.ClientResponse) -> None:
        """Keep cookies the site rotates on API answers (``__cf_bm``, a refreshed auth cookie)."""
        state = self._current_state()
        if state is not None:
            for name, morsel in response.cookies.items():
                if morsel.value:
                    state.cookies[name] = morsel.value

    @contextlib.contextmanager
    def _network(self, what: str) -> Iterator[None]:
        """Network failures of a short request, as the error tree's own exceptions."""
        try:
            yield
        except TimeoutError:
            raise TimedOut(
                f"{what}: no answer within {self.settings.timeout:.0f} s", kind=ErrorKind.TIMEOUT
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            raise UpstreamUnavailable(
                f"{what} failed: {type(error).__name__}: {error}", kind=ErrorKind.NETWORK
            ) from None

    def _unreachable(self, error: BaseException) -> UpstreamUnavailable:
        return UpstreamUnavailable(
            f"cannot reach {self.settings.base_url}: {describe(error)}", kind=ErrorKind.NETWORK
        )

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
        """POST a send (``method``: PUT for a regenerate): the open 200 response, whose body is
        the answer stream, else the error.

        ``wait`` is what is left of the first-answer ``timeout`` for the site to start answering:
        a site that takes the request and sends no headers must not hold the caller forever.
        Everything but a 200 raises what :func:`~.base.stream_refusal` makes of it.
        """
        url = self.settings.base_url + path
        headers = self.headers(state, referer, **{"Content-Type": facts.REQUEST_CONTENT_TYPE})
        try:
            async with asyncio.timeout(wait):
                response = await self._client_session().request(
                    method, url, data=orjson.dumps(body), headers=headers, proxy=self.proxy(url)
                )
        except TimeoutError:
            raise TimedOut(
                f"the site did not start answering within {timeout:.0f} s "
                "(no first answer in time)" + NO_FIRST_ANSWER_HINT,
                kind=ErrorKind.TIMEOUT,
                advice=Advice.CHECK_ACCOUNT,
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            raise self._unreachable(error) from None
        self._absorb(state, response)
        page = response.status == 200 and looks_like_page(response.content_type, "")
        if response.status == 200 and not page:
            return HttpBody(response)
        try:
            async with asyncio.timeout(self.settings.timeout):
                text = (await response.content.read(REFUSAL_PEEK)).decode(errors="replace")
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise self._unreachable(error) from None
        finally:
            response.release()
        raise stream_refusal(
            url,
            response.status,
            text,
            response.headers,
            content_type=response.content_type if page else "",
            state=state,
            body=body,
        )

    async def server_action(self, state: SiteState, name: str, args: list[Any]) -> Any:
        """Call the site's Next.js server action ``name`` once: its value, or the error."""
        action_id = state.action_ids.get(name)
        if not action_id:
            raise ProtocolError(
                f"the site's pages no longer name the server action {name!r}, which image "
                "uploads need; the site changed and lmarena needs an update"
            )
        headers = self.headers(
            state,
            facts.ACTION_PAGE,
            **{
                "Next-Action": action_id,
                "Accept": facts.ACTION_ACCEPT,
                "Content-Type": facts.REQUEST_CONTENT_TYPE,
            },
        )
        url = self.settings.base_url + facts.ACTION_PAGE
        with self._network(f"the site's {name} action"):
            async with self._client_session().post(
                url,
                data=orjson.dumps(args),
                headers=headers,
                proxy=self.proxy(url),
                timeout=self._bounded(),
            ) as response:
                self._absorb(state, response)
                body = await response.text(errors="replace")
                status, response_headers = response.status, response.headers
                content_type = response.content_type
        return action_value(url, status, body, response_headers, content_type=content_type)

    async def get_page(self, state: SiteState, path: str) -> str:
        """The HTML of one of the site's pages ("" when it answers other than 200)."""
        url = self.settings.base_url + path
        headers = self.headers(state, path, Accept="text/html")
        with self._network(f"loading {path}"):
            async with self._client_session().get(
                url, headers=headers, proxy=self.proxy(url), timeout=self._bounded()
            ) as response:
                self._absorb(state, response)
                return await response.text(errors="replace") if response.status == 200 else ""

    async def put(self, url: str, data: bytes, *, content_type: str, what: str) -> tuple[int, str]:
        """PUT ``data`` (an upload to a presigned URL): the status, and for a failure (300 and
        up) the first 200 characters of the answer. ``what`` names the upload in errors."""
        with self._network(what):
            async with self._client_session().put(
                url,
                data=data,
                headers={"Content-Type": content_type},
                proxy=self.proxy(url),
                timeout=self._bounded(),
            ) as response:
                status = response.status
                text = (await response.text(errors="replace"))[:200] if status >= 300 else ""
        return status, text

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        """GET ``url`` (a generated image the site answered with), at most ``max_bytes``."""
        with self._network(f"downloading {url}"):
            async with self._client_session().get(
                url, proxy=self.proxy(url), timeout=self._bounded()
            ) as response:
                if response.status != 200:
                    raise UpstreamUnavailable(
                        f"downloading {url} failed with HTTP {response.status}"
                    )
                data = bytearray()
                async for chunk in response.content.iter_chunked(_CHUNK):
                    data += chunk
                    if len(data) > max_bytes:
                        raise UpstreamUnavailable(f"{url} is larger than {max_bytes} bytes")
                return bytes(data)

    async def probe(self, path: str = "/") -> tuple[int, dict[str, str]]:
        """GET ``path`` of the site with no cookies, not following redirects: the status and the
        headers (names lower-case; the body is not read). Whether the site answers at all, and
        its clock (``Date``), for ``lmarena doctor``."""
        url = self.settings.base_url + path
        with self._network(f"reaching {self.settings.base_url}"):
            async with self._client_session().get(
                url, proxy=self.proxy(url), timeout=self._bounded(), allow_redirects=False
            ) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}

    async def get_api(self, state: SiteState, path: str) -> tuple[int, Any]:
        """GET one of the site's JSON endpoints with the session's cookies: the status and the
        decoded JSON (None when the answer is not JSON, e.g. a soft-404 page)."""
        url = self.settings.base_url + path
        with self._network(f"GET {path}"):
            async with self._client_session().get(
                url,
                headers=self._get_headers(state),
                proxy=self.proxy(url),
                timeout=self._bounded(),
            ) as response:
                self._absorb(state, response)
                body = await response.read()
                status = response.status
        try:
            return status, orjson.loads(body)
        except orjson.JSONDecodeError:
            return status, None

    async def close(self) -> None:
        """Close the session; the next request opens a new one."""
        if self._session is not None:
            await self._session.close()
            self._session = None


__all__ = ["NO_FIRST_ANSWER_HINT", "HttpBody", "SiteHttp", "describe", "read_chunk", "site_headers"]

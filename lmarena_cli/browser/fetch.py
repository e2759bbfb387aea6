"""Requests made by the page itself, their bodies streamed back to Python as they arrive.

The page transport's browser half (protocol §5.1, §14.9): :func:`open_fetch` starts a ``fetch``
in the site's page (its cookies, User-Agent, client hints and TLS: what Cloudflare sees is the
browser) and returns once the headers came; :class:`PageFetch` then reads the body in batches.

How the body travels: a pump in the page reads the body's stream as it arrives and keeps what
Python has not taken yet; each :meth:`PageFetch.read` is one ``Runtime.evaluate`` that waits in
the page for the next text (a long poll) and takes all that has come since the last one. While
Python is busy, chunks pile up in the page and leave together in one message (fewer round trips
the faster the stream), and the pump stops reading ahead past a few MiB, so neither side ever
holds a whole long answer. A batch travels as text when it is ASCII and as base64 otherwise
(DevTools escapes every other character as six), so the bytes handed on are exactly the body's,
as aiohttp would have read them.

Every wait is bounded and watches Chromium (:meth:`.cdp.Connection.guard`): if it dies
mid-answer, :meth:`PageFetch.read` raises :class:`~lmarena_cli.errors.BrowserUnavailable` saying
so, and the next request starts a new one.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import urllib.parse
from typing import Any

from ..errors import (
    BrowserUnavailable,
    ErrorKind,
    IncompleteAnswer,
    LmArenaError,
    PageError,
    TimedOut,
    UpstreamUnavailable,
)
from .cdp import js
from .interface import FetchRequest
from .page import Page
from .scripts import FETCH_ABORT_JS, FETCH_NEXT_JS, FETCH_START_JS

logger = logging.getLogger("lmarena.browser")

#: Extra seconds a DevTools call may take beyond the wait the page itself keeps.
_SLACK = 5.0
#: How long aborting a request in the page may take (a closing stream must not hang).
_ABORT_WAIT = 2.0


def _init(request: FetchRequest) -> dict[str, Any]:
    """The fetch ``init`` object (the body goes separately, as base64)."""
    init: dict[str, Any] = {
        "method": request.method,
        "headers": request.headers,
        "credentials": request.credentials,
        "cache": "no-store",
        "redirect": "follow",
    }
    if request.referrer:
        init["referrer"] = request.referrer
    return init


def _batch(reply: dict[str, Any]) -> bytes:
    """The bytes of one batch: ASCII text as it is, anything else as base64."""
    if "b64" in reply:
        return base64.b64decode(str(reply["b64"]))
    return str(reply.get("text") or "").encode()


def _died(error: BrowserUnavailable, what: str) -> BrowserUnavailable:
    return BrowserUnavailable(
        f"the browser died while {what}: {error.message}; the next request starts it again",
        kind=error.kind,
    )


class PageFetch:
    """One request of the page whose headers have come; read its body with :meth:`read`."""

    def __init__(
        self, page: Page, fetch_id: int, status: int, headers: dict[str, str], at: float
    ) -> None:
        self._page = page
        self._id = fetch_id
        self.status = status
        #: The answer's headers, names lower-case (all of them for the site's own origin).
        self.headers = headers
        #: The page's clock (Unix seconds) when the headers came.
        self.at = at
        self._ended = False
        self._error: LmArenaError | None = None

    async def read(self, wait: float) -> bytes:
        """The next bytes of the body (``b""`` at its end): all that came since the last read.

        ``TimeoutError`` after ``wait`` seconds of silence; :class:`IncompleteAnswer` (``cut``)
        when the connection broke or the page was reloaded; :class:`BrowserUnavailable` when
        Chromium died.
        """
        if self._error is not None:
            raise self._error
        if self._ended:
            return b""
        try:
            reply = await self._page.eval(
                FETCH_NEXT_JS % (self._id, max(1, int(wait * 1000))),
                what="reading the answer in the browser",
                timeout=wait + _SLACK,
                await_promise=True,
            )
        except BrowserUnavailable as error:
            self._ended = True
            raise _died(error, "the answer was streaming") from None
        except TimedOut:
            raise TimeoutError from None
        except PageError as error:
            self._ended = True
            raise self._cut(f"the page failed ({error})") from None
        if not isinstance(reply, dict) or reply.get("gone"):
            self._ended = True
            raise self._cut("the page was reloaded or closed")
        if reply.get("timeout"):
            raise TimeoutError
        data = _batch(reply)
        if reply.get("error"):
            self._ended = True
            self._error = self._cut(f"the connection broke in the browser ({reply['error']})")
            if not data:
                raise self._error
        elif reply.get("done"):
            self._ended = True
        return data

    def _cut(self, why: str) -> IncompleteAnswer:
        return IncompleteAnswer(f"the answer was cut off: {why}", kind=ErrorKind.CUT)

    async def aclose(self) -> None:
        """Abort the request in the page unless its body was read to the end. Never raises: the
        page may be gone already (then so is the request)."""
        if self._ended:
            return
        self._ended = True
        with contextlib.suppress(LmArenaError, PageError, TimeoutError):
            await self._page.eval(
                FETCH_ABORT_JS % self._id, what="aborting a request", timeout=_ABORT_WAIT
            )


async def open_fetch(page: Page, request: FetchRequest, *, wait: float, fetch_id: int) -> PageFetch:
    """Start ``request`` in ``page`` (loaded with the site) and wait up to ``wait`` seconds for
    its headers: the :class:`PageFetch` whose body is then read, else ``TimeoutError`` (the
    request is aborted) or :class:`UpstreamUnavailable` (the fetch failed: network, CORS)."""
    body = base64.b64encode(request.body).decode() if request.body is not None else None
    url = urllib.parse.urljoin(page.base_url + "/", request.url)
    what = f"requesting {request.method} {urllib.parse.urlsplit(url).path} in the browser"
    try:
        reply = await page.eval(
            FETCH_START_JS % (fetch_id, js(url), js(_init(request)), js(body), int(wait * 1000)),
            what=what,
            timeout=wait + _SLACK,
            await_promise=True,
        )
    except BrowserUnavailable as error:
        raise _died(error, what) from None
    except TimedOut:
        with contextlib.suppress(LmArenaError, PageError):
            await page.eval(FETCH_ABORT_JS % fetch_id, what="aborting a request", timeout=2)
        raise TimeoutError from None
    except PageError as error:
        raise UpstreamUnavailable(f"{what} failed: {error}", kind=ErrorKind.NETWORK) from None
    if not isinstance(reply, dict):
        raise UpstreamUnavailable(f"{what} failed: the page answered {reply!r}")
    if reply.get("timeout"):
        raise TimeoutError
    if reply.get("error") or not isinstance(reply.get("status"), int):
        raise UpstreamUnavailable(
            f"{what} failed: {reply.get('error') or 'no status'}", kind=ErrorKind.NETWORK
        )
    headers = reply.get("headers")
    at = reply.get("at")
    return PageFetch(
        page,
        fetch_id,
        int(reply["status"]),
        {str(k).lower(): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {},
        float(at) / 1000 if isinstance(at, int | float) else 0.0,
    )


__all__ = ["PageFetch", "open_fetch"]

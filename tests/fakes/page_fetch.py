"""The stand-in's page transport: what the page's own ``fetch`` sends, made over aiohttp.

:meth:`HttpBrowser.open_fetch <tests.fakes.HttpBrowser.open_fetch>` does what Chromium does for a
script's ``fetch`` in the site's page: the browser's User-Agent, its cookies (with
``credentials: "include"``), the client hints (``Sec-CH-UA*``) and fetch metadata
(``Sec-Fetch-*``) a real Chromium adds, ``Origin`` on a request other than GET, the page as
``Referer``; the body streams back as it arrives. The fake arena's ``browser_only`` switch
tells this path from aiohttp's by those headers, as Cloudflare tells a browser by its TLS.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable

import aiohttp

from lmarena_cli.browser.interface import FetchedBody, FetchRequest
from lmarena_cli.errors import ErrorKind, IncompleteAnswer, UpstreamUnavailable

#: The client hints the stand-in's "Chromium" sends (a desktop Chrome 131 on Linux).
CLIENT_HINTS = {
    "sec-ch-ua": '"Chromium";v="131", "Not_A Brand";v="24", "Google Chrome";v="131"',
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"Linux"',
}


class StandInFetch:
    """A page request's answer, its body read as it arrives (a ``FetchedBody``)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.headers.items()}
        self._done = False

    async def read(self, wait: float) -> bytes:
        if self._done:
            return b""
        try:
            async with asyncio.timeout(wait):
                data = await self._response.content.readany()
        except TimeoutError:
            raise
        except (aiohttp.ClientError, OSError) as error:
            self._done = True
            raise IncompleteAnswer(
                f"the answer was cut off: the connection broke in the browser ({error})",
                kind=ErrorKind.CUT,
            ) from None
        if not data:
            self._done = True
        return data

    async def aclose(self) -> None:
        self._done = True
        self._response.close()


async def page_fetch(
    http: aiohttp.ClientSession,
    base_url: str,
    request: FetchRequest,
    *,
    user_agent: str,
    cookies: dict[str, str],
    wait: float,
    absorb: Callable[[list[str]], None],
) -> FetchedBody:
    """``request`` as the page's ``fetch`` would make it; the answer once its headers came."""
    url = urllib.parse.urljoin(base_url + "/", request.url)
    same_origin = url.startswith(base_url + "/")
    headers = {
        "User-Agent": user_agent,
        "Accept": "*/*",
        **CLIENT_HINTS,
        "Sec-Fetch-Dest": "empty",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Site": "same-origin" if same_origin else "cross-site",
        **request.headers,
    }
    if request.referrer:
        headers["Referer"] = request.referrer
    if request.method != "GET" or not same_origin:
        headers["Origin"] = base_url
    if request.credentials == "include" and same_origin and cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    try:
        async with asyncio.timeout(wait):
            response = await http.request(
                request.method, url, data=request.body, headers=headers, allow_redirects=True
            )
    except (aiohttp.ClientError, OSError) as error:
        raise UpstreamUnavailable(
            f"{request.method} {url} in the browser failed: {error}", kind=ErrorKind.NETWORK
        ) from None
    absorb(response.headers.getall("Set-Cookie", []))
    return StandInFetch(response)


__all__ = ["CLIENT_HINTS", "StandInFetch", "page_fetch"]

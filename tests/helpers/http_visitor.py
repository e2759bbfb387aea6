"""A visitor of the fake arena over plain HTTP: what the site's JavaScript does in a browser."""

from __future__ import annotations

import aiohttp

from tests.fake_arena import FakeArena

#: The User-Agent the visitor sends (a headful Chrome's: the fake's gate refuses headless ones).
UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


class HttpVisitor:
    """One visitor's session: its User-Agent and cookie jar (loopback cookies kept)."""

    def __init__(self, arena: FakeArena, user_agent: str = UA) -> None:
        self.arena = arena
        self.ua = user_agent
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"User-Agent": user_agent}
        )

    async def close(self) -> None:
        await self.http.close()

    def cookies(self) -> dict[str, str]:
        return {c.key: c.value for c in self.http.cookie_jar}


__all__ = ["UA", "HttpVisitor"]

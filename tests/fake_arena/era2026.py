"""What the site does since Sep-Oct 2026 (protocol doc §14), each behind a switch of the fake.

* The clock (§14.3): every response carries a ``Date`` header from the fake's clock
  (:meth:`~.core.ArenaCore.now`, ``clock_skew`` ahead of the real one), and ids whose UUIDv7 time is
  further than ``id_tolerance`` from it are answered 400 "seems spoofed".
* The Terms-of-Use gate (§14.2, ``tou_required``): until the user agrees, a send is *held*: 200 and
  the stream headers, then silence until the client goes away. Its record says ``held``.
* Soft 404s (§14.6, ``soft_404``): an unknown path answers 200 with an HTML "not found" page.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import auth, validation
from .accounts import AccountsMixin
from .facts import DATE, SOFT_404_TITLE, STREAM_HEADERS
from .state import Received

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Where the request log's middleware leaves a request's :class:`~.state.Received`.
RECORD_KEY = web.RequestKey("fake_arena.received", Received)


class Era2026Mixin(AccountsMixin):
    """The §14 behaviours of :class:`~tests.fake_arena.app.FakeArena` shared by its handlers."""

    def _check_ids(self, named: dict[str, str]) -> None:
        """All ids UUIDv7 within ``id_tolerance`` of the fake's clock, distinct, never used."""
        validation.check_ids(named, self.seen_ids, now=self.now(), tolerance=self.id_tolerance)

    def held_sends(self) -> list[Received]:
        """Sends that were held for want of the Terms-of-Use consent, oldest first."""
        return [r for r in self.received if r.held]

    async def _hold_unless_consented(
        self, request: web.Request, user: auth.User
    ) -> web.StreamResponse | None:
        """None when ``user`` may send; else hold the send (see the module docstring)."""
        if not self.tou_required or self.consent_time(user) is not None:
            return None
        record = request.get(RECORD_KEY)
        if record is not None:
            record.held, record.status = True, 200
        resp = web.StreamResponse(status=200, headers=dict(STREAM_HEADERS))
        try:
            await resp.prepare(request)
            await wait_until_gone(request)
        except ConnectionError:
            pass
        return resp

    async def _stamp_response(self, request: web.Request, response: web.StreamResponse) -> None:
        """``on_response_prepare``: the fake's clock in the ``Date`` header of every response."""
        response.headers[DATE] = email.utils.formatdate(self.now(), usegmt=True)

    @web.middleware
    async def _soft_404_middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            if not self.soft_404:
                raise
            return web.Response(text=soft_404_page(), content_type="text/html", charset="utf-8")


async def wait_until_gone(request: web.Request) -> None:
    """Return once the client has closed the connection (polled; the server's stop cancels it)."""
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.05)


def soft_404_page() -> str:
    """The Next.js "not found" page the site serves with status 200 for unknown paths."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/>'
        f"<title>{SOFT_404_TITLE}</title>"
        '<meta name="robots" content="noindex"/></head><body>'
        '<div style="font-family:system-ui;height:100vh;text-align:center;display:flex;'
        'flex-direction:column;align-items:center;justify-content:center">'
        '<h1 class="next-error-h1">404</h1>'
        "<h2>This page could not be found.</h2></div></body></html>"
    )

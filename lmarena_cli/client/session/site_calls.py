"""The site's requests beside a send: :class:`SiteCalls`, and the retry policies that heal them.

A server action (with the retries of :class:`~.retry.RetryPolicy` for actions: a stale id,
Cloudflare, an expired sign-in), the conversation's JSON, a generated image's download, and the
policy of each send: what a policy calls to recover (reload the page, read the site's clock
again, read the action ids again, remember a penalty, fall back to the page transport) is wired
here, once.
"""

from __future__ import annotations

import logging
from typing import Any

from ...errors import LmArenaError
from ...site import facts
from ..content.uploads import decode_data_uri
from ..transport.site_transport import SiteTransport
from .pacing import Pacing
from .retry import RetryPolicy
from .site_session import SiteSession

_log = logging.getLogger("lmarena")


class SiteCalls:
    """Requests to the site through ``http`` that recover as :class:`RetryPolicy` says, with the
    ``session``'s state and refreshes; penalties the site asks for go to ``pacing``."""

    def __init__(self, session: SiteSession, http: SiteTransport, pacing: Pacing) -> None:
        self._session = session
        self._http = http
        self._pacing = pacing

    def send_policy(self, *, rate_limit_wait: float = 0.0) -> RetryPolicy:
        """The retry policy of one send (:class:`~.retry.RetryPolicy`); the site's requests to
        wait are remembered across runs (:class:`~.pacing.Pacing`)."""
        return RetryPolicy(
            refresh=self._session.refresh,
            relearn_clock=self.sync_clock,
            rate_limit_wait=rate_limit_wait,
            penalize=self._pacing.remember,
            fall_back=self._http.fall_back,
            rejected=self._pacing.rejected,
            max_wait=self._pacing.max_wait,
        )

    async def sync_clock(self) -> float:
        """Read the site's clock again (one request for its ``Date`` header) and mint the next
        ids from it: the offset in use (the site's clock minus ours, in seconds; §14.3)."""
        return await self._http.learn_clock(await self._session.current_state())

    async def server_action(self, name: str, args: list[Any]) -> Any:
        """Call one of the site's Next.js server actions, with the retries of
        :class:`~.retry.RetryPolicy` for actions (a stale id, Cloudflare, an expired sign-in)."""
        policy = RetryPolicy(
            refresh=self._session.refresh,
            rediscover=self._session.rediscover_actions,
            penalize=self._pacing.remember,
            fall_back=self._http.fall_back,
        )
        while True:
            state = await self._session.current_state()
            try:
                return await self._http.server_action(state, name, args)
            except LmArenaError as error:
                await policy.recover_or_raise(error, action=name)

    async def conversation_json(self, session_id: str, *, wanted: str) -> Any:
        """The site's JSON of a conversation (``GET /api/evaluation/{id}``, only a fallback: the
        protocol notes mark it doubtful); None when it cannot be read, which is logged saying
        what it was ``wanted`` for."""
        state = await self._session.current_state()
        try:
            status, data = await self._http.get_api(
                state, facts.EVALUATION_JSON.format(session_id=session_id)
            )
        except LmArenaError as error:
            _log.info(f"could not read the conversation to find {wanted}: {error}")
            return None
        return data if status == 200 else None

    async def download(self, url: str, *, max_bytes: int = 50 * 1024 * 1024) -> bytes:
        """Fetch a generated image (an https URL or a ``data:`` URI) that the site answered with."""
        if url.startswith("data:"):
            return decode_data_uri(url)
        return await self._http.download(url, max_bytes=max_bytes)


__all__ = ["SiteCalls"]

"""A reCAPTCHA token ready before a send asks for one: :class:`TokenReserve`.

Minting a token runs the site's reCAPTCHA script in the browser and takes from a few hundred
milliseconds to seconds; a long-running process (``lmarena serve``, the kept server) can do it
ahead. The reserve keeps one ``chat_submit`` token minted in the background:

* a send takes it (:meth:`TokenReserve.take`) when it is fresh, else mints its own as before;
* a token is handed out once at most (the site refuses a reused one, and a refusal counts
  against the account like a failed reCAPTCHA);
* an unused token is thrown away after :data:`TOKEN_MAX_AGE` seconds (Google's tokens live about
  120 s; clients treat them as good for 90-110 s, protocol §4.4) and a new one minted;
* after each take the reserve mints the next one in the background;
* :meth:`TokenReserve.discard` throws the token away when the page was reloaded (a new clearance
  or site key: a token minted before would be refused), including one being minted then;
* a failed mint in the background is logged (INFO on ``"lmarena"``) and tried again later, never
  raised into a send; :meth:`TokenReserve.close` ends the background task, leaving none pending.

It is off by default: :meth:`~.site_session.SiteSession.keep_token_ready` turns it on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ...site import facts

_log = logging.getLogger("lmarena")

#: Seconds after which an unused token is thrown away (tokens live about 120 s).
TOKEN_MAX_AGE = 100.0
#: Seconds before a failed background mint is tried again (doubling, up to the token age).
RETRY_DELAY = 5.0


@dataclass
class ReserveCounts:
    """What the reserve did: tokens minted, handed to sends, and thrown away unused."""

    minted: int = 0
    taken: int = 0
    discarded: int = 0
    failures: int = 0


@dataclass(frozen=True)
class _Token:
    value: str
    minted_at: float  # time.monotonic()
    generation: int


class TokenReserve:
    """One token of ``action`` minted ahead with ``mint`` (the browser's ``mint_token``).

    Use inside a running event loop: :meth:`start`, then :meth:`take` per send, :meth:`close`
    at the end.
    """

    def __init__(
        self,
        mint: Callable[[str], Awaitable[str]],
        *,
        action: str = facts.ACTION_CHAT_SUBMIT,
        max_age: float = TOKEN_MAX_AGE,
        retry_delay: float = RETRY_DELAY,
    ) -> None:
        self.action = action
        self.max_age = max_age
        self.retry_delay = retry_delay
        self.counts = ReserveCounts()
        self._mint = mint
        self._token: _Token | None = None
        self._generation = 0
        self._changed = asyncio.Event()  # a take, a discard or close: the filler looks again
        self._filler: asyncio.Task[None] | None = None
        self._pending: asyncio.Task[None] | None = None  # the mint under way
        self._closed = False

    @property
    def ready(self) -> bool:
        """Whether a fresh token is waiting now."""
        token = self._token
        return token is not None and self._fresh(token)

    @property
    def running(self) -> bool:
        return self._filler is not None and not self._filler.done()

    def start(self) -> None:
        """Start minting in the background (idempotent)."""
        if self._closed:
            raise RuntimeError("the token reserve is closed")
        if self._filler is None:
            self._filler = asyncio.get_running_loop().create_task(
                self._fill(), name="lmarena token reserve"
            )

    async def take(self) -> str | None:
        """The reserved token when a fresh one is there (or is being minted: then its mint is
        awaited rather than a second one started); None otherwise: the caller mints its own."""
        if self._closed:
            return None
        token = self._pop()
        pending = self._pending
        if token is None and pending is not None and not pending.done():
            # Waited for, not awaited: its failure is the filler's to log, and close()
            # cancelling it must not look like this send being cancelled.
            await asyncio.wait({pending})
            token = self._pop()
        return token

    def discard(self) -> None:
        """Throw away the reserved token and any being minted (the page was reloaded)."""
        self._generation += 1
        if self._token is not None:
            self._token = None
            self.counts.discarded += 1
        self._changed.set()

    async def close(self) -> None:
        """Stop the background minting; no task is left pending (safe to call twice)."""
        self._closed = True
        self._token = None
        self._changed.set()
        tasks = [task for task in (self._filler, self._pending) if task is not None]
        self._filler = self._pending = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the background ----------------------------------------------------------------------------

    def _fresh(self, token: _Token) -> bool:
        return (
            token.generation == self._generation
            and time.monotonic() - token.minted_at < self.max_age
        )

    def _pop(self) -> str | None:
        token, self._token = self._token, None
        if token is None:
            return None
        self._changed.set()  # the filler mints the next one
        if not self._fresh(token):
            self.counts.discarded += 1
            return None
        self.counts.taken += 1
        return token.value

    async def _fill(self) -> None:
        failures = 0
        while not self._closed:
            token = self._token
            if token is not None:
                left = token.minted_at + self.max_age - time.monotonic()
                if left > 0 and token.generation == self._generation:
                    await self._wait_for_change(left)
                    continue
                self._token = None
                self.counts.discarded += 1
                _log.debug("threw away an unused reCAPTCHA token (too old to send)")
            self._pending = asyncio.get_running_loop().create_task(self._mint_one())
            try:
                await asyncio.shield(self._pending)
                failures = 0
            except Exception as error:  # logged, never raised into a send
                failures += 1
                self.counts.failures += 1
                delay = min(self.retry_delay * 2 ** (failures - 1), self.max_age)
                _log.info(
                    f"could not mint a reCAPTCHA token ahead ({error}); sends mint their own; "
                    f"trying again in {delay:.0f} s"
                )
                await self._wait_for_change(delay)

    async def _mint_one(self) -> None:
        generation = self._generation
        value = await self._mint(self.action)
        self.counts.minted += 1
        if generation == self._generation and not self._closed:
            self._token = _Token(value, time.monotonic(), generation)
        else:
            self.counts.discarded += 1  # the page was reloaded meanwhile

    async def _wait_for_change(self, seconds: float) -> None:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._changed.wait()


__all__ = ["RETRY_DELAY", "TOKEN_MAX_AGE", "ReserveCounts", "TokenReserve"]

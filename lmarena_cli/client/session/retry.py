"""The retry policy of sends and server actions: :class:`RetryPolicy`.

One policy object per send (:class:`~..turn.exchange.ReplyStream`) or per server action call
(:meth:`~.site_calls.SiteCalls.server_action`): it decides, for each failure, whether to try
again and what to do first (reload the page, rediscover the action ids, wait), and counts what it
has spent in a :class:`RetryBudget`. Its notices go to the ``"lmarena"`` logger at INFO.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ...errors import (
    Advice,
    Blocked,
    ErrorKind,
    LmArenaError,
    ProtocolError,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from ...site.flags import FLAG_FIRST

#: How many times a failure before any answer text (5xx, connection reset) is retried.
TRANSIENT_RETRIES = 3
#: Backoff before those retries, in seconds: 1, 2, 4.
BACKOFF_BASE = 1.0
#: How many times a 429 is waited out, when the caller allows waiting at all.
RATE_LIMIT_RETRIES = 3
#: Seconds no send is made after the site rejected the reCAPTCHA token twice in a row: about 3
#: quick failures flag the account for 20 minutes, and every further attempt lengthens the flag
#: (protocol §14.6).
RECAPTCHA_COOL_DOWN = FLAG_FIRST
#: What each rejection of a send is counted as (``rejected``): two in a row flag the account
#: (protocol §15.3).
_REJECTIONS = {
    ErrorKind.RECAPTCHA: 'a 403 "recaptcha validation failed"',
    ErrorKind.PROMPT_REFUSED: 'a 429 "prompt failed"',
}

_log = logging.getLogger("lmarena")
#: What a server action's refresh renews, by the failure's kind.
_REFRESHED = {ErrorKind.CLOUDFLARE: "anti-bot clearance", ErrorKind.AUTH_EXPIRED: "sign-in"}

Hook = Callable[[], Awaitable[object]]
#: Told how many seconds the site asked not to send, and why (``Pacing.remember``).
Penalize = Callable[[float, str], object]
#: Told of each rejection of a send, as a phrase (``Pacing.rejected``).
Rejected = Callable[[str], object]


class RetryBudget:
    """Counts retries by reason, and the seconds the caller allows for waiting out 429s."""

    def __init__(self, wait_allowed: float) -> None:
        self._counts: dict[str, int] = {}
        self._wait_left = wait_allowed

    def used(self, reason: str) -> int:
        """How many retries ``reason`` has had."""
        return self._counts.get(reason, 0)

    def take(self, reason: str, limit: int) -> bool:
        """Count one more retry for ``reason``; False (and nothing counted) past ``limit``."""
        if self._counts.get(reason, 0) >= limit:
            return False
        self._counts[reason] = self._counts.get(reason, 0) + 1
        return True

    def wait(self, seconds: float) -> bool:
        """Spend ``seconds`` of the allowed waiting; False when not that much is left."""
        if seconds > self._wait_left:
            return False
        self._wait_left -= seconds
        return True


class RetryPolicy:
    """Return to try again, or raise. For a send, only failures before any answer text come here;
    once text has arrived nothing is retried (the stream raises with the partial text). Every new
    attempt of a send has fresh message ids (a new conversation also a fresh session id) and a
    freshly minted reCAPTCHA token.

    ========================================  =============================================
    failure (``error.kind``)                  what happens
    ========================================  =============================================
    reCAPTCHA rejected (``recaptcha``)        one retry, after reloading the page (the site
                                              key may have rotated); never more: a second
                                              rejection raises ``Blocked``, as repeated
                                              failures lengthen a flag on the account;
                                              each rejection goes to ``rejected`` (two in a
                                              row flag the account, §15.3)
    Cloudflare challenge (``cloudflare``:     one page reload for a new clearance, one retry
    403, or a 429 with ``cf-mitigated:        (a challenge sent as 429 is not a rate limit);
    challenge`` or the challenge page)        refused again: ``fall_back`` (aiohttp to the
                                              page, ``LM_ARENA_TRANSPORT=auto``), one retry
    401 sign-in expired (``auth_expired``)    one page reload for a new auth cookie, one retry
    401 login gate, 401 "User not found"      no retry: ``SignInRequired``
    (``login_gate``, ``user_not_found``)
    400 ids "seem spoofed" (``spoofed_id``)   the site's clock read again (one request for its
                                              ``Date``), one retry with ids from the corrected
                                              clock; a second refusal raises, saying how far
                                              the local clock is off
    429 (``RateLimited``)                     up to ``RATE_LIMIT_RETRIES`` waits of the
                                              site's wait (``RateLimit-Reset``, else
                                              ``Retry-After``, §15.3) when it is at most
                                              ``max_wait`` (LM_ARENA_MAX_WAIT), or of 5, 10,
                                              20 s while the total stays within the
                                              caller's ``rate_limit_wait`` (default 0);
                                              the site's wait goes to ``penalize``
    422 / invalid content, moderation,        no retry: ``ContentRejected``
    429 "prompt failed" (``prompt_refused``)  (the site counts refused prompts against the
                                              account, like failed reCAPTCHAs: ``rejected``)
    403 "Not allowed", 404 "Models not        no retry: ``NotAllowed``, ``ModelNotOffered``
    found" (``not_allowed``,                  (usage errors: asking again gets the same)
    ``model_not_offered``)
    400 ZodError, a page where a stream was   no retry
    expected (``not_json``), other
    ``ProtocolError``
    400 ids already seen (``duplicate_ids``)  one retry with fresh ids
    5xx, connection refused or reset, body    up to ``TRANSIENT_RETRIES`` retries after
    cut before text (``server``,              ``BACKOFF_BASE`` * 1, 2, 4 s
    ``network``, ``cut``)
    empty answer (``empty``)                  one retry with fresh ids
    anything else (a3 / arena error,          no retry
    timeout, other 403s)
    ========================================  =============================================

    A server action (``action`` given: an image upload's ``generateUploadUrl``,
    ``getSignedUrl``) is behind the same checks as a send, with a shorter table: a stale action
    id (``stale_action``) is rediscovered once, a Cloudflare page or an expired sign-in
    (``cloudflare``, ``auth_expired``) is refreshed in the browser once; anything else, and any
    kind a second time, raises; a Cloudflare refusal after the refresh may ``fall_back`` too.

    ``refresh`` reloads the site in the browser; ``rediscover`` reads the action ids again;
    ``relearn_clock`` reads the site's clock again and gives the offset (site minus ours, s).
    ``fall_back`` is asked after a Cloudflare refusal that the refresh did not cure: true when it
    switched the transport (:meth:`~..transport.site_transport.SiteTransport.fall_back`), then one
    retry. ``penalize`` is told when the site asked not to send for a while, so that later runs do
    not (:class:`~.pacing.Pacing`): a 429 with ``Retry-After`` (its seconds, whether or not it is
    waited out here). ``rejected`` is told of every rejection of a send (a reCAPTCHA rejection, a
    429 "prompt failed"): :meth:`~.pacing.Pacing.rejected` flags the account on the second in a row,
    across sends and processes (protocol §15.3).
    """

    def __init__(
        self,
        *,
        refresh: Hook,
        rediscover: Hook | None = None,
        relearn_clock: Callable[[], Awaitable[float]] | None = None,
        rate_limit_wait: float = 0.0,
        penalize: Penalize | None = None,
        fall_back: Callable[[LmArenaError], Awaitable[bool]] | None = None,
        rejected: Rejected | None = None,
        max_wait: float = 0.0,
    ) -> None:
        self._refresh = refresh
        self._rejected = rejected
        self._max_wait = max_wait
        self._fall_back = fall_back
        self._penalize = penalize
        self._rediscover = rediscover
        self._relearn_clock = relearn_clock
        self._clock_offset: float | None = None
        self.budget = RetryBudget(rate_limit_wait)

    async def recover_or_raise(self, error: LmArenaError, *, action: str | None = None) -> None:
        """Get ready for the next attempt after ``error`` (of a send, or of the server action
        named ``action``), or raise."""
        if (
            isinstance(error, RateLimited)
            and error.kind == ErrorKind.RATE_LIMITED
            and error.retry_after
            and self._penalize is not None
        ):
            self._penalize(
                error.retry_after,
                f"the site answered HTTP 429 and asked to wait {error.retry_after:.0f} s",
            )
        if action is not None:
            await self._recover_action(action, error)
        else:
            await self._recover_send(error)

    async def _recover_send(self, error: LmArenaError) -> None:
        budget = self.budget
        kind = error.kind
        if kind in _REJECTIONS and self._rejected is not None:
            self._rejected(_REJECTIONS[kind])
        if kind == ErrorKind.RECAPTCHA and budget.take("recaptcha", 1):
            _log.info("the site rejected the reCAPTCHA token; trying once more with a fresh one")
            # Reload the page first: a redeploy may have rotated the site key (protocol §4.2),
            # and a token minted with the old page's key fails however often it is retried.
            await self._refresh()
            return
        if kind == ErrorKind.CLOUDFLARE and budget.take("cloudflare", 1):
            _log.info("the site's anti-bot check wants a new clearance; refreshing it")
            await self._refresh()
            return
        if await self._switched(error):
            return
        if kind == ErrorKind.AUTH_EXPIRED and budget.take("auth", 1):
            _log.info("the site's sign-in expired; refreshing it")
            await self._refresh()
            return
        if kind == ErrorKind.SPOOFED_ID:
            await self._reset_clock(error)
            return
        if kind in (ErrorKind.DUPLICATE_IDS, ErrorKind.EMPTY) and budget.take(kind, 1):
            _log.info(f"{error.message}; trying once more with fresh ids")
            return
        if isinstance(error, RateLimited):
            await self._wait_out(error)
            return
        retryable = (
            isinstance(error, UpstreamUnavailable)
            and not isinstance(error, ProtocolError | UpstreamError)
            and kind in (ErrorKind.SERVER, ErrorKind.NETWORK, ErrorKind.CUT)
        )
        if retryable and budget.take("transient", TRANSIENT_RETRIES):
            delay = BACKOFF_BASE * 2 ** (budget.used("transient") - 1)
            _log.info(f"{error.message}; retrying in {delay:.0f} s")
            await asyncio.sleep(delay)
            return
        if kind == ErrorKind.RECAPTCHA:
            raise Blocked(
                "the site rejected the reCAPTCHA token twice; not trying again, as repeated "
                "failures lengthen a flag on the account",
                detail=error.detail,
                kind=kind,
                advice=Advice.WAIT_OR_SIGN_IN,
            ) from None
        raise error

    async def _reset_clock(self, error: LmArenaError) -> None:
        """Ids refused as far from the site's clock: read its clock again and retry once with
        ids minted from the corrected clock; a second refusal says how far ours is off."""
        if self._relearn_clock is not None and self.budget.take("clock", 1):
            _log.info(
                "the site refused our message ids as far from its clock; reading its clock "
                "again and trying once more with fresh ids"
            )
            self._clock_offset = await self._relearn_clock()
            return
        offset = self._clock_offset
        if offset is None:
            why = "may be off, and the site refuses ids minted far from its own clock"
        elif abs(offset) < 1:
            why = "is within a second of the site's (by its Date header), yet the site refuses them"
        else:
            side = "behind" if offset > 0 else "ahead of"
            why = (
                f"is off by {abs(offset):.0f} s ({side} the site's), and the site refuses ids "
                "minted that far from its own clock"
            )
        raise UpstreamError(
            f"the site refused the message ids again: this machine's clock {why}; set the clock "
            "right (turn on network time sync) and try again",
            detail=error.detail,
            kind=ErrorKind.SPOOFED_ID,
        ) from None

    async def _wait_out(self, error: RateLimited) -> None:
        budget = self.budget
        told = error.retry_after
        wait = told if told is not None else 5.0 * 2 ** budget.used("rate")
        # A wait the site named, short enough (LM_ARENA_MAX_WAIT), is waited out as a matter of
        # course; any other only within what the caller allowed.
        short = told is not None and told <= self._max_wait
        if budget.take("rate", RATE_LIMIT_RETRIES) and (short or budget.wait(wait)):
            _log.info(f"rate-limited by the site; waiting {wait:.0f} s as it asked")
            await asyncio.sleep(wait)
            return
        raise error

    async def _switched(self, error: LmArenaError) -> bool:
        """Cloudflare again after the refresh: whether the transport switched (once)."""
        return (
            error.kind == ErrorKind.CLOUDFLARE
            and self._fall_back is not None
            and self.budget.used("fall_back") == 0
            and await self._fall_back(error)
            and self.budget.take("fall_back", 1)
        )

    async def _recover_action(self, name: str, error: LmArenaError) -> None:
        kind = error.kind
        if kind == ErrorKind.CLOUDFLARE and self.budget.used(kind) and await self._switched(error):
            return
        if kind not in (ErrorKind.STALE_ACTION, *_REFRESHED) or not self.budget.take(kind, 1):
            raise error
        if kind == ErrorKind.STALE_ACTION and self._rediscover is not None:
            _log.info(f"the site's {name} action changed; rediscovering it")
            await self._rediscover()
        elif kind in _REFRESHED:
            _log.info(f"the site wants a new {_REFRESHED[kind]}; refreshing it")
            await self._refresh()
        else:
            raise error


__all__ = [
    "BACKOFF_BASE",
    "RATE_LIMIT_RETRIES",
    "RECAPTCHA_COOL_DOWN",
    "TRANSIENT_RETRIES",
    "Penalize",
    "Rejected",
    "RetryBudget",
    "RetryPolicy",
]

"""The site's account flags and limits as arithmetic (protocol §15.3, §14.6); pure, no I/O.

* **A flag.** Two rejections in a row — ``403 {"error":"recaptcha validation failed"}`` (after
  the one retry the policy allows: this client has no v2 checkbox to offer, §4.5) or
  ``429 {"error":"prompt failed"}``, in any mix — mean the site has flagged the account: it then
  refuses sends for hours, and every attempt lengthens the flag (§15.3, §14.6). The pause that
  keeps an account usable is :data:`FLAG_FIRST` seconds, doubled on each further flag within
  :data:`FLAG_WINDOW`, up to :data:`FLAG_MAX`: 1200 → 2400 → 4800 → 7200 s, as the gateway that
  studied the flags does (§15.3).
* **A 429's wait.** The site's own client reads ``RateLimit-Reset`` (absolute Unix seconds)
  before ``Retry-After`` (§15.3): :func:`rate_limit_wait`.
* **A daily budget.** That gateway also keeps to 40 sends a day; the day here is the UTC day
  (:func:`next_midnight_utc`).
"""

from __future__ import annotations

import email.utils
import math
import time

#: Rejections in a row that flag the account (§15.3: the gateway pauses after two).
REJECTIONS_TO_FLAG = 2
#: The first flag's pause, in seconds (§14.6: "about 3 quick failures → 20 minutes").
FLAG_FIRST = 1200.0
#: The longest pause a flag gets (§15.3: 1200 → 2400 → 4800 → 7200 s).
FLAG_MAX = 7200.0
#: Flags within this many seconds of each other double the pause; a rejection older than this
#: no longer counts towards the next flag either.
FLAG_WINDOW = 24 * 3600.0
#: A ``RateLimit-Reset`` below this is read as seconds from now, not as a Unix time (the IETF
#: draft's meaning; the site sends absolute Unix seconds, §15.3).
_ABSOLUTE_AFTER = 1_000_000_000


def flag_seconds(earlier_flags: int) -> float:
    """How long a flag pauses sends, given how many flags came within the day before it."""
    return float(min(FLAG_MAX, FLAG_FIRST * 2 ** max(0, min(earlier_flags, 16))))


def recent(times: list[float], now: float) -> list[float]:
    """The times of ``times`` within :data:`FLAG_WINDOW` before ``now`` (none in the future)."""
    return [t for t in times if now - FLAG_WINDOW < t <= now]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a date without zone is read as such
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def rate_limit_wait(reset: str | None, retry_after: float | None, now: float) -> float | None:
    """Seconds to wait after a 429: ``RateLimit-Reset`` (absolute Unix seconds) wins over the
    already parsed ``Retry-After`` (§15.3); None when neither says."""
    if reset is not None:
        try:
            value = float(reset.strip())
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return max(0.0, value - now) if value >= _ABSOLUTE_AFTER else value
    return retry_after


def utc_day(when: float) -> str:
    """The UTC day of ``when`` (``2026-12-06``): the daily budget's day."""
    return time.strftime("%Y-%m-%d", time.gmtime(when))


def next_midnight_utc(when: float) -> float:
    """The Unix time of the first midnight UTC after ``when``: the daily budget's reset."""
    return (math.floor(when / 86400) + 1) * 86400.0


__all__ = [
    "FLAG_FIRST",
    "FLAG_MAX",
    "FLAG_WINDOW",
    "REJECTIONS_TO_FLAG",
    "flag_seconds",
    "next_midnight_utc",
    "parse_retry_after",
    "rate_limit_wait",
    "recent",
    "utc_day",
]

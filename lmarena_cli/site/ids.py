"""The ids of the site: UUIDv7 minted from the site's clock, and UUID checks.

The site validates that message and conversation ids are version 7 and that their timestamps
are close to its own clock (protocol §14.3: ids far from it are refused as "spoofed"); model ids
are UUIDs of any version (old models have v4 ids). A :class:`SiteClock` is our clock corrected by
the offset of the site's (learned from its ``Date`` header); each connection has its own, so two
clients never share a correction.
"""

from __future__ import annotations

import email.utils
import re
import secrets
import threading
import time

_UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
_UUID_ANY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)

#: A measured offset within this many seconds of the one in use is no news: a ``Date`` header
#: has whole seconds, and the time the answer took to arrive adds to the error.
CLOCK_SLACK = 2.0


class SiteClock:
    """Our clock corrected by ``offset`` seconds (the site's clock minus ours), never going back.

    The local part never goes backwards within one clock: a wall clock stepped back by NTP must
    not make a later message look older than an earlier one. A new ``offset`` moves the corrected
    time at once, both ways: the site's clock is what the ids must match.
    """

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = float(offset)
        self._lock = threading.Lock()
        self._last_local_ms = 0

    def now_ms(self) -> int:
        """Milliseconds since the epoch by the site's clock."""
        with self._lock:
            self._last_local_ms = max(self._last_local_ms, time.time_ns() // 1_000_000)
            return self._last_local_ms + round(self.offset * 1000)


#: The clock of ids minted without one (no correction).
_LOCAL = SiteClock()


def offset_from_date(value: str | None, *, now: float | None = None) -> float | None:
    """The site's clock minus ours, in seconds, from an HTTP ``Date`` header; None when absent
    or unreadable.

    The header has whole seconds: the site's clock was somewhere in that second, so its middle
    is taken.
    """
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return when.timestamp() + 0.5 - current


def uuid7(clock: SiteClock | None = None) -> str:
    """A fresh UUID version 7 (48-bit Unix ms timestamp by ``clock``, version 7, variant ``10``,
    random rest). Without ``clock``: our own clock, uncorrected."""
    value = ((clock or _LOCAL).now_ms() & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_uuid7(value: str) -> bool:
    """True when ``value`` is a canonical 8-4-4-4-12 UUID of version 7 and RFC 4122 variant."""
    return isinstance(value, str) and _UUID7.match(value) is not None


def uuid7_timestamp_ms(value: str) -> int | None:
    """The millisecond timestamp inside a UUIDv7, or None for any other string (v4 ids, names)."""
    if not is_uuid7(value):
        return None
    return int(value.replace("-", "")[:12], 16)


def is_uuid(value: str) -> bool:
    """True for any 8-4-4-4-12 hex UUID string (any version, either case), nothing around it.

    The shape of the site's conversation and model ids; what ``resume`` checks before asking.
    """
    return isinstance(value, str) and _UUID_ANY.fullmatch(value) is not None

"""The ids of the site: UUIDv7 minted from a clock that never goes back, and UUID checks.

The site validates that message and conversation ids are version 7 and that their timestamps
are plausible; model ids are UUIDs of any version (old models have v4 ids).
"""

from __future__ import annotations

import re
import secrets
import threading
import time

_UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
_UUID_ANY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_clock_lock = threading.Lock()
_last_ms = 0


def _now_ms() -> int:
    """Milliseconds since the epoch, never going backwards within this process.

    The site checks the timestamp in the ids; a wall clock stepped back by NTP must not make a
    later message look older than an earlier one.
    """
    global _last_ms
    with _clock_lock:
        _last_ms = max(_last_ms, time.time_ns() // 1_000_000)
        return _last_ms


def uuid7() -> str:
    """A fresh UUID version 7: 48-bit Unix ms timestamp, version 7, variant ``10``, random rest."""
    value = (_now_ms() & ((1 << 48) - 1)) << 80
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

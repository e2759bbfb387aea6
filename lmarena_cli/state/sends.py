"""``daily-sends.json``: how many sends left this user's machine per site in the current UTC day.

``LM_ARENA_DAILY_SENDS`` caps them (the gateway that studied the site's flags keeps to 40 a day,
protocol §15.3). Every process of this user counts in the same file, read and written under
``daily-sends.lock`` (:class:`~.penalty.FileLock`), atomically, mode 0600::

    {"format": "lmarena-daily-sends", "version": 1,
     "sites": {"https://arena.ai": {"day": "2026-12-06", "count": 12}}}

A count of another day is 0. A missing, corrupt or foreign file counts 0 (the last two said once
through ``warn``) and is replaced by the next write.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from ..site.flags import utc_day
from .files import atomic_write
from .penalty import FileLock, Warn, _number, _read_sites

DAILY_SENDS_FILE = "daily-sends.json"
_FORMAT = "lmarena-daily-sends"


class DailySends:
    """The count of today's sends (UTC), per base URL, across processes."""

    def __init__(self, state_dir: Path, warn: Warn) -> None:
        self.path = Path(state_dir) / DAILY_SENDS_FILE
        self._lock = FileLock(Path(state_dir) / "daily-sends.lock")
        self._warn = warn

    def count(self, base_url: str, *, now: float | None = None) -> int:
        """Sends to ``base_url`` so far in the UTC day of ``now``."""
        return _count(self._read().get(base_url.rstrip("/")), now)

    def add(self, base_url: str, *, now: float | None = None) -> int:
        """Count one more send to ``base_url``; the day's count with it."""
        now = time.time() if now is None else now
        with self._lock.held():
            sites = self._read()
            count = _count(sites.get(base_url.rstrip("/")), now) + 1
            sites[base_url.rstrip("/")] = {"day": utc_day(now), "count": count}
            document = {"format": _FORMAT, "version": 1, "sites": sites}
            atomic_write(self.path, orjson.dumps(document))
        return count

    def _read(self) -> dict[str, Any]:
        return _read_sites(self.path, _FORMAT, "the count of today's sends", self._warn)


def _count(entry: object, now: float | None) -> int:
    now = time.time() if now is None else now
    if not isinstance(entry, dict) or entry.get("day") != utc_day(now):
        return 0
    return int(_number(entry.get("count")) or 0)


__all__ = ["DAILY_SENDS_FILE", "DailySends"]

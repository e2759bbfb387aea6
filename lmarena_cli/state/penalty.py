"""What keeps the account safe across runs: remembered penalties and the time of the last send.

Two small JSON files in the state directory, each written atomically with mode 0600, each keyed
by the site's base URL (the tests' fake arena and arena.ai never share an entry):

* ``penalties.json`` — until when the site asked not to send (:class:`Penalty`): a 429's
  ``Retry-After``, or the cool-down after reCAPTCHA rejections in a row (protocol §14.6: repeated
  failures start, and every further attempt lengthens, a flag on the account)::

      {"format": "lmarena-penalties", "version": 1,
       "sites": {"https://arena.ai": {"until": 1764500000.0, "since": 1764498800.0,
                                      "reason": "the site answered 429 ..."}}}

  An entry may also say that the account is **flagged** (``"flagged": true``, its cause in
  ``reason``), count the site's rejections in a row (``"rejections": {"count": 1, "last": ...,
  "cause": ...}``) and keep the times of the day's flags (``"flags": [...]``), which double the
  next flag's pause (protocol §15.3, :mod:`lmarena_cli.site.flags`). Clearing a flag
  (:meth:`PenaltyFile.forget`) keeps those times: a flag soon after still lasts longer.

* ``last-send.json`` — when the last send to each site left this user's machine, for
  ``LM_ARENA_MIN_INTERVAL``. It is read and written only while ``last-send.lock`` is held
  (``fcntl.flock``, :class:`FileLock`), so that sends of every process of this user take turns.

A missing file is normal and silent. A corrupt or foreign file (not JSON, another format or
version) is ignored with one line through ``warn`` and replaced by the next write: it never stops
a send. Entries further in the future than :data:`MAX_PENALTY` (a clock set back, a bogus header)
are ignored too.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..site.flags import REJECTIONS_TO_FLAG, flag_seconds, recent
from .files import atomic_write

PENALTIES_FILE = "penalties.json"
LAST_SEND_FILE = "last-send.json"
LAST_SEND_LOCK = "last-send.lock"
_PENALTIES_FORMAT = "lmarena-penalties"
_LAST_SEND_FORMAT = "lmarena-last-send"
_VERSION = 1
#: The longest wait remembered (a day): a longer ``Retry-After`` is cut to this.
MAX_PENALTY = 24 * 3600.0

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Penalty:
    """Until when (Unix time) the site asked not to send, since when, and why (a phrase)."""

    until: float
    since: float
    reason: str
    #: The account is flagged: two rejections in a row (protocol §15.3); ``reason`` says which.
    flagged: bool = False

    def left(self, now: float | None = None) -> float:
        """Seconds still to wait (0 once over)."""
        return max(0.0, self.until - (time.time() if now is None else now))


class PenaltyFile:
    """``penalties.json``: the penalties the site gave, one per base URL."""

    def __init__(self, state_dir: Path, warn: Warn) -> None:
        self.path = Path(state_dir) / PENALTIES_FILE
        self._lock = FileLock(Path(state_dir) / (PENALTIES_FILE + ".lock"))
        self._warn = warn

    def get(self, base_url: str, *, now: float | None = None) -> Penalty | None:
        """The penalty for ``base_url`` still running at ``now``, or None."""
        now = time.time() if now is None else now
        penalty = _penalty(self._read().get(_key(base_url)))
        if penalty is None or penalty.until <= now or penalty.until - now > MAX_PENALTY:
            return None
        return penalty

    def remember(self, base_url: str, seconds: float, reason: str) -> Penalty:
        """Remember not to send to ``base_url`` for ``seconds`` (cut to :data:`MAX_PENALTY`); a
        longer penalty already remembered stands. Returns the one that stands."""
        now = time.time()
        wanted = Penalty(now + min(max(seconds, 0.0), MAX_PENALTY), now, reason)
        with self._lock.held():
            sites = self._read()
            known = _penalty(sites.get(_key(base_url)))
            if (
                known is not None
                and known.until >= wanted.until
                and known.until - now <= MAX_PENALTY
            ):
                return known
            entry = _entry(sites, base_url)
            if known is not None and known.flagged and known.until > now:
                entry["until"] = wanted.until  # still the flag, only longer
                self._write(sites)
                return Penalty(wanted.until, known.since, known.reason, flagged=True)
            entry.update(until=wanted.until, since=wanted.since, reason=wanted.reason)
            entry.pop("flagged", None)
            self._write(sites)
        return wanted

    def reject(self, base_url: str, cause: str, *, now: float | None = None) -> Penalty | None:
        """Count one rejection of a send by the site (``cause``: what it said, as a phrase).
        The second in a row flags the account (protocol §15.3): the flag, which stands for
        :func:`~lmarena_cli.site.flags.flag_seconds` of the day's earlier flags, is returned;
        else None."""
        now = time.time() if now is None else now
        with self._lock.held():
            sites = self._read()
            entry = _entry(sites, base_url)
            streak = entry.get("rejections")
            streak = streak if isinstance(streak, dict) else {}
            count = _number(streak.get("count")) or 0.0
            last = _number(streak.get("last"))
            if last is None or not recent([last], now):
                count = 0.0
            first_cause = streak.get("cause") if count else None
            if count + 1 < REJECTIONS_TO_FLAG:
                entry["rejections"] = {"count": count + 1, "last": now, "cause": cause}
                self._write(sites)
                return None
            flags = recent(_times(entry.get("flags")), now)
            seconds = flag_seconds(len(flags))
            before = first_cause if isinstance(first_cause, str) else "a rejection"
            flag = Penalty(
                now + seconds,
                now,
                f"the account is flagged: the site refused two sends in a row ({before}, then "
                f"{cause}); flag {len(flags) + 1} today, {seconds:.0f} s",
                flagged=True,
            )
            known = _penalty(entry)
            until = max(flag.until, known.until) if known is not None else flag.until
            entry.update(until=until, since=now, reason=flag.reason, flagged=True)
            entry["flags"] = [*flags, now]
            entry.pop("rejections", None)
            self._write(sites)
        return Penalty(until, now, flag.reason, flagged=True)

    def accepted(self, base_url: str) -> None:
        """The site accepted a send: the rejections in a row start again from none."""
        entry = self._read().get(_key(base_url))
        if not isinstance(entry, dict) or "rejections" not in entry:
            return  # the common case: no lock, no write
        with self._lock.held():
            sites = self._read()
            if _entry(sites, base_url).pop("rejections", None) is not None:
                self._write(sites)

    def flags_today(self, base_url: str, *, now: float | None = None) -> int:
        """How many flags the site gave within the last day (the next one lasts longer)."""
        now = time.time() if now is None else now
        entry = self._read().get(_key(base_url))
        return len(recent(_times(entry.get("flags") if isinstance(entry, dict) else None), now))

    def forget(self, base_url: str) -> Penalty | None:
        """Drop the penalty (or flag) remembered for ``base_url`` and the rejections counted;
        the times of the day's flags stay (the next flag still lasts longer). Returns what was
        dropped, if it still ran."""
        with self._lock.held():
            sites = self._read()
            entry = sites.get(_key(base_url))
            if not isinstance(entry, dict):
                return None
            dropped = _penalty(entry)
            flags = entry.get("flags")
            if isinstance(flags, list) and flags:
                sites[_key(base_url)] = {"flags": flags}
            else:
                del sites[_key(base_url)]
            self._write(sites)
        return dropped if dropped is not None and dropped.until > time.time() else None

    def _read(self) -> dict[str, Any]:
        return _read_sites(self.path, _PENALTIES_FORMAT, "the remembered penalties", self._warn)

    def _write(self, sites: dict[str, Any]) -> None:
        document = {"format": _PENALTIES_FORMAT, "version": _VERSION, "sites": sites}
        atomic_write(self.path, orjson.dumps(document, option=orjson.OPT_INDENT_2))


class LastSendFile:
    """``last-send.json``: when the last send to each site left. Read and write it only while
    :attr:`lock` is held (:meth:`FileLock.try_acquire`)."""

    def __init__(self, state_dir: Path, warn: Warn) -> None:
        self.path = Path(state_dir) / LAST_SEND_FILE
        self.lock = FileLock(Path(state_dir) / LAST_SEND_LOCK)
        self._warn = warn

    def get(self, base_url: str) -> float | None:
        """Unix time of the last send to ``base_url``, or None."""
        return _number(self._read().get(_key(base_url)))

    def set(self, base_url: str, when: float) -> None:
        sites = self._read()
        sites[_key(base_url)] = when
        document = {"format": _LAST_SEND_FORMAT, "version": _VERSION, "sites": sites}
        atomic_write(self.path, orjson.dumps(document))

    def _read(self) -> dict[str, Any]:
        return _read_sites(self.path, _LAST_SEND_FORMAT, "the time of the last send", self._warn)


class FileLock:
    """An exclusive ``fcntl.flock`` on a file of the state directory (created 0600).

    Each acquisition opens the file anew, so the lock excludes other processes and also other
    holders in this process (flock locks belong to the open file description). It is released
    when the holder closes it, and by the kernel when the process dies: a killed process never
    leaves it held.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False (at once) when another holder has it."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this object")
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for a short read-modify-write (blocks while another holder has it)."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _open(self) -> int:
        parent = self.path.parent
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _key(base_url: str) -> str:
    return base_url.rstrip("/")


def _number(value: object) -> float | None:
    """A finite JSON number as a float; None for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _times(value: object) -> list[float]:
    """The numbers of a JSON list (the day's flags); [] for anything else."""
    if not isinstance(value, list):
        return []
    return [t for t in (_number(v) for v in value) if t is not None]


def _entry(sites: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The entry of ``base_url`` in ``sites``, made (or replaced, when foreign) as needed."""
    entry = sites.get(_key(base_url))
    if not isinstance(entry, dict):
        entry = sites[_key(base_url)] = {}
    return entry


def _penalty(entry: object) -> Penalty | None:
    if not isinstance(entry, dict):
        return None
    until, since, reason = (
        _number(entry.get("until")),
        _number(entry.get("since")),
        entry.get("reason"),
    )
    if until is None:
        return None
    return Penalty(
        until,
        until if since is None else since,
        reason if isinstance(reason, str) else "the site asked to wait",
        flagged=entry.get("flagged") is True,
    )


def _read_sites(path: Path, form: str, what: str, warn: Warn) -> dict[str, Any]:
    """The ``sites`` map of one of these files; ``{}`` when missing, corrupt or foreign (the
    last two said once through ``warn``)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        warn(f"ignoring {what} in {path}: cannot read it ({exc.strerror})")
        return {}
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        document = None
    if (
        not isinstance(document, dict)
        or document.get("format") != form
        or document.get("version") != _VERSION
        or not isinstance(document.get("sites"), dict)
    ):
        warn(f"ignoring {what} in {path}: it is not a file this version wrote; it will be replaced")
        return {}
    sites: dict[str, Any] = document["sites"]
    return sites


__all__ = [
    "LAST_SEND_FILE",
    "MAX_PENALTY",
    "PENALTIES_FILE",
    "FileLock",
    "LastSendFile",
    "Penalty",
    "PenaltyFile",
]

"""Account safety across runs: :class:`Pacing`, one per client.

* **Penalties.** When the site says to wait (a 429 with ``Retry-After``, or the cool-down that
  reCAPTCHA rejections in a row start), :meth:`Pacing.remember` writes until when to the state
  directory (:class:`~lmarena_cli.state.penalty.PenaltyFile`). Until then :meth:`Pacing.check`
  raises ``RateLimited`` (exit 6, HTTP 429, ``retry_after``) in every process of this user, before
  anything touches the site: no browser starts, no request leaves. Sending on would only lengthen
  the flag on the account (protocol §14.6).
* **Spacing.** With ``LM_ARENA_MIN_INTERVAL`` above 0, :meth:`Pacing.turn` keeps at least that
  many seconds between the sends to one site of all processes of this user: a send waits its
  turn under a file lock (and a lock of this process, so that its own sends queue in order),
  saying on the ``"lmarena"`` logger (INFO) that it waits and how long. A wait that would outlast
  the send's timeout fails at once with ``RateLimited`` instead. 0 (the default) costs nothing:
  no lock, no file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

from ..errors import ConfigError, ErrorKind, RateLimited
from ..settings import Settings
from ..state.penalty import LastSendFile, Penalty, PenaltyFile

_log = logging.getLogger("lmarena")

#: A penalty with no more than this left is not worth refusing a send for: it is the one this
#: send's own retry policy has just waited out (``rate_limit_wait``).
SLACK = 2.0
#: How often a send waiting for another process's turn looks again, in seconds.
POLL = 0.05


class Pacing:
    """The penalties and the spacing of sends for one site (``settings.base_url``)."""

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.base_url.rstrip("/")
        self.interval = settings.min_interval
        self._penalties = PenaltyFile(settings.state_dir, self._warn_once)
        self._last_send = LastSendFile(settings.state_dir, self._warn_once)
        self._turns = asyncio.Lock()
        self._warned: set[str] = set()

    @property
    def penalties_path(self) -> Path:
        return self._penalties.path

    def penalty(self) -> Penalty | None:
        """The penalty the site gave that still runs, if any."""
        return self._penalties.get(self.base_url)

    def check(self, *, slack: float = 0.0) -> None:
        """Raise ``RateLimited`` while a remembered penalty runs (more than ``slack`` s left)."""
        penalty = self.penalty()
        if penalty is not None and penalty.left() > slack:
            raise self._refusal(penalty)

    def remember(self, seconds: float, reason: str) -> None:
        """Remember that the site asked not to send for ``seconds`` (``reason``: what it said,
        as a phrase). Never raises: a state directory that cannot be written is said once."""
        try:
            penalty = self._penalties.remember(self.base_url, seconds, reason)
        except OSError as exc:
            self._warn_once(f"cannot remember the site's wait in {self.penalties_path}: {exc}")
            return
        # DEBUG, not INFO: the failure that follows is one line on stderr, and it already says
        # how long the site asked to wait; the next run's refusal says until when, and where.
        _log.debug(
            f"no send to {self.base_url} until {local_time(penalty.until)} "
            f"(in {penalty.left():.0f} s): {penalty.reason}; until then lmarena refuses at once"
        )

    def forget(self) -> None:
        """Send again before the remembered penalty is over (at the account's risk: the site
        lengthens its flag on every attempt it refuses)."""
        self._penalties.forget(self.base_url)

    @contextlib.asynccontextmanager
    async def turn(self, deadline: float) -> AsyncIterator[None]:
        """This send's turn: inside the block, mint its token; the send leaves right after.

        ``deadline`` is ``time.monotonic()`` time by which the send must be on its way. A
        remembered penalty refuses at once; with ``LM_ARENA_MIN_INTERVAL`` set, the block starts
        once that many seconds have passed since the last send of any process of this user, and
        its end (when the block does not raise) is the new time of the last send.
        """
        self.check(slack=SLACK)
        if self.interval <= 0:
            yield
            return
        async with self._turns:
            await self._acquire(deadline)
            try:
                await self._wait(deadline)
                self.check(slack=SLACK)  # another process may have been told to wait meanwhile
                yield
                try:
                    self._last_send.set(self.base_url, time.time())
                except OSError as exc:  # the send is on its way: say so, do not fail it
                    self._warn_once(f"cannot write {self._last_send.path}: {exc}")
            finally:
                self._last_send.lock.release()

    async def _acquire(self, deadline: float) -> None:
        """The file lock of the sends' turns (another process may be waiting its own turn)."""
        said = False
        while not self._try_lock():
            if time.monotonic() + POLL > deadline:
                raise RateLimited(
                    f"other lmarena processes kept sending to {self.base_url} for longer than "
                    f"this send's timeout (LM_ARENA_MIN_INTERVAL is {self.interval:g} s); try "
                    "again later",
                    retry_after=self.interval,
                    kind=ErrorKind.RATE_LIMITED,
                )
            if not said:
                said = True
                _log.info(
                    "waiting for another lmarena process's send to go first "
                    f"(LM_ARENA_MIN_INTERVAL is {self.interval:g} s)"
                )
            await asyncio.sleep(POLL)

    def _try_lock(self) -> bool:
        lock = self._last_send.lock
        try:
            return lock.try_acquire()
        except OSError as exc:
            raise ConfigError(
                f"LM_ARENA_MIN_INTERVAL needs a lock file in the state directory, and {lock.path} "
                f"cannot be opened ({exc.strerror}); make the directory writable or set "
                "LM_ARENA_MIN_INTERVAL=0"
            ) from None

    async def _wait(self, deadline: float) -> None:
        """Sleep until ``interval`` seconds after the last send (the file lock is held)."""
        last = self._last_send.get(self.base_url)
        if last is None:
            return
        # A clock set back would make the last send look to be in the future: wait one interval
        # at most.
        wait = min(self.interval, last + self.interval - time.time())
        if wait <= 0:
            return
        if time.monotonic() + wait > deadline:
            raise RateLimited(
                f"LM_ARENA_MIN_INTERVAL is {self.interval:g} s, and the next send to "
                f"{self.base_url} may leave in {wait:.1f} s, after this send's timeout; try "
                "again later",
                retry_after=wait,
                kind=ErrorKind.RATE_LIMITED,
            )
        _log.info(
            f"waiting {wait:.1f} s before sending: LM_ARENA_MIN_INTERVAL is {self.interval:g} s "
            f"and the last send left {self.interval - wait:.1f} s ago"
        )
        await asyncio.sleep(wait)

    def _refusal(self, penalty: Penalty) -> RateLimited:
        left = penalty.left()
        return RateLimited(
            f"not sending to {self.base_url}: {penalty.reason} (at "
            f"{local_time(penalty.since)}); sending is possible again at "
            f"{local_time(penalty.until)} (in {left:.0f} s). Remembered in {self.penalties_path}",
            retry_after=left,
            kind=ErrorKind.RATE_LIMITED,
        )

    def _warn_once(self, line: str) -> None:
        if line not in self._warned:
            self._warned.add(line)
            _log.warning(line)


def local_time(when: float) -> str:
    """``14:32:05 CET`` today, ``2026-11-30 14:32:05 CET`` on another day (local time)."""
    moment = time.localtime(when)
    today = time.localtime()[:3] == moment[:3]
    return time.strftime("%H:%M:%S %Z" if today else "%Y-%m-%d %H:%M:%S %Z", moment).strip()


__all__ = ["POLL", "SLACK", "Pacing", "local_time"]

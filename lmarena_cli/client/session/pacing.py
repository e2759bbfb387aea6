"""Account safety across runs: :class:`Pacing`, one per client.

* **Penalties.** When the site says to wait (a 429 with ``Retry-After``, or the cool-down that
  reCAPTCHA rejections in a row start), :meth:`Pacing.remember` writes until when to the state
  directory (:class:`~lmarena_cli.state.penalty.PenaltyFile`). Until then :meth:`Pacing.check`
  raises ``RateLimited`` (exit 6, HTTP 429, ``retry_after``) in every process of this user, before
  anything touches the site: no browser starts, no request leaves. Sending on would only lengthen
  the flag on the account (protocol §14.6).
* **Flags** (protocol §15.3). The site's rejections of sends (a 403 reCAPTCHA rejection, a 429
  ``prompt failed``) are counted in a row across processes (:meth:`Pacing.rejected`; an accepted
  send starts the count again, :meth:`Pacing.accepted`); the second flags the account for 1200 s,
  doubled on each further flag within a day up to 7200 s (:mod:`lmarena_cli.site.flags`). The
  refusal says what the site wants (its security check passed in a browser) and how to clear the
  flag (``lmarena doctor --clear-flag``, :meth:`Pacing.forget`).
* **Short waits are waited out.** What is left of a penalty, when it is at most
  ``LM_ARENA_MAX_WAIT`` seconds, is waited out (said at INFO) before the send
  (:meth:`Pacing.wait_out`); a longer one refuses at once (:meth:`Pacing.check`). A refusal
  never says "in 0 s": the seconds are rounded up. Within :func:`never_wait_out` (``lmarena
  serve``'s HTTP requests) nothing is waited out: the client gets the 429 and its wait at once.
* **Per model** (§15.3): a model row's ``rateLimitedUntil`` refuses sends to that model (and
  only that one) until then, at once (``check(model)``).
* **A daily budget.** Every send is counted per UTC day across processes
  (:class:`~lmarena_cli.state.sends.DailySends`); with ``LM_ARENA_DAILY_SENDS`` above 0, a send
  past it refuses at once until the next midnight UTC (§15.3: the gateway that studied the flags
  keeps to 40 a day).
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
import math
import time
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from ...errors import ADVICE_SLOT, Advice, ConfigError, ErrorKind, RateLimited
from ...settings import Settings
from ...site.flags import next_midnight_utc
from ...site.models import Model
from ...state.penalty import LastSendFile, Penalty, PenaltyFile
from ...state.sends import DailySends

_log = logging.getLogger("lmarena")

#: The ``max_wait`` of the sends made in this context when it is not the settings'.
_MAX_WAIT: ContextVar[float | None] = ContextVar("lmarena_max_wait", default=None)


@contextlib.contextmanager
def never_wait_out() -> Iterator[None]:
    """Within it, no wait the site asks for is waited out (``LM_ARENA_MAX_WAIT`` is 0 for the
    sends made here): ``lmarena serve``'s HTTP requests, whose client gets the 429 with its
    ``Retry-After`` at once and waits as it sees fit, while the commands it serves on its socket
    keep their ``LM_ARENA_MAX_WAIT`` (protocol §15.3)."""
    token = _MAX_WAIT.set(0.0)
    try:
        yield
    finally:
        _MAX_WAIT.reset(token)


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
        self._max_wait = settings.max_wait
        self.daily_sends = settings.daily_sends
        self._penalties = PenaltyFile(settings.state_dir, self._warn_once)
        self._last_send = LastSendFile(settings.state_dir, self._warn_once)
        self._sends = DailySends(settings.state_dir, self._warn_once)
        self._turns = asyncio.Lock()
        self._warned: set[str] = set()

    @property
    def max_wait(self) -> float:
        """The longest wait the site asks for that a send made now waits out."""
        override = _MAX_WAIT.get()
        return self._max_wait if override is None else override

    @property
    def penalties_path(self) -> Path:
        return self._penalties.path

    def penalty(self) -> Penalty | None:
        """The penalty the site gave that still runs, if any."""
        return self._penalties.get(self.base_url)

    def check(self, *models: Model | None, slack: float = 0.0) -> None:
        """Raise ``RateLimited`` at once for what is not waited out: a remembered penalty (or
        flag) with more than ``LM_ARENA_MAX_WAIT`` (or ``slack``) seconds left, a model of
        ``models`` the site rate-limits for this account, the day's budget spent."""
        now = time.time()
        for model in models:
            until = model.rate_limited_until if model is not None else None
            if model is not None and until is not None and until > now:
                raise RateLimited(
                    f"the site rate-limits {model.name} for this account until "
                    f"{local_time(until)} (in {_seconds(until - now)} s; its model list says "
                    "so); other models still answer",
                    retry_after=until - now,
                    kind=ErrorKind.MODEL_RATE_LIMITED,
                )
        penalty = self.penalty()
        if penalty is not None and penalty.left() > max(slack, self.max_wait):
            raise self._refusal(penalty)
        if self.daily_sends > 0 and self.sends_today() >= self.daily_sends:
            reset = next_midnight_utc(now)
            raise RateLimited(
                f"not sending to {self.base_url}: today's {self.daily_sends} sends "
                f"(LM_ARENA_DAILY_SENDS) are spent; sending is possible again at midnight UTC, "
                f"{local_time(reset)} (in {_seconds(reset - now)} s). Counted in "
                f"{self._sends.path}",
                retry_after=reset - now,
                kind=ErrorKind.DAILY_BUDGET,
            )

    async def wait_out(
        self, *models: Model | None, deadline: float | None = None, slack: float = 0.0
    ) -> None:
        """Wait out what is left of a remembered penalty when it is at most
        ``LM_ARENA_MAX_WAIT`` seconds, saying so (INFO); refuse at once as :meth:`check` does
        otherwise, or when the wait would end after ``deadline`` (``time.monotonic()``)."""
        self.check(*models, slack=slack)
        penalty = self.penalty()
        left = penalty.left() if penalty is not None else 0.0
        if penalty is None or left <= 0:
            return
        if deadline is not None and time.monotonic() + left > deadline:
            raise self._refusal(penalty)
        _log.info(
            f"waiting {_seconds(left)} s before sending, until {local_time(penalty.until)}: "
            f"{penalty.reason} (LM_ARENA_MAX_WAIT is {self.max_wait:g} s)"
        )
        await asyncio.sleep(left)

    def rejected(self, cause: str) -> None:
        """The site refused a send (``cause``, a phrase): the second in a row flags the
        account (protocol §15.3). Never raises."""
        try:
            flag = self._penalties.reject(self.base_url, cause)
        except OSError as exc:
            self._warn_once(f"cannot count the site's refusal in {self.penalties_path}: {exc}")
            return
        if flag is not None:
            _log.warning(
                f"{flag.reason}: no send to {self.base_url} until {local_time(flag.until)}; "
                "pass the site's security check in a browser (`lmarena login`), then "
                "`lmarena doctor --clear-flag`"
            )

    def accepted(self) -> None:
        """The site accepted a send: the rejections in a row start again from none."""
        try:
            self._penalties.accepted(self.base_url)
        except OSError as exc:
            self._warn_once(f"cannot write {self.penalties_path}: {exc}")

    def sends_today(self) -> int:
        """This user's sends to the site so far in the UTC day."""
        return self._sends.count(self.base_url)

    def status(self) -> AccountStatus:
        """The account's state as this machine knows it (for doctor and server status)."""
        return AccountStatus(
            self.penalty(),
            self._penalties.flags_today(self.base_url),
            self.sends_today(),
            self.daily_sends,
            self.penalties_path,
        )

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

    def forget(self) -> Penalty | None:
        """Send again before the remembered penalty or flag is over (once the site's security
        check is passed; else at the account's risk: the site lengthens its flag on every
        attempt it refuses). Returns what was dropped, if it still ran."""
        return self._penalties.forget(self.base_url)

    @contextlib.asynccontextmanager
    async def turn(self, deadline: float) -> AsyncIterator[None]:
        """This send's turn: inside the block, mint its token; the send leaves right after.

        ``deadline`` is ``time.monotonic()`` time by which the send must be on its way. A
        remembered penalty refuses at once; with ``LM_ARENA_MIN_INTERVAL`` set, the block starts
        once that many seconds have passed since the last send of any process of this user, and
        its end (when the block does not raise) is the new time of the last send.
        """
        # A penalty another process was told meanwhile, or the end of one this send's retry
        # policy has just waited out (``slack``), is waited out here; a long one refuses.
        await self.wait_out(deadline=deadline, slack=SLACK)
        if self.interval <= 0:
            yield
            self._count()
            return
        async with self._turns:
            await self._acquire(deadline)
            try:
                await self._wait(deadline)
                self.check(slack=SLACK)  # another process may have been told to wait meanwhile
                yield
                self._count()
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

    def _count(self) -> None:
        try:
            self._sends.add(self.base_url)
        except OSError as exc:  # the send is on its way: say so, do not fail it
            self._warn_once(f"cannot count the send in {self._sends.path}: {exc}")

    def _refusal(self, penalty: Penalty) -> RateLimited:
        left = penalty.left()
        if penalty.flagged:
            return RateLimited(
                f"not sending to {self.base_url}: {penalty.reason} (at "
                f"{local_time(penalty.since)}).{ADVICE_SLOT} Otherwise sending is possible again "
                f"at {local_time(penalty.until)} (in {_seconds(left)} s). Remembered in "
                f"{self.penalties_path}",
                retry_after=left,
                kind=ErrorKind.ACCOUNT_FLAGGED,
                advice=Advice.PASS_CHECK,
            )
        return RateLimited(
            f"not sending to {self.base_url}: {penalty.reason} (at "
            f"{local_time(penalty.since)}); sending is possible again at "
            f"{local_time(penalty.until)} (in {_seconds(left)} s). Remembered in "
            f"{self.penalties_path}",
            retry_after=left,
            kind=ErrorKind.RATE_LIMITED,
        )

    def _warn_once(self, line: str) -> None:
        if line not in self._warned:
            self._warned.add(line)
            _log.warning(line)


@dataclass(frozen=True)
class AccountStatus:
    """What this machine knows of the account: a penalty or flag that runs, the day's flags,
    today's sends and their budget (0: none), and where the penalties are kept."""

    penalty: Penalty | None
    flags_today: int
    sends_today: int
    daily_sends: int
    path: Path

    def describe(self) -> str:
        """One line for people."""
        if self.penalty is None:
            state = "not flagged, no wait remembered"
        else:
            what = "FLAGGED" if self.penalty.flagged else "waiting"
            state = (
                f"{what} until {local_time(self.penalty.until)} (in "
                f"{_seconds(self.penalty.left())} s): {self.penalty.reason} (since "
                f"{local_time(self.penalty.since)})"
            )
        budget = f" of {self.daily_sends}" if self.daily_sends else " (no LM_ARENA_DAILY_SENDS)"
        return f"{state}; today's sends (UTC): {self.sends_today}{budget}"

    def to_json(self) -> dict[str, object]:
        penalty = self.penalty
        return {
            "flagged": bool(penalty and penalty.flagged),
            "waiting": penalty is not None,
            "reason": penalty.reason if penalty else None,
            "since": penalty.since if penalty else None,
            "until": penalty.until if penalty else None,
            "flags_today": self.flags_today,
            "sends_today": self.sends_today,
            "daily_sends": self.daily_sends or None,
        }


def _seconds(left: float) -> int:
    """Whole seconds to wait, rounded up: a wait still refused never says "in 0 s"."""
    return max(1, math.ceil(left))


def local_time(when: float) -> str:
    """``14:32:05 CET`` today, ``2026-11-30 14:32:05 CET`` on another day (local time)."""
    moment = time.localtime(when)
    today = time.localtime()[:3] == moment[:3]
    return time.strftime("%H:%M:%S %Z" if today else "%Y-%m-%d %H:%M:%S %Z", moment).strip()


__all__ = ["POLL", "SLACK", "AccountStatus", "Pacing", "local_time"]

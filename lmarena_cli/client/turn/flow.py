"""The flow of one turn: :class:`TurnFlow`, its phases and every transition between them.

A turn (:class:`~.exchange.ReplyStream`) does the I/O; every change of what it is doing goes
through :meth:`TurnFlow.move`, which refuses any pair not in :data:`TRANSITIONS`:

================  ================  ==========================================================
from              to                when
================  ================  ==========================================================
sending           sending           a failure before the answer started, retried (fresh ids)
sending           holding           the site accepted a single-model turn (not a new chat's
                                    first, protocol §15.1): side A is held
sending           streaming         accepted, nothing to hold (two models, a regenerate)
sending           battle found      the site refuses the turn until an earlier battle is skipped
sending           failed            a failure the retry policy does not retry
holding           streaming         the release: A's finish, the hold's time, the body's end, or
                                    a failure (the held events are handed over first)
holding           battle found      a ``b`` line while holding: the held text was an anonymous
                                    model's, and is dropped
holding           failed            the caller stopped reading
streaming         battle found      a ``b`` line after the release: the text shown was an
                                    anonymous model's (said, and kept out of the reply)
streaming         sending           a failure before any content, retried
streaming         done              the answer ended whole
streaming         failed            a failure after content, or one not retried
battle found      skipping          the site accepted the skip
battle found      failed            the skip failed: the battle stays pending (the next send
                                    skips it first)
skipping          sending           an earlier turn's battle was skipped: send this turn again
skipping          done              the chosen model's answer ended whole
skipping          failed            the skip's answer failed or was empty (never retried: it
                                    would be another turn)
================  ================  ==========================================================

**The hold** (protocol §14.5, §15.1): in a single-model chat side A's events are held from the
start of its answer until its first content is ``hold`` seconds old, A's finish line, or the end
of the body (a failure too), whichever comes first; :meth:`TurnFlow._release` is the one place
held events are handed over. A ``b`` line while watching (holding or streaming a single-model
answer) is the battle, whatever its code (text, reasoning, ``b2``, ``b9``/``ba``, ``bf``:
protocol §15.1 says any ``b`` line marks one): :class:`BattleSeen`. The battle's message ids are
*pending* from ``battle found`` until ``skipping`` (``on_pending`` is told both times): a skip
that failed is retried by the conversation's next send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ...errors import LmArenaError
from ...site.events import (
    Citation,
    Event,
    Finish,
    Heartbeat,
    ImageOutput,
    ReasoningDelta,
    StreamError,
    TextDelta,
)
from ..reply import SkippedBattle

_log = logging.getLogger("lmarena")


class Phase(StrEnum):
    """What a turn is doing (see the module doc for the transitions)."""

    SENDING = "sending"
    HOLDING = "holding"
    STREAMING = "streaming"
    BATTLE_FOUND = "battle found"
    SKIPPING = "skipping"
    DONE = "done"
    FAILED = "failed"


_P = Phase
#: Every transition a turn may make (the module doc's table, in the same order).
TRANSITIONS: frozenset[tuple[Phase, Phase]] = frozenset(
    {
        (_P.SENDING, _P.SENDING),
        (_P.SENDING, _P.HOLDING),
        (_P.SENDING, _P.STREAMING),
        (_P.SENDING, _P.BATTLE_FOUND),
        (_P.SENDING, _P.FAILED),
        (_P.HOLDING, _P.STREAMING),
        (_P.HOLDING, _P.BATTLE_FOUND),
        (_P.HOLDING, _P.FAILED),
        (_P.STREAMING, _P.BATTLE_FOUND),
        (_P.STREAMING, _P.SENDING),
        (_P.STREAMING, _P.DONE),
        (_P.STREAMING, _P.FAILED),
        (_P.BATTLE_FOUND, _P.SKIPPING),
        (_P.BATTLE_FOUND, _P.FAILED),
        (_P.SKIPPING, _P.SENDING),
        (_P.SKIPPING, _P.DONE),
        (_P.SKIPPING, _P.FAILED),
    }
)
#: The phases a turn ends in.
ENDED = frozenset({Phase.DONE, Phase.FAILED})
#: The events that carry an answer's content (what the hold is about).
CONTENT = (TextDelta, ReasoningDelta, ImageOutput, Citation)


class IllegalTransition(RuntimeError):
    """A turn asked to move between two phases the table does not join (a bug)."""


class BattleSeen(Exception):
    """A ``b`` line came in a single-model chat: the turn is an anonymous battle.

    ``shown``: some of side A's content had already been handed to the caller.
    """

    def __init__(self, shown: bool) -> None:
        super().__init__("the site answered this single-model turn as a battle")
        self.shown = shown


class HoldDue:
    """A step of a reading: the hold's time has come (nothing arrived before it)."""


#: The one :class:`HoldDue`.
HOLD_DUE = HoldDue()


@dataclass(frozen=True)
class ReadEnd:
    """The last step of a reading: the body ended, whole (``error`` None) or not."""

    error: LmArenaError | None = None


#: What a reading hands the flow: an event, the hold's time, or its end.
Step = Event | HoldDue | ReadEnd
Pending = tuple[str, str]


class TurnFlow:
    """One turn's phase, its hold, and the battle it found (see the module doc).

    ``watch``: a single-model chat, whose answer is watched for a battle and held for ``hold``
    seconds (0: watched, not held). ``pending_battle``: the ids of an earlier battle whose skip
    is due; ``on_pending`` is told each change of it.
    """

    def __init__(
        self,
        *,
        watch: bool,
        hold: float,
        pending_battle: Pending | None = None,
        on_pending: Callable[[Pending | None], None] | None = None,
    ) -> None:
        self.watch = watch
        self.hold = hold
        self.phase = Phase.SENDING
        #: Every phase this turn was in, in order.
        self.history: list[Phase] = [Phase.SENDING]
        self.pending_battle = pending_battle
        self._on_pending = on_pending
        #: The battle this turn skipped (this turn's, or an earlier turn's); None when none.
        self.skipped: SkippedBattle | None = None
        self._announce = False
        self._ids: Pending | None = None
        self._held: list[Event] = []
        self._until: float | None = None
        self._shown = False

    @property
    def ended(self) -> bool:
        """Done or failed: nothing more is read."""
        return self.phase in ENDED

    def move(self, to: Phase) -> None:
        """Go to phase ``to``; :class:`IllegalTransition` when the table has no such step."""
        if (self.phase, to) not in TRANSITIONS:
            raise IllegalTransition(f"a turn cannot go from {self.phase} to {to}")
        _log.debug("turn: %s -> %s", self.phase, to)
        self.phase = to
        self.history.append(to)

    def fail(self) -> None:
        """End the turn as failed (or stopped by the caller), whatever it was doing."""
        if not self.ended:
            self.move(Phase.FAILED)

    # -- sending ----------------------------------------------------------------------------------

    def accepted(self, battle_ids: Pending) -> None:
        """The site accepted the request (status 200) whose battle would have ``battle_ids``:
        its answer is read next, held or not. In ``skipping``, the skip's answer: not held."""
        self._ids = battle_ids
        self._held, self._until, self._shown = [], None, False
        if self.phase is not Phase.SKIPPING:
            self.move(Phase.HOLDING if self.watch and self.hold > 0 else Phase.STREAMING)

    def found_battle(self, ids: Pending) -> None:
        """A battle whose skip is due (this turn's, or an earlier one that blocks it)."""
        self.move(Phase.BATTLE_FOUND)
        self._pending(ids)

    def skipping(self, skipped: SkippedBattle, *, earlier: bool = False) -> None:
        """The site accepted the skip; an ``earlier`` turn's is announced before this answer."""
        self.move(Phase.SKIPPING)
        self._pending(None)
        self.skipped = skipped
        self._announce = earlier

    def may_unstick(self) -> bool:
        """Whether a refusal for an earlier battle may still be cured by skipping it (once)."""
        return self.skipped is None

    def take_announcement(self) -> SkippedBattle | None:
        """The earlier turn's skipped battle, once, to be said before this turn's answer."""
        if not self._announce:
            return None
        self._announce = False
        return self.skipped

    def _pending(self, ids: Pending | None) -> None:
        self.pending_battle = ids
        if self._on_pending is not None:
            self._on_pending(ids)

    # -- reading ----------------------------------------------------------------------------------

    def deadline(self) -> float | None:
        """When the held events are due (monotonic clock); None when no hold runs."""
        return self._until if self.phase is Phase.HOLDING else None

    def pass_on(self, step: Step, now: float) -> list[Event]:
        """The events the caller gets now for ``step`` (none while holding). A ``b`` line while
        watching is the battle: ``battle found``, then :class:`BattleSeen`."""
        if isinstance(step, HoldDue | ReadEnd):
            return self._release()
        watching = self.watch and self.phase in (Phase.HOLDING, Phase.STREAMING)
        if watching and step.side == "b":
            assert self._ids is not None  # set when the answer was accepted
            self._held = []  # an anonymous model's: dropped
            self.found_battle(self._ids)
            raise BattleSeen(self._shown)
        if isinstance(step, Heartbeat | StreamError):
            return []  # a keep-alive; a failure, which the reading raises next
        if self.phase is not Phase.HOLDING:
            return self._hand_over([step])
        self._held.append(step)
        if self._until is None and isinstance(step, CONTENT):
            self._until = now + self.hold
        if isinstance(step, Finish) or (self._until is not None and now >= self._until):
            return self._release()
        return []

    def _release(self) -> list[Event]:
        """The one release: ``holding`` to ``streaming``, the held events in order."""
        if self.phase is not Phase.HOLDING:
            return []
        self.move(Phase.STREAMING)
        held, self._held = self._held, []
        return self._hand_over(held)

    def _hand_over(self, events: list[Event]) -> list[Event]:
        self._shown = self._shown or any(isinstance(e, CONTENT) for e in events)
        return events


__all__ = [
    "CONTENT",
    "ENDED",
    "HOLD_DUE",
    "TRANSITIONS",
    "BattleSeen",
    "HoldDue",
    "IllegalTransition",
    "Phase",
    "ReadEnd",
    "Step",
    "TurnFlow",
]

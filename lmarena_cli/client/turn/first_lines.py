"""When each side of an answer first spoke: :class:`FirstLines`, the data the battle hold is
sized from.

Protocol §15.1: there is no early sign of a battle turn, and model B's first line (any line whose
prefix starts with ``b``) may come seconds after A's. A fixed hold is a guess; these offsets,
kept per turn (at ``--debug`` and in the conversation store's ``turn_times``, the largest B
offset shown by ``lmarena doctor --json``), are what it is sized from. Offsets are seconds from
the send (the request leaving) to A's first line of content (text, reasoning, an image, a
citation: heartbeats and message-id lines say nothing about when A answers) and to the first
``b`` line of any kind; only the turn's own answer counts, not a skip's.
"""

from __future__ import annotations

import logging

from ...site.events import Event
from .flow import CONTENT

_log = logging.getLogger("lmarena")


class FirstLines:
    """The offsets of one turn's first ``a`` content line and first ``b`` line (see the module
    doc); :meth:`sent` starts the clock, :meth:`see` is shown each event as it comes. Only a
    ``watch``ed turn (a single-model chat's) is timed: elsewhere B is no sign of a battle."""

    def __init__(self, *, watch: bool) -> None:
        self._watch = watch
        self._sent: float | None = None
        #: Seconds from the send to A's first content; None until it came.
        self.a: float | None = None
        #: Seconds from the send to the first ``b`` line; None when none came (no battle).
        self.b: float | None = None
        self._closed = False

    def sent(self, now: float) -> None:
        """The request left (again: a retried send starts the clock anew)."""
        if self._watch and not self._closed:
            self._sent, self.a, self.b = now, None, None

    def close(self) -> None:
        """The turn's own answer is over (a skip's answer follows): nothing more is counted."""
        self._closed = True

    def see(self, event: Event, now: float) -> None:
        if self._closed or self._sent is None:
            return
        offset = round(now - self._sent, 3)
        if event.side == "b" and self.b is None:
            self.b = offset
        elif event.side == "a" and self.a is None and isinstance(event, CONTENT):
            self.a = offset

    def timings(self, hold: float) -> dict[str, float | None]:
        """The offsets as ``Reply.timings`` keeps them (``first_a``, ``first_b``, and the
        turn's ``battle_hold``); none when the clock never started (a regenerate)."""
        if self._sent is None:
            return {}
        return {"first_a": self.a, "first_b": self.b, "battle_hold": hold}

    def log(self, hold: float) -> None:
        """The ``--debug`` line of this turn."""
        a = "none" if self.a is None else f"{self.a:.3f} s"
        b = "none" if self.b is None else f"{self.b:.3f} s"
        _log.debug(f"first lines after the send: a {a}, b {b} (battle hold {hold:g} s)")


__all__ = ["FirstLines"]

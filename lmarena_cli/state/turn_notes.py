"""What the turns taught about each conversation, in the conversation store's file.

* ``turn_times``: per turn of a single-model chat, the seconds from the send to side A's first
  content and to the first ``b`` line (None: no battle), and the hold it had. Protocol §15.1:
  model B may start seconds after A, so the battle hold (``LM_ARENA_BATTLE_HOLD``) is sized from
  these; ``lmarena doctor --json`` shows the largest B offset seen.
* ``ended_conversations``: conversations the site will not let go on (a battle whose skip it
  refused, protocol §15.1: "only allowed for first response"), why, and the conversation that
  took over (its first prompt folded the stored transcript).

Tables of their own, created if missing (like :mod:`.served`): the conversation store's schema is
untouched. Safe across processes (WAL, short ``BEGIN IMMEDIATE`` writes).
"""

from __future__ import annotations

import time
from pathlib import Path

from .sqlite import SideTables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turn_times (
    conversation_id TEXT NOT NULL,
    at REAL NOT NULL,
    first_a REAL,
    first_b REAL,
    hold REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turn_times_conversation ON turn_times (conversation_id);
CREATE TABLE IF NOT EXISTS ended_conversations (
    id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    at REAL NOT NULL
)
"""


class TurnNotes(SideTables):
    """The two tables of the module doc; close with :meth:`close`."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    # --- turn times ------------------------------------------------------------------------------

    def add_times(
        self, conversation_id: str, *, first_a: float | None, first_b: float | None, hold: float
    ) -> None:
        """One turn's offsets (seconds from the send; None: that side never spoke)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO turn_times (conversation_id, at, first_a, first_b, hold)"
                " VALUES (?, ?, ?, ?, ?)",
                (conversation_id, time.time(), first_a, first_b, hold),
            )

    def times(self, conversation_id: str) -> list[tuple[float | None, float | None, float]]:
        """The conversation's turns, oldest first: (first_a, first_b, hold)."""
        rows = self._rows(
            "SELECT first_a, first_b, hold FROM turn_times WHERE conversation_id = ?"
            " ORDER BY rowid",
            conversation_id,
        )
        return [(row[0], row[1], row[2]) for row in rows]

    def largest_b(self) -> tuple[float | None, int]:
        """The largest offset of a first ``b`` line seen (None: no battle yet), and how many
        turns were timed."""
        row = self._read("SELECT MAX(first_b), COUNT(*) FROM turn_times")
        return (None, 0) if row is None else (row[0], int(row[1]))

    # --- ended conversations ---------------------------------------------------------------------

    def end(self, conversation_id: str, reason: str) -> None:
        """The site will not let the conversation go on (``reason`` says why)."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO ended_conversations (id, reason, at) VALUES (?, ?, ?)",
                (conversation_id, reason, time.time()),
            )

    def ended(self, conversation_id: str) -> str | None:
        """Why the conversation cannot go on; None when it can."""
        row = self._read("SELECT reason FROM ended_conversations WHERE id = ?", conversation_id)
        return None if row is None else str(row[0])


__all__ = ["TurnNotes"]

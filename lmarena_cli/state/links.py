"""Which stored conversation goes on in which: the site recycled the old one (protocol §15.3).

When ``post-to-evaluation`` answers 404, the site has recycled the conversation, and a new one is
the way on: ``ask -c``, ``chat`` and ``serve`` start it with the old transcript folded into its
first prompt, and link the old id to the new one here, so that ``lmarena history`` can show where
a conversation went and ``--resume OLD`` goes on in the new one instead of meeting the 404 again.

A table of its own in the conversation store's file, created if missing (the store's schema is
untouched; an older lmarena reading the file sees nothing new). Safe across processes like the
store (WAL, short ``BEGIN IMMEDIATE`` writes).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from ..errors import StoreError
from .sqlite import SideTables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversation_links (
    old_id TEXT PRIMARY KEY,
    new_id TEXT NOT NULL,
    linked_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversation_links_new ON conversation_links (new_id)
"""
#: How many links :meth:`ConversationLinks.latest` follows at most (a chain, never a loop).
MAX_HOPS = 32


class ConversationLinks(SideTables):
    """The links table in the conversation store's file; close it with :meth:`close`."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """``read_only``: for readers (``lmarena history``), which must neither create the table
        nor wait for another process's write lock; a file without the table has no links."""
        super().__init__(path, _SCHEMA, read_only=read_only)

    def link(self, old_id: str, new_id: str) -> None:
        """``old_id`` goes on in ``new_id`` (a later link of ``old_id`` replaces this one)."""
        if old_id == new_id:
            return
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO conversation_links (old_id, new_id, linked_at)"
                " VALUES (?, ?, ?)",
                (old_id, new_id, time.time()),
            )

    def successor(self, old_id: str) -> str | None:
        """The conversation ``old_id`` went on in, or None."""
        return self._one("SELECT new_id FROM conversation_links WHERE old_id = ?", old_id)

    def predecessor(self, new_id: str) -> str | None:
        """The conversation that went on in ``new_id``, or None."""
        return self._one(
            "SELECT old_id FROM conversation_links WHERE new_id = ? ORDER BY linked_at DESC",
            new_id,
        )

    def latest(self, conversation_id: str) -> str:
        """Where ``conversation_id`` goes on now: its links followed to the end (itself when it
        has none); a chain that comes back on itself stops where it would repeat."""
        seen = {conversation_id}
        current = conversation_id
        for _ in range(MAX_HOPS):
            following = self.successor(current)
            if following is None or following in seen:
                break
            seen.add(following)
            current = following
        return current

    def _one(self, sql: str, value: str) -> str | None:
        try:
            with self._lock:
                row = self._db.execute(sql, (value,)).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None  # no conversation was ever recycled here
            raise StoreError(f"cannot read the conversation store {self.path}: {exc}") from None
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the conversation store {self.path}: {exc}") from None
        return None if row is None else str(row[0])


__all__ = ["ConversationLinks"]

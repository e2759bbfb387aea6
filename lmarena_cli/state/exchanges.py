"""What a turn had besides its text, in the conversation store's file: ``lmarena history export``.

The store's transcript is plain text (``{"role", "content"}``), the shape that ``serve`` matches a
client's history against; it has no room for a turn's images, the model that answered it, or
model B's answer of a side-by-side or battle turn. This table keeps those, one row per turn:

* ``turn``: the turn's number in the conversation (1 for the first prompt), counted as the
  transcript's user messages once the turn is recorded;
* ``data``: JSON ``{"images": [...], "answers": [{"side", "model", "text", "images"}],
  "saved": [...]}``: the prompt's images as given (an absolute path, an http(s) URL, or None
  for bytes that had no name, such as stdin), each answer's side, model, text and images (the
  site's URLs), and the files ``ask -o`` saved the answer's images to.

A table of its own beside the store (:class:`~.sqlite.SideTables`, like :mod:`.links` and
:mod:`.turn_notes`); a reader opened ``read_only`` neither creates the table nor waits for another
process's write lock.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

from ..errors import StoreError
from .sqlite import SideTables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turn_exchanges (
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (conversation_id, turn)
)
"""

#: One conversation's turns: the turn's number to its data (the module doc's JSON).
Exchanges = dict[int, dict[str, Any]]


class TurnExchanges(SideTables):
    """The ``turn_exchanges`` table of the module doc; close it with :meth:`close`."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        super().__init__(path, _SCHEMA, read_only=read_only)

    def add(self, conversation_id: str, turn: int, data: dict[str, Any]) -> None:
        """Turn ``turn``'s data (a later write of the same turn, a regenerate, replaces it)."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO turn_exchanges (conversation_id, turn, data)"
                " VALUES (?, ?, ?)",
                (conversation_id, turn, orjson.dumps(data)),
            )

    def add_saved(self, conversation_id: str, paths: list[str]) -> None:
        """The files the latest turn's images were saved to (``ask -o``); nothing when the
        conversation has no recorded turn."""
        with self._write() as db:
            row = db.execute(
                "SELECT turn, data FROM turn_exchanges WHERE conversation_id = ?"
                " ORDER BY turn DESC LIMIT 1",
                (conversation_id,),
            ).fetchone()
            if row is None:
                return
            data = orjson.loads(row[1])
            data["saved"] = [*data.get("saved", []), *paths]
            db.execute(
                "UPDATE turn_exchanges SET data = ? WHERE conversation_id = ? AND turn = ?",
                (orjson.dumps(data), conversation_id, row[0]),
            )

    def forget(self, conversation_id: str) -> None:
        """Delete one conversation's turns (``lmarena history rm``)."""
        with self._write() as db:
            db.execute("DELETE FROM turn_exchanges WHERE conversation_id = ?", (conversation_id,))

    def of(self, conversation_id: str) -> Exchanges:
        """One conversation's recorded turns (none for a turn recorded by an older lmarena)."""
        return self.every([conversation_id]).get(conversation_id, {})

    def every(self, conversation_ids: list[str] | None = None) -> dict[str, Exchanges]:
        """Every conversation's recorded turns (or those of ``conversation_ids``), read in one
        statement: a consistent snapshot while other processes write."""
        sql = "SELECT conversation_id, turn, data FROM turn_exchanges"
        params: tuple[str, ...] = ()
        if conversation_ids is not None:
            sql += f" WHERE conversation_id IN ({', '.join('?' * len(conversation_ids))})"
            params = tuple(conversation_ids)
        try:
            with self._lock:
                rows = self._db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return {}  # written by an lmarena that kept no turn details
            raise StoreError(f"cannot read the conversation store {self.path}: {exc}") from None
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the conversation store {self.path}: {exc}") from None
        found: dict[str, Exchanges] = {}
        for conversation_id, turn, data in rows:
            found.setdefault(conversation_id, {})[int(turn)] = orjson.loads(data)
        return found


__all__ = ["Exchanges", "TurnExchanges"]

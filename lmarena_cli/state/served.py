"""What ``lmarena serve`` keeps beside each conversation, in the conversation store's file.

* per conversation: the client's **session key** it was started under (``prompt_cache_key``, a
  ``session-id`` or ``X-Claude-Code-Session-Id`` header), within which transcripts are matched,
  and the key of the **tool contract** it has seen (the contract is sent again only when the tool
  set changes);
* per response of ``POST /v1/responses``: its whole body, so that ``GET /v1/responses/{id}`` and
  ``previous_response_id`` work after a restart. The latest response of a conversation is the
  one it can be continued from.

Tables of their own, created if missing, so the conversation store's schema is untouched and an
older lmarena reading the file sees nothing new. Safe across processes like the store (WAL, short
``BEGIN IMMEDIATE`` writes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .sqlite import SideTables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS served_conversations (
    id TEXT PRIMARY KEY,
    session_key TEXT,
    contract TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS served_conversations_key ON served_conversations (session_key);
CREATE TABLE IF NOT EXISTS served_responses (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    touched INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS served_responses_conversation
    ON served_responses (conversation_id, touched)
"""


@dataclass(frozen=True)
class StoredResponse:
    """A response of ``/v1/responses`` as it was returned; ``latest``: no later response of its
    conversation exists (it can be continued)."""

    id: str
    conversation_id: str
    body: dict[str, Any]
    latest: bool


class ServedStore(SideTables):
    """The server's tables in the conversation store's file; close it with :meth:`close`."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    # --- conversations ---------------------------------------------------------------------------

    def session_key(self, conversation_id: str) -> str | None:
        row = self._read(
            "SELECT session_key FROM served_conversations WHERE id = ?", conversation_id
        )
        return None if row is None else row[0]

    def contract(self, conversation_id: str) -> str:
        """The key of the tool contract the conversation has seen ('' for none)."""
        row = self._read("SELECT contract FROM served_conversations WHERE id = ?", conversation_id)
        return "" if row is None else str(row[0])

    def remember(self, conversation_id: str, *, session_key: str | None, contract: str) -> None:
        """Keep the conversation's session key (the first one given wins) and contract key."""
        with self._write() as db:
            db.execute(
                "INSERT INTO served_conversations (id, session_key, contract) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET contract = excluded.contract,"
                " session_key = COALESCE(session_key, excluded.session_key)",
                (conversation_id, session_key, contract),
            )

    # --- responses -------------------------------------------------------------------------------

    def save_response(self, response_id: str, conversation_id: str, body: dict[str, Any]) -> None:
        with self._write() as db:
            touched = db.execute(
                "SELECT COALESCE(MAX(touched), 0) + 1 FROM served_responses"
            ).fetchone()[0]
            db.execute(
                "INSERT OR REPLACE INTO served_responses (id, conversation_id, created_at,"
                " touched, body) VALUES (?, ?, ?, ?, ?)",
                (response_id, conversation_id, time.time(), touched, orjson.dumps(body)),
            )

    def response(self, response_id: str) -> StoredResponse | None:
        row = self._read(
            "SELECT r.id, r.conversation_id, r.body, r.touched = (SELECT MAX(touched) FROM"
            " served_responses WHERE conversation_id = r.conversation_id)"
            " FROM served_responses r WHERE r.id = ?",
            response_id,
        )
        if row is None:
            return None
        return StoredResponse(row[0], row[1], orjson.loads(row[2]), bool(row[3]))

    def delete_response(self, response_id: str) -> bool:
        with self._write() as db:
            return (
                db.execute("DELETE FROM served_responses WHERE id = ?", (response_id,)).rowcount > 0
            )

    # --- plumbing --------------------------------------------------------------------------------


__all__ = ["ServedStore", "StoredResponse"]

"""The conversation store: which arena.ai conversations this tool started, and what was said.

One SQLite file (``Settings.store_path``) in WAL mode, shared by every process of the tool: cron
jobs and ``xargs -P 20 lmarena ask -c`` write at the same time. Hence: a busy timeout instead of
failing on a lock, short write transactions opened with ``BEGIN IMMEDIATE`` (a deferred one that
upgrades from read to write can fail with SQLITE_BUSY without waiting), and a schema created
idempotently under that same lock and versioned with ``PRAGMA user_version``.

Each conversation keeps its transcript (the turns as ``{"role", "content"}``) and a sha256 of it,
so that ``lmarena serve`` can recognise a stock OpenAI client's full message history as the
continuation of a stored conversation with one indexed lookup (:meth:`find_by_transcript`); and
a sha256 of it without its final answer (``head_hash``) together with the site's id of that answer
(``answer_id``), so that a client's "regenerate" (the same history again, up to the last user
message) is recognised just as fast (:meth:`find_regenerate`) and answered by the site's retry.

A file that is not a database raises :class:`StoreError` (exit 1, HTTP 500): nothing the user
typed is wrong (so not a UsageError), and nothing upstream failed; the message names the file and
says to move it away, which loses nothing but the ``--continue`` history.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from ..errors import ErrorKind, StoreError
from .sqlite import BUSY_TIMEOUT, create_file, set_wal
from .transcripts import (
    Turn,
    candidate_cuts,
    head_hash,
    make_title,
    normalise_turns,
    transcript_hash,
)

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    model TEXT,
    mode TEXT NOT NULL,
    model_b TEXT,
    title TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    -- a counter bumped on every write: orders "latest" even when two clocks tie
    touched INTEGER NOT NULL,
    transcript BLOB NOT NULL,
    turns INTEGER NOT NULL,
    transcript_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_touched ON conversations (touched);
CREATE INDEX IF NOT EXISTS conversations_hash ON conversations (transcript_hash);
"""
#: Schema 2: the latest answer's message id on the site, and the hash of the transcript without
#: that answer (a regenerate request's history); '' when the transcript does not end with one.
_SCHEMA_2 = """
ALTER TABLE conversations ADD COLUMN answer_id TEXT;
ALTER TABLE conversations ADD COLUMN head_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS conversations_head ON conversations (head_hash);
"""
_COLUMNS = "id, model, mode, model_b, title, created_at, updated_at, transcript, answer_id"


@dataclass(frozen=True)
class Conversation:
    """One stored conversation. ``id`` is the site's ``evaluationSessionId``."""

    id: str
    #: None until known (a "battle" keeps its models anonymous).
    model: str | None
    mode: str
    model_b: str | None
    title: str
    created_at: float
    updated_at: float
    transcript: list[Turn] = field(default_factory=list)
    #: The site's message id of the latest answer (model A's); None when not known.
    answer_id: str | None = None

    @property
    def turns(self) -> int:
        """How many prompts the transcript holds (its user messages)."""
        return sum(1 for turn in self.transcript if turn.get("role") == "user")


class ConversationStore:
    """The SQLite store; use as a context manager (or call :meth:`close`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # One connection, usable from worker threads (serve runs the store in asyncio.to_thread)
        # but by one of them at a time.
        self._lock = threading.RLock()
        self._db = self._open()

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()

    # --- writes -----------------------------------------------------------------------------------

    def record(
        self,
        conversation_id: str,
        *,
        model: str | None,
        mode: str,
        title: str | None = None,
        messages: list[dict[str, Any]] | None = None,
        model_b: str | None = None,
        answer_id: str | None = None,
    ) -> None:
        """Insert a conversation, or update it and append ``messages`` to its transcript.

        On update, ``mode`` and the models given (not None) take the new values, the title is kept;
        ``title`` defaults to the first line of the first user message. ``answer_id`` is the
        site's id of the answer that ``messages`` end with (None: not known, or no answer).
        """
        turns = normalise_turns(messages or [])
        if title is None:
            title = next((make_title(t["content"]) for t in turns if t["role"] == "user"), "")
        now = time.time()
        with self._write() as db:
            row = db.execute(
                "SELECT transcript, title FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            touched = _next_touch(db)
            if row is None:
                db.execute(
                    "INSERT INTO conversations (id, model, mode, model_b, title, created_at,"
                    " updated_at, touched, transcript, turns, transcript_hash, answer_id,"
                    " head_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (conversation_id, model, mode, model_b, make_title(title), now, now, touched,
                     orjson.dumps(turns), len(turns), transcript_hash(turns), answer_id,
                     head_hash(turns)),
                )  # fmt: skip
                return
            transcript = orjson.loads(row[0]) + turns
            db.execute(
                "UPDATE conversations SET model = COALESCE(?, model), mode = ?,"
                " model_b = COALESCE(?, model_b), title = ?,"
                " updated_at = ?, touched = ?, transcript = ?, turns = ?, transcript_hash = ?,"
                " answer_id = ?, head_hash = ? WHERE id = ?",
                (model, mode, model_b, row[1] or make_title(title), now, touched,
                 orjson.dumps(transcript), len(transcript), transcript_hash(transcript),
                 answer_id, head_hash(transcript), conversation_id),
            )  # fmt: skip

    def replace_answer(self, conversation_id: str, content: str, answer_id: str | None) -> None:
        """A regenerated answer: it replaces the transcript's final answer (or ends the
        transcript when it has none); nothing happens for an unknown conversation."""
        turn = normalise_turns([{"role": "assistant", "content": content}])
        with self._write() as db:
            row = db.execute(
                "SELECT transcript, answer_id FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                return
            transcript = orjson.loads(row[0])
            if transcript and transcript[-1].get("role") == "assistant":
                transcript.pop()
            transcript += turn
            db.execute(
                "UPDATE conversations SET updated_at = ?, touched = ?, transcript = ?, turns = ?,"
                " transcript_hash = ?, answer_id = ?, head_hash = ? WHERE id = ?",
                (time.time(), _next_touch(db), orjson.dumps(transcript), len(transcript),
                 transcript_hash(transcript), answer_id or row[1], head_hash(transcript),
                 conversation_id),
            )  # fmt: skip

    # --- reads ------------------------------------------------------------------------------------

    def get(self, conversation_id: str) -> Conversation | None:
        """The conversation with this id, or None."""
        return self._one(f"SELECT {_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,))

    def latest(self) -> Conversation | None:
        """The conversation this tool updated last (what ``--continue`` continues), or None."""
        return self._one(f"SELECT {_COLUMNS} FROM conversations ORDER BY touched DESC LIMIT 1", ())

    def recent(self, limit: int | None = None) -> list[Conversation]:
        """The conversations, most recently used first (``lmarena history``); at most ``limit``.

        One SELECT: in WAL mode it reads a consistent snapshot without blocking or waiting for
        the processes that write meanwhile.
        """
        with self._errors():
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM conversations ORDER BY touched DESC LIMIT ?",
                (-1 if limit is None else max(limit, 0),),
            ).fetchall()
        return [_conversation(row) for row in rows]

    def forget(self, conversation_id: str) -> bool:
        """Delete one conversation from this store (the site keeps it); False if it was unknown."""
        with self._write() as db:
            deleted = db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            return deleted.rowcount > 0

    def find_by_transcript(
        self, messages: list[dict[str, Any]], *, among: Callable[[str], bool] | None = None
    ) -> Conversation | None:
        """The stored conversation whose transcript is the history before ``messages``' new turn.

        The new turn is the run of user messages at the end of ``messages``; a conversation
        matches when its transcript equals ``messages`` up to one of those user messages
        (normally the last). The longest match wins, then the most recently updated. An empty
        history matches nothing: it starts a new conversation. ``among`` limits the candidates
        (by conversation id): ``serve`` matches within a client's session key.
        """
        turns = normalise_turns(messages)
        cuts = candidate_cuts(turns)
        if not cuts:
            return None
        hashes = {transcript_hash(turns[:cut]): cut for cut in cuts}
        marks = ", ".join("?" * len(hashes))
        with self._errors():
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM conversations WHERE transcript_hash IN ({marks})"
                " ORDER BY turns DESC, touched DESC",
                tuple(hashes),
            ).fetchall()
        for row in rows:
            found = _conversation(row)
            # The hash finds candidates; equality decides (no trust in the absence of collisions).
            if found.transcript == turns[: len(found.transcript)] and (
                among is None or among(found.id)
            ):
                return found
        return None

    def find_regenerate(self, messages: list[dict[str, Any]]) -> Conversation | None:
        """The stored conversation whose transcript is ``messages`` and then one answer: a
        client asking for that answer again ("regenerate"). The most recently updated wins."""
        turns = normalise_turns(messages)
        if not turns or turns[-1]["role"] != "user":
            return None
        with self._errors():
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM conversations WHERE head_hash = ? ORDER BY touched DESC",
                (transcript_hash(turns),),
            ).fetchall()
        for row in rows:
            found = _conversation(row)
            if found.transcript[:-1] == turns:  # equality decides, not the hash
                return found
        return None

    # --- plumbing ---------------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        create_file(self.path)
        try:
            db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the conversation store {self.path}: {exc}") from None
        try:
            with self._errors():
                db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
                set_wal(db)
                db.execute("PRAGMA synchronous = NORMAL")
                self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the conversation store {self.path} was written by a newer lmarena (schema "
                f"{version}, this one knows {SCHEMA_VERSION}); upgrade lmarena, or move the "
                "file away"
            )
        # Two processes may both see version 0: the lock and IF NOT EXISTS make the loser a no-op.
        db.execute("BEGIN IMMEDIATE")
        try:
            # Read again under the lock: another process may have migrated meanwhile.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            # Not executescript(): it would COMMIT first and run outside our lock.
            if version < 1:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
            if version < 2:
                for statement in filter(str.strip, _SCHEMA_2.split(";")):
                    db.execute(statement)
                _fill_head_hashes(db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taking the write lock up front."""
        with self._errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, params: tuple[Any, ...]) -> Conversation | None:
        with self._errors():
            row = self._db.execute(sql, params).fetchone()
        return None if row is None else _conversation(row)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Hold the connection, and turn SQLite failures into StoreErrors that say what to do."""
        try:
            with self._lock:
                yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise StoreError(
                    f"the conversation store {self.path} stayed locked by another lmarena "
                    f"process for more than {BUSY_TIMEOUT:g} s; try again",
                    kind=ErrorKind.STORE_BUSY,
                ) from None
            raise StoreError(f"cannot use the conversation store {self.path}: {text}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"the conversation store {self.path} is damaged ({exc}); move it away (for "
                f"example `mv {self.path} {self.path}.broken`) and lmarena will start a new one; "
                "only the --continue history is lost",
                kind=ErrorKind.STORE_CORRUPT,
            ) from None


def _next_touch(db: sqlite3.Connection) -> int:
    # Read inside the write transaction, so no two writers get the same number.
    value: int = db.execute("SELECT COALESCE(MAX(touched), 0) + 1 FROM conversations").fetchone()[0]
    return value


def _fill_head_hashes(db: sqlite3.Connection) -> None:
    """Schema 2 on an older file: the head hash of every stored transcript."""
    rows = db.execute("SELECT id, transcript FROM conversations").fetchall()
    for conversation_id, transcript in rows:
        db.execute(
            "UPDATE conversations SET head_hash = ? WHERE id = ?",
            (head_hash(orjson.loads(transcript)), conversation_id),
        )


def _conversation(row: tuple[Any, ...]) -> Conversation:
    return Conversation(
        id=row[0],
        model=row[1],
        mode=row[2],
        model_b=row[3],
        title=row[4],
        created_at=row[5],
        updated_at=row[6],
        transcript=orjson.loads(row[7]),
        answer_id=row[8],
    )

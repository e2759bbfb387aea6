"""The conversation store: which arena.ai conversations this tool started, and what was said.

One SQLite file (``Settings.store_path``) in WAL mode, shared by every process of the tool: cron
jobs and ``xargs -P 20 lmarena ask -c`` write at the same time. Hence: a busy timeout instead of
failing on a lock, short write transactions opened with ``BEGIN IMMEDIATE`` (a deferred one that
upgrades from read to write can fail with SQLITE_BUSY without waiting), and a schema created
idempotently under that same lock and versioned with ``PRAGMA user_version``.

Each conversation keeps its transcript (the turns as ``{"role", "content"}``) and a sha256 of it,
so that ``lmarena serve`` can recognise a stock OpenAI client's full message history as the
continuation of a stored conversation with one indexed lookup (:meth:`find_by_transcript`).

A file that is not a database raises :class:`StoreError` (exit 1, HTTP 500): nothing the user
typed is wrong (so not a UsageError), and nothing upstream failed; the message names the file and
says to move it away, which loses nothing but the ``--continue`` history.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from ..errors import ErrorKind, StoreError

SCHEMA_VERSION = 1
#: Seconds a writer waits for another process's lock before giving up.
BUSY_TIMEOUT = 10.0
TITLE_LENGTH = 80

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
_COLUMNS = "id, model, mode, model_b, title, created_at, updated_at, transcript"

Turn = dict[str, str]


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


def normalise_turns(messages: Iterable[Mapping[str, Any]]) -> list[Turn]:
    """Messages (OpenAI-style or stored) as ``{"role", "content"}`` with plain-text content.

    ``content`` may be a string, None, or a list of OpenAI parts: the text parts are joined with
    a newline and other parts (images) are left out, since only the text identifies a history.
    Content is stripped of surrounding whitespace (clients differ in trailing newlines) and the
    OpenAI ``developer`` role counts as ``system``.
    """
    turns = []
    for message in messages:
        role = str(message.get("role", ""))
        turns.append(
            {
                "role": "system" if role == "developer" else role,
                "content": _text(message.get("content")),
            }
        )
    return turns


def transcript_hash(turns: list[Turn]) -> str:
    """sha256 over a canonical encoding of normalised turns."""
    canonical = orjson.dumps([[turn["role"], turn["content"]] for turn in turns])
    return hashlib.sha256(canonical).hexdigest()


def make_title(text: str) -> str:
    """The first non-empty line of a prompt, cut to :data:`TITLE_LENGTH` characters."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"
    return ""


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
    ) -> None:
        """Insert a conversation, or update it and append ``messages`` to its transcript.

        On update, ``mode`` and the models given (not None) take the new values, the title is kept;
        ``title`` defaults to the first line of the first user message.
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
                    " updated_at, touched, transcript, turns, transcript_hash)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (conversation_id, model, mode, model_b, make_title(title), now, now, touched,
                     orjson.dumps(turns), len(turns), transcript_hash(turns)),
                )  # fmt: skip
                return
            transcript = orjson.loads(row[0]) + turns
            db.execute(
                "UPDATE conversations SET model = COALESCE(?, model), mode = ?,"
                " model_b = COALESCE(?, model_b), title = ?,"
                " updated_at = ?, touched = ?, transcript = ?, turns = ?, transcript_hash = ?"
                " WHERE id = ?",
                (model, mode, model_b, row[1] or make_title(title), now, touched,
                 orjson.dumps(transcript), len(transcript), transcript_hash(transcript),
                 conversation_id),
            )  # fmt: skip

    # --- reads ------------------------------------------------------------------------------------

    def get(self, conversation_id: str) -> Conversation | None:
        """The conversation with this id, or None."""
        return self._one(f"SELECT {_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,))

    def latest(self) -> Conversation | None:
        """The conversation this tool updated last (what ``--continue`` continues), or None."""
        return self._one(f"SELECT {_COLUMNS} FROM conversations ORDER BY touched DESC LIMIT 1", ())

    def find_by_transcript(self, messages: list[dict[str, Any]]) -> Conversation | None:
        """The stored conversation whose transcript is the history before ``messages``' new turn.

        The new turn is the run of user messages at the end of ``messages``; a conversation
        matches when its transcript equals ``messages`` up to one of those user messages
        (normally the last). The longest match wins, then the most recently updated. An empty
        history matches nothing: it starts a new conversation.
        """
        turns = normalise_turns(messages)
        cuts = _candidate_cuts(turns)
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
            if found.transcript == turns[: len(found.transcript)]:
                return found
        return None

    # --- plumbing ---------------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        _create_file(self.path)
        try:
            db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the conversation store {self.path}: {exc}") from None
        try:
            with self._errors():
                db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
                _set_wal(db)
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
            # Not executescript(): it would COMMIT first and run outside our lock.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
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


def _create_file(path: Path) -> None:
    """Create the directory (0700) and the file (0600) before SQLite does, with umask's help."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(
            f"cannot create the conversation store {path}: {exc.strerror or exc}"
        ) from None
    os.close(fd)


def _set_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, retrying on "locked": the switch has been reported to fail at once while
    other processes create the same file, whatever the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _next_touch(db: sqlite3.Connection) -> int:
    # Read inside the write transaction, so no two writers get the same number.
    value: int = db.execute("SELECT COALESCE(MAX(touched), 0) + 1 FROM conversations").fetchone()[0]
    return value


def new_turn_start(messages: Sequence[Mapping[str, Any]]) -> int:
    """Index where the new turn (the trailing run of user messages) begins.

    Used by :meth:`ConversationStore.find_by_transcript` and by ``lmarena serve``'s requests.
    """
    start = len(messages)
    while start > 0 and messages[start - 1].get("role") == "user":
        start -= 1
    return start


def _candidate_cuts(turns: list[Turn]) -> list[int]:
    """Lengths of history that may precede the new turn: before each trailing user message."""
    return [cut for cut in range(len(turns) - 1, new_turn_start(turns) - 1, -1) if cut > 0]


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
    )


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        parts = [
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        ]
        return "\n".join(parts).strip()
    return str(content).strip()

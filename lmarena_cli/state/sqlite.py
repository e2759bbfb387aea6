"""A SQLite file that several processes share: created private, switched to WAL.

The conversation store (:mod:`.store`) opens its file through these two steps, and so do the
tables other modules keep beside it in the same file (:class:`SideTables`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import StoreError

#: Seconds a write waits for another process's write lock before it fails.
BUSY_TIMEOUT = 10.0
#: Seconds to keep retrying the switch to WAL while other processes create the same file.
WAL_SWITCH_TIMEOUT = 10.0


def create_file(path: Path) -> None:
    """Create the directory (0700) and the file (0600) before SQLite does, with umask's help.

    A file that exists is not opened: closing any descriptor of a file drops every POSIX lock
    this process holds on it, so opening and closing the store's file beside an open SQLite
    connection (a second table of the same file) let another process take the WAL for unused,
    checkpoint it and delete it; the connection's later commits then went to a deleted file and
    were lost with the process.
    """
    if path.exists():
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(
            f"cannot create the conversation store {path}: {exc.strerror or exc}"
        ) from None
    os.close(fd)


def set_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, retrying on "locked": the switch has been reported to fail at once while
    other processes create the same file, whatever the busy timeout."""
    deadline = time.monotonic() + WAL_SWITCH_TIMEOUT
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class SideTables:
    """Tables of their own in the conversation store's file (the store's schema untouched: an
    older lmarena reading the file sees nothing new), on a connection of their own, safe across
    processes like the store (WAL, short ``BEGIN IMMEDIATE`` writes). ``schema``: the ``CREATE
    ... IF NOT EXISTS`` statements, run at open unless ``read_only`` (a reader that must neither
    create the tables nor wait for another process's write lock). Close with :meth:`close`."""

    def __init__(self, path: Path, schema: str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        if not read_only:
            create_file(self.path)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            if read_only:
                return
            set_wal(self._db)
            with self._write() as db:
                for statement in filter(str.strip, schema.split(";")):
                    db.execute(statement)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use the conversation store {self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _read(self, sql: str, *params: Any) -> tuple[Any, ...] | None:
        """The first row ``sql`` selects, or None."""
        with self._reading():
            row: tuple[Any, ...] | None = self._db.execute(sql, params).fetchone()
            return row

    def _rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Every row ``sql`` selects."""
        with self._reading():
            return list(self._db.execute(sql, params).fetchall())

    @contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            with self._lock:
                yield
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the conversation store {self.path}: {exc}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``), rolled back when the block raises."""
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the conversation store {self.path}: {exc}") from None


__all__ = ["BUSY_TIMEOUT", "WAL_SWITCH_TIMEOUT", "SideTables", "create_file", "set_wal"]

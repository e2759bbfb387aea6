"""A SQLite file that several processes share: created private, switched to WAL.

The conversation store (:mod:`.store`) opens its file through these two steps.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from ..errors import StoreError

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


__all__ = ["WAL_SWITCH_TIMEOUT", "create_file", "set_wal"]

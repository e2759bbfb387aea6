"""The library's notices on the terminal: records of the ``lmarena`` logger, one line each.

The library never prints; it logs one-line notices (a profile copy, a refreshed session, the
server's access log) at INFO on ``logging.getLogger("lmarena")``. A command shows them on stderr
while it runs with :func:`shown_on`: INFO as a note that ``-q`` hides, WARNING and above always.
The handler is removed when the command ends, so that commands run in one process (tests with
Typer's ``CliRunner``) never stack handlers or write to an earlier command's streams.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from .terminal import Terminal

LOGGER = "lmarena"


class TerminalHandler(logging.Handler):
    """Writes each record's message, unadorned, through a :class:`Terminal`."""

    def __init__(self, term: Terminal, *, note: Callable[[str], None] | None = None) -> None:
        super().__init__(logging.INFO)
        self.term = term
        #: Where INFO records go: ``term.info`` (hidden by -q) unless told otherwise.
        self.note = note or term.info

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.levelno >= logging.WARNING:
                self.term.err(message)
            else:
                self.note(message)
        except Exception:  # a broken stderr must not break the command that logged
            self.handleError(record)


@contextlib.contextmanager
def shown_on(
    term: Terminal, *, note: Callable[[str], None] | None = None, debug: bool = False
) -> Iterator[None]:
    """Show the ``lmarena`` logger's notices on ``term`` inside the block.

    ``note`` replaces ``term.info`` for INFO records (``lmarena login`` shows the browser's
    notices even with -q, through ``term.err``). ``debug`` (``--debug``) shows DEBUG records too,
    such as each turn's first-line offsets.
    """
    logger = logging.getLogger(LOGGER)
    handler = TerminalHandler(term, note=note)
    lowest = logging.DEBUG if debug else logging.INFO
    handler.setLevel(lowest)
    level = logger.level
    # INFO records pass only if the logger lets them: its default (NOTSET) defers to the root
    # logger's WARNING.
    if level == logging.NOTSET or level > lowest:
        logger.setLevel(lowest)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


__all__ = ["LOGGER", "TerminalHandler", "shown_on"]

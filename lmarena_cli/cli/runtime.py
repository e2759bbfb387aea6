"""What every command does around its work: settings, the client, notices, and exit codes.

:func:`failures` is the one place that maps a failure to a line on stderr and an exit code;
:func:`run` runs a command's coroutine inside it, with the library's notices shown on stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from ..errors import EXIT_INTERRUPTED, LmArenaError
from ..settings import Settings
from .advice import say
from .notices import shown_on
from .terminal import Terminal

if TYPE_CHECKING:
    from ..client.api import ClientApi

T = TypeVar("T")


def run(
    term: Terminal,
    work: Callable[[], Coroutine[Any, Any, T]],
    *,
    debug: bool = False,
    note: Callable[[str], None] | None = None,
) -> T:
    """Run one command's coroutine and turn every failure into a message and an exit code.

    The library's notices go to stderr meanwhile (through ``note`` for INFO records, which is
    ``term.info`` unless given; with ``debug``, its DEBUG records too).
    """
    import asyncio

    with failures(term, debug=debug), shown_on(term, note=note, debug=debug):
        return asyncio.run(work())
    raise AssertionError("unreachable: failures() re-raises as typer.Exit")


@contextlib.contextmanager
def failures(term: Terminal, *, debug: bool = False) -> Iterator[None]:
    """Map every failure inside the block to one line on stderr and its exit code."""
    try:
        yield
    except LmArenaError as error:
        if debug:
            import traceback

            traceback.print_exc(file=term.stderr)
        term.err(term.style("lmarena: ", "1;31") + say(error))
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        term.err("lmarena: interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:
        # The reader went away (`| head -1`): stop quietly. stdout is pointed at /dev/null so
        # that the flush at interpreter exit does not print "Exception ignored ...".
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None
    except Exception as error:  # the last resort: one line, exit 1, traceback only with --debug
        if debug:
            import traceback

            traceback.print_exc(file=term.stderr)
        term.err(f"lmarena: unexpected error: {type(error).__name__}: {error}")
        raise typer.Exit(1) from None


def load_settings(term: Terminal, **flags: Any) -> Settings:
    """The settings from ``flags``, the environment and the config file; exit on a bad one."""
    try:
        return Settings.load(flags)
    except LmArenaError as error:
        term.err(f"lmarena: {error}")
        raise typer.Exit(error.exit_code) from None


def make_client(settings: Settings, *, start: bool = True) -> ClientApi:
    """The library's client (imported here: aiohttp and nodriver are slow to import).

    With ``LM_ARENA_KEEP_ALIVE`` > 0 it is a client of the kept server (:mod:`.kept`), started
    first when none runs and ``start``; either is a :class:`~..client.api.ClientApi`.
    """
    from .kept import kept_client

    remote = kept_client(settings, start=start)
    if remote is not None:
        return remote
    from ..client.factory import new_client

    return new_client(settings)


__all__ = ["failures", "load_settings", "make_client", "run"]

"""The client the front ends make: on Chromium, or on the browser a program handed them.

``lmarena``'s commands, ``lmarena serve`` and the kept server make their
:class:`~lmarena_cli.client.client.Client` with :func:`new_client`, and a command starts a kept
server with :func:`kept_server_command`. A program that runs these front ends in its own
process (the test suite's entry modules, ``tests/helpers/stand_in_*.py``) calls
:func:`use_browser` first, naming its browser and the command of a kept server that makes the
same choice; nothing here is read from the environment. Without that call: Chromium, and
``python -m lmarena_cli.server.kept``.

Nothing here imports aiohttp or nodriver (``cli/kept.py`` asks for the kept server's command).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..browser.interface import BrowserInterface
from ..settings import Settings

if TYPE_CHECKING:
    from .client import Client

#: Makes the browser of a client from its settings (the client closes it).
BrowserFactory = Callable[[Settings], BrowserInterface]

#: The module a command runs, in this interpreter, to start a kept server.
KEPT_SERVER_MODULE = "lmarena_cli.server.kept"


@dataclass(frozen=True)
class _Choice:
    browser: BrowserFactory | None = None
    kept_server: tuple[str, ...] | None = None


_choice = _Choice()


def use_browser(factory: BrowserFactory, *, kept_server: Sequence[str] | None = None) -> None:
    """Make the front ends' clients on ``factory(settings)`` from now on, in this process.

    ``kept_server``: the command line (program first) that starts a kept server making the
    same choice; without it, a kept server a command starts runs on Chromium.
    """
    global _choice
    _choice = _Choice(factory, tuple(kept_server) if kept_server is not None else None)


def kept_server_command() -> list[str]:
    """The command line that starts a kept server (``python -m lmarena_cli.server.kept``
    unless :func:`use_browser` named another)."""
    if _choice.kept_server is not None:
        return list(_choice.kept_server)
    return [sys.executable, "-m", KEPT_SERVER_MODULE]


def new_client(settings: Settings, *, record: bool = True) -> Client:
    """``Client(settings, record=record)`` on the chosen browser (Chromium unless
    :func:`use_browser` named another), which the client closes as its own."""
    from .client import Client

    browser = _choice.browser(settings) if _choice.browser is not None else None
    return Client(settings, browser=browser, record=record, owns_browser=True)


__all__ = [
    "KEPT_SERVER_MODULE",
    "BrowserFactory",
    "kept_server_command",
    "new_client",
    "use_browser",
]

"""lmarena: arena.ai's models from the shell, from Python, and over an OpenAI-compatible API.

``from lmarena_cli import Client`` is the library's entry point; see ``client/client.py``.
The heavy parts (aiohttp, nodriver) are imported only when they are used, so that
``lmarena --help`` and shell completion stay fast.

The library prints nothing by itself: its notices (retries, refreshes, the browser's progress)
are records of the ``"lmarena"`` logger, which the CLI and ``lmarena serve`` send to stderr.
A program using the library sees them once it configures logging.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Without a handler of its own, Python's last-resort handler would print WARNING records to
# stderr; the library leaves output to the program that uses it.
logging.getLogger("lmarena").addHandler(logging.NullHandler())

__all__ = ["ChatSession", "Client", "Model", "Reply", "ReplyStream", "Settings", "__version__"]

if TYPE_CHECKING:
    from .client.client import ChatSession, Client
    from .client.reply import Reply
    from .client.turn.exchange import ReplyStream
    from .settings import Settings
    from .site.models import Model

_LAZY = {
    "Client": "client.client",
    "ChatSession": "client.client",
    "Reply": "client.reply",
    "ReplyStream": "client.turn.exchange",
    "Model": "site.models",
    "Settings": "settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lmarena_cli' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)

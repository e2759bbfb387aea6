"""lmarena: arena.ai's models from the shell, from Python, and over an OpenAI-compatible API.

``from lmarena_cli import Client`` is the library's entry point; see ``client.py``.
The heavy parts (aiohttp, nodriver) are imported only when they are used, so that
``lmarena --help`` and shell completion stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["ChatSession", "Client", "Model", "Reply", "ReplyStream", "Settings", "__version__"]

if TYPE_CHECKING:
    from .client.client import ChatSession, Client
    from .client.exchange import ReplyStream
    from .client.reply import Reply
    from .settings import Settings
    from .site.discovery import Model

_LAZY = {
    "Client": "client.client",
    "ChatSession": "client.client",
    "Reply": "client.reply",
    "ReplyStream": "client.exchange",
    "Model": "site.discovery",
    "Settings": "settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lmarena_cli' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)

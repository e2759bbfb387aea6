"""A seam for the test suite only: the browser's stand-in in processes the tests start.

``LMARENA_TEST_BROWSER=module:callable`` (say ``tests.fakes:HttpBrowser``) makes the commands'
in-process client and a kept server (``lmarena server``) use ``callable(settings)`` as their
browser instead of Chromium. Only the tests set it; it is no setting and not documented for users.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import Any

from ..settings import Settings
from .client import Client

#: The variable the tests set (never an ``LM_ARENA_*`` setting).
TEST_BROWSER_VAR = "LMARENA_TEST_BROWSER"


def stand_in_browser(settings: Settings) -> Any:
    """The stand-in browser the tests asked for, or None (the real one)."""
    spec = os.environ.get(TEST_BROWSER_VAR)
    if not spec:
        return None
    module, _, name = spec.partition(":")
    return getattr(import_module(module), name)(settings)


def new_client(settings: Settings, *, record: bool = True) -> Client:
    """``Client(settings, record=record)``, on the tests' stand-in when they asked for one
    (closed with the client, as the client's own browser would be)."""
    browser = stand_in_browser(settings)
    # The stand-in is this client's alone: closed with it, as its own browser would be.
    return Client(settings, browser=browser, record=record, owns_browser=True)


__all__ = ["TEST_BROWSER_VAR", "new_client", "stand_in_browser"]

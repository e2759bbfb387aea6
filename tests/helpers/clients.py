"""Settings and clients for tests against the fake arena."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmarena_cli.settings import Settings

if TYPE_CHECKING:
    from lmarena_cli.client.client import Client

#: ``make(**settings_changes)`` or ``make(browser=shared)``: a Client on an HttpBrowser.
ClientFactory = Callable[..., "Client"]


def settings_for(url: str, state_dir: Path, **changes: Any) -> Settings:
    """Settings for a client of the site at ``url`` with its own state directory."""
    values: dict[str, Any] = {
        "base_url": url,
        "state_dir": state_dir,
        "browser_headless": True,
        "timeout": 20.0,
    }
    values.update(changes)
    return Settings(**values)


__all__ = ["ClientFactory", "settings_for"]

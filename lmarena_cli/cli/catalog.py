"""The model list from the cache file alone: for ``lmarena models`` and ``-m`` completion
(which adds the models the config file names).

Reads the cache with ``state`` and ``site`` only: neither imports aiohttp nor nodriver, which is
what keeps ``lmarena models`` and completion fast (the client costs ~0.3 s to import).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..settings import DEFAULT_MODEL, Settings

if TYPE_CHECKING:
    from ..site.models import Model


def cached_models(settings: Settings, warn: Callable[[str], None]) -> list[Model] | None:
    """The chat models in the cache file (as ``Client.list_models``), or None when it has none.

    ``warn`` gets the one line about a cache file that is ignored (corrupt, foreign, too old).
    """
    from ..site.models import usable_models_from_rows
    from ..state.cache import SiteCache

    state = SiteCache(settings.cache_path).load(settings.base_url.rstrip("/"), warn=warn)
    if state is None or not state.models:
        return None
    return [model for model in usable_models_from_rows(state.models) if model.chats]


def complete_model(incomplete: str) -> list[str]:
    """Model names from the cache and the config file (its ``model``, its roles' models) only:
    fast, offline, and silent when there is neither."""
    try:
        settings = Settings.load()
        found = cached_models(settings, warn=lambda _message: None) or []
    except Exception:  # completion must never print a traceback into the user's shell
        return []
    names = [model.name for model in found]
    configured = [role.model for role in settings.roles if role.model]
    if settings.model != DEFAULT_MODEL:  # set in the config file or LM_ARENA_MODEL
        configured.insert(0, settings.model)
    names += [name for name in dict.fromkeys(configured) if name not in names]
    return [name for name in names if name.startswith(incomplete)]


__all__ = ["cached_models", "complete_model"]

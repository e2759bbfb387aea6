"""The proxy decision: which proxy, if any, a request to a URL goes through.

Decided here and nowhere else for the library's requests: the site's API (:mod:`.http`) and the
images fetched on a user's behalf (:mod:`.netguard`) ask :func:`proxy_for` and pass its answer to
aiohttp explicitly. Chromium takes its proxy on the command line (``browser/chromium.py``), from
the same ``Settings.proxy``, with ``NO_PROXY`` as its bypass list.
"""

from __future__ import annotations

import urllib.request

from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL


def proxy_for(url: str | URL, configured: str | None = None) -> str | None:
    """The proxy for a request to ``url``, or None for a direct connection.

    ``NO_PROXY`` naming the host wins; then ``configured`` (``Settings.proxy``: ``LM_ARENA_PROXY``,
    the config file, else ``HTTPS_PROXY``); then what the environment names for the URL's scheme
    (``HTTP_PROXY`` for http URLs), as aiohttp's ``trust_env`` would pick it, with its credentials
    (from the variable or ``~/.netrc``) kept in the URL, where aiohttp reads them.
    """
    target = URL(url) if isinstance(url, str) else url
    host = target.host or ""
    if host and urllib.request.proxy_bypass_environment(host):  # type: ignore[attr-defined]
        return None
    if configured:
        return configured
    try:
        proxy, auth = get_env_proxy_for_url(target)
    except LookupError:
        return None
    if auth is not None:
        proxy = proxy.with_user(auth.login).with_password(auth.password or None)
    return str(proxy)


__all__ = ["proxy_for"]

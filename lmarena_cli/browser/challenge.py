"""Getting past the site's Cloudflare check: wait it out, click a Turnstile box when one shows.

A refusal ("Attention Required") or a check that does not clear in time is
:class:`~lmarena_cli.errors.Blocked`; a redirect to another origin is a ConfigError at once.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from typing import Any

from ..errors import Blocked, ConfigError, ErrorKind, PageError
from .page import Page
from .scripts import STATE_JS


async def pass_challenge(page: Page, timeout: float) -> None:
    """Wait until the page is the site's and not Cloudflare's; click Turnstile if shown."""
    deadline = time.monotonic() + timeout
    last_click = 0.0
    seen: dict[str, Any] = {}
    while True:
        try:
            seen = await page.eval(STATE_JS, what="watching the page", timeout=10) or {}
        except PageError:
            seen = {}  # the page navigated under us (the challenge reloads it)
        if seen.get("refused"):
            raise Blocked(
                'Cloudflare refused this browser outright ("Attention Required"); '
                "try another network or a headful browser",
                kind=ErrorKind.CLOUDFLARE,
            )
        ready = seen.get("ready") in ("interactive", "complete")
        on_site = str(seen.get("url", "")).startswith(page.base_url)
        if ready and not on_site:
            refuse_other_origin(str(seen.get("url", "")), page.base_url)
        if ready and on_site and not seen.get("challenge"):
            return
        box = seen.get("box")
        if box and time.monotonic() - last_click > 3:
            last_click = time.monotonic()
            await page.click(
                box[0] + min(30.0, box[2] / 2),
                box[1] + box[3] / 2,
                what="clicking the Turnstile box",
            )
        if time.monotonic() > deadline:
            raise Blocked(
                f"the site's Cloudflare check did not clear within "
                f"{timeout:.0f} s (page title {seen.get('title', '')!r})",
                detail=seen.get("error") or None,
                kind=ErrorKind.CLOUDFLARE,
            )
        await asyncio.sleep(0.1)


def refuse_other_origin(url: str, base_url: str) -> None:
    """Fail at once when the site sent the browser to another origin (lmarena.ai -> arena.ai).

    API calls go to LM_ARENA_BASE_URL with cookies of the origin the browser ended on; they
    cannot work, and waiting for a page that never comes would end in a misleading Blocked.
    """
    parts, base = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https"):
        return  # about:blank or chrome:// before the navigation commits
    origin = f"{parts.scheme}://{parts.netloc}"
    if (parts.scheme, parts.netloc.lower()) == (base.scheme, base.netloc.lower()):
        return
    raise ConfigError(
        f"LM_ARENA_BASE_URL is {base_url}, but that address sends the browser on to "
        f"{origin} (the site moved: lmarena.ai is now arena.ai); set "
        f"LM_ARENA_BASE_URL={origin}",
        kind=ErrorKind.REDIRECTED,
    )


__all__ = ["pass_challenge", "refuse_other_origin"]

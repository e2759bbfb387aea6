"""Sessions on the site: the anonymous sign-up of a first visit, and a user's sign-in.

The site's own script signs a first visitor up; :func:`wait_auth_cookie` waits for the auth
cookie and posts the sign-up itself when the page leaves it undone (protocol §5.3).
:func:`wait_signed_in` waits while a person signs in in the window.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from ..errors import Advice, ErrorKind, PageError, SignInRequired, TimedOut, UsageError
from ..settings import Settings
from ..site import facts, pages
from ..state.auth import encode_auth_cookies, session_from_body
from ..state.cache import SiteState
from .cdp import cookie_map, js
from .options import has_display
from .page import Page
from .scripts import SIGN_UP_JS

logger = logging.getLogger("lmarena.browser")

#: Seconds to wait for the site to sign the browser up (the auth cookie to appear).
AUTH_COOKIE_TIMEOUT = 30.0
#: Seconds the site's own script gets to sign up before we post the sign-up ourselves.
SIGN_UP_GRACE = 5.0


async def wait_auth_cookie(page: Page) -> list[dict[str, Any]]:
    """The site's cookies, once the auth cookie (bare or chunked) is among them.

    The site's own script signs a first visitor up; when no cookie has come after
    :data:`SIGN_UP_GRACE` seconds, the sign-up is posted from the page once (§5.3).
    """
    start = time.monotonic()
    deadline = start + AUTH_COOKIE_TIMEOUT
    signed_up = False
    while True:
        cookies = await page.get_cookies()
        names = {c.get("name") for c in cookies if c.get("value")}
        if facts.AUTH_COOKIE in names or f"{facts.AUTH_COOKIE}.0" in names:
            return cookies
        if not signed_up and time.monotonic() - start > SIGN_UP_GRACE:
            signed_up = True
            await sign_up(page)
            continue
        if time.monotonic() > deadline:
            raise SignInRequired(
                f"the site did not start a session: no {facts.AUTH_COOKIE} cookie appeared "
                f"within {AUTH_COOKIE_TIMEOUT:.0f} s of loading {page.base_url}",
                kind=ErrorKind.NO_SESSION,
                advice=Advice.TRY_SIGN_IN,
            )
        await asyncio.sleep(0.2)


async def sign_up(page: Page) -> None:
    """Post the anonymous sign-up from the page; keep a session the answer has in its body.

    The usual answer sets the cookie itself; some answers carry the Supabase session JSON
    instead, which the site's client then writes as the cookie: so do we. Failures are only
    logged: the caller's wait for the cookie reports the outcome.
    """
    html = await page.read_html()
    key = pages.find_site_key(html)
    try:
        reply = await page.eval(
            SIGN_UP_JS % (js(facts.SIGN_UP), js(key)),
            what="signing up",
            timeout=page.settings.timeout,
            await_promise=True,
        )
    except PageError as exc:
        logger.info(f"the anonymous sign-up failed in the page: {exc}")
        return
    status = int(reply.get("status") or 0) if isinstance(reply, dict) else 0
    text = str(reply.get("text") or "") if isinstance(reply, dict) else ""
    if status != 200:
        logger.info(f"the site's sign-up answered HTTP {status}: {text[:200]}")
        return
    try:
        session = session_from_body(orjson.loads(text))
    except orjson.JSONDecodeError:
        session = None
    if session is None:
        return  # the answer set the cookie itself (or set nothing: the wait will say)
    url = page.base_url + "/"
    expires = time.time() + 400 * 86400  # what @supabase/ssr gives its cookie
    params = [
        {"name": name, "value": value, "url": url, "path": "/", "expires": expires}
        for name, value in encode_auth_cookies(session).items()
    ]
    await page.set_cookies(params)


def require_display(settings: Settings) -> bool:
    """Whether the sign-in runs headless; UsageError when a window is needed and none can show.

    Headless only when ``LM_ARENA_BROWSER_HEADLESS`` is explicitly true (tests).
    """
    headless = settings.browser_headless is True
    if not headless and not has_display():
        raise UsageError(
            "`lmarena login` opens a browser window, and this machine has no display "
            "(neither DISPLAY nor WAYLAND_DISPLAY is set). Sign in on a desktop instead: run "
            "`lmarena login` there, copy its browser profile (the folder "
            f"{settings.profile_dir.name!r} in the state directory) to this machine, "
            "and point LM_ARENA_BROWSER_USER_DATA_DIR at the copy"
        )
    return headless


async def wait_signed_in(page: Page, timeout: float) -> None:
    """Wait until the browser holds a real (not anonymous) user's session; TimedOut else."""
    deadline = time.monotonic() + timeout
    while True:
        cookies = await page.get_cookies()
        probe = SiteState(base_url=page.base_url, user_agent="", cookies=cookie_map(cookies))
        session = probe.auth_session()
        if session is not None and session.signed_in:
            return
        if time.monotonic() > deadline:
            raise TimedOut(f"no sign-in happened within {timeout:.0f} s", kind=ErrorKind.LOGIN)
        await asyncio.sleep(0.3)


__all__ = [
    "AUTH_COOKIE_TIMEOUT",
    "SIGN_UP_GRACE",
    "require_display",
    "sign_up",
    "wait_auth_cookie",
    "wait_signed_in",
]

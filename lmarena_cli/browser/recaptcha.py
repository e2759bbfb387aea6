"""Minting reCAPTCHA Enterprise tokens in the site's page, where the site's own script runs.

Tokens are single-use and short-lived: one is never cached or handed out twice.
"""

from __future__ import annotations

from ..errors import Blocked, ErrorKind, PageError
from .cdp import js
from .page import Page
from .scripts import MINT_JS

#: Seconds to wait for the lazily loaded ``grecaptcha.enterprise``.
RECAPTCHA_WAIT = 15.0
#: Seconds for ``grecaptcha.enterprise.execute`` itself.
RECAPTCHA_EXECUTE_TIMEOUT = 30.0


async def mint(page: Page, site_key: str, action: str) -> str:
    """A fresh token for ``site_key`` and ``action``; Blocked (exit 5) when reCAPTCHA fails."""
    expression = MINT_JS % (
        js(site_key),
        js(action),
        int(RECAPTCHA_WAIT * 1000),
        js(not page.recaptcha_ready),
    )
    try:
        reply = await page.eval(
            expression,
            what="minting a reCAPTCHA token",
            timeout=RECAPTCHA_WAIT + RECAPTCHA_EXECUTE_TIMEOUT,
            await_promise=True,
        )
    except PageError as exc:
        raise Blocked(
            "reCAPTCHA failed in the page", detail=str(exc), kind=ErrorKind.RECAPTCHA
        ) from None
    if not isinstance(reply, dict):
        raise Blocked("reCAPTCHA gave no answer in the page", kind=ErrorKind.RECAPTCHA)
    if reply.get("error") == "absent":
        raise Blocked(
            f"the site's reCAPTCHA script (grecaptcha.enterprise) did not load within "
            f"{RECAPTCHA_WAIT:.0f} s",
            kind=ErrorKind.RECAPTCHA,
        )
    if reply.get("error"):
        raise Blocked(
            f"reCAPTCHA refused to mint a token for site key {site_key} and action {action!r}",
            detail=str(reply.get("message") or "") or None,
            kind=ErrorKind.RECAPTCHA,
        )
    token = reply.get("token")
    if not isinstance(token, str) or not token:
        raise Blocked("reCAPTCHA returned an empty token", kind=ErrorKind.RECAPTCHA)
    page.recaptcha_ready = True
    return token


__all__ = ["RECAPTCHA_EXECUTE_TIMEOUT", "RECAPTCHA_WAIT", "mint"]

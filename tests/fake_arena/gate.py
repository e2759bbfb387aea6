"""The Cloudflare gate in front of the fake site (protocol doc §4, §11.1).

Without a ``cf_clearance`` issued to the request's exact User-Agent, every page and API route
answers 403 with the "Just a moment..." interstitial. Its script posts
:data:`~.facts.CHALLENGE_ENDPOINT` after ~300 ms (or after a trusted click on a Turnstile box) and
reloads; a headless or automated browser never passes. With ``browser_only``, a request without a
browser's client hints and fetch metadata is challenged whatever its clearance (a stand-in for
the TLS fingerprint Cloudflare binds its clearance to).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from .core import ArenaCore
from .facts import (
    CF_BM,
    CF_CLEARANCE,
    CF_MITIGATED,
    CF_RAY,
    CF_RAY_COLO,
    CFUVID,
    CHALLENGE_CACHE_CONTROL,
    CHALLENGE_ENDPOINT,
    CHALLENGE_TITLE,
    HEADLESS_MARKER,
    UNGATED_PREFIXES,
    USER_AGENT,
)
from .responses import json_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class GateMixin(ArenaCore):
    """Cloudflare's part of :class:`~tests.fake_arena.app.FakeArena`."""

    def issue_clearance(self, user_agent: str) -> dict[str, str]:
        """Cookies a browser with ``user_agent`` would hold after passing the challenge."""
        value = (
            f"{secrets.token_urlsafe(32)}-{int(time.time())}-1.2.1.1-{secrets.token_urlsafe(48)}"
        )
        self.clearances[value] = user_agent
        return {CF_CLEARANCE: value, CF_BM: secrets.token_urlsafe(40), CFUVID: _cfuvid()}

    @web.middleware
    async def _gate_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        fronted = not request.path.startswith(UNGATED_PREFIXES)
        if fronted and self.browser_only and not _from_a_browser(request):
            self.not_a_browser += 1
            return self._challenge_response()
        if fronted and self.challenge and not self._has_clearance(request):
            return self._challenge_response()
        return await handler(request)

    def _has_clearance(self, request: web.Request) -> bool:
        value = request.cookies.get(CF_CLEARANCE)
        ua = request.headers.get(USER_AGENT, "")
        # The clearance is only good for the exact User-Agent that earned it.
        return bool(value) and self.clearances.get(value or "") == ua

    def _challenge_response(self, status: int = 403) -> web.Response:
        """The interstitial: 403 at the gate; 429 after a burst of sends (protocol §14.6)."""
        self.challenges_served += 1
        ray = secrets.token_hex(8)
        return web.Response(
            status=status,
            text=challenge_page(ray, turnstile=self.turnstile),
            content_type="text/html",
            headers={
                CF_MITIGATED: "challenge",
                "Cache-Control": CHALLENGE_CACHE_CONTROL,
                CF_RAY: f"{ray}-{CF_RAY_COLO}",
            },
        )

    async def _challenge_verify(self, request: web.Request) -> web.Response:
        """The interstitial's JS posts here; pass if a real, non-automated browser UA ran it."""
        ua = request.headers.get(USER_AGENT, "")
        try:
            data = await request.json()
        except ValueError:
            data = None
        ok = (
            isinstance(data, dict)
            and bool(ua)
            and HEADLESS_MARKER not in ua
            and data.get("ua") == ua
            and data.get("webdriver") is not True
            and (not self.turnstile or data.get("clicked") is True)
        )
        if not ok:
            return json_response({"success": False}, status=403)
        cookies = self.issue_clearance(ua)
        self.challenges_passed += 1
        resp = json_response({"success": True})
        resp.set_cookie(
            CF_CLEARANCE, cookies[CF_CLEARANCE], path="/", httponly=True, max_age=31536000
        )
        resp.set_cookie(CF_BM, cookies[CF_BM], path="/", httponly=True, max_age=1800)
        resp.set_cookie(CFUVID, cookies[CFUVID], path="/", httponly=True)
        return resp


def _from_a_browser(request: web.Request) -> bool:
    """What ``browser_only`` lets through: the client hints and fetch metadata of a browser."""
    return bool(request.headers.get("Sec-CH-UA")) and bool(request.headers.get("Sec-Fetch-Mode"))


def _cfuvid() -> str:
    return f"{secrets.token_urlsafe(30)}-{int(time.time() * 1000)}-0.0.1.1-604800000"


def challenge_page(ray: str, *, turnstile: bool = False) -> str:
    """The 403 interstitial; its script proves "a browser ran JavaScript" after ~300 ms, reloads.

    On failure (e.g. a HeadlessChrome User-Agent) the page stays put and shows an error text, as the
    real interstitial keeps spinning / shows "Verification failed". With ``turnstile`` it shows an
    interactive Turnstile box (``#cf-turnstile``) instead, and verifies only after a trusted click
    on it: a click a script fakes with ``element.click()`` has ``isTrusted`` false and is ignored.
    """
    widget = (
        '<div id="cf-turnstile" style="width:300px;height:65px;border:1px solid #ccc;'
        'display:flex;align-items:center;padding:0 12px;cursor:pointer">'
        '<input type="checkbox" aria-label="Verify you are human"> Verify you are human</div>'
        if turnstile
        else ""
    )
    start = (
        'document.getElementById("cf-turnstile").addEventListener("click", function (e) {\n'
        "    if (e.isTrusted && !window._verifying) { window._verifying = true; verify(true); }\n"
        "  });"
        if turnstile
        else "setTimeout(function () { verify(false); }, 300);"
    )
    return f"""<!DOCTYPE html><html lang="en-US"><head><title>{CHALLENGE_TITLE}</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<meta name="robots" content="noindex,nofollow">
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:4em}}#challenge-error-text{{color:#b00}}</style>
</head><body>
<div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">arena.ai</h1>
<h2 id="challenge-running" class="h2">Verifying you are human. This may take a few seconds.</h2>
<div id="challenge-body-text" class="core-msg spacer">arena.ai needs to review the security of
your connection before proceeding.</div>
<div class="cf-spinner-please-wait" id="cf-spinner-please-wait">Please wait...</div>
<noscript><div id="challenge-error-title">Enable JavaScript and cookies to continue</div></noscript>
<div id="challenge-error-text" hidden></div>
{widget}
</div></div>
<div class="footer" role="contentinfo">Ray ID: <code>{ray}</code> Performance &amp; security by
Cloudflare</div>
<script>
(function () {{
  window._cf_chl_opt = {{cRay: "{ray}", cType: "managed"}};
  function fail(msg) {{
    var el = document.getElementById("challenge-error-text");
    el.hidden = false;
    el.textContent = "Verification failed: " + msg + ". Enable JavaScript and cookies to continue";
    document.getElementById("cf-spinner-please-wait").hidden = true;
  }}
  function verify(clicked) {{
    fetch("{CHALLENGE_ENDPOINT}", {{
      method: "POST",
      credentials: "same-origin",
      headers: {{"Content-Type": "application/json"}},
      body: JSON.stringify({{ray: "{ray}", ua: navigator.userAgent,
                             webdriver: navigator.webdriver === true,
                             cookies: navigator.cookieEnabled, clicked: clicked}})
    }}).then(function (r) {{
      if (r.ok) {{ location.reload(); }} else {{ fail("status " + r.status); }}
    }}, function (e) {{ fail(String(e)); }});
  }}
  {start}
}})();
</script></body></html>"""

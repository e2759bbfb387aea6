"""The fake's reCAPTCHA Enterprise: the loader script, minting and checking tokens (doc §5.3).

Pages load ``/recaptcha/enterprise.js?render=<key>`` from the fake's own origin (Google's host on
the real site); ``grecaptcha.enterprise`` appears after ``recaptcha_delay``. Tokens are single-use,
live ``token_ttl`` seconds, and are bound to the User-Agent and ``cf_clearance`` of the minting
browser.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from aiohttp import web

from .core import ArenaCore
from .facts import (
    CF_CLEARANCE,
    MINT_ENDPOINT,
    RECAPTCHA_ACTION,
    TOKEN_PREFIX,
    USER_AGENT,
    V2_TOKEN_FIELD,
    V3_TOKEN_FIELD,
)
from .pages import js_string
from .responses import json_response
from .state import RecaptchaToken


class RecaptchaMixin(ArenaCore):
    """Google's part of :class:`~tests.fake_arena.app.FakeArena`."""

    def mint_token(
        self, cookies: dict[str, str], user_agent: str, action: str = RECAPTCHA_ACTION
    ) -> str:
        """A reCAPTCHA token as the page's script would get it for this cookie jar and UA."""
        return self._mint(self.site_key, action, "v3", cookies.get(CF_CLEARANCE), user_agent)

    async def _recaptcha_js(self, request: web.Request) -> web.Response:
        render = request.query.get("render", "")
        text = recaptcha_js(render, self.v2_site_key, int(self.recaptcha_delay * 1000))
        return web.Response(text=text, content_type="text/javascript")

    def _mint(
        self,
        key: str,
        action: str,
        kind: str,
        cf_clearance: str | None,
        user_agent: str,
    ) -> str:
        # Opaque, ~2 KB like Google's tokens.
        token = TOKEN_PREFIX + secrets.token_urlsafe(1490)
        self.recaptcha_tokens[token] = RecaptchaToken(
            token, key, action, kind, cf_clearance, user_agent
        )
        return token

    async def _recaptcha_mint(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            return json_response({"error": "bad request"}, status=400)
        began = time.time()
        if self.mint_delay:
            await asyncio.sleep(self.mint_delay)
        self.mint_spans.append((began, time.time()))
        token = self._mint(
            data["key"],
            str(data.get("action") or ""),
            "v2" if data.get("kind") == "v2" else "v3",
            request.cookies.get(CF_CLEARANCE),
            request.headers.get(USER_AGENT, ""),
        )
        return json_response({"token": token})

    def _check_recaptcha(self, request: web.Request, body: dict[str, Any]) -> str | None:
        """None if the request carries a good token, else why not (logged for tests)."""
        v3, v2 = body.get(V3_TOKEN_FIELD), body.get(V2_TOKEN_FIELD)
        value, kind, key = (v3, "v3", self.site_key) if v3 else (v2, "v2", self.v2_site_key)
        record = self.recaptcha_tokens.get(value) if isinstance(value, str) and value else None
        reason: str | None = None
        if record is None:
            reason = "missing" if not value else "unknown"
        elif record.used:
            reason = "reused"
        elif time.time() - record.created_at > self.token_ttl:
            reason = "expired"
        elif record.kind != kind or record.site_key != key:
            reason = "wrong site key"
        elif record.user_agent != request.headers.get(USER_AGENT, "") or (
            record.cf_clearance is not None
            and record.cf_clearance != request.cookies.get(CF_CLEARANCE)
        ):
            reason = "foreign"
        if record is not None:
            record.used = True  # Google's assessment consumes a token whatever the outcome
        self.recaptcha_log.append((record.action if record else "", reason or "ok"))
        return reason


def recaptcha_js(render_key: str, v2_key: str, delay_ms: int) -> str:
    """Stand-in for ``https://www.google.com/recaptcha/enterprise.js?render=KEY``.

    ``grecaptcha.enterprise`` appears only after ``delay_ms`` (the real one loads lazily);
    ``execute`` with a key other than the render key throws in the page, as Google's does.
    """
    return f"""/* reCAPTCHA Enterprise (fake) */
(function () {{
  "use strict";
  var RENDER_KEY = {js_string(render_key)}, V2_KEY = {js_string(v2_key)};
  function mint(key, action, kind) {{
    return fetch("{MINT_ENDPOINT}", {{
      method: "POST", credentials: "include",
      headers: {{"Content-Type": "application/json"}},
      body: JSON.stringify({{key: key, action: action, kind: kind}})
    }}).then(function (r) {{
      if (!r.ok) throw new Error("reCAPTCHA request failed: " + r.status);
      return r.json();
    }}).then(function (j) {{ return j.token; }});
  }}
  var lastV2 = "";
  setTimeout(function () {{
    var enterprise = {{
      ready: function (cb) {{ setTimeout(cb, 0); }},
      execute: function (key, opts) {{
        if (key !== RENDER_KEY) {{
          throw new Error("Invalid site key or not loaded in api.js: " + key);
        }}
        return mint(key, (opts && opts.action) || "", "v3");
      }},
      render: function (container, params) {{
        var el = typeof container === "string" ? document.getElementById(container) : container;
        if (!params || params.sitekey !== V2_KEY) {{
          var bad = params && params.sitekey;
          throw new Error("Invalid site key or not loaded in api.js: " + bad);
        }}
        var btn = document.createElement("button");
        btn.type = "button"; btn.className = "recaptcha-checkbox";
        btn.textContent = "I'm not a robot";
        btn.addEventListener("click", function () {{
          mint(params.sitekey, "", "v2").then(function (t) {{
            lastV2 = t; btn.textContent = "Verified";
            if (params.callback) params.callback(t);
          }});
        }});
        el.appendChild(btn);
        return 0;
      }},
      reset: function () {{ lastV2 = ""; }},
      getResponse: function () {{ return lastV2; }}
    }};
    window.grecaptcha = window.grecaptcha || {{}};
    window.grecaptcha.enterprise = enterprise;
    if (document.body) {{
      var badge = document.createElement("div");
      badge.className = "grecaptcha-badge"; badge.setAttribute("data-style", "bottomright");
      document.body.appendChild(badge);
    }}
  }}, {delay_ms});
}})();
"""

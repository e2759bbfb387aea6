"""HTML and JavaScript text the fake serves.

Each builder mirrors a piece of the real site that clients depend on (protocol doc §3.1, §4, §5,
§6.1, §11.1): the Cloudflare "Just a moment..." interstitial, the Next.js app page with its RSC
flight chunks (``self.__next_f.push``), the JS chunks holding ``createServerReference`` calls,
the reCAPTCHA Enterprise loader, and the sign-in page. The texts are written for this project.
"""

from __future__ import annotations

import html
from typing import Any

import orjson

from .deploy import PAGE_ACTIONS, SHARED_ACTIONS, Deploy

CHALLENGE_ENDPOINT = "/cdn-cgi/challenge-platform/verify"
MINT_ENDPOINT = "/recaptcha/enterprise/mint"

#: Body of the 401 the login gate answers (the real body was never recorded; doc §13.3).
LOGIN_GATE_BODY: dict[str, str] = {
    "error": "LOGIN_GATE",
    "message": "Please sign in to use Direct Chat and Side by Side. Battle mode stays available "
    "without an account.",
}


def js_string(text: str) -> str:
    """``text`` as a JS string literal safe inside ``<script>`` (Next escapes ``<`` likewise)."""
    return (
        orjson.dumps(text)
        .decode()
        .replace("<", "\\u003c")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def json_for_script(value: Any) -> str:
    return js_string(orjson.dumps(value).decode())[1:-1]


# --------------------------------------------------------------------------------------------------
# Cloudflare interstitial
# --------------------------------------------------------------------------------------------------


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
    return f"""<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
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


# --------------------------------------------------------------------------------------------------
# The Next.js app page
# --------------------------------------------------------------------------------------------------


def _flight_pushes(deploy: Deploy, props: dict[str, Any]) -> list[str]:
    """RSC flight text split over several ``self.__next_f.push([1, ...])`` calls, as Next does."""

    def pairs(*roles: str) -> str:
        flat: list[str] = []
        for role in roles:
            chunk_id, path = deploy.chunks[role]
            flat += [chunk_id, path]
        return orjson.dumps(flat).decode()

    rows_components = (
        '1:"$Sreact.fragment"\n'
        f'2:I[87921,{pairs("framework", "shared", "layout")},"Providers"]\n'
        f'3:I[41402,{pairs("shared", "layout")},"CookieBanner"]\n'
    )
    rows_page = (
        f'4:I[52817,{pairs("shared", "page")},"Evaluation"]\n'
        f'5:I[30293,{pairs("shared")},"Sidebar"]\n'
    )
    rows_tree = (
        "0:"
        + orjson.dumps(
            {
                "P": None,
                "b": deploy.build_id,
                "p": "",
                "c": ["", ""],
                "i": False,
                "f": [[["", {"children": ["__PAGE__", {}]}, "$undefined", "$undefined", True]]],
                "m": "$undefined",
                "G": ["$5", []],
                "s": False,
                "S": True,
            }
        ).decode()
        + "\n"
    )
    # The props row: the model list object must be first in its object (clients regex on
    # `{\"initialModels\":[...],\"initialModelAId\"`).
    rows_props = "6:" + orjson.dumps(["$", "$L4", None, props]).decode() + "\n"
    return [rows_components, rows_page, rows_props, rows_tree]


def app_page(
    deploy: Deploy,
    *,
    site_key: str,
    props: dict[str, Any],
    user_id: str | None,
) -> str:
    """A chat page (``/``, ``/text/direct``, ``/c/{id}``) with the site's elements and scripts."""
    scripts = "".join(
        f'<script src="/_next/{deploy.path(role)}" async=""></script>'
        for role in ("webpack", "framework", "main", "shared", "layout", "page")
    )
    pushes = "".join(
        f"<script>self.__next_f.push([1,{js_string(text)}])</script>"
        for text in _flight_pushes(deploy, props)
    )
    return f"""<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<link rel="preload" as="script" fetchPriority="low" href="/_next/{deploy.path("webpack")}"/>
{scripts}
<title>LMArena</title>
<meta name="description" content="Compare answers from the best AI models side by side."/>
<script src="/recaptcha/enterprise.js?render={html.escape(site_key)}" async=""></script>
</head><body>
<div id="cookie-banner" role="dialog" aria-label="Cookie consent">We use cookies to run this site.
<button type="button" id="accept-cookies">Accept Cookies</button></div>
<main id="app" data-user="{html.escape(user_id or "")}">
<div id="messages" aria-live="polite"></div>
<form id="chat-form">
<textarea name="message" placeholder="Ask anything…" rows="3"></textarea>
<button type="submit" aria-label="Send message">Send</button>
</form>
</main>
<script>(self.__next_f=self.__next_f||[]).push([0])</script>{pushes}
<script>{PAGE_SCRIPT}</script>
</body></html>"""


# The site's own client behaviour: anonymous sign-up on first visit, the cookie banner and a minimal
# working chat box (reCAPTCHA token per message, create-evaluation then post-to-evaluation).
PAGE_SCRIPT = """
(function () {
  "use strict";
  function cookie(name) {
    var escaped = name.replace(/\\./g, "\\\\.");
    var m = document.cookie.match(new RegExp("(?:^|; )" + escaped + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (Math.random() * 16) >> (c / 4)).toString(16);
    });
  }
  function uuid7() {
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    var t = Date.now();
    for (var i = 5; i >= 0; i--) { b[i] = t % 256; t = Math.floor(t / 256); }
    b[6] = (b[6] & 0x0f) | 0x70; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 256).toString(16).slice(1);
    }).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }
  function hasAuth() { return !!(cookie("arena-auth-prod-v1") || cookie("arena-auth-prod-v1.0")); }

  // --- anonymous sign-up (what makes the auth cookie appear on a first visit) ---
  function signUp(retry) {
    var pid = localStorage.getItem("provisional_user_id") || cookie("provisional_user_id")
      || uuid4();
    localStorage.setItem("provisional_user_id", pid);
    document.cookie = "provisional_user_id=" + pid + "; path=/; max-age=31536000; samesite=lax";
    return fetch("/nextjs-api/sign-up", {
      method: "POST", credentials: "include",
      body: JSON.stringify({recaptchaToken: "", provisionalUserId: pid})
    }).then(function (r) {
      if (r.status === 400 && retry) {
        // "User already exists": start over with a fresh provisional id.
        localStorage.removeItem("provisional_user_id");
        document.cookie = "provisional_user_id=; path=/; max-age=0";
        return signUp(false);
      }
    });
  }
  if (!hasAuth()) { signUp(true); }

  // --- cookie banner ---
  var banner = document.getElementById("cookie-banner");
  if (cookie("cookie-consent") === "accepted") banner.hidden = true;
  document.getElementById("accept-cookies").addEventListener("click", function () {
    document.cookie = "cookie-consent=accepted; path=/; max-age=31536000; samesite=lax";
    banner.hidden = true;
  });

  // --- chat box ---
  function props() {
    // Walk the RSC rows ("<id>:<json>") for the Evaluation element's props.
    var rows = (self.__next_f || []).map(function (p) { return p[1] || ""; }).join("").split("\\n");
    for (var i = 0; i < rows.length; i++) {
      var c = rows[i].indexOf(":");
      try {
        var v = JSON.parse(rows[i].slice(c + 1));
        if (Array.isArray(v) && v[3] && "initialModelAId" in v[3]) return v[3];
      } catch (e) { /* not a JSON row */ }
    }
    return {};
  }
  function siteKey() {
    var s = document.querySelector('script[src*="recaptcha/enterprise.js?render="]');
    return s ? new URL(s.src).searchParams.get("render") : null;
  }
  var sessionId = (location.pathname.match(/^\\/c\\/([0-9a-f-]{36})/) || [])[1] || null;
  var form = document.getElementById("chat-form");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var box = form.elements.message, prompt = box.value;
    if (!prompt) return;
    box.value = "";
    var p = props(), modelA = p.initialModelAId;
    var out = document.createElement("div"); out.className = "answer";
    document.getElementById("messages").appendChild(out);
    grecaptcha.enterprise.execute(siteKey(), {action: "chat_submit"}).then(function (token) {
      var body = {id: sessionId || uuid7(), modelAId: modelA, userMessageId: uuid7(),
                  modelAMessageId: uuid7(), modelBMessageId: uuid7(),
                  userMessage: {content: prompt, experimental_attachments: [], metadata: {}},
                  modality: "chat", recaptchaV3Token: token};
      var url = "/nextjs-api/stream/post-to-evaluation/" + sessionId;
      if (!sessionId) { body.mode = "direct-battle"; url = "/nextjs-api/stream/create-evaluation"; }
      return fetch(url, {method: "POST", credentials: "include", body: JSON.stringify(body)})
        .then(function (r) {
          if (!r.ok) {
            return r.text().then(function (t) {
              out.textContent = "Error " + r.status + ": " + t;
            });
          }
          if (!sessionId) { sessionId = body.id; history.pushState(null, "", "/c/" + sessionId); }
          var reader = r.body.getReader(), dec = new TextDecoder(), buf = "";
          function pump() {
            return reader.read().then(function (res) {
              if (res.done) return;
              buf += dec.decode(res.value, {stream: true});
              var lines = buf.split("\\n"); buf = lines.pop();
              lines.forEach(function (line) {
                if (line.slice(0, 3) === "a0:") out.textContent += JSON.parse(line.slice(3));
              });
              return pump();
            });
          }
          return pump();
        });
    }).catch(function (e) { out.textContent = "Error: " + e; });
  });
})();
"""


# --------------------------------------------------------------------------------------------------
# JS chunks
# --------------------------------------------------------------------------------------------------


def _refs(deploy: Deploy, names: tuple[str, ...], var: str) -> str:
    return ",".join(
        f"{'ijklmn'[i]}=(0,{var}.createServerReference)(" + f'"{deploy.action_ids[name]}",'
        f'{var}.callServer,void 0,{var}.findSourceMapURL,"{name}")'
        for i, name in enumerate(names)
    )


def chunk_js(deploy: Deploy, role: str, site_key: str) -> str:
    """The text of one ``/_next/static/chunks/...`` file of this deploy."""
    chunk_id = deploy.chunks[role][0] or "0"
    head = f"(self.webpackChunk_N_E=self.webpackChunk_N_E||[]).push([[{chunk_id}],{{"
    if role == "page":
        return (
            head + '52817:(e,t,a)=>{"use strict";a.d(t,{default:()=>Z});var n=a(95155),r=a(12115),'
            f"c=a(34477);let {_refs(deploy, PAGE_ACTIONS, 'c')};"
            "async function u(e){let t=await window.grecaptcha.enterprise.execute("
            f'"{site_key}",{{action:"chat_submit"}});return t}}'
            'let d="/nextjs-api/stream/create-evaluation",'
            'h=e=>"/nextjs-api/stream/post-to-evaluation/"+e;'
            "function Z(e){let{initialModels:t,initialModelAId:a}=e,[s,l]=(0,r.useState)(a);"
            'return(0,n.jsx)("div",{className:"flex",children:s})}}}]);\n'
        )
    if role == "shared":
        return (
            head + '30293:(e,t,a)=>{"use strict";var n=a(34477);let '
            f"{_refs(deploy, SHARED_ACTIONS, 'n')};"
            't.vote=function(e,t){return e.winner==="a"?j(t):i(t)}}}]);\n'
        )
    filler = {
        "webpack": "(()=>{var e={},t={};function a(r){var n=t[r];if(void 0!==n)return n.exports;"
        "var o=t[r]={exports:{}};return e[r](o,o.exports,a),o.exports}a.m=e})();",
        "framework": 'var React={version:"19.2.0"};function jsx(e,t){return{type:e,props:t}}',
        "main": '(self.__next_f=self.__next_f||[]);console.debug("hydrate");',
        "layout": '87921:(e,t,a)=>{"use strict";t.Providers=function(e){return e.children}}',
    }[role]
    if role in ("webpack", "framework", "main"):
        return filler + "\n"
    return head + filler + "}]);\n"


# --------------------------------------------------------------------------------------------------
# reCAPTCHA Enterprise loader
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Sign-in page
# --------------------------------------------------------------------------------------------------


def login_page() -> str:
    """Email sign-in (the site also offers Google; the fake only has email)."""
    return """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Sign in - LMArena</title></head><body><main>
<h1>Sign in</h1>
<form id="login-form">
<label>Email <input type="email" name="email" autocomplete="email" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required>
</label>
<button type="submit">Sign in</button>
</form>
<p id="login-error" role="alert" hidden></p>
</main>
<script>
document.getElementById("login-form").addEventListener("submit", function (ev) {
  ev.preventDefault();
  var f = ev.target;
  fetch("/nextjs-api/sign-in/email", {
    method: "POST", credentials: "include", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({email: f.email.value, password: f.password.value,
                          shouldLinkHistory: true})
  }).then(function (r) {
    if (r.ok) { location.href = "/"; return; }
    return r.json().then(function (j) {
      var e = document.getElementById("login-error"); e.hidden = false;
      e.textContent = j.error || ("Sign-in failed: " + r.status);
    });
  });
});
</script></body></html>"""

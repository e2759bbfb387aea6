"""The Next.js app as the fake serves it: the chat page and the JS chunks of a deploy.

Each builder mirrors a piece of the real site that clients depend on (protocol doc §3.1, §4, §6.1):
the app page with its RSC flight chunks (``self.__next_f.push``), the site's own page script, and
the JS chunks holding ``createServerReference`` calls. The texts are written for this project. The
Cloudflare interstitial is in :mod:`.gate`, the reCAPTCHA loader in :mod:`.recaptcha` and the
sign-in page in :mod:`.accounts`.
"""

from __future__ import annotations

import html
from string import Template
from typing import Any

import orjson

from . import facts
from .deploy import Deploy
from .facts import PAGE_ACTIONS, SHARED_ACTIONS


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
    """``value`` as JSON text, escaped like :func:`js_string` but without the quotes."""
    return js_string(orjson.dumps(value).decode())[1:-1]


# --------------------------------------------------------------------------------------------------
# The Next.js app page
# --------------------------------------------------------------------------------------------------


def _flight_pushes(
    deploy: Deploy,
    props: dict[str, Any],
    *,
    id_only_models: list[dict[str, Any]] | None = None,
    turbopack: bool = False,
) -> list[str]:
    """RSC flight text split over several ``self.__next_f.push([1, ...])`` calls, as Next does.

    ``id_only_models``: an earlier ``initialModels`` array of rows without names (protocol
    §15.4). ``turbopack``: client components list their chunks' paths only (no webpack ids).
    """

    def pairs(*roles: str) -> str:
        flat: list[str] = []
        for role in roles:
            chunk_id, path = deploy.chunks[role]
            flat += [facts.NEXT_PREFIX + path] if turbopack else [chunk_id, path]
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
    if id_only_models is not None:
        sidebar = {facts.INITIAL_MODELS: id_only_models, "collapsed": False}
        rows_page += "7:" + orjson.dumps(["$", "$L5", None, sidebar]).decode() + "\n"
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
    tou_dialog: bool = False,
    id_only_models: list[dict[str, Any]] | None = None,
    turbopack: bool = False,
) -> str:
    """A chat page (``/``, ``/text/direct``, ``/c/{id}``) with the site's elements and scripts.

    ``tou_dialog``: the Terms-of-Use dialog whose "Agree" posts the consent (protocol §14.2).
    """
    scripts = "".join(
        f'<script src="{facts.NEXT_PREFIX}{deploy.path(role)}" async=""></script>'
        for role in ("webpack", "framework", "main", "shared", "layout", "page")
    )
    pushes = "".join(
        f"<script>self.__next_f.push([1,{js_string(text)}])</script>"
        for text in _flight_pushes(
            deploy, props, id_only_models=id_only_models, turbopack=turbopack
        )
    )
    webpack = facts.NEXT_PREFIX + deploy.path("webpack")
    return f"""<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<link rel="preload" as="script" fetchPriority="low" href="{webpack}"/>
{scripts}
<title>LMArena</title>
<meta name="description" content="Compare answers from the best AI models side by side."/>
<script src="{facts.RECAPTCHA_ENTERPRISE_JS}?render={html.escape(site_key)}" async=""></script>
</head><body>
<div id="cookie-banner" role="dialog" aria-label="Cookie consent">We use cookies to run this site.
<button type="button" id="accept-cookies">Accept Cookies</button></div>
{TOU_DIALOG if tou_dialog else ""}
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
_PAGE_SCRIPT = Template(
    """
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
  function hasAuth() { return !!(cookie("${AUTH}") || cookie("${AUTH}.0")); }

  // --- anonymous sign-up (what makes the auth cookie appear on a first visit) ---
  function signUp(retry) {
    var pid = localStorage.getItem("${PROVISIONAL}") || cookie("${PROVISIONAL}")
      || uuid4();
    localStorage.setItem("${PROVISIONAL}", pid);
    document.cookie = "${PROVISIONAL}=" + pid + "; path=/; max-age=31536000; samesite=lax";
    return fetch("${SIGN_UP}", {
      method: "POST", credentials: "include",
      body: JSON.stringify({recaptchaToken: "", provisionalUserId: pid})
    }).then(function (r) {
      if (r.status === 400 && retry) {
        // "User already exists": start over with a fresh provisional id.
        localStorage.removeItem("${PROVISIONAL}");
        document.cookie = "${PROVISIONAL}=; path=/; max-age=0";
        return signUp(false);
      }
    });
  }
  var ready = hasAuth() ? Promise.resolve() : signUp(true);

  // --- the Terms-of-Use dialog (only on the page while the user has not agreed) ---
  var tou = document.getElementById("tou-dialog");
  if (tou) {
    document.getElementById("tou-agree").addEventListener("click", function () {
      ready.then(function () {
        return fetch("${TOU_CONSENT}", {
          method: "POST", credentials: "include",
          headers: {"Content-Type": "application/json"}, body: "{}"
        });
      }).then(function (r) { if (r.ok) tou.hidden = true; });
    });
  }

  // --- cookie banner ---
  var banner = document.getElementById("cookie-banner");
  if (cookie("${CONSENT}") === "accepted") banner.hidden = true;
  document.getElementById("accept-cookies").addEventListener("click", function () {
    document.cookie = "${CONSENT}=accepted; path=/; max-age=31536000; samesite=lax";
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
        if (Array.isArray(v) && v[3] && "${MODEL_A}" in v[3]) return v[3];
      } catch (e) { /* not a JSON row */ }
    }
    return {};
  }
  function siteKey() {
    var s = document.querySelector('script[src*="${RECAPTCHA_JS}?render="]');
    return s ? new URL(s.src).searchParams.get("render") : null;
  }
  var sessionId = (location.pathname.match(/^\\/c\\/([0-9a-f-]{36})/) || [])[1] || null;
  var form = document.getElementById("chat-form");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var box = form.elements.message, prompt = box.value;
    if (!prompt) return;
    box.value = "";
    var p = props(), modelA = p.${MODEL_A};
    var out = document.createElement("div"); out.className = "answer";
    document.getElementById("messages").appendChild(out);
    grecaptcha.enterprise.execute(siteKey(), {action: "${ACTION}"}).then(function (token) {
      var body = {id: sessionId || uuid7(), modelAId: modelA, userMessageId: uuid7(),
                  modelAMessageId: uuid7(), modelBMessageId: uuid7(),
                  userMessage: {content: prompt, experimental_attachments: [], metadata: {}},
                  modality: "${CHAT}", recaptchaV3Token: token};
      var url = "${POST_TO}" + sessionId;
      if (!sessionId) { body.mode = "${DIRECT_BATTLE}"; url = "${CREATE}"; }
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
)
PAGE_SCRIPT = _PAGE_SCRIPT.substitute(
    AUTH=facts.AUTH_COOKIE,
    PROVISIONAL=facts.PROVISIONAL_USER_ID,
    SIGN_UP=facts.SIGN_UP,
    CONSENT=facts.COOKIE_CONSENT,
    MODEL_A=facts.INITIAL_MODEL_A,
    RECAPTCHA_JS=facts.RECAPTCHA_ENTERPRISE_JS.lstrip("/"),
    ACTION=facts.RECAPTCHA_ACTION,
    CHAT=facts.CHAT,
    POST_TO=facts.POST_TO_EVALUATION,
    DIRECT_BATTLE=facts.DIRECT_BATTLE,
    CREATE=facts.CREATE_EVALUATION,
    TOU_CONSENT=facts.TOU_CONSENT,
)
TOU_DIALOG = f"""<div id="tou-dialog" role="dialog" aria-modal="true" aria-labelledby="tou-title">
<h2 id="tou-title">{facts.TOU_DIALOG_TITLE}</h2>
<p>To chat with the models, please accept our Terms of Use and Privacy Policy. Your conversations
may be shared with model providers and published to help the community.</p>
<button type="button" id="tou-agree">Agree</button></div>"""


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
            f'"{site_key}",{{action:"{facts.RECAPTCHA_ACTION}"}});return t}}'
            f'let d="{facts.CREATE_EVALUATION}",'
            f'h=e=>"{facts.POST_TO_EVALUATION}"+e;'
            f"function Z(e){{let{{{facts.INITIAL_MODELS}:t,{facts.INITIAL_MODEL_A}:a}}=e,"
            "[s,l]=(0,r.useState)(a);"
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

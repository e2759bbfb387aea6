# ruff: noqa: E501  (embedded HTML/JS lines)
"""An independent fake of arena.ai, written blind from docs/arena-protocol (the shared protocol
document) only -- without reading the product or the project's own fake (tests/fake_arena).

Run it:  python -m tests.blind_fake --port 0      (prints its URL on stdout, one line)

Deliberate choices where the protocol document allows several behaviours (each one "legal"
according to the document, picked to differ from what the product's authors may have assumed):

 1. Cloudflare: every page, /nextjs-api/* call and server action without a valid `cf_clearance`
    gets a 403 "Just a moment..." HTML interstitial. Its JS (after ~1.5 s) POSTs navigator.userAgent
    to /cdn-cgi/challenge-platform/.../orchestrate, gets a token bound (HMAC) to the User-Agent
    *header*, and sets `cf_clearance` with `document.cookie` (never via Set-Cookie), then reloads.
    A UA containing "HeadlessChrome", or a JS UA differing from the header UA, never clears.
    Every protected request re-checks the clearance against the request's User-Agent.
 2. Models: by default embedded in the RSC flight payload of the page, as the documented
    `{"initialModels":[...],"initialModelAId":...}` object, but that row is split across TWO
    `self.__next_f.push([1,"..."])` script tags (Next.js splits big rows); in that default
    `/nextjs-api/model-catalog` answers 404 (the endpoint is [single]-sourced). With
    `--no-embed` the page embeds nothing and only the catalog (list of arenas, duplicates across
    arenas) has the models. Two rows share the publicName "gemini-3-pro" (v4 and v7 ids); one
    model is userSelectable:false; one "stealth" model has no organization.
 3. reCAPTCHA: the page loads `/gstatic/recaptcha/enterprise.js?render=<KEY>&hl=en` (a key from
    no public list). The loader defines grecaptcha.enterprise.ready at once (queueing) but
    `execute` only after ~1.2 s. execute() with any other key throws. The key also appears in a
    chunk as `grecaptcha.enterprise.execute("KEY",{action:"chat_submit"})`, and a decoy v2
    checkbox key appears in another chunk's `render(...,{sitekey:"..."})`. Tokens are ~1.9 KB,
    single-use, live 120 s, bound to the cf_clearance + UA of the browser that minted them, and
    carry their action (create/post need `chat_submit`; retry accepts chat_retry/chat_submit).
 4. Server-action ids (42 hex, prefixes 40/60/70) live in a chunk referenced ONLY by a
    `<script src=".../app/(chat)/page-<hash>.js?dpl=...">` tag; the one flight `I[...]` row names
    a different (layout) chunk that has no action ids. Line 0 of action replies is
    `0:["$@1",["<build>",null]]`; the value is on line 1. Unknown id -> 404 "Server action not
    found.". Ids change on every start of this fake and on POST /__fake/config {"deploy":true}.
 5. Sign-up: the page's own JS signs the visitor up on load (POST /nextjs-api/sign-up,
    `{"recaptchaToken":"","provisionalUserId":...}`), the answer sets the session as CHUNKED
    cookies `arena-auth-prod-v1.0` / `.1` (base64url without padding, "base64-" prefix on chunk 0).
    The server accepts the chunks or the joined single cookie.
 6. Streams: Content-Type `text/event-stream; charset=utf-8` (lines still bare `a0:...`, no SSE
    framing) + `x-vercel-ai-data-stream: v1`; `af:` first, heartbeats before the first token,
    writes split inside multi-byte UTF-8 characters and in the middle of lines, `ae:` before `ad:`.
    Reasoning model: `ag:` lines (one of them an object {"type":"reasoning","text":...}).
    Image model: two images, one presigned URL and one `data:` URI. Search model: `ac:` citations.
 7. Validation: ids must be fresh UUIDv7 with a current timestamp; ids are burned as soon as the
    body passes the schema (so re-sending ids after a 403/429 is a 400); mode `direct` is refused
    (only `direct-battle`, `side-by-side`, `battle`); image models require modality "image";
    attachments must be presigned URLs of this fake's bucket and the model must take images.
 8. Faults, switchable by POST /__fake/config (JSON) or env BLIND_FAKE_<NAME>=value at start:
    rate_limit (N next stream calls get 429 text + Retry-After: retry_after), recaptcha_reject
    (N next stream calls get 403 recaptcha failure), login_gate (bool: anonymous users get
    401 {"error":"LOGIN_GATE",...} on direct modes), stream_fault ("a3"/"hasArenaError"/"empty"
    for the next call), cf_reset (invalidate all clearances), deploy (new action ids).
    GET /__fake/log lists the stream/action calls seen; POST /__fake/reset clears faults and log.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import struct
import time
import uuid
from datetime import UTC, datetime
from typing import Any, cast

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from tests.helpers.images import png

SITE_KEY = "6LfQm3AtAAAAAPz9blindFakeKey0rotatedQx"
V2_KEY = "6Le3_cYsAAAAAGwWOK2RLDgNI15Bh8C0yLBOL1yL"
BUILD = "bld_k2PqZr"
DPL = "dpl_9FkW2mT"


def _model(
    mid: str,
    name: str,
    org: str | None,
    inp: dict[str, Any],
    out: dict[str, Any],
    rank: int,
    **kw: Any,
) -> dict[str, Any]:
    m: dict[str, Any] = {
        "id": mid,
        "publicName": name,
        "name": kw.pop("internal", name),
        "displayName": name,
        "provider": kw.pop("provider", "fakeProvider"),
        "capabilities": {"inputCapabilities": inp, "outputCapabilities": out},
        "userSelectable": kw.pop("selectable", True),
        "rank": rank,
        "rankByModality": {"chat": rank},
        "arenas": kw.pop("arenas", ["text"]),
    }
    if org is not None:
        m["organization"] = org
    return m


MODELS = [
    _model(
        "019b2c41-7a10-7c3e-9d2a-4be1f0c3a001",
        "gemini-3-pro",
        "google",
        {"text": True, "image": True, "file": True},
        {"text": True, "web": True},
        1,
        internal="fiercefalcon",
        arenas=["text", "vision", "webdev"],
    ),
    _model(
        "6f1d2b8e-3c4a-4e5f-9a0b-1c2d3e4f5a6b",
        "gemini-3-pro",
        "google",
        {"text": True, "image": True},
        {"text": True},
        1,
        internal="gemini-3-pro-old",
    ),
    _model(
        "019b2c41-7a10-7c3e-9d2a-4be1f0c3a002",
        "claude-opus-4-5",
        "anthropic",
        {"text": True, "image": {"requiresUpload": False, "multipleImages": True}},
        {"text": True},
        2,
        arenas=["text", "vision"],
    ),
    _model(
        "019b2c41-7a10-7c3e-9d2a-4be1f0c3a003",
        "deepthink-r2",
        "deepseek",
        {"text": True},
        {"text": True},
        5,
    ),
    _model(
        "019b2c41-7a10-7c3e-9d2a-4be1f0c3a004",
        "gpt-image-2",
        "openai",
        {"text": True, "image": {"requiresUpload": False}},
        {"image": {"aspectRatios": ["1:1", "16:9"]}},
        3,
        arenas=["text-to-image"],
    ),
    _model(
        "019b2c41-7a10-7c3e-9d2a-4be1f0c3a005",
        "sonar-pro-search",
        "perplexity",
        {"text": True},
        {"text": True, "search": True},
        4,
        arenas=["search"],
    ),
    _model(
        "019b2c41-7a10-7c3e-9d2a-4be1f0c3a006",
        "riftrunner",
        None,
        {"text": True},
        {"text": True},
        9007199254740991,
    ),
    _model(
        "019b2c41-7a10-7c3e-9d2a-4be1f0c3a007",
        "retired-model-0",
        "legacyco",
        {"text": True},
        {"text": True},
        40,
        selectable=False,
    ),
    _model(
        "019b2c41-7a10-7c3e-9d2a-4be1f0c3a008",
        "veo-4",
        "google",
        {"text": True, "image": True},
        {"video": True},
        7,
        arenas=["video"],
    ),
]
BY_ID = {m["id"]: m for m in MODELS}
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class BlindFake:
    def __init__(
        self, embed_models: bool = True, catalog: bool | None = None, auto_signup: bool = True
    ) -> None:
        self.embed_models = embed_models
        self.auto_signup = auto_signup
        self.catalog = (not embed_models) if catalog is None else catalog
        self.secret = secrets.token_bytes(16)
        self.cf_secret = secrets.token_bytes(16)
        self.actions: dict[str, str] = {}
        self.deploy()
        self.tokens: dict[str, dict[str, Any]] = {}
        self.used_ids: set[str] = set()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, tuple[str, bytes]] = {}
        self.provisional: set[str] = set()
        self.log: list[dict[str, Any]] = []
        self.faults: dict[str, Any] = {}
        self.auth_gen = 0  # access tokens of an older generation count as expired
        self.reset_faults()
        for name in ("rate_limit", "retry_after", "recaptcha_reject"):
            if os.environ.get(f"BLIND_FAKE_{name.upper()}"):
                self.faults[name] = int(os.environ[f"BLIND_FAKE_{name.upper()}"])
        if os.environ.get("BLIND_FAKE_LOGIN_GATE", "") in ("1", "true"):
            self.faults["login_gate"] = True

    def reset_faults(self) -> None:
        self.faults = {
            "rate_limit": 0,
            "retry_after": 30,
            "recaptcha_reject": 0,
            "http_500": 0,
            "login_gate": False,
            "stream_fault": [],
            "get_expires": 3600,
            "auto_signup": self.auto_signup,
        }

    def deploy(self) -> None:
        self.actions = {
            p + secrets.token_hex(20): n
            for p, n in (
                ("40", "generateUploadUrl"),
                ("60", "getSignedUrl"),
                ("70", "createPairwiseFeedback"),
            )
        }

    # ---------------------------------------------------------------- helpers
    def _sign(self, *parts: str) -> str:
        return hmac.new(self.secret, "|".join(parts).encode(), hashlib.sha256).hexdigest()

    def cf_token(self, ua: str) -> str:
        ts = str(int(time.time()))
        mac = hmac.new(self.cf_secret, f"{ua}|{ts}".encode(), hashlib.sha256).hexdigest()[:40]
        return f"{mac}-{ts}-1.2.1.1-{secrets.token_urlsafe(24)}"

    def cf_ok(self, request: web.Request) -> bool:
        value = request.cookies.get("cf_clearance", "")
        ua = request.headers.get("User-Agent", "")
        try:
            mac, ts, _ = value.split("-", 2)
        except ValueError:
            return False
        good = hmac.new(self.cf_secret, f"{ua}|{ts}".encode(), hashlib.sha256).hexdigest()[:40]
        return (
            hmac.compare_digest(mac, good)
            and time.time() - int(ts) < 3600
            and "HeadlessChrome" not in ua
        )

    def challenge(self) -> web.Response:
        html = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta name="robots" content="noindex,nofollow"></head><body>
<div class="main-wrapper"><h1>127.0.0.1</h1><div id="challenge-body-text" class="cf-spinner-please-wait">
Verifying you are human. Enable JavaScript and cookies to continue</div></div>
<script>window._cf_chl_opt={cType:'managed',cRay:'%s'};
setTimeout(async function(){
  var ua = navigator.userAgent;
  if (/HeadlessChrome/.test(ua)) { document.getElementById('challenge-body-text').textContent='Sorry, you have been blocked'; return; }
  var r = await fetch('/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=%s', {method:'POST', body: JSON.stringify({ua: ua})});
  if (!r.ok) { document.getElementById('challenge-body-text').textContent='Sorry, you have been blocked'; return; }
  var t = await r.text();
  document.cookie = 'cf_clearance=' + t + '; path=/; max-age=3600; SameSite=Lax';
  location.reload();
}, 1500);</script></body></html>""" % ((secrets.token_hex(8),) * 2)
        return web.Response(
            status=403,
            text=html,
            content_type="text/html",
            headers={"cf-mitigated": "challenge", "Server": "cloudflare"},
        )

    def user(self, request: web.Request, allow_expired: bool = False) -> dict[str, Any] | None:
        c = request.cookies
        value = c.get("arena-auth-prod-v1", "")
        if not value:
            chunks = sorted(
                (
                    (int(k.rsplit(".", 1)[1]), v)
                    for k, v in c.items()
                    if re.fullmatch(r"arena-auth-prod-v1\.\d+", k)
                )
            )
            value = "".join(v for _, v in chunks)
        if not value.startswith("base64-"):
            return None
        try:
            raw = value[7:]
            sess = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            head, payload, sig = sess["access_token"].split(".")
            if not hmac.compare_digest(sig, self._sign(head, payload)):
                return None
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except Exception:
            return None
        fresh = claims["exp"] > time.time() and claims.get("gen") == self.auth_gen
        return claims if fresh or allow_expired else None

    def session_cookie(self, user_id: str, anonymous: bool = True) -> str:
        def b64(d: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

        now = int(time.time())
        head = b64({"alg": "HS256", "typ": "JWT"})
        payload = b64(
            {
                "sub": user_id,
                "is_anonymous": anonymous,
                "exp": now + 3600,
                "iat": now,
                "session_id": str(uuid.uuid4()),
                "role": "authenticated",
                "gen": self.auth_gen,
                "iss": "https://huogzoeqzcrdvkwtvodi.supabase.co/auth/v1",
            }
        )
        sess = {
            "access_token": f"{head}.{payload}.{self._sign(head, payload)}",
            "token_type": "bearer",
            "expires_in": 3600,
            "expires_at": now + 3600,
            "refresh_token": secrets.token_hex(6),
            "user": {
                "id": user_id,
                "aud": "authenticated",
                "role": "authenticated",
                "is_anonymous": anonymous,
                "app_metadata": {"provider": "anonymous"},
                "user_metadata": {"id": str(uuid.uuid4())},
                "identities": [],
            },
        }
        return "base64-" + b64(sess)

    def presign(self, method: str, key: str, expires: int = 600) -> str:
        date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        sig = self._sign(method, key, date, str(expires))
        return (
            f"/r2/arena-user-content/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential=FAKEKEY%2F{date[:8]}%2Fauto%2Fs3%2Faws4_request"
            f"&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={sig}"
        )

    def presign_ok(self, method: str, key: str, q: Any) -> bool:
        try:
            date, exp = q["X-Amz-Date"], q["X-Amz-Expires"]
            issued = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        except (KeyError, ValueError):
            return False
        return hmac.compare_digest(
            q.get("X-Amz-Signature", ""), self._sign(method, key, date, exp)
        ) and time.time() < issued + int(exp)

    # ---------------------------------------------------------------- app
    def app(self) -> web.Application:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        r = app.router
        for path in ("/", "/text/direct", "/c/{sid}", "/chat", "/text-to-image"):
            r.add_get(path, self.page)
            r.add_post(path, self.server_action)
        r.add_post("/cdn-cgi/challenge-platform/{tail:.*}", self.cf_solve)
        r.add_get("/_next/static/chunks/{path:.*}", self.chunk)
        r.add_get("/gstatic/recaptcha/enterprise.js", self.recaptcha_js)
        r.add_post("/gstatic/recaptcha/api2/reload", self.recaptcha_mint)
        r.add_post("/nextjs-api/sign-up", self.sign_up)
        r.add_get("/nextjs-api/model-catalog", self.model_catalog)
        r.add_post("/nextjs-api/stream/create-evaluation", self.create)
        r.add_post("/nextjs-api/stream/post-to-evaluation/{sid}", self.post)
        r.add_put(
            "/nextjs-api/stream/retry-evaluation-session-message/{sid}/messages/{mid}", self.retry
        )
        r.add_post(
            "/api/stream/{tail:.*}",
            # a bare (non-async) handler, as written: aiohttp wraps it; cast for its Handler type
            cast(Handler, lambda _: web.json_response({"error": "Route not allowed"}, status=403)),
        )
        r.add_put("/r2/arena-user-content/{key:.*}", self.r2_put)
        r.add_get("/r2/arena-user-content/{key:.*}", self.r2_get)
        r.add_post("/__fake/config", self.admin_config)
        r.add_post("/__fake/reset", self.admin_reset)
        r.add_get("/__fake/log", cast(Handler, lambda _: web.json_response(self.log)))
        return app

    async def admin_config(self, request: web.Request) -> web.Response:
        cfg = await request.json()
        if cfg.pop("cf_reset", False):
            self.cf_secret = secrets.token_bytes(16)
        if cfg.pop("expire_auth", False):
            self.auth_gen += 1
        if cfg.pop("deploy", False):
            self.deploy()
        self.faults.update(cfg)
        return web.json_response(self.faults)

    async def admin_reset(self, _: web.Request) -> web.Response:
        self.reset_faults()
        self.log.clear()
        return web.json_response(self.faults)

    # ---------------------------------------------------------------- cloudflare + page
    async def cf_solve(self, request: web.Request) -> web.Response:
        ua = request.headers.get("User-Agent", "")
        try:
            js_ua = json.loads(await request.text())["ua"]
        except Exception:
            js_ua = None
        if "HeadlessChrome" in ua or js_ua != ua:
            return web.Response(status=403, text="blocked")
        return web.Response(text=self.cf_token(ua))

    def flight(self) -> str:
        rows = [
            '1:I[48213,["4120","static/chunks/app/layout-5d1e2f.js","8861",'
            '"static/chunks/8861-0b7a2c.js"],"RootProviders"]\n'
        ]
        if self.embed_models:
            obj = json.dumps(
                {
                    "initialModels": MODELS,
                    "initialModelAId": MODELS[0]["id"],
                    "initialModelBId": MODELS[2]["id"],
                },
                separators=(",", ":"),
            )
            row = '5:["$","$L1",null,{"children":"$L6","initialState":' + obj + "}]\n"
            cut = row.index("claude-opus") + 4  # split inside a model name
            rows += [row[:cut], row[cut:]]
        rows.append('6:["$","main",null,{"className":"flex h-full"}]\n')
        return "".join(f"<script>self.__next_f.push([1,{json.dumps(x)}])</script>" for x in rows)

    async def page(self, request: web.Request) -> web.Response:
        if not self.cf_ok(request):
            return self.challenge()
        html = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Arena | Benchmark &amp; Compare the Best AI Models</title>
<script src="/_next/static/chunks/webpack-3f2a91c0.js?dpl={DPL}" async=""></script>
<script src="/_next/static/chunks/app/layout-5d1e2f.js?dpl={DPL}" async=""></script>
<script src="/_next/static/chunks/app/(chat)/page-9c1e77d0a4b2.js?dpl={DPL}" async=""></script>
<script src="/_next/static/chunks/3391-ab12cd.js?dpl={DPL}" async=""></script>
<script src="/gstatic/recaptcha/enterprise.js?render={SITE_KEY}&amp;hl=en" async="" defer=""></script>
</head><body><div id="root"><nav><a href="/leaderboard">Leaderboard</a></nav>
<form><textarea name="message" placeholder="Ask anything…"></textarea>
<button type="submit" aria-label="Send message">Send</button></form>
<div role="dialog"><button>Accept Cookies</button></div></div>
<script>(self.__next_f=self.__next_f||[]).push([0])</script>{self.flight()}
<script>(async function(){{
  function has(n){{return document.cookie.split('; ').some(function(c){{return c.indexOf(n)===0}})}}
  if (has('arena-auth-prod-v1') || !__AUTO__) return;
  var pid = localStorage.getItem('provisional_user_id');
  if (!pid) {{ pid = (crypto.randomUUID ? crypto.randomUUID() : '0e2f4c1a-8b3d-4f5e-9a6b-' + Date.now().toString(16).padStart(12,'0').slice(-12)); localStorage.setItem('provisional_user_id', pid); }}
  document.cookie = 'provisional_user_id=' + pid + '; path=/; max-age=31536000; SameSite=Lax';
  await new Promise(function(r){{setTimeout(r, 700)}});
  await fetch('/nextjs-api/sign-up', {{method:'POST', body: JSON.stringify({{recaptchaToken:'', provisionalUserId: pid}})}});
}})();</script></body></html>""".replace(
            "__AUTO__", "true" if self.faults["auto_signup"] else "false"
        )
        resp = web.Response(text=html, content_type="text/html")
        old = self.user(request, allow_expired=True)
        if (
            old is not None and self.user(request) is None
        ):  # SSR middleware rotates an expired session
            self.set_session(resp, self.session_cookie(old["sub"], old["is_anonymous"]), request)
        resp.set_cookie("__cf_bm", secrets.token_urlsafe(30), max_age=1800, httponly=True, path="/")
        return resp

    async def chunk(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        if path.startswith("app/(chat)/page-"):
            refs = ",".join(
                f'{v}=(0,a.createServerReference)("{k}",a.callServer,void 0,a.findSourceMapURL,"{n}")'
                for (k, n), v in zip(self.actions.items(), "oiu", strict=True)
            )
            js = (
                '"use strict";(self.webpackChunk_N_E=self.webpackChunk_N_E||[]).push([[9731],{52817:(e,t,r)=>{'
                "r.d(t,{Evaluation:()=>c});var n=r(7620),a=r(94829);let " + refs + ";"
                "async function s(){return new Promise(e=>window.grecaptcha.enterprise.ready(async()=>"
                f'e(await window.grecaptcha.enterprise.execute("{SITE_KEY}",{{action:"chat_submit"}}))))}}'
                'function c(e){return n.jsx("div",{children:e.children})}}}]);'
            )
        elif path.startswith("3391-"):
            js = (
                '"use strict";(self.webpackChunk_N_E=self.webpackChunk_N_E||[]).push([[3391],{71002:(e,t,r)=>{'
                f'function l(e,t){{return window.grecaptcha.enterprise.render(e,{{sitekey:"{V2_KEY}",callback:t,theme:"light"}})}}'
                "r.d(t,{V2:()=>l})}}]);"
            )
        else:
            js = '"use strict";(self.webpackChunk_N_E=self.webpackChunk_N_E||[]).push([[4120],{}]);'
        return web.Response(text=js, content_type="application/javascript")

    async def model_catalog(self, request: web.Request) -> web.Response:
        if not self.catalog:
            return web.Response(
                status=404,
                text="<!DOCTYPE html><title>404: This page could not be found.</title>",
                content_type="text/html",
            )
        if not self.cf_ok(request):
            return self.challenge()
        arenas = ["text", "vision", "text-to-image", "search", "webdev", "video"]
        body = [
            {"arena": a, "complete": True, "models": [m for m in MODELS if a in m["arenas"]]}
            for a in arenas
        ]
        return web.json_response(body)

    # ---------------------------------------------------------------- recaptcha
    async def recaptcha_js(self, request: web.Request) -> web.Response:
        key = request.query.get("render", "")
        js = """(function(){
var KEY=__KEY__, q=[], ok=false;
window.grecaptcha=window.grecaptcha||{};
window.grecaptcha.enterprise={ready:function(f){ok?f():q.push(f)}};
setTimeout(function(){
  var e=window.grecaptcha.enterprise;
  e.execute=function(key,opts){
    if(key!==KEY) throw new Error('Invalid site key or not loaded in api.js: '+key);
    var action=(opts&&opts.action)||'';
    return fetch('/gstatic/recaptcha/api2/reload?k='+encodeURIComponent(key),{method:'POST',credentials:'include',
      headers:{'Content-Type':'application/x-protobuffer'},body:JSON.stringify({action:action})}).then(function(r){
      if(!r.ok) throw new Error('recaptcha: '+r.status); return r.text();});
  };
  e.render=function(){return 0};
  ok=true; q.splice(0).forEach(function(f){try{f()}catch(x){}});
}, 1200);
})();""".replace("__KEY__", json.dumps(key))
        return web.Response(text=js, content_type="text/javascript")

    async def recaptcha_mint(self, request: web.Request) -> web.Response:
        if request.query.get("k") != SITE_KEY:
            return web.Response(status=400, text="bad key")
        action = json.loads(await request.text()).get("action", "")
        token = "03AFcWeA" + secrets.token_urlsafe(1400)
        self.tokens[token] = {
            "cf": request.cookies.get("cf_clearance", ""),
            "action": action,
            "ua": request.headers.get("User-Agent", ""),
            "at": time.time(),
        }
        return web.Response(text=token)

    def token_ok(self, request: web.Request, token: Any, actions: tuple[str, ...]) -> bool:
        info = self.tokens.pop(token, None) if isinstance(token, str) else None
        return bool(
            info
            and info["action"] in actions
            and time.time() - info["at"] < 120
            and info["cf"] == request.cookies.get("cf_clearance")
            and info["ua"] == request.headers.get("User-Agent")
        )

    # ---------------------------------------------------------------- sign-up
    async def sign_up(self, request: web.Request) -> web.Response:
        if not self.cf_ok(request):
            return self.challenge()
        try:
            pid = str(uuid.UUID(json.loads(await request.text())["provisionalUserId"]))
        except Exception:
            return web.json_response({"error": "Invalid request"}, status=400)
        if pid in self.provisional:
            return web.json_response({"error": "User already exists"}, status=400)
        self.provisional.add(pid)
        resp = web.json_response({"success": True})
        self.set_session(resp, self.session_cookie(str(uuid.uuid4())), request)
        return resp

    @staticmethod
    def set_session(resp: web.Response, value: str, request: web.Request) -> None:
        half = len(value) // 2
        if "arena-auth-prod-v1" in request.cookies:
            resp.del_cookie("arena-auth-prod-v1", path="/")
        for i, part in enumerate((value[:half], value[half:])):
            resp.set_cookie(
                f"arena-auth-prod-v1.{i}", part, path="/", max_age=34560000, samesite="Lax"
            )

    # ---------------------------------------------------------------- server actions + bucket
    async def server_action(self, request: web.Request) -> web.Response:
        if not self.cf_ok(request):
            return self.challenge()
        name = self.actions.get(request.headers.get("Next-Action", ""))
        entry: dict[str, Any] = {
            "kind": "action",
            "name": name,
            "id": request.headers.get("Next-Action"),
        }
        self.log.append(entry)
        if name is None:
            entry["status"] = 404
            return web.Response(
                status=404, text="Server action not found.", content_type="text/plain"
            )
        try:
            args = json.loads(await request.text())
            assert isinstance(args, list)
        except Exception:
            return web.Response(
                status=500, text='0:E{"digest":"bad args"}\n', content_type="text/x-component"
            )
        result: dict[str, Any]
        if name == "generateUploadUrl" and len(args) == 2 and str(args[1]).startswith("image/"):
            key = f"uploads/{uuid.uuid4()}/{os.path.basename(str(args[0]))}"
            self.objects[key] = (str(args[1]), b"")
            result = {
                "success": True,
                "data": {
                    "uploadUrl": str(request.url.origin()) + self.presign("PUT", key),
                    "key": key,
                },
            }
        elif name == "getSignedUrl" and len(args) == 1 and self.objects.get(args[0], ("", b""))[1]:
            result = {
                "success": True,
                "data": {
                    "url": str(request.url.origin())
                    + self.presign("GET", args[0], int(self.faults["get_expires"]))
                },
            }
        else:
            result = {"success": False, "error": "Invalid arguments"}
        entry["status"] = 200
        text = f'0:["$@1",["{BUILD}",null]]\n1:{json.dumps(result, separators=(",", ":"))}\n'
        return web.Response(text=text, content_type="text/x-component")

    async def r2_put(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if key not in self.objects or not self.presign_ok("PUT", key, request.query):
            return web.Response(
                status=403, text="<Error><Code>SignatureDoesNotMatch</Code></Error>"
            )
        mime = self.objects[key][0]
        if request.headers.get("Content-Type", "").split(";")[0] != mime:
            return web.Response(status=403, text="<Error><Code>InvalidContentType</Code></Error>")
        data = await request.read()
        if len(data) > 5 * 1024 * 1024:
            return web.Response(status=413, text="EntityTooLarge")
        self.objects[key] = (mime, data)
        return web.Response(headers={"ETag": f'"{hashlib.md5(data).hexdigest()}"'})

    async def r2_get(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if key not in self.objects or not self.presign_ok("GET", key, request.query):
            return web.Response(status=403, text="<Error><Code>AccessDenied</Code></Error>")
        mime, data = self.objects[key]
        return web.Response(body=data, content_type=mime)

    # ---------------------------------------------------------------- stream endpoints
    def _zod(self, path: list[str | int], msg: str) -> web.Response:
        return web.json_response(
            {
                "success": False,
                "error": {
                    "issues": [{"code": "invalid_type", "path": path, "message": msg}],
                    "name": "ZodError",
                },
            },
            status=400,
        )

    async def _common(
        self, request: web.Request, kind: str
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | web.Response:
        entry: dict[str, Any] = {
            "kind": kind,
            "path": request.path,
            "content_type": request.headers.get("Content-Type"),
            "cookies": sorted(request.cookies),
        }
        self.log.append(entry)

        def fail(resp: web.Response) -> web.Response:
            entry["status"] = resp.status
            return resp

        if not self.cf_ok(request):
            return fail(self.challenge())
        claims = self.user(request)
        if claims is None:
            expired = self.user(request, allow_expired=True) is not None
            return fail(
                web.json_response(
                    {"error": "auth token has expired" if expired else "Not authenticated"},
                    status=401,
                )
            )
        try:
            body = json.loads(await request.text())
            assert isinstance(body, dict)
        except Exception:
            return fail(web.json_response({"error": "Invalid JSON"}, status=400))
        entry["body"] = {k: v for k, v in body.items() if not k.startswith("recaptcha")}
        entry["has_token"] = bool(body.get("recaptchaV3Token"))
        um = body.get("userMessage")
        if not isinstance(um, dict):
            return fail(self._zod(["userMessage"], "Required"))
        for f, t in (("content", str), ("experimental_attachments", list), ("metadata", dict)):
            if not isinstance(um.get(f), t):
                return fail(self._zod(["userMessage", f], "Required"))
        id_fields = ["userMessageId", "modelAMessageId"] + (
            ["modelBMessageId"] if "modelBMessageId" in body else []
        )
        if kind == "create":
            id_fields.insert(0, "id")
        for f in id_fields:
            v = body.get(f)
            if (
                not (isinstance(v, str) and UUID7.match(v))
                or abs(int(v[:8] + v[9:13], 16) / 1000 - time.time()) > 600
            ):
                return fail(self._zod([f], "Invalid uuid"))
        ids = [body[f] for f in id_fields]
        if len(set(ids)) != len(ids) or any(i in self.used_ids for i in ids):
            return fail(web.json_response({"error": "Message id already exists"}, status=400))
        self.used_ids.update(ids)
        if self.faults["http_500"] > 0:
            self.faults["http_500"] -= 1
            return fail(web.json_response({"error": "Failed to create session"}, status=500))
        if self.faults["rate_limit"] > 0:
            self.faults["rate_limit"] -= 1
            return fail(
                web.Response(
                    status=429,
                    text="Too many requests, please try again later.",
                    headers={"Retry-After": str(self.faults["retry_after"])},
                )
            )
        actions = ("chat_retry", "chat_submit") if kind == "retry" else ("chat_submit",)
        token_good = self.token_ok(request, body.get("recaptchaV3Token"), actions)
        if self.faults["recaptcha_reject"] > 0:
            self.faults["recaptcha_reject"] -= 1
            token_good = False
        if not token_good:
            return fail(web.json_response({"error": "recaptcha validation failed"}, status=403))
        if any(w in um["content"].lower() for w in ("forbidden-topic",)):
            return fail(
                web.json_response(
                    {
                        "error": "Request rejected: Content violates our terms of use "
                        f"for evaluation session id: {body.get('id')}"
                    },
                    status=422,
                )
            )
        return body, claims, entry

    async def create(self, request: web.Request) -> web.StreamResponse:
        got = await self._common(request, "create")
        if isinstance(got, web.StreamResponse):
            return got
        body, claims, entry = got
        mode = body.get("mode")
        if mode not in ("direct-battle", "side-by-side", "battle"):
            entry["status"] = 400
            return web.json_response(
                {
                    "success": False,
                    "error": {
                        "issues": [
                            {
                                "code": "invalid_enum_value",
                                "options": ["direct-battle", "side-by-side", "battle"],
                                "path": ["mode"],
                                "received": mode,
                            }
                        ],
                        "name": "ZodError",
                    },
                },
                status=400,
            )
        if mode != "battle" and claims["is_anonymous"] and self.faults["login_gate"]:
            entry["status"] = 401
            return web.json_response(
                {
                    "error": "LOGIN_GATE",
                    "message": "Direct mode and side-by-side "
                    "require user login. Please sign in to continue.",
                },
                status=401,
            )
        pair: list[dict[str, Any]] = []
        if mode == "battle":
            if body.get("modelAId") or body.get("modelBId"):
                entry["status"] = 400
                return web.json_response(
                    {"error": "Model ids are not allowed in battle mode"}, status=400
                )
            pair = [MODELS[2], MODELS[3]]
        else:
            for f in ("modelAId", "modelBId") if mode == "side-by-side" else ("modelAId",):
                m = BY_ID.get(body.get(f, ""))
                if m is None:
                    entry["status"] = 400
                    return web.json_response(
                        {"error": f"Model not found: {body.get(f)}"}, status=400
                    )
                if not m["userSelectable"]:
                    entry["status"] = 400
                    return web.json_response(
                        {"error": f"Model {m['publicName']} is not available for user selection"},
                        status=400,
                    )
                pair.append(m)
        err = self._check_modality(body, pair)
        if err:
            entry["status"] = 400
            return web.json_response({"error": err}, status=400)
        self.sessions[body["id"]] = {
            "owner": claims["sub"],
            "mode": mode,
            "models": pair,
            "turns": [],
        }
        return await self._stream(request, body, body["id"], entry)

    def _check_modality(self, body: dict[str, Any], models: list[dict[str, Any]]) -> str | None:
        for m in models:
            out, inp = (
                m["capabilities"]["outputCapabilities"],
                m["capabilities"]["inputCapabilities"],
            )
            if out.get("image") and body.get("modality") != "image":
                return "Invalid modality for model"
            if (
                not out.get("text")
                and not out.get("image")
                and body.get("modality") in ("chat", "search")
            ):
                return f"Invalid modality for model {m['publicName']}: {body.get('modality')}"
            if body["userMessage"]["experimental_attachments"] and not inp.get("image"):
                return "user message is invalid: model does not accept images"
        for a in body["userMessage"]["experimental_attachments"]:
            u = URL(str(a.get("url", "")) if isinstance(a, dict) else "")
            key = u.path.removeprefix("/r2/arena-user-content/")
            if not (
                str(a.get("contentType", "")).startswith("image/")
                and key in self.objects
                and self.presign_ok("GET", key, u.query)
            ):
                return "user message is invalid: bad attachment"
        return None

    async def post(self, request: web.Request) -> web.StreamResponse:
        got = await self._common(request, "post")
        if isinstance(got, web.StreamResponse):
            return got
        body, claims, entry = got
        sid = request.match_info["sid"]
        sess = self.sessions.get(sid)
        if sess is None:
            entry["status"] = 404
            return web.json_response({"error": "Evaluation session not found"}, status=404)
        if sess["owner"] != claims["sub"]:
            entry["status"] = 401
            return web.json_response(
                {"error": f"User {claims['sub']} does not have access to evaluation session {sid}"},
                status=401,
            )
        if body.get("id") != sid or (
            "modelAId" in body
            and sess["mode"] != "battle"
            and body["modelAId"] != sess["models"][0]["id"]
        ):
            entry["status"] = 400
            return web.json_response({"error": "Session id or model mismatch"}, status=400)
        if sess["mode"] != "battle" and claims["is_anonymous"] and self.faults["login_gate"]:
            entry["status"] = 401
            return web.json_response(
                {"error": "LOGIN_GATE", "message": "Please sign in"}, status=401
            )
        err = self._check_modality(body, sess["models"])
        if err:
            entry["status"] = 400
            return web.json_response({"error": err}, status=400)
        return await self._stream(request, body, sid, entry)

    async def retry(self, request: web.Request) -> web.StreamResponse:
        sess = self.sessions.get(request.match_info["sid"])
        if not self.cf_ok(request):
            return self.challenge()
        body = json.loads(await request.text() or "{}")
        if not (
            sess
            and sess["turns"]
            and self.token_ok(request, body.get("recaptchaV3Token"), ("chat_retry", "chat_submit"))
        ):
            return web.json_response({"error": "recaptcha validation failed"}, status=403)
        last = sess["turns"].pop()
        fake = {
            "userMessage": {"content": last, "experimental_attachments": []},
            "modelAMessageId": request.match_info["mid"],
        }
        return await self._stream(request, fake, request.match_info["sid"], {"kind": "retry"})

    async def _stream(
        self, request: web.Request, body: dict[str, Any], sid: str, entry: dict[str, Any]
    ) -> web.StreamResponse:
        sess = self.sessions[sid]
        prompt = body["userMessage"]["content"]
        prev = sess["turns"][-1] if sess["turns"] else None
        sess["turns"].append(prompt)
        turn = len(sess["turns"])
        faults = self.faults["stream_fault"]
        fault = faults.pop(0) if isinstance(faults, list) and faults else None
        entry["status"] = 200
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "x-vercel-ai-data-stream": "v1",
                "Cache-Control": "no-cache",
            }
        )
        await resp.prepare(request)

        async def send(data: bytes) -> None:
            await resp.write(data)
            await asyncio.sleep(0.02)

        async def line(pos: str, code: str, value: Any) -> None:
            raw = f"{pos}{code}:{json.dumps(value, ensure_ascii=False)}\n".encode()
            lead = next((i for i, b in enumerate(raw) if b >= 0xC0), None)
            cut = lead + 1 if lead is not None else len(raw) // 2  # inside a UTF-8 char if any
            await send(raw[:cut])
            await send(raw[cut:])

        sides = list(zip("ab", sess["models"], strict=False))
        await line("a", "f", {"messageId": body.get("modelAMessageId")})
        await line("a", "2", [{"type": "heartbeat"}])
        await asyncio.sleep(0.3)
        if fault == "cut":
            await line("a", "0", "Partial ans")
            await line("a", "0", "wer, then")
            if request.transport is not None:
                request.transport.close()
            return resp
        if fault == "empty":
            await line("a", "d", {"finishReason": "stop"})
            return resp
        if fault in ("a3", "hasArenaError"):
            await line(
                "a",
                "0" if fault == "hasArenaError" else "3",
                "hasArenaError"
                if fault == "hasArenaError"
                else "Resource exhausted. Please try again later.",
            )
            await line("a", "d", {"finishReason": "error"})
            return resp
        atts = body["userMessage"]["experimental_attachments"]
        seen = ""
        if atts:
            dims = []
            for a in atts:
                data = self.objects[URL(a["url"]).path.removeprefix("/r2/arena-user-content/")][1]
                w, h = struct.unpack(">II", data[16:24]) if data[:4] == b"\x89PNG" else (0, 0)
                dims.append(f"{w}x{h}")
            seen = f" [saw {len(atts)} image(s): {', '.join(dims)}]"
        for pos, m in sides:
            out = m["capabilities"]["outputCapabilities"]
            if out.get("image"):
                img = png(8, 8, (200, 30, 30))
                key = f"generated/{uuid.uuid4()}.png"
                self.objects[key] = ("image/png", img)
                await line(pos, "2", [{"type": "heartbeat"}])
                await line(
                    pos,
                    "2",
                    [
                        {
                            "type": "image",
                            "image": str(request.url.origin()) + self.presign("GET", key, 3600),
                            "mimeType": "image/png",
                        }
                    ],
                )
                uri = "data:image/png;base64," + base64.b64encode(png(4, 4, (10, 200, 10))).decode()
                await line(pos, "2", [{"type": "image", "image": uri, "mimeType": "image/png"}])
                await line(pos, "d", {"finishReason": "stop"})
                continue
            if m["publicName"] == "deepthink-r2":
                await line(pos, "g", "Let me think… ")
                await line(
                    pos,
                    "g",
                    {"type": "reasoning", "text": "the user wrote " + json.dumps(prompt[:40])},
                )
            if out.get("search"):
                src = [{"url": "https://example.org/blind", "title": "Blind source"}]
                await line(
                    pos, "c", {"toolCallId": "call_1", "argsTextDelta": json.dumps({"source": src})}
                )
            answer = (
                f"[{m['publicName']}] turn {turn}"
                + (f" (previous: {prev})" if prev else "")
                + f"{seen}: {prompt} — ok ✓"
            )
            for i in range(0, len(answer), 7):
                await line(pos, "0", answer[i : i + 7])
            usage = {"promptTokens": len(prompt.split()), "completionTokens": len(answer.split())}
            await line(pos, "e", {"finishReason": "stop", "usage": usage, "isContinued": False})
            await line(pos, "d", {"finishReason": "stop", "usage": usage})
        return resp


async def _main(port: int, embed: bool, catalog: bool | None, signup: bool = True) -> None:
    runner = web.AppRunner(BlindFake(embed, catalog, signup).app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    real = runner.addresses[0][1]
    print(f"http://127.0.0.1:{real}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument(
        "--no-embed", action="store_true", help="no model list in the page; catalog only"
    )
    p.add_argument("--catalog", action="store_true", help="serve /nextjs-api/model-catalog too")
    p.add_argument(
        "--no-auto-signup", action="store_true", help="the page does not sign visitors up"
    )
    a = p.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            _main(a.port, not a.no_embed, True if a.catalog else None, not a.no_auto_signup)
        )

"""The fake arena.ai server: state, lifecycle, Cloudflare gate, pages and auth.

Stream endpoints live in :mod:`.chat`, server actions and the object store in :mod:`.actions`; both
are mixins of :class:`FakeArena` so every handler sees the same state.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from . import auth, pages
from .actions import ActionsMixin
from .chat import ChatMixin
from .deploy import Deploy
from .models import CATALOG_ARENAS, DEFAULT_MODELS, FakeModel
from .replies import Fault, Reply
from .responses import json_response
from .state import EvaluationSession, RecaptchaToken, Received
from .storage import PREFIX as STORAGE_PREFIX
from .storage import ObjectStore

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

DEFAULT_SITE_KEY = "6LeTGMcsAAAAALuIlkVwIxaAuZA8VledA6d3Nnb0"
DEFAULT_V2_SITE_KEY = "6Le3_cYsAAAAAGwWOK2RLDgNI15Bh8C0yLBOL1yL"
#: Sign-in accounts (email -> password) known to a fresh fake.
DEFAULT_ACCOUNTS = {"user@example.com": "arena-test"}
#: A page GET refreshes an access token that expires within this many seconds.
REFRESH_MARGIN = 60

#: Paths outside the Cloudflare gate: the challenge itself, Google's reCAPTCHA (another host on
#: the real site) and the R2 bucket (another host too).
UNGATED_PREFIXES = ("/cdn-cgi/", "/recaptcha/", STORAGE_PREFIX)


@dataclass
class AuthState:
    """What the auth cookie of a request says."""

    status: str  # "none" | "valid" | "expired" | "invalid"
    user: auth.User | None = None
    refresh_token: str | None = None
    chunked: bool = False
    expires_at: float = 0.0


class FakeArena(ChatMixin, ActionsMixin):
    """A local stand-in for https://arena.ai speaking the protocol of ``arena-protocol.md``."""

    def __init__(
        self,
        *,
        models: Sequence[FakeModel] = DEFAULT_MODELS,
        site_key: str = DEFAULT_SITE_KEY,
        v2_site_key: str = DEFAULT_V2_SITE_KEY,
        login_gate: bool = False,
        embed_models: bool = True,
        recaptcha_delay: float = 0.5,
        token_ttl: float = 120,
        auth_ttl: float = 3600,
        max_upload_bytes: int = 5 * 1024 * 1024,
        chunk_size: int = 7,
        lmarena_redirect: bool = False,
        challenge: bool = True,
        turnstile: bool = False,
        accounts: dict[str, str] | None = None,
        upload_url_ttl: int = 3600,
        download_url_ttl: int = 3600,
    ) -> None:
        self.models: list[FakeModel] = list(models)
        self.site_key = site_key
        self.v2_site_key = v2_site_key
        self.login_gate = login_gate
        self.embed_models = embed_models
        self.recaptcha_delay = recaptcha_delay
        self.token_ttl = token_ttl
        self.auth_ttl = auth_ttl
        self.max_upload_bytes = max_upload_bytes
        self.chunk_size = max(1, chunk_size)
        self.lmarena_redirect = lmarena_redirect
        self.challenge = challenge
        #: The interstitial shows a Turnstile checkbox that only a trusted (real) click passes.
        self.turnstile = turnstile
        self.accounts: dict[str, str] = dict(DEFAULT_ACCOUNTS if accounts is None else accounts)
        self.upload_url_ttl = upload_url_ttl
        self.download_url_ttl = download_url_ttl

        self.deploy = Deploy()
        self.received: list[Received] = []
        self.queue: deque[Reply | Fault] = deque()
        # Cloudflare
        self.clearances: dict[str, str] = {}  # cf_clearance value -> User-Agent it was issued to
        self.challenges_served = 0
        self.challenges_passed = 0
        # Accounts and auth
        self.users: dict[str, auth.User] = {}
        self.tokens: dict[str, auth.AccessToken] = {}  # access token -> holder
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user id
        self.provisional_ids: set[str] = set()
        # reCAPTCHA
        self.recaptcha_tokens: dict[str, RecaptchaToken] = {}
        self.recaptcha_log: list[tuple[str, str]] = []  # (action, "ok" | reason)
        # Conversations
        self.sessions: dict[str, EvaluationSession] = {}
        self.seen_ids: set[str] = set()
        self.store = ObjectStore()
        self._battle_counter = 0

        self._runner: web.AppRunner | None = None
        self._legacy_runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self.legacy_url: str | None = None

    # ----------------------------------------------------------------------------------------------
    # Public API
    # ----------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The site origin, like ``https://arena.ai``."""
        if self._runner is None:
            raise RuntimeError("FakeArena is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def action_ids(self) -> dict[str, str]:
        return dict(self.deploy.action_ids)

    def enqueue(self, *items: Reply | Fault) -> None:
        """Script the next stream answers, first in first out."""
        self.queue.extend(items)

    def redeploy(self) -> None:
        """New build id, chunk names and action ids; the old action ids answer 404."""
        self.deploy = Deploy()

    def stream_requests(self) -> list[Received]:
        return [r for r in self.received if r.path.startswith("/nextjs-api/stream/")]

    def count(self, path_prefix: str) -> int:
        return sum(1 for r in self.received if r.path.startswith(path_prefix))

    def model(self, ref: str) -> FakeModel | None:
        """A model by id (or the newest row with that public name)."""
        for m in self.models:
            if m.id == ref:
                return m
        named = [m for m in self.models if m.public_name == ref]
        return max(named, key=lambda m: m.id) if named else None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(
            middlewares=[self._record_middleware, self._gate_middleware],
            client_max_size=self.max_upload_bytes * 4 + 1024 * 1024,
        )
        self._add_routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._host = host
        self._port = _bound_port(runner, port)
        if self.lmarena_redirect:
            await self._start_legacy(host)

    async def stop(self) -> None:
        for runner in (self._legacy_runner, self._runner):
            if runner is not None:
                await runner.cleanup()
        self._legacy_runner = None
        self._runner = None

    async def __aenter__(self) -> FakeArena:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # Helpers for tests that talk plain HTTP (what a browser would otherwise do for them).

    def issue_clearance(self, user_agent: str) -> dict[str, str]:
        """Cookies a browser with ``user_agent`` would hold after passing the challenge."""
        value = (
            f"{secrets.token_urlsafe(32)}-{int(time.time())}-1.2.1.1-{secrets.token_urlsafe(48)}"
        )
        self.clearances[value] = user_agent
        return {"cf_clearance": value, "__cf_bm": secrets.token_urlsafe(40), "_cfuvid": _cfuvid()}

    def create_user(self, *, anonymous: bool = True, email: str | None = None) -> auth.User:
        if email is not None:
            user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "arena-user:" + email))
            if user_id in self.users:
                return self.users[user_id]
        else:
            user_id = str(uuid.uuid4())
        user = auth.User(id=user_id, is_anonymous=anonymous, email=email)
        self.users[user.id] = user
        return user

    def auth_cookies(self, user: auth.User) -> dict[str, str]:
        """Fresh auth cookies for ``user`` (chunked when large, as the site sets them)."""
        return auth.split_cookie(self._new_session_value(user))

    def mint_token(
        self, cookies: dict[str, str], user_agent: str, action: str = "chat_submit"
    ) -> str:
        """A reCAPTCHA token as the page's script would get it for this cookie jar and UA."""
        return self._mint(self.site_key, action, "v3", cookies.get("cf_clearance"), user_agent)

    def expire_auth(self) -> None:
        """Make every access token expired now (refresh tokens stay valid)."""
        for token in self.tokens.values():
            token.expires_at = time.time() - 1

    # ----------------------------------------------------------------------------------------------
    # Routing and middleware
    # ----------------------------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        r = app.router
        for path in ("/", "/chat", "/text/direct", "/text/{arena}", "/c/{sid}"):
            r.add_get(path, self._page)
            r.add_post(path, self._page_post)
        r.add_get("/login", self._login_page)
        r.add_post(pages.CHALLENGE_ENDPOINT, self._challenge_verify)
        r.add_get("/recaptcha/enterprise.js", self._recaptcha_js)
        r.add_get("/recaptcha/api.js", self._recaptcha_js)
        r.add_post(pages.MINT_ENDPOINT, self._recaptcha_mint)
        r.add_get("/_next/static/{path:.+}", self._chunk)
        r.add_get("/nextjs-api/model-catalog", self._model_catalog)
        r.add_post("/nextjs-api/sign-up", self._sign_up)
        r.add_post("/nextjs-api/sign-in/email", self._sign_in)
        r.add_post("/nextjs-api/sign-out", self._sign_out)
        r.add_get("/api/me", self._me)
        r.add_get("/api/evaluation/{sid}", self._evaluation_json)
        r.add_route("*", "/api/stream/{tail:.*}", self._legacy_stream)
        self._add_chat_routes(app)
        self._add_storage_routes(app)

    @web.middleware
    async def _record_middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        body = await request.read()
        parsed: Any = None
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
        record = Received(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            cookies=dict(request.cookies),
            body=body,
            json=parsed,
            time=time.time(),
        )
        self.received.append(record)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            record.status = exc.status
            raise
        record.status = response.status
        # Cloudflare fronts every response of the real site.
        if not response.prepared:
            response.headers.setdefault("Server", "cloudflare")
            response.headers.setdefault("CF-RAY", f"{secrets.token_hex(8)}-SJC")
        return response

    @web.middleware
    async def _gate_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        gated = self.challenge and not request.path.startswith(UNGATED_PREFIXES)
        if gated and not self._has_clearance(request):
            return self._challenge_response()
        return await handler(request)

    def _has_clearance(self, request: web.Request) -> bool:
        value = request.cookies.get("cf_clearance")
        ua = request.headers.get("User-Agent", "")
        # The clearance is only good for the exact User-Agent that earned it.
        return bool(value) and self.clearances.get(value or "") == ua

    def _challenge_response(self) -> web.Response:
        self.challenges_served += 1
        ray = secrets.token_hex(8)
        return web.Response(
            status=403,
            text=pages.challenge_page(ray, turnstile=self.turnstile),
            content_type="text/html",
            headers={
                "cf-mitigated": "challenge",
                "Cache-Control": "private, max-age=0, no-store, no-cache, must-revalidate",
                "CF-RAY": f"{ray}-SJC",
            },
        )

    async def _challenge_verify(self, request: web.Request) -> web.Response:
        """The interstitial's JS posts here; pass if a real, non-automated browser UA ran it."""
        ua = request.headers.get("User-Agent", "")
        try:
            data = await request.json()
        except ValueError:
            data = None
        ok = (
            isinstance(data, dict)
            and bool(ua)
            and "HeadlessChrome" not in ua
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
            "cf_clearance", cookies["cf_clearance"], path="/", httponly=True, max_age=31536000
        )
        resp.set_cookie("__cf_bm", cookies["__cf_bm"], path="/", httponly=True, max_age=1800)
        resp.set_cookie("_cfuvid", cookies["_cfuvid"], path="/", httponly=True)
        return resp

    async def _start_legacy(self, host: str) -> None:
        """The old lmarena.ai host: 301 for everything to the same path on the main origin."""

        async def redirect(request: web.Request) -> web.Response:
            return web.Response(status=301, headers={"Location": self.url + request.path_qs})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", redirect)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        self._legacy_runner = runner
        self.legacy_url = f"http://{host}:{_bound_port(runner, 0)}"

    # ----------------------------------------------------------------------------------------------
    # Auth
    # ----------------------------------------------------------------------------------------------

    def _new_session_value(self, user: auth.User) -> str:
        expires_at = time.time() + self.auth_ttl
        session_id = str(uuid.uuid4())
        access = auth.make_jwt(user, expires_at, session_id)
        refresh = secrets.token_urlsafe(9)
        self.tokens[access] = auth.AccessToken(user.id, expires_at, session_id)
        self.refresh_tokens[refresh] = user.id
        return auth.encode_cookie_value(auth.session_json(user, access, refresh, expires_at))

    def _auth_state(self, request: web.Request) -> AuthState:
        value, chunked = auth.joined_cookie(request.cookies)
        if not value:
            return AuthState("none")
        data = auth.decode_cookie_value(value)
        if data is None:
            return AuthState("invalid", chunked=chunked)
        refresh = data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else None
        holder = self.tokens.get(str(data.get("access_token")))
        if holder is None or holder.user_id not in self.users:
            return AuthState("invalid", refresh_token=refresh, chunked=chunked)
        user = self.users[holder.user_id]
        status = "valid" if holder.expires_at > time.time() else "expired"
        return AuthState(status, user, refresh, chunked, holder.expires_at)

    def _api_user(self, request: web.Request) -> auth.User | web.Response:
        """The signed-in (or anonymous) user of an API call, or the 401 to answer."""
        state = self._auth_state(request)
        if state.status == "valid" and state.user is not None:
            return state.user
        if state.status == "expired":
            return json_response({"error": "auth token has expired"}, status=401)
        return json_response({"error": "Unauthorized: no valid auth session"}, status=401)

    def _set_auth_cookies(
        self, resp: web.StreamResponse, value: str, request_cookies: Iterable[str]
    ) -> None:
        """Set the session cookie(s) and delete stale pieces of the other layout."""
        fresh = auth.split_cookie(value)
        for name, piece in fresh.items():
            # Not HttpOnly: the site's JS (and clients waiting on document.cookie) read it.
            resp.set_cookie(name, piece, path="/", max_age=400 * 86400, samesite="Lax")
        for name in request_cookies:
            if name.startswith(auth.COOKIE_NAME) and name not in fresh:
                resp.del_cookie(name, path="/")

    def _refresh_on_page(self, request: web.Request, resp: web.StreamResponse) -> auth.User | None:
        """SSR middleware behaviour: a page load rotates an expired or expiring session."""
        state = self._auth_state(request)
        if state.status == "valid" and state.expires_at - time.time() > REFRESH_MARGIN:
            return state.user
        if state.refresh_token is None:
            return state.user
        user_id = self.refresh_tokens.pop(state.refresh_token, None)
        if user_id is None or user_id not in self.users:
            return state.user
        user = self.users[user_id]
        self._set_auth_cookies(resp, self._new_session_value(user), request.cookies.keys())
        return user

    async def _sign_up(self, request: web.Request) -> web.Response:
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            data = None
        pid = data.get("provisionalUserId") if isinstance(data, dict) else None
        if not isinstance(pid, str) or not pid:
            return json_response(
                {
                    "success": False,
                    "error": {
                        "issues": [
                            {
                                "code": "invalid_type",
                                "expected": "string",
                                "received": "undefined" if pid is None else type(pid).__name__,
                                "path": ["provisionalUserId"],
                                "message": "Required",
                            }
                        ],
                        "name": "ZodError",
                    },
                },
                status=400,
            )
        if pid in self.provisional_ids:
            return json_response({"error": "User already exists"}, status=400)
        self.provisional_ids.add(pid)
        user = self.create_user(anonymous=True)
        user.provisional_user_id = pid
        resp = json_response({"success": True})
        self._set_auth_cookies(resp, self._new_session_value(user), request.cookies.keys())
        return resp

    async def _sign_in(self, request: web.Request) -> web.Response:
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            data = None
        email = data.get("email") if isinstance(data, dict) else None
        password = data.get("password") if isinstance(data, dict) else None
        if not isinstance(email, str) or self.accounts.get(email) != password:
            return json_response({"error": "Invalid login credentials"}, status=400)
        user = self.create_user(anonymous=False, email=email)
        resp = json_response({"success": True, "user": {"id": user.id, "email": email}})
        self._set_auth_cookies(resp, self._new_session_value(user), request.cookies.keys())
        return resp

    async def _sign_out(self, request: web.Request) -> web.Response:
        resp = json_response({"success": True})
        for name in request.cookies:
            if name.startswith(auth.COOKIE_NAME):
                resp.del_cookie(name, path="/")
        return resp

    async def _me(self, request: web.Request) -> web.Response:
        user = self._api_user(request)
        if isinstance(user, web.Response):
            return user
        return json_response(
            {
                "user": {
                    "id": user.id,
                    "supabaseUserId": user.id,
                    "email": user.email,
                    "isAnonymous": user.is_anonymous,
                    "touConsentTimestamp": None,
                }
            }
        )

    # ----------------------------------------------------------------------------------------------
    # Pages and static files
    # ----------------------------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.Response:
        resp = web.Response(content_type="text/html", charset="utf-8")
        user = self._refresh_on_page(request, resp)
        session = self.sessions.get(request.match_info.get("sid", ""))
        selectable = [m for m in self.models if m.user_selectable and m.chats]
        model_a = selectable[0].id if selectable else None
        model_b = selectable[1].id if len(selectable) > 1 else None
        wanted = self.model(request.query.get("model_a", ""))
        if wanted is not None:
            model_a = wanted.id
        session_json: dict[str, Any] | None = None
        if session is not None and user is not None and session.owner == user.id:
            # Reopening /c/{id} shows the conversation, including which models answered: this is
            # how a battle's models become visible to the fake's clients.
            model_a, model_b = session.model_a, session.model_b
            session_json = session.to_json()
        props: dict[str, Any] = {}
        if self.embed_models:
            props["initialModels"] = [m.to_wire() for m in self.models]
        props["initialModelAId"] = model_a
        props["initialModelBId"] = model_b
        props["initialEvaluationSession"] = session_json
        props["userState"] = {
            "isLoggedIn": bool(user and not user.is_anonymous),
            "userId": user.id if user else None,
        }
        resp.text = pages.app_page(
            self.deploy, site_key=self.site_key, props=props, user_id=user.id if user else None
        )
        return resp

    async def _page_post(self, request: web.Request) -> web.StreamResponse:
        action_id = request.headers.get("Next-Action")
        if not action_id:
            return web.Response(status=405, text="Method Not Allowed")
        return await self._server_action(request, action_id)

    async def _login_page(self, request: web.Request) -> web.Response:
        return web.Response(text=pages.login_page(), content_type="text/html")

    async def _chunk(self, request: web.Request) -> web.Response:
        role = self.deploy.role_of("static/" + request.match_info["path"])
        if role is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(
            text=pages.chunk_js(self.deploy, role, self.site_key),
            content_type="application/javascript",
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    async def _model_catalog(self, request: web.Request) -> web.Response:
        catalog = [
            {
                "arena": arena,
                "complete": True,
                "models": [m.to_wire(catalog=True) for m in self.models if arena in m.arenas],
            }
            for arena in CATALOG_ARENAS
        ]
        return json_response(catalog)

    async def _evaluation_json(self, request: web.Request) -> web.Response:
        user = self._api_user(request)
        if isinstance(user, web.Response):
            return user
        session = self.sessions.get(request.match_info["sid"])
        if session is None:
            return json_response({"error": "Evaluation session not found"}, status=404)
        if session.owner != user.id:
            return self._not_owner(user.id, session.id)
        return json_response(session.to_json())

    async def _legacy_stream(self, request: web.Request) -> web.Response:
        return json_response({"error": "Route not allowed"}, status=403)

    # ----------------------------------------------------------------------------------------------
    # reCAPTCHA
    # ----------------------------------------------------------------------------------------------

    async def _recaptcha_js(self, request: web.Request) -> web.Response:
        render = request.query.get("render", "")
        text = pages.recaptcha_js(render, self.v2_site_key, int(self.recaptcha_delay * 1000))
        return web.Response(text=text, content_type="text/javascript")

    def _mint(
        self, key: str, action: str, kind: str, cf_clearance: str | None, user_agent: str
    ) -> str:
        # Opaque, ~2 KB like Google's tokens.
        token = "03AFcWeA" + secrets.token_urlsafe(1490)
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
        token = self._mint(
            data["key"],
            str(data.get("action") or ""),
            "v2" if data.get("kind") == "v2" else "v3",
            request.cookies.get("cf_clearance"),
            request.headers.get("User-Agent", ""),
        )
        return json_response({"token": token})

    def _check_recaptcha(self, request: web.Request, body: dict[str, Any]) -> str | None:
        """None if the request carries a good token, else why not (logged for tests)."""
        v3, v2 = body.get("recaptchaV3Token"), body.get("recaptchaV2Token")
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
        elif record.user_agent != request.headers.get("User-Agent", "") or (
            record.cf_clearance is not None
            and record.cf_clearance != request.cookies.get("cf_clearance")
        ):
            reason = "foreign"
        if record is not None:
            record.used = True  # Google's assessment consumes a token whatever the outcome
        self.recaptcha_log.append((record.action if record else "", reason or "ok"))
        return reason


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    """The port the OS picked when ``requested`` was 0."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested


def _cfuvid() -> str:
    return f"{secrets.token_urlsafe(30)}-{int(time.time() * 1000)}-0.0.1.1-604800000"


__all__ = ["FakeArena", "Fault", "Reply"]

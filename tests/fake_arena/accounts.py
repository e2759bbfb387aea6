"""Accounts of the fake site: anonymous sign-up, email sign-in, sign-out and the auth cookie.

The session lives in Supabase-style cookies (:mod:`.auth`); an API call with an expired access
token gets 401, and a page load (the SSR middleware) rotates an expired or expiring session with its
refresh token. ``GET /login`` is an email + password form; the accounts are ``FakeArena.accounts``.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from string import Template
from typing import Any

import orjson
from aiohttp import web

from . import auth
from .core import ArenaCore
from .facts import (
    AUTH_EXPIRED,
    INVALID_LOGIN,
    NO_AUTH_SESSION,
    NOT_OWNER,
    SIGN_IN,
    TOU_CONSENT_FIELD,
    USER_EXISTS,
    USER_NOT_FOUND_BODY,
)
from .responses import json_response

#: A page GET refreshes an access token that expires within this many seconds.
REFRESH_MARGIN = 60


@dataclass
class AuthState:
    """What the auth cookie of a request says."""

    status: str  # "none" | "valid" | "expired" | "invalid"
    user: auth.User | None = None
    refresh_token: str | None = None
    chunked: bool = False
    expires_at: float = 0.0


class AccountsMixin(ArenaCore):
    """The accounts part of :class:`~tests.fake_arena.app.FakeArena`."""

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
        return auth.split_cookie(self._new_session_value(user), bare=self.bare_auth_cookie)

    def consent_time(self, user: auth.User) -> float | None:
        """When ``user`` accepted the Terms of Use (the fake's clock), or None.

        Without :attr:`tou_required` every user counts as having agreed when created.
        """
        if not self.tou_required:
            return self.tou_consents.get(user.id, user.created_at + self.clock_skew)
        return self.tou_consents.get(user.id)

    def give_consent(self, user: auth.User) -> float:
        """Record ``user``'s consent (idempotent: the first time stays) and return its time."""
        return self.tou_consents.setdefault(user.id, self.now())

    def expire_auth(self) -> None:
        """Make every access token expired now (refresh tokens stay valid)."""
        for token in self.tokens.values():
            token.expires_at = time.time() - 1

    def _new_session_value(self, user: auth.User) -> str:
        expires_at = time.time() + self.auth_ttl
        session_id = str(uuid.uuid4())
        access = auth.make_jwt(user, expires_at, session_id)
        refresh = secrets.token_urlsafe(9)
        self.tokens[access] = auth.AccessToken(user.id, expires_at, session_id)
        self.refresh_tokens[refresh] = user.id
        session = auth.session_json(
            user, access, refresh, expires_at, compact=self.bare_auth_cookie
        )
        return auth.encode_cookie_value(session)

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
            return json_response({"error": AUTH_EXPIRED}, status=401)
        return json_response({"error": NO_AUTH_SESSION}, status=401)

    def _account_user(self, request: web.Request) -> auth.User | web.Response:
        """The user of an account endpoint (``/api/me``...), or the site's 401 "User not found"."""
        state = self._auth_state(request)
        if state.status == "valid" and state.user is not None:
            return state.user
        if state.status == "expired":
            return json_response({"error": AUTH_EXPIRED}, status=401)
        return json_response(dict(USER_NOT_FOUND_BODY), status=401)

    def _set_auth_cookies(
        self, resp: web.StreamResponse, value: str, request_cookies: Iterable[str]
    ) -> None:
        """Set the session cookie(s) and delete stale pieces of the other layout."""
        fresh = auth.split_cookie(value, bare=self.bare_auth_cookie)
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

    def _not_owner(self, user_id: str, sid: str) -> web.Response:
        """The 401 for a user asking for someone else's conversation."""
        return json_response(
            {"error": NOT_OWNER.format(user=user_id, sid=sid)},
            status=401,
        )

    async def _sign_up(self, request: web.Request) -> web.Response:
        data = await _json_or_none(request)
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
            return json_response({"error": USER_EXISTS}, status=400)
        self.provisional_ids.add(pid)
        user = self.create_user(anonymous=True)
        user.provisional_user_id = pid
        resp = json_response({"success": True})
        self._set_auth_cookies(resp, self._new_session_value(user), request.cookies.keys())
        return resp

    async def _sign_in(self, request: web.Request) -> web.Response:
        data = await _json_or_none(request)
        email = data.get("email") if isinstance(data, dict) else None
        password = data.get("password") if isinstance(data, dict) else None
        if not isinstance(email, str) or self.accounts.get(email) != password:
            return json_response({"error": INVALID_LOGIN}, status=400)
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
        user = self._account_user(request)
        if isinstance(user, web.Response):
            return user
        consent = self.consent_time(user)
        return json_response(
            {
                "user": {
                    "id": user.id,
                    "supabaseUserId": user.id,
                    "email": user.email,
                    "isAnonymous": user.is_anonymous,
                    TOU_CONSENT_FIELD: None if consent is None else iso_time(consent),
                }
            }
        )

    async def _tou_consent(self, request: web.Request) -> web.Response:
        """``POST /api/me/update-tou-consent`` with ``{}``: what the dialog's "Agree" sends."""
        user = self._account_user(request)
        if isinstance(user, web.Response):
            return user
        when = self.give_consent(user)
        return json_response({"success": True, TOU_CONSENT_FIELD: iso_time(when)})

    async def _balance(self, request: web.Request) -> web.Response:
        user = self._account_user(request)
        if isinstance(user, web.Response):
            return user
        return json_response(
            {
                "creditsRemaining": self.credits_remaining,
                "dailyFreeCredits": self.daily_free_credits,
            }
        )

    async def _pulse(self, request: web.Request) -> web.Response:
        user = self._account_user(request)
        if isinstance(user, web.Response):
            return user
        return json_response({"pulse": self.pulse})

    async def _login_page(self, request: web.Request) -> web.Response:
        return web.Response(text=login_page(), content_type="text/html")


async def _json_or_none(request: web.Request) -> Any:
    """The body as JSON whatever its Content-Type (the site's fetch sends text/plain), or None."""
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return None


def iso_time(seconds: float) -> str:
    """``2026-10-08T12:34:56.789Z``, as the site's JSON writes times."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{int(seconds * 1000) % 1000:03d}Z"


def login_page() -> str:
    """Email sign-in (the site also offers Google; the fake only has email)."""
    return _LOGIN_PAGE.substitute(SIGN_IN=SIGN_IN)


_LOGIN_PAGE = Template(
    """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
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
  fetch("${SIGN_IN}", {
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
)

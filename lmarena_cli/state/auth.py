"""The site's auth cookie: a Supabase session, ``base64-`` + base64url JSON, maybe in chunks.

Read (:func:`join_auth_cookie`, :func:`decode_auth_session`) to tell an anonymous user from a
signed-in one and to see when the access token expires; written (:func:`encode_auth_cookies`)
when a sign-up answer carries the session in its body instead of setting the cookie.
"""

from __future__ import annotations

import base64
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..site import facts

#: @supabase/ssr splits a cookie value longer than this into ``.0``, ``.1``, ... chunks.
AUTH_CHUNK_SIZE = 3180


@dataclass(frozen=True)
class AuthSession:
    """What the site's auth cookie says about the user (a Supabase session)."""

    is_anonymous: bool | None
    #: Unix seconds when the access token expires (the site refreshes it on a page load).
    expires_at: float | None
    user_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def expired(self, now: float | None = None) -> bool:
        """True when the access token's expiry is known and has passed."""
        if self.expires_at is None:
            return False
        return (time.time() if now is None else now) >= self.expires_at

    @property
    def signed_in(self) -> bool:
        """True for a real (not anonymous) user."""
        return self.is_anonymous is False


def join_auth_cookie(cookies: dict[str, str]) -> str | None:
    """The auth cookie from a name -> value map: the bare cookie, else its chunks joined.

    Chunks are ordered by their number (``.10`` comes after ``.9``), and the ``base64-`` prefix,
    which the site puts on chunk 0 only, is re-added when a copy lost it.
    """
    bare = cookies.get(facts.AUTH_COOKIE)
    if bare:
        return bare
    chunks: list[tuple[int, str]] = []
    for name, value in cookies.items():
        match = facts.AUTH_CHUNK.match(name)
        if match:
            chunks.append((int(match.group(1)), value))
    if not chunks:
        return None
    joined = "".join(value for _, value in sorted(chunks))
    if not joined:
        return None
    if not joined.startswith(facts.AUTH_COOKIE_PREFIX) and not _looks_like_json(joined):
        joined = facts.AUTH_COOKIE_PREFIX + joined
    return joined


def session_from_body(data: Any) -> dict[str, Any] | None:
    """The Supabase session in a sign-up answer's JSON, or None when there is none.

    Some sign-up answers carry the session in the body instead of setting the cookie
    (protocol §5.3): ``{access_token, refresh_token, ...}``, possibly under ``session`` or
    ``data`` (or ``data.session``).
    """
    for _ in range(3):
        if not isinstance(data, dict):
            return None
        if isinstance(data.get("access_token"), str):
            return data
        data = next((data[k] for k in ("session", "data") if isinstance(data.get(k), dict)), None)
    return None


def encode_auth_cookies(session: dict[str, Any]) -> dict[str, str]:
    """The auth cookie(s) the site's own client would write for ``session``.

    ``base64-`` + base64url without padding (the @supabase/ssr encoding); values longer than
    :data:`AUTH_CHUNK_SIZE` become ``arena-auth-prod-v1.0``, ``.1``, ... as the site splits them.
    """
    raw = base64.urlsafe_b64encode(orjson.dumps(session)).rstrip(b"=").decode()
    value = facts.AUTH_COOKIE_PREFIX + raw
    if len(value) <= AUTH_CHUNK_SIZE:
        return {facts.AUTH_COOKIE: value}
    pieces = range(0, len(value), AUTH_CHUNK_SIZE)
    return {
        f"{facts.AUTH_COOKIE}.{i}": value[start : start + AUTH_CHUNK_SIZE]
        for i, start in enumerate(pieces)
    }


def _looks_like_json(value: str) -> bool:
    # Plain (or URL-encoded) JSON cookies carry no ``base64-`` prefix and must not get one.
    return value.lstrip().startswith(("{", "[", "%7B", "%5B", "%7b", "%5b"))


def decode_auth_session(value: str) -> AuthSession | None:
    """Decode a Supabase session cookie (``base64-`` + base64url JSON, or plain JSON).

    Never raises: anything unreadable gives None.
    """
    data = _session_json(value)
    if data is None:
        return None
    if isinstance(data, list) and data and isinstance(data[0], str):
        # An old @supabase format: [access_token, refresh_token, ...].
        data = {"access_token": data[0]}
    if not isinstance(data, dict):
        return None
    nested = data.get("session")
    session: dict[str, Any] = nested if isinstance(nested, dict) else data
    claims = _jwt_claims(session.get("access_token"))
    found = session.get("user")
    user: dict[str, Any] = found if isinstance(found, dict) else {}
    anonymous = user.get("is_anonymous", claims.get("is_anonymous"))
    expires = session.get("expires_at", claims.get("exp"))
    user_id = user.get("id", claims.get("sub"))
    return AuthSession(
        is_anonymous=anonymous if isinstance(anonymous, bool) else None,
        expires_at=float(expires) if isinstance(expires, int | float) else None,
        user_id=user_id if isinstance(user_id, str) else None,
        raw=session,
    )


def _session_json(value: str) -> Any:
    """The JSON inside a cookie value (``base64-`` + base64, or URL-encoded JSON), or None."""
    text = value.strip()
    if text.startswith(facts.AUTH_COOKIE_PREFIX):
        raw = _b64decode(text[len(facts.AUTH_COOKIE_PREFIX) :])
        if raw is None:
            return None
    else:
        raw = urllib.parse.unquote(text).encode()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _b64decode(text: str) -> bytes | None:
    # @supabase/ssr writes base64url without padding; older copies used standard base64.
    cleaned = text.replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except ValueError:
        return None


def _jwt_claims(token: Any) -> dict[str, Any]:
    # Read without checking the signature: only the site needs to trust these claims.
    if not isinstance(token, str) or token.count(".") != 2:
        return {}
    raw = _b64decode(token.split(".")[1])
    if raw is None:
        return {}
    try:
        claims = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return claims if isinstance(claims, dict) else {}

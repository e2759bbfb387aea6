"""Supabase-style auth cookies as the site's SSR middleware writes them (protocol doc §5.2).

The cookie ``arena-auth-prod-v1`` holds ``base64-`` + base64url(JSON session) (the ``@supabase/ssr``
format; base64url without padding, so decoders must accept ``-``/``_``). Values longer than
:data:`CHUNK_SIZE` are split into ``arena-auth-prod-v1.0``, ``.1``, ... with the bare name absent;
only chunk 0 carries the ``base64-`` prefix because the split happens after encoding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .facts import AUTH_COOKIE, AUTH_COOKIE_CHUNK, AUTH_VALUE_PREFIX, SUPABASE_PROJECT

COOKIE_NAME = AUTH_COOKIE
CHUNK_SIZE = AUTH_COOKIE_CHUNK
_JWT_SECRET = secrets.token_bytes(32)


@dataclass
class User:
    """An account of the fake site."""

    id: str
    is_anonymous: bool
    email: str | None = None
    provisional_user_id: str | None = None
    created_at: float = field(default_factory=time.time)


@dataclass
class AccessToken:
    user_id: str
    expires_at: float
    session_id: str


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64decode_lenient(text: str) -> bytes:
    """Decode base64 or base64url, padded or not (clients differ; the fake accepts both)."""
    text = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def make_jwt(user: User, expires_at: float, session_id: str) -> str:
    """A JWT shaped like Supabase's (HS256 here; only the fake verifies it)."""
    header = b64url(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    payload = b64url(
        orjson.dumps(
            {
                "iss": f"https://{SUPABASE_PROJECT}.supabase.co/auth/v1",
                "sub": user.id,
                "aud": "authenticated",
                "exp": int(expires_at),
                "iat": int(time.time()),
                "email": user.email or "",
                "role": "authenticated",
                "is_anonymous": user.is_anonymous,
                "session_id": session_id,
            }
        )
    )
    signing_input = f"{header}.{payload}".encode()
    sig = b64url(hmac.new(_JWT_SECRET, signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{sig}"


def session_json(
    user: User, access_token: str, refresh_token: str, expires_at: float, *, compact: bool = False
) -> bytes:
    """The Supabase session object stored in the cookie; big for signed-in users, as on the site.

    ``compact`` leaves the bulky identity data out, so that one cookie holds it (the site's
    single ``arena-auth-prod-v1`` cookie of Oct 2026, protocol §14.7, fits a browser's 4 KB limit).
    """
    now_iso = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(user.created_at))
    provider = "anonymous" if user.is_anonymous else "email"
    user_obj: dict[str, Any] = {
        "id": user.id,
        "aud": "authenticated",
        "role": "authenticated",
        "email": user.email or "",
        "phone": "",
        "app_metadata": {
            "provider": provider,
            "providers": [] if user.is_anonymous else [provider],
        },
        "user_metadata": {"id": user.id},
        "identities": [],
        "created_at": now_iso,
        "updated_at": now_iso,
        "is_anonymous": user.is_anonymous,
    }
    if not user.is_anonymous and not compact:
        # Real signed-in sessions carry identity data, avatars, provider tokens...: well over 4 KB
        # once encoded, which is why the site splits the cookie.
        user_obj["user_metadata"] = {
            "id": user.id,
            "email": user.email,
            "email_verified": True,
            "full_name": "Arena Test User",
            "avatar_url": "https://lh3.googleusercontent.com/a/" + "A" * 96 + "=s96-c",
            "preferences": {"theme": "system", "notices": ["tou-2026-01", "privacy-2026-03"]},
        }
        user_obj["identities"] = [
            {
                "identity_id": str(uuid.UUID(int=i + 1)),
                "id": user.id,
                "user_id": user.id,
                "provider": provider,
                "identity_data": {
                    "email": user.email,
                    "sub": user.id,
                    "email_verified": True,
                    "phone_verified": False,
                    "note": "x" * 600,
                },
                "last_sign_in_at": now_iso,
                "created_at": now_iso,
                "updated_at": now_iso,
            }
            for i in range(3)
        ]
    return orjson.dumps(
        {
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": max(0, int(expires_at - time.time())),
            "expires_at": int(expires_at),
            "refresh_token": refresh_token,
            "user": user_obj,
        }
    )


def encode_cookie_value(session: bytes) -> str:
    return AUTH_VALUE_PREFIX + b64url(session)


def split_cookie(value: str, *, bare: bool = False) -> dict[str, str]:
    """Cookie name -> value as the site sets them: one cookie, or ``.0``, ``.1``... chunks.

    ``bare``: always the one cookie, however long (protocol §14.7).
    """
    if bare or len(value) <= CHUNK_SIZE:
        return {COOKIE_NAME: value}
    return {
        f"{COOKIE_NAME}.{i}": value[start : start + CHUNK_SIZE]
        for i, start in enumerate(range(0, len(value), CHUNK_SIZE))
    }


def joined_cookie(cookies: Mapping[str, str]) -> tuple[str | None, bool]:
    """The auth cookie value from a request (bare or chunked) and whether it came chunked."""
    bare = cookies.get(COOKIE_NAME)
    if bare:
        return bare, False
    chunks: list[tuple[int, str]] = []
    for name, value in cookies.items():
        prefix = COOKIE_NAME + "."
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            chunks.append((int(name[len(prefix) :]), value))
    if not chunks:
        return None, False
    chunks.sort()
    return "".join(v for _, v in chunks), True


def decode_cookie_value(value: str) -> dict[str, Any] | None:
    """The session JSON inside a cookie value, or None when it is not one of ours."""
    raw = value.removeprefix(AUTH_VALUE_PREFIX)
    try:
        data = orjson.loads(b64decode_lenient(raw))
    except (ValueError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None

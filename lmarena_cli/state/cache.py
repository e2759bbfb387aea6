"""Atomic files and the site cache: what a browser bootstrap learned, kept on disk between runs.

The cache file (``Settings.cache_path``) holds one :class:`SiteState` as JSON with a format
version. It contains secrets (the site's cookies), so it is written atomically with mode 0600 in
a 0700 directory, and neither the file nor the cookie values are ever printed: the ``repr`` of a
:class:`SiteState` names the cookies but never shows their values.

Freshness, decided here so that every front end agrees:

* The whole cache is ignored (with one warning line) when it is corrupt, of another format
  version, written for another ``base_url``, or older than :data:`CACHE_MAX_AGE` (30 days: by
  then the site's refresh token and clearance are long gone and a fresh bootstrap is cheaper
  than a failed request).
* Within that, the discovered facts (site key, model list, action ids) are *stale* after
  :data:`DISCOVERY_TTL` (24 hours): :meth:`SiteState.discovery_stale` tells the browser to
  rediscover them on its next page load. The cookies stay reusable: they are re-injected into
  the browser, which lets the site refresh them, so a second run skips the challenge and the
  sign-up. Answers that only need the model list (``lmarena models``, name completion) may use
  stale data rather than start a browser.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..site import facts

#: Version of the cache file's layout; a file of another version is ignored and rebuilt.
FORMAT_VERSION = 1
#: Seconds after which the discovered site key, models and action ids are rediscovered.
DISCOVERY_TTL = 24 * 3600.0
#: Seconds after which the whole cache (cookies included) is ignored.
CACHE_MAX_AGE = 30 * 24 * 3600.0


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The directory is created with mode 0700 when missing (the state directory holds secrets).
    The bytes go to a temporary file in the same directory (same file system, so the rename is
    atomic), are flushed to disk, and the file is renamed over ``path``.
    """
    path = Path(path)
    parent = path.parent
    if not parent.exists():
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if not hasattr(os, "fchmod"):
            os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX only; Windows cannot open a directory)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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


@dataclass
class SiteState:
    """Everything a bootstrap learned about the site, as cached on disk.

    ``cookies`` maps every cookie name the browser holds for the site to its value, names as
    the browser has them (a large auth cookie is split into ``arena-auth-prod-v1.0``, ``.1``...).
    ``cookie_records`` keeps the full CDP records (domain, path, expiry, flags) so that the
    cookies can be put back into a browser exactly as they were.
    """

    base_url: str
    user_agent: str
    cookies: dict[str, str] = field(default_factory=dict)
    site_key: str | None = None
    models: list[dict[str, Any]] = field(default_factory=list)
    action_ids: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    #: When the site key, models and action ids were last read from the site.
    discovered_at: float = field(default_factory=time.time)
    cookie_records: list[dict[str, Any]] = field(default_factory=list)

    def __repr__(self) -> str:
        # Cookie values are secrets: name them, never show them.
        return (
            f"SiteState(base_url={self.base_url!r}, user_agent={self.user_agent!r}, "
            f"cookies=<{', '.join(sorted(self.cookies)) or 'none'}>, site_key={self.site_key!r}, "
            f"models=<{len(self.models)}>, action_ids={self.action_ids!r}, "
            f"created_at={self.created_at!r}, updated_at={self.updated_at!r})"
        )

    __str__ = __repr__

    def auth_cookie(self) -> str | None:
        """The auth cookie's value, joined from its chunks in numeric order when split."""
        return join_auth_cookie(self.cookies)

    def auth_session(self) -> AuthSession | None:
        """The decoded auth session, or None when there is no readable auth cookie."""
        value = self.auth_cookie()
        return decode_auth_session(value) if value else None

    def cookie_header(self) -> str:
        """All cookies as one ``Cookie:`` header value, names as the browser holds them."""
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def discovery_stale(self, now: float | None = None, ttl: float = DISCOVERY_TTL) -> bool:
        """True when the site key, models or action ids are old or missing: rediscover them."""
        if not self.site_key or not self.models:
            return True
        if not all(name in self.action_ids for name in facts.UPLOAD_ACTIONS):
            return True
        return (time.time() if now is None else now) - self.discovered_at > ttl

    def to_json(self) -> dict[str, Any]:
        """The cache file's ``state`` object."""
        return {
            "base_url": self.base_url,
            "user_agent": self.user_agent,
            "cookies": self.cookies,
            "cookie_records": self.cookie_records,
            "site_key": self.site_key,
            "models": self.models,
            "action_ids": self.action_ids,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "discovered_at": self.discovered_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> SiteState:
        """Read a ``state`` object; ValueError when a field is missing or of the wrong type."""
        if not isinstance(data, dict):
            raise ValueError("the state is not an object")
        base_url = _typed(data, "base_url", str)
        user_agent = _typed(data, "user_agent", str)
        cookies = _typed(data, "cookies", dict)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in cookies.items()):
            raise ValueError("cookies must map names to strings")
        actions = _typed(data, "action_ids", dict)
        if not all(isinstance(v, str) for v in actions.values()):
            raise ValueError("action_ids must map names to strings")
        models = _typed(data, "models", list)
        records = data.get("cookie_records") or []
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ValueError("cookie_records must be a list of objects")
        site_key = data.get("site_key")
        if site_key is not None and not isinstance(site_key, str):
            raise ValueError("site_key must be a string")
        created = float(_typed(data, "created_at", (int, float)))
        updated = float(_typed(data, "updated_at", (int, float)))
        discovered = data.get("discovered_at", updated)
        if not isinstance(discovered, int | float):
            raise ValueError("discovered_at must be a number")
        return cls(
            base_url=base_url,
            user_agent=user_agent,
            cookies=dict(cookies),
            site_key=site_key,
            models=[m for m in models if isinstance(m, dict)],
            action_ids=dict(actions),
            created_at=created,
            updated_at=updated,
            discovered_at=float(discovered),
            cookie_records=list(records),
        )


def _typed(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{key} is missing or of the wrong type")
    return value


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


#: @supabase/ssr splits a cookie value longer than this into ``.0``, ``.1``, ... chunks.
AUTH_CHUNK_SIZE = 3180


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


class SiteCache:
    """The cache file of one state directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SiteCache({str(self.path)!r})"

    def load(
        self,
        base_url: str,
        *,
        warn: Callable[[str], None],
        now: float | None = None,
    ) -> SiteState | None:
        """The cached state for ``base_url``, or None.

        A missing file is normal (first run) and silent. A corrupt, foreign (another base_url),
        other-version or too old file is ignored with exactly one line through ``warn``; the next
        :meth:`save` replaces it.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            warn(f"ignoring the site cache {self.path}: cannot read it ({exc.strerror})")
            return None
        problem, state = self._parse(raw, base_url, time.time() if now is None else now)
        if problem:
            warn(f"ignoring the site cache {self.path}: {problem}; it will be rebuilt")
            return None
        return state

    @staticmethod
    def _parse(raw: bytes, base_url: str, now: float) -> tuple[str | None, SiteState | None]:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return "it is not valid JSON", None
        if not isinstance(document, dict):
            return "it is not a JSON object", None
        version = document.get("format")
        if version != FORMAT_VERSION:
            return f"it has format {version!r}, this version reads {FORMAT_VERSION}", None
        try:
            state = SiteState.from_json(document.get("state"))
        except (ValueError, TypeError) as exc:
            return f"it is damaged ({exc})", None
        if state.base_url.rstrip("/") != base_url.rstrip("/"):
            return f"it was written for {state.base_url}, not {base_url}", None
        age = now - state.updated_at
        if age > CACHE_MAX_AGE:
            return f"it is {age / 86400:.0f} days old", None
        return None, state

    def save(self, state: SiteState) -> None:
        """Write the state atomically, mode 0600, with the format version."""
        document = {"format": FORMAT_VERSION, "state": state.to_json()}
        atomic_write(self.path, orjson.dumps(document, option=orjson.OPT_INDENT_2))

"""The site cache: what a browser bootstrap learned, kept on disk between runs.

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

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..site import facts
from .auth import AuthSession, decode_auth_session, join_auth_cookie
from .files import atomic_write

#: Version of the cache file's layout; a file of another version is ignored and rebuilt.
FORMAT_VERSION = 1
#: Seconds after which the discovered site key, models and action ids are rediscovered.
DISCOVERY_TTL = 24 * 3600.0
#: Seconds after which the whole cache (cookies included) is ignored.
CACHE_MAX_AGE = 30 * 24 * 3600.0
#: Seconds a refusal of aiohttp by the site's Cloudflare is remembered (later runs start on the
#: browser page meanwhile).
PAGE_TRANSPORT_TTL = 24 * 3600.0


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
    #: Seconds the site's clock is ahead of ours (its ``Date`` header minus our time): every
    #: UUIDv7 is minted from the corrected clock, as the site refuses ids far from its own.
    clock_offset: float = 0.0
    #: The account (auth user id) whose consent to the Terms of Use was given, so that warm runs
    #: do not give it again; None until it is.
    tou_consent_user: str | None = None
    #: Where ``models`` came from: "page" (embedded in the HTML) or "catalog" (the endpoint).
    models_source: str | None = None
    #: Until when (Unix seconds) requests go from the browser page rather than aiohttp, because
    #: the site's Cloudflare refused aiohttp (``LM_ARENA_TRANSPORT=auto``); 0: not remembered.
    page_transport_until: float = 0.0

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

    def page_transport_remembered(self, now: float | None = None) -> bool:
        """Whether a refusal of aiohttp is remembered and not expired (see
        :data:`PAGE_TRANSPORT_TTL`): start on the browser page."""
        return self.page_transport_until > (time.time() if now is None else now)

    def remember_page_transport(self, now: float | None = None) -> None:
        """Remember for :data:`PAGE_TRANSPORT_TTL` that the site refuses aiohttp."""
        self.page_transport_until = (time.time() if now is None else now) + PAGE_TRANSPORT_TTL

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
            "clock_offset": self.clock_offset,
            "tou_consent_user": self.tou_consent_user,
            "models_source": self.models_source,
            "page_transport_until": self.page_transport_until,
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
        offset = data.get("clock_offset", 0.0)
        if not isinstance(offset, int | float) or isinstance(offset, bool):
            raise ValueError("clock_offset must be a number")
        consent = data.get("tou_consent_user")
        source = data.get("models_source")
        if not all(v is None or isinstance(v, str) for v in (consent, source)):
            raise ValueError("tou_consent_user and models_source must be strings")
        page_until = data.get("page_transport_until", 0.0)
        if not isinstance(page_until, int | float) or isinstance(page_until, bool):
            raise ValueError("page_transport_until must be a number")
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
            clock_offset=float(offset),
            tou_consent_user=consent,
            models_source=source,
            page_transport_until=float(page_until),
        )


def _typed(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{key} is missing or of the wrong type")
    return value


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

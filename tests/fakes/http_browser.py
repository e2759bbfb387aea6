"""A stand-in for the real browser: the browser's part done over plain HTTP against the fake arena.

:class:`HttpBrowser` satisfies :class:`lmarena_cli.browser.interface.BrowserInterface`, so a
``Client`` (and ``serve``) runs on it without Chromium. It does what the fake arena's pages would
make a browser do (see ``tests/fake_arena/__init__.py``):

* the Cloudflare-style check: the interstitial's script POSTs ``{ua, webdriver, clicked}`` to
  :data:`CHALLENGE_ENDPOINT`; the clearance it earns is bound to the User-Agent, so every request
  here sends the same Chrome User-Agent;
* the page's anonymous sign-up (``POST /nextjs-api/sign-up`` with a provisional id; one "User
  already exists" starts over with a fresh id; a session in the answer's body becomes the cookie);
* reCAPTCHA: the fake's ``enterprise.js`` mints a token by POSTing ``{key, action, kind}`` to
  :data:`MINT_ENDPOINT` with the browser's cookies and User-Agent, which bind the token; so does
  :meth:`HttpBrowser.mint_token`.
* the Terms of Use (protocol §14.2): after the page, ``GET /api/me``; when its
  ``touConsentTimestamp`` is null, ``POST /api/me/update-tou-consent`` with ``{}`` (what the
  dialog's "Agree" sends). The user whose consent was seen or given is remembered in
  ``SiteState.tou_consent_user``; a bootstrap of that same user skips both requests;
* the site's clock (§14.3): ``SiteState.clock_offset`` is the last response's ``Date`` header minus
  this machine's clock; ``SiteState.models_source`` says whether the models came from the page
  or from the catalog (fetched without an ``Origin`` header, as a same-origin GET carries none).
  The auth cookie may be one ``arena-auth-prod-v1`` cookie or ``.0``/``.1`` chunks.

What the page means (site key, models, action ids) is read with the product's own pure parsers of
the site layer: the stand-in replaces the browser, not the site's knowledge.

The page transport (``open_fetch``): the request the page's own ``fetch`` would make, over
aiohttp with the headers only a browser sends (client hints, fetch metadata: see
:mod:`.page_fetch`), so the fake's ``browser_only`` switch lets it through, as it lets every
request of this stand-in through (it is the browser). Counted in ``Counts.page_fetches`` and
``calls`` (``"fetch:<METHOD> <path>"``).

It counts what it did (:class:`Counts`) and keeps the order (:attr:`HttpBrowser.calls`), so tests
can assert e.g. that the page was reloaded before a reCAPTCHA retry.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import orjson

from lmarena_cli.browser.discover import missing_upload_actions
from lmarena_cli.browser.interface import BrowserInterface, FetchedBody, FetchRequest
from lmarena_cli.errors import Blocked, ConfigError, ErrorKind, ProtocolError, SignInRequired
from lmarena_cli.settings import Settings
from lmarena_cli.site import facts, models, pages
from lmarena_cli.state.auth import encode_auth_cookies, session_from_body
from lmarena_cli.state.cache import SiteCache, SiteState
from tests.fake_arena.facts import CHALLENGE_ENDPOINT, MINT_ENDPOINT

from .page_fetch import CLIENT_HINTS, page_fetch

#: A headful desktop Chrome: the fake refuses ``HeadlessChrome``.
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@dataclass
class Counts:
    """What the stand-in did, by job."""

    bootstraps: int = 0  #: page loads for bootstrap()
    refreshes: int = 0  #: page loads for refresh_session()
    rediscoveries: int = 0  #: page loads for rediscover_actions()
    tokens: int = 0  #: reCAPTCHA tokens minted
    challenges: int = 0  #: Cloudflare checks passed
    sign_ups: int = 0  #: anonymous sign-ups posted
    tou_checks: int = 0  #: GET /api/me to see whether the Terms of Use were accepted
    tou_consents: int = 0  #: consents posted (POST /api/me/update-tou-consent)
    closes: int = 0
    page_fetches: int = 0  #: requests made by the "page" (the page transport)

    @property
    def page_loads(self) -> int:
        return self.bootstraps + self.refreshes + self.rediscoveries


class HttpBrowser:
    """The browser's jobs over aiohttp, for tests against :class:`tests.fake_arena.FakeArena`."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache: SiteCache | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.settings = settings
        self.cache = cache if cache is not None else SiteCache(settings.cache_path)
        self.user_agent = user_agent
        self.counts = Counts()
        #: Every job in order: "bootstrap", "refresh", "rediscover", "consent", "token:<action>",
        #: "close".
        self.calls: list[str] = []
        self._jar: dict[str, str] = {}
        self._http: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()
        self._state: SiteState | None = None
        self._cache_read = False
        self._loaded = False
        #: The site's clock minus ours, from the last response's Date header (None before one).
        self._clock_offset: float | None = None

    @property
    def base_url(self) -> str:
        return self.settings.base_url.rstrip("/")

    # -- BrowserInterface --------------------------------------------------------------------------

    def cached_state(self) -> SiteState | None:
        """What the last bootstrap learned (this object, else the cache file)."""
        if self._state is None and not self._cache_read:
            self._cache_read = True
            self._state = self.cache.load(self.base_url, warn=lambda line: None)
        return self._state

    async def bootstrap(self, *, refresh: bool = False) -> SiteState:
        """Load the page (unless loaded and not ``refresh``) and learn what a send needs."""
        async with self._lock:
            if self._state is not None and self._loaded and not refresh:
                return self._state
            self.counts.bootstraps += 1
            self.calls.append("bootstrap")
            return await self._open_site(rediscover=refresh)

    async def refresh_session(self) -> SiteState:
        """Load the page again: a new clearance when needed, a rotated auth cookie."""
        async with self._lock:
            self.counts.refreshes += 1
            self.calls.append("refresh")
            return await self._open_site(rediscover=False)

    async def rediscover_actions(self) -> dict[str, str]:
        """Load the page again and read the action ids from its JS chunks."""
        async with self._lock:
            self.counts.rediscoveries += 1
            self.calls.append("rediscover")
            state = await self._open_site(rediscover=True)
            error = missing_upload_actions(state.action_ids)
            if error is not None:
                raise error
            return dict(state.action_ids)

    async def mint_token(self, action: str = facts.ACTION_CHAT_SUBMIT) -> str:
        """A fresh token, minted as the fake's ``grecaptcha.enterprise.execute`` does."""
        async with self._lock:
            if self._state is None or not self._loaded:
                self.counts.bootstraps += 1
                self.calls.append("bootstrap")
                await self._open_site(rediscover=False)
            state = self._state
            assert state is not None
            if not state.site_key:
                raise ProtocolError(
                    "the page carries no reCAPTCHA site key", kind=ErrorKind.NO_SITE_KEY
                )
            status, body = await self._request(
                "POST", MINT_ENDPOINT, json={"key": state.site_key, "action": action, "kind": "v3"}
            )
            reply = _json(body) if status == 200 else None
            token = reply.get("token") if isinstance(reply, dict) else None
            if not isinstance(token, str) or not token:
                raise Blocked(f"reCAPTCHA request failed: {status}", kind=ErrorKind.RECAPTCHA)
            self.counts.tokens += 1
            self.calls.append(f"token:{action}")
            return token

    async def open_fetch(self, request: FetchRequest, *, wait: float) -> FetchedBody:
        """The page transport: ``request`` as the page's ``fetch`` makes it (see the module doc)."""
        async with self._lock:
            if self._state is None or not self._loaded:
                self.counts.bootstraps += 1
                self.calls.append("bootstrap")
                await self._open_site(rediscover=False)
            self.counts.page_fetches += 1
            self.calls.append(f"fetch:{request.method} {urllib.parse.urlsplit(request.url).path}")
        return await page_fetch(
            self._session(),
            self.base_url,
            request,
            user_agent=self.user_agent,
            cookies=self._jar,
            wait=wait,
            absorb=self._absorb,
        )

    async def close(self) -> None:
        """Close the HTTP session; safe to call twice."""
        http, self._http = self._http, None
        self._loaded = False
        if http is not None:
            self.counts.closes += 1
            self.calls.append("close")
            await http.close()

    async def __aenter__(self) -> HttpBrowser:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- the page ----------------------------------------------------------------------------------

    async def _open_site(self, *, rediscover: bool) -> SiteState:
        previous = self._state or self.cached_state()
        if not self._jar and previous is not None:
            self._jar.update(previous.cookies)  # a warm start: the cached cookies come back
        self._loaded = False
        html = await self._load_page()
        if not _has_auth(self._jar):
            await self._sign_up()
        now = time.time()
        state = SiteState(
            base_url=self.base_url,
            user_agent=self.user_agent,
            cookies=dict(self._jar),
            site_key=pages.find_site_key(html),
            created_at=previous.created_at if previous else now,
            updated_at=now,
            page_transport_until=previous.page_transport_until if previous else 0.0,
        )
        chunks: list[str] | None = None
        if state.site_key is None:
            chunks = await self._chunks(html)
            state.site_key = next(filter(None, map(pages.find_site_key, chunks)), None)
        embedded = pages.models_from_html(html)
        if embedded:
            state.models = [model.raw for model in embedded]
            state.models_source = "page"
        else:
            status, body = await self._request("GET", facts.MODEL_CATALOG)
            if status != 200:
                raise ProtocolError(f"the catalog answered HTTP {status}", kind=ErrorKind.NO_MODELS)
            state.models = [model.raw for model in models.models_from_catalog(_json(body))]
            state.models_source = "catalog"
        if rediscover or previous is None or previous.discovery_stale(now):
            actions: dict[str, str] = {}
            for text in chunks if chunks is not None else await self._chunks(html):
                for name, action_id in pages.find_actions(text).items():
                    actions.setdefault(name, action_id)
            state.action_ids, state.discovered_at = actions, now
        else:
            state.action_ids = dict(previous.action_ids)
            state.discovered_at = previous.discovered_at
        await self._ensure_consent(state, previous)
        state.cookies = dict(self._jar)
        state.clock_offset = (
            self._clock_offset
            if self._clock_offset is not None
            else (previous.clock_offset if previous else 0.0)
        )
        self._state, self._loaded = state, True
        self.cache.save(state)
        return state

    async def _ensure_consent(self, state: SiteState, previous: SiteState | None) -> None:
        """The Terms of Use accepted for the session's user, once per user (protocol §14.2)."""
        session = state.auth_session()
        user = session.user_id if session is not None else None
        if user is not None and previous is not None and previous.tou_consent_user == user:
            state.tou_consent_user = user
            return
        status, body = await self._request("GET", facts.ME)
        self.counts.tou_checks += 1
        data = _json(body) if status == 200 else None
        account = data.get("user") if isinstance(data, dict) else None
        if not isinstance(account, dict):
            return  # no session the site knows: nothing to consent for
        user = user or str(account.get("id") or "") or None
        if account.get(facts.TOU_CONSENT_FIELD) is None:
            status, _ = await self._request("POST", facts.TOU_CONSENT, json={})
            self.counts.tou_consents += 1
            self.calls.append("consent")
            if status != 200:
                return
        state.tou_consent_user = user

    async def _load_page(self) -> str:
        """The chat page's HTML, past the Cloudflare-style check (passed once at most)."""
        for _ in range(2):
            status, body = await self._request("GET", facts.CHAT_PAGE)
            if status == 200:
                return body.decode()
            if status != 403:
                raise ProtocolError(f"the page answered HTTP {status}", kind=ErrorKind.PAGE)
            payload = {"ray": "", "ua": self.user_agent, "webdriver": False, "clicked": True}
            verified, _ = await self._request("POST", CHALLENGE_ENDPOINT, json=payload)
            if verified != 200:
                break
            self.counts.challenges += 1
        raise Blocked("the site's Cloudflare check did not clear", kind=ErrorKind.CLOUDFLARE)

    async def _sign_up(self) -> None:
        """The anonymous sign-up the page's own script does on a first visit (protocol §5.3)."""
        for _ in range(2):
            pid = str(uuid.uuid4())
            self._jar["provisional_user_id"] = pid
            body = {"recaptchaToken": "", "provisionalUserId": pid}
            status, text = await self._request("POST", facts.SIGN_UP, json=body)
            self.counts.sign_ups += 1
            if status == 400 and b"already exists" in text:
                continue
            session = session_from_body(_json(text)) if status == 200 else None
            if session is not None:
                self._jar.update(encode_auth_cookies(session))
            break
        if not _has_auth(self._jar):
            raise SignInRequired("the site did not start a session", kind=ErrorKind.NO_SESSION)

    async def _chunks(self, html: str) -> list[str]:
        texts = []
        for path in pages.chunk_paths(html):
            status, body = await self._request("GET", path)
            if status == 200:
                texts.append(body.decode())
        return texts

    async def _request(self, method: str, path: str, *, json: Any = None) -> tuple[int, bytes]:
        """One same-origin request with the jar's cookies; Set-Cookie goes back into the jar."""
        url = urllib.parse.urljoin(self.base_url + "/", path.lstrip("/"))
        # A browser's requests all carry its client hints.
        headers = {"User-Agent": self.user_agent, **CLIENT_HINTS, "Sec-Fetch-Mode": "cors"}
        if self._jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self._jar.items())
        async with self._session().request(
            method, url, headers=headers, json=json, allow_redirects=False
        ) as response:
            body = await response.read()
            self._absorb(response.headers.getall("Set-Cookie", []))
            self._read_clock(response.headers.get(facts.DATE))
            if 300 <= response.status < 400:
                target = urllib.parse.urljoin(url, response.headers.get("Location", ""))
                raise ConfigError(
                    f"the site sends the browser on to {target}", kind=ErrorKind.REDIRECTED
                )
            return response.status, body

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            # No cookie jar of aiohttp's: it would refuse cookies of 127.0.0.1.
            self._http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        return self._http

    def _read_clock(self, date: str | None) -> None:
        """The site's clock minus ours, from a ``Date`` header (whole seconds: add half of one)."""
        if not date:
            return
        try:
            site = email.utils.parsedate_to_datetime(date).timestamp() + 0.5
        except (TypeError, ValueError):
            return
        self._clock_offset = site - time.time()

    def _absorb(self, set_cookies: list[str]) -> None:
        for header in set_cookies:
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(header)
            for name, morsel in parsed.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self._jar.pop(name, None)
                else:
                    self._jar[name] = morsel.value


def _has_auth(jar: dict[str, str]) -> bool:
    return bool(jar.get(facts.AUTH_COOKIE) or jar.get(f"{facts.AUTH_COOKIE}.0"))


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _satisfies_the_interface(browser: HttpBrowser) -> BrowserInterface:
    return browser  # mypy checks here that HttpBrowser has every job of the Protocol


__all__ = ["USER_AGENT", "Counts", "HttpBrowser"]

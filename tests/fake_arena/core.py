"""The state of the fake site, shared by all its parts (each a mixin of this class).

The parts subclass :class:`ArenaCore` and, where one uses another, that other part: the type checker
then sees every attribute and method a handler touches, and ``FakeArena`` puts them all together.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Sequence

from aiohttp import web

from . import auth, facts
from .deploy import Deploy
from .models import DEFAULT_MODELS, MODELS_2026, MODELS_2026_10, FakeModel
from .replies import Fault, Reply
from .state import EvaluationSession, RecaptchaToken, Received
from .storage import ObjectStore

DEFAULT_SITE_KEY = facts.SITE_KEY
DEFAULT_V2_SITE_KEY = facts.V2_SITE_KEY
#: Sign-in accounts (email -> password) known to a fresh fake.
DEFAULT_ACCOUNTS = {"user@example.com": "arena-test"}
#: Values of ``models_in_page``.
MODELS_IN_PAGE = ("embedded", "undefined", "absent")


class ArenaCore:
    """Options, accounts, tokens, conversations and the request log of one fake site."""

    def __init__(
        self,
        *,
        models: Sequence[FakeModel] | None = None,
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
        tou_required: bool = False,
        clock_skew: float = 0.0,
        id_tolerance: float = 300.0,
        models_in_page: str = "embedded",
        catalog_2026: bool = False,
        bare_auth_cookie: bool = False,
        soft_404: bool = False,
        browser_only: bool = False,
        mint_delay: float = 0.0,
        stream_2026_10: bool = False,
        models_2026_10: bool = False,
        turbopack: bool = False,
    ) -> None:
        if models_in_page not in MODELS_IN_PAGE:
            raise ValueError(f"models_in_page must be one of {MODELS_IN_PAGE}: {models_in_page!r}")
        if models is None:
            models = MODELS_2026 if catalog_2026 else DEFAULT_MODELS
            models = MODELS_2026_10 if models_2026_10 else models
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
        # The site as of Sep-Oct 2026 (protocol §14; FakeArena.as_of_2026_10 turns all on).
        #: Users must accept the Terms of Use; until then a send is held (200, never a line).
        self.tou_required = tou_required
        #: Seconds the fake's clock (its Date header, its id check) is ahead of the real one.
        self.clock_skew = clock_skew
        #: Ids whose UUIDv7 time is further than this from the fake's clock are "spoofed".
        self.id_tolerance = id_tolerance
        #: What anonymous pages carry: the list, the "$undefined" placeholder, or no key.
        self.models_in_page = models_in_page
        #: The catalog answers {"arenas": [...]} (plain-string entries too), 403 to an Origin.
        self.catalog_2026 = catalog_2026
        #: The auth cookie is one arena-auth-prod-v1 cookie, never .0/.1 chunks.
        self.bare_auth_cookie = bare_auth_cookie
        #: Unknown paths answer 200 with an HTML "not found" page instead of 404.
        self.soft_404 = soft_404
        #: A stand-in for Cloudflare's TLS fingerprint check (protocol §14.9): a request without
        #: the client hints (``Sec-CH-UA``) and ``Sec-Fetch-Mode`` that a browser's own requests
        #: carry gets the challenge (403), whatever its cookies. Counted in
        #: :attr:`not_a_browser`.
        self.browser_only = browser_only
        self.not_a_browser = 0
        #: Seconds ``grecaptcha.enterprise.execute`` takes (Google's takes a few hundred ms);
        #: :attr:`mint_spans` records (start, end) of each, Unix seconds.
        self.mint_delay = mint_delay
        self.mint_spans: list[tuple[float, float]] = []
        # What §15 of the protocol adds (research of 2026-12-05; as_of_2026_10 turns all on).
        #: Streams are labelled text/event-stream and open each side with af/bf message ids.
        self.stream_2026_10 = stream_2026_10
        #: Pages embed an id-only initialModels array before the real one; the model table
        #: adds rows with a null provider or organization and a search capability that is off.
        self.models_2026_10 = models_2026_10
        #: The JS chunks are a Turbopack build (see :mod:`.turbopack`).
        self.turbopack = turbopack
        #: What GET /api/billing/balance and GET /api/me/pulse answer.
        self.credits_remaining = 100.0
        self.daily_free_credits = 100.0
        self.pulse = 0

        self.deploy = Deploy()
        self.received: list[Received] = []
        self.queue: deque[Reply | Fault] = deque()
        #: Asked for an answer when neither a script nor the queue has one (None: the echo);
        #: bench/soak.py injects its faults at random so.
        self.chaos: Callable[[], Reply | Fault | None] | None = None
        #: Answers for prompts that match (``script``): (pattern, answers, repeat).
        self.scripts: list[tuple[re.Pattern[str], deque[Reply | Fault], bool]] = []
        #: Stream writes that ended inside a multi-byte character (streams.StreamWriter).
        self.characters_split = 0
        # Cloudflare
        self.clearances: dict[str, str] = {}  # cf_clearance value -> User-Agent it was issued to
        self.challenges_served = 0
        self.challenges_passed = 0
        # Accounts and auth
        self.users: dict[str, auth.User] = {}
        self.tokens: dict[str, auth.AccessToken] = {}  # access token -> holder
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user id
        self.provisional_ids: set[str] = set()
        self.tou_consents: dict[str, float] = {}  # user id -> when (fake clock) they agreed
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

    def now(self) -> float:
        """The fake site's clock (Unix seconds): the real one plus :attr:`clock_skew`."""
        return time.time() + self.clock_skew

    @property
    def url(self) -> str:
        """The site origin, like ``https://arena.ai``."""
        if self._runner is None:
            raise RuntimeError("FakeArena is not started")
        return f"http://{self._host}:{self._port}"

    def model(self, ref: str) -> FakeModel | None:
        """A model by id (or the newest row with that public name)."""
        for m in self.models:
            if m.id == ref:
                return m
        named = [m for m in self.models if m.public_name == ref]
        return max(named, key=lambda m: m.id) if named else None

    def script(self, pattern: str, *items: Reply | Fault, repeat: bool = False) -> None:
        """Answer prompts in which the regular expression ``pattern`` is found with ``items``,
        in order (the last one again and again with ``repeat``); such prompts skip the queue.
        A scripted model "calls" a tool or answers JSON when the prompt asks for it."""
        self.scripts.append((re.compile(pattern, re.DOTALL), deque(items), repeat))

    def scripted(self, prompt: str) -> Reply | Fault | None:
        """The scripted answer for ``prompt``, if a script matches it and has one left."""
        for pattern, items, repeat in self.scripts:
            if items and pattern.search(prompt):
                return items[0] if repeat and len(items) == 1 else items.popleft()
        return None

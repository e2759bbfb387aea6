"""The state of the fake site, shared by all its parts (each a mixin of this class).

The parts subclass :class:`ArenaCore` and, where one uses another, that other part: the type checker
then sees every attribute and method a handler touches, and ``FakeArena`` puts them all together.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from aiohttp import web

from . import auth, facts
from .deploy import Deploy
from .models import DEFAULT_MODELS, FakeModel
from .replies import Fault, Reply
from .state import EvaluationSession, RecaptchaToken, Received
from .storage import ObjectStore

DEFAULT_SITE_KEY = facts.SITE_KEY
DEFAULT_V2_SITE_KEY = facts.V2_SITE_KEY
#: Sign-in accounts (email -> password) known to a fresh fake.
DEFAULT_ACCOUNTS = {"user@example.com": "arena-test"}


class ArenaCore:
    """Options, accounts, tokens, conversations and the request log of one fake site."""

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

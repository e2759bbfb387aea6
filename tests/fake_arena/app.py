"""The fake arena.ai server: lifecycle, routing, the request log and the test-facing API.

Its state is :class:`~.core.ArenaCore`; each part of the site is a mixin over that state: the
Cloudflare gate in :mod:`.gate`, accounts in :mod:`.accounts`, reCAPTCHA in :mod:`.recaptcha`,
pages in :mod:`.views`, the stream endpoints in :mod:`.chat` and :mod:`.answers`, server actions
and the object store in :mod:`.actions`. What the site is (paths, names, texts) is in :mod:`.facts`.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from . import facts
from .actions import ActionsMixin
from .chat import ChatMixin
from .core import DEFAULT_SITE_KEY, DEFAULT_V2_SITE_KEY
from .deploy import Deploy
from .era2026 import RECORD_KEY
from .replies import Fault, Reply
from .state import Received
from .views import ViewsMixin

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeArena(ChatMixin, ViewsMixin, ActionsMixin):
    """A local stand-in for https://arena.ai speaking the protocol of ``arena-protocol.md``."""

    # ----------------------------------------------------------------------------------------------
    # Public API (more in the mixins: issue_clearance, create_user, auth_cookies, mint_token,
    # expire_auth, for tests that talk plain HTTP where a browser would otherwise do the work)
    # ----------------------------------------------------------------------------------------------

    @property
    def action_ids(self) -> dict[str, str]:
        """Server action name -> id in the current deploy."""
        return dict(self.deploy.action_ids)

    @classmethod
    def as_of_2026_10(cls, **overrides: Any) -> FakeArena:
        """The site as of Oct 2026 (protocol §14, §15): every switch of both on, ``overrides``
        last.

        Terms-of-Use consent required, no model list in anonymous pages (``"$undefined"``), the
        2026 catalog, one bare auth cookie, soft 404s, and the login gate on direct and
        side-by-side chats; the ``Date`` header and the id clock check are always on. §15:
        event-stream answers that open with ``af``/``bf`` ids, the 2026-10 model rows (and an
        id-only ``initialModels`` array in pages that embed the list), a Turbopack build.
        """
        options: dict[str, Any] = {
            "tou_required": True,
            "models_in_page": "undefined",
            "catalog_2026": True,
            "bare_auth_cookie": True,
            "soft_404": True,
            "login_gate": True,
            # protocol §15
            "stream_2026_10": True,
            "models_2026_10": True,
            "turbopack": True,
        }
        options.update(overrides)
        return cls(**options)

    def enqueue(self, *items: Reply | Fault) -> None:
        """Script the next stream answers, first in first out."""
        self.queue.extend(items)

    def recycle(self, session_id: str) -> None:
        """Forget a conversation, as the site recycles old ones (protocol §15.3): its next
        post-to-evaluation answers 404."""
        self.sessions.pop(session_id, None)

    def rate_limit_model(self, public_name: str, until: str | None) -> None:
        """Give the rows named ``public_name`` a ``rateLimitedUntil`` (an ISO time; None takes
        it away), as the site does for a per-account, per-model cooldown (protocol §15.3)."""
        self.models = [
            dataclasses.replace(m, rate_limited_until=until) if m.public_name == public_name else m
            for m in self.models
        ]

    def redeploy(self) -> None:
        """New build id, chunk names and action ids; the old action ids answer 404."""
        self.deploy = Deploy()

    def stream_requests(self) -> list[Received]:
        """The requests that reached a stream endpoint, oldest first."""
        return [r for r in self.received if r.path.startswith(facts.STREAM_PREFIX)]

    def count(self, path_prefix: str) -> int:
        """How many requests had a path starting with ``path_prefix``."""
        return sum(1 for r in self.received if r.path.startswith(path_prefix))

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on ``host:port`` (0: a free port; see :attr:`url`)."""
        app = web.Application(
            middlewares=[self._record_middleware, self._gate_middleware, self._soft_404_middleware],
            client_max_size=self.max_upload_bytes * 4 + 1024 * 1024,
        )
        app.on_response_prepare.append(self._stamp_response)
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
        """Stop serving (the legacy host too)."""
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

    # ----------------------------------------------------------------------------------------------
    # Routing, the request log, the legacy host
    # ----------------------------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        r = app.router
        for path in facts.PAGE_PATHS:
            r.add_get(path, self._page)
            r.add_post(path, self._page_post)
        r.add_get(facts.LOGIN_PAGE, self._login_page)
        r.add_post(facts.CHALLENGE_ENDPOINT, self._challenge_verify)
        r.add_get(facts.RECAPTCHA_ENTERPRISE_JS, self._recaptcha_js)
        r.add_get(facts.RECAPTCHA_API_JS, self._recaptcha_js)
        r.add_post(facts.MINT_ENDPOINT, self._recaptcha_mint)
        r.add_get(facts.NEXT_STATIC + "{path:.+}", self._chunk)
        r.add_get(facts.MODEL_CATALOG, self._model_catalog)
        r.add_post(facts.SIGN_UP, self._sign_up)
        r.add_post(facts.SIGN_IN, self._sign_in)
        r.add_post(facts.SIGN_OUT, self._sign_out)
        r.add_get(facts.ME, self._me)
        r.add_post(facts.TOU_CONSENT, self._tou_consent)
        r.add_get(facts.BALANCE, self._balance)
        r.add_get(facts.PULSE, self._pulse)
        r.add_get(facts.EVALUATION + "{sid}", self._evaluation_json)
        r.add_route("*", facts.LEGACY_STREAM_PREFIX + "{tail:.*}", self._legacy_stream)
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
        request[RECORD_KEY] = record
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            record.status = exc.status
            raise
        record.status = response.status
        # Cloudflare fronts every response of the real site.
        if not response.prepared:
            response.headers.setdefault(facts.SERVER, facts.SERVER_NAME)
            response.headers.setdefault(facts.CF_RAY, f"{secrets.token_hex(8)}-{facts.CF_RAY_COLO}")
        return response

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


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    """The port the OS picked when ``requested`` was 0."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested


__all__ = ["DEFAULT_SITE_KEY", "DEFAULT_V2_SITE_KEY", "FakeArena", "Fault", "Reply"]

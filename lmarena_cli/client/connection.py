"""A connection to the site: :class:`Connection`, what every send and every command shares.

One browser (started only when needed), the :class:`~lmarena_cli.state.cache.SiteState` it learned,
one :class:`~.site_transport.SiteTransport` for every request (aiohttp, or the page), the
conversation store and the upload cache. Its public methods are what the rest of the library asks of
the site: the state, a reCAPTCHA token, a refresh, a server action, an upload, a download, the
models, a battle's revealed models, and recording an exchange. :class:`~.client.Client` adds the
conversations.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..browser.interface import BrowserInterface
from ..browser.session import Browser
from ..errors import LmArenaError, Timeout, UpstreamUnavailable, UsageError
from ..settings import Settings
from ..site import facts
from ..site.models import Model, model_from_row, resolve_model, usable_models_from_rows
from ..site.pages import message_models
from ..state.cache import SiteState
from ..state.store import ConversationStore
from .attachments import Uploader
from .pacing import Pacing
from .reply import Reply
from .retry import RetryPolicy
from .site_transport import SiteTransport
from .tokens import TOKEN_MAX_AGE, TokenReserve
from .uploads import ImageInput, decode_data_uri

_log = logging.getLogger("lmarena")


class Connection:
    """A connection to the site: one browser (started only when needed) and one HTTP object.

    ``Connection()`` reads its settings from ``LM_ARENA_*`` variables; pass ``Settings`` to
    override, and ``browser`` to share one (it is then not closed here, unless ``owns_browser``
    hands it over: :meth:`close` closes it too). With ``record`` false, exchanges are not written
    to the conversation store (``serve`` records its own).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        browser: BrowserInterface | None = None,
        record: bool = True,
        owns_browser: bool | None = None,
    ) -> None:
        self.settings = settings or Settings.load()
        self._browser = browser
        self._owns_browser = browser is None if owns_browser is None else owns_browser
        self._state: SiteState | None = None
        self._store: ConversationStore | None = None
        self._record = record
        self._bootstrap_lock = asyncio.Lock()
        #: Every request to the site, through aiohttp or the browser's page (LM_ARENA_TRANSPORT).
        self.http = SiteTransport(self.settings, lambda: self._state, lambda: self.browser)
        self._uploader = Uploader(self.http, self.server_action)
        #: Remembered penalties and LM_ARENA_MIN_INTERVAL: sends of all processes, one account.
        self.pacing = Pacing(self.settings)
        self._tokens: TokenReserve | None = None

    @property
    def records(self) -> bool:
        """Whether each exchange is written to the conversation store (``-c`` uses it)."""
        return self._record

    @property
    def browser(self) -> BrowserInterface:
        """The browser: the one given, else a :class:`Browser` made (not launched) on first use."""
        if self._browser is None:
            self._browser = Browser(self.settings)
        return self._browser

    @property
    def store(self) -> ConversationStore:
        """The conversation store, opened on first use."""
        if self._store is None:
            self._store = ConversationStore(self.settings.store_path)
        return self._store

    @property
    def state(self) -> SiteState | None:
        """What the last bootstrap or refresh learned; None before the first."""
        return self._state

    # -- the browser's part ----------------------------------------------------------------------

    async def bootstrap(self, *, refresh: bool = False) -> SiteState:
        """Start the browser, pass the site's checks and learn what a send needs."""
        async with self._bootstrap_lock:
            if self._state is None or refresh:
                if refresh:
                    self._discard_tokens()
                self._state = await self.browser.bootstrap(refresh=refresh)
                if refresh:
                    self._discard_tokens()
            return self._state

    async def current_state(self) -> SiteState:
        """The site state, bootstrapping first when there is none yet."""
        return self._state or await self.bootstrap()

    async def mint_token(self, action: str = facts.ACTION_CHAT_SUBMIT) -> str:
        """A fresh reCAPTCHA token for ``action``: the one minted ahead when
        :meth:`keep_token_ready` is on and it is fresh, else one minted by the browser now."""
        if self._tokens is not None and action == self._tokens.action:
            token = await self._tokens.take()
            if token is not None:
                return token
        return await self.browser.mint_token(action)

    async def send_token(self, deadline: float, action: str = facts.ACTION_CHAT_SUBMIT) -> str:
        """The token of one send (``action``: ``chat_retry`` for a regenerate), once it may
        leave: no penalty of the site's runs, and ``LM_ARENA_MIN_INTERVAL`` has passed since any
        send of this user (by ``deadline``, in ``time.monotonic()`` time, or ``RateLimited``).
        The send is counted as it returns."""
        async with self.pacing.turn(deadline):
            return await self.mint_token(action)

    def keep_token_ready(self, *, max_age: float = TOKEN_MAX_AGE) -> TokenReserve:
        """Keep one ``chat_submit`` token minted ahead from now on, so that a send does not wait
        for minting (:class:`~.tokens.TokenReserve`; off by default, for long-running processes
        such as ``serve``). Call inside the event loop; :meth:`close` stops it."""
        if self._tokens is None:
            self._tokens = TokenReserve(self.browser.mint_token, max_age=max_age)
            self._tokens.start()
        return self._tokens

    def retry_policy(self, *, rate_limit_wait: float = 0.0) -> RetryPolicy:
        """The retry policy of one send (:class:`~.retry.RetryPolicy`); the site's requests to
        wait are remembered across runs (:class:`~.pacing.Pacing`)."""
        return RetryPolicy(
            refresh=self.refresh_session,
            relearn_clock=self.sync_clock,
            rate_limit_wait=rate_limit_wait,
            penalize=self.pacing.remember,
            fall_back=self.http.fall_back,
        )

    def _discard_tokens(self) -> None:
        """A token minted before a page load may be refused after it (a new clearance or key)."""
        if self._tokens is not None:
            self._tokens.discard()

    async def refresh_session(self) -> None:
        """Reload the site in the browser: a new clearance and a refreshed auth cookie."""
        self._discard_tokens()
        self._state = await self.browser.refresh_session()
        self._discard_tokens()

    async def sync_clock(self) -> float:
        """Read the site's clock again (one request for its ``Date`` header) and mint the next
        ids from it: the offset in use (the site's clock minus ours, in seconds; §14.3)."""
        return await self.http.learn_clock(await self.current_state())

    async def rediscover_actions(self) -> None:
        """Read the site's server action ids again (a redeploy rotated them)."""
        state = await self.current_state()
        self._discard_tokens()
        state.action_ids.update(await self.browser.rediscover_actions())
        self._discard_tokens()

    # -- models ----------------------------------------------------------------------------------

    async def list_models(self, *, refresh: bool = False) -> list[Model]:
        """The models one can chat with. Answered from the cache when it has them (no browser)."""
        return [model for model in await self._selectable(refresh) if model.chats]

    async def _selectable(self, refresh: bool = False) -> list[Model]:
        if not refresh:
            state = self._state or self.browser.cached_state()
            if state is not None and state.models:
                return usable_models_from_rows(state.models)
        return usable_models_from_rows((await self.bootstrap(refresh=refresh)).models)

    async def model(self, name: str | Model) -> Model:
        """A model by name (or id); ``ModelNotFound`` names the closest ones."""
        if isinstance(name, Model):
            return name
        selectable = await self._selectable()
        found = resolve_model(name, selectable)
        if not found.chats:
            # Named exactly, but it answers with video (or only in the WebDev arena): say so
            # before any request, rather than let the site refuse a "chat" it cannot serve.
            raise UsageError(
                f"{found.name} does not answer with text, images or search results (it is a "
                "video or WebDev model), which lmarena cannot show; `lmarena models` lists the "
                "models it can use"
            )
        return found

    async def reveal_models(self, reply: Reply) -> None:
        """A battle's models, when the conversation's page names them; unknown otherwise."""
        state = await self.current_state()
        ids = {a.side: a.message_id for a in reply.answers if a.message_id}
        try:
            html = await self.http.get_page(
                state, facts.conversation_page(reply.evaluation_session_id)
            )
        except (Timeout, UpstreamUnavailable):
            return  # the answers stand without names; nothing else depends on them
        found = message_models(html, ids)
        by_id = {str(row.get("id")): row for row in state.models if isinstance(row, dict)}
        for answer in reply.answers:
            if answer.side in found:
                answer.model_id = found[answer.side]
                row = model_from_row(by_id.get(answer.model_id))
                answer.model = row.name if row is not None else None

    # -- requests --------------------------------------------------------------------------------

    async def conversation_json(self, session_id: str, *, wanted: str) -> Any:
        """The site's JSON of a conversation (``GET /api/evaluation/{id}``, only a fallback: the
        protocol notes mark it doubtful); None when it cannot be read, which is logged saying
        what it was ``wanted`` for."""
        state = await self.current_state()
        try:
            status, data = await self.http.get_api(
                state, facts.EVALUATION_JSON.format(session_id=session_id)
            )
        except LmArenaError as error:
            _log.info(f"could not read the conversation to find {wanted}: {error}")
            return None
        return data if status == 200 else None

    async def server_action(self, name: str, args: list[Any]) -> Any:
        """Call one of the site's Next.js server actions, with the retries of
        :class:`~.retry.RetryPolicy` for actions (a stale id, Cloudflare, an expired sign-in)."""
        policy = RetryPolicy(
            refresh=self.refresh_session,
            rediscover=self.rediscover_actions,
            penalize=self.pacing.remember,
            fall_back=self.http.fall_back,
        )
        while True:
            state = await self.current_state()
            try:
                return await self.http.server_action(state, name, args)
            except LmArenaError as error:
                await policy.recover_or_raise(error, action=name)

    async def upload(self, image: ImageInput) -> dict[str, str]:
        """Upload an image (once per distinct image while its link is valid): the message's
        ``experimental_attachments`` entry for it."""
        return await self._uploader.upload(image)

    async def download(self, url: str, *, max_bytes: int = 50 * 1024 * 1024) -> bytes:
        """Fetch a generated image (an https URL or a ``data:`` URI) that the site answered with."""
        if url.startswith("data:"):
            return decode_data_uri(url)
        return await self.http.download(url, max_bytes=max_bytes)

    def record_exchange(
        self,
        reply: Reply,
        *,
        mode: str,
        model: str | None,
        model_b: str | None,
        messages: list[dict[str, Any]],
        answer_id: str | None = None,
    ) -> None:
        """Write one exchange to the conversation store, for ``-c`` and ``serve``; ``answer_id``
        is the site's id of the answer that ``messages`` end with (what a regenerate names).

        A failing store never loses the answer: its error is logged, not raised.
        """
        try:
            self.store.record(
                reply.evaluation_session_id,
                model=model,
                model_b=model_b,
                mode=mode,
                messages=messages,
                answer_id=answer_id,
            )
        except LmArenaError as error:
            _log.info(f"could not record the conversation: {error}")

    def record_retry(self, reply: Reply, content: str | None = None) -> None:
        """A regenerated answer (``content``, default its text) replaces the conversation's
        last one in the store; logged, never raised, when the store fails."""
        try:
            self.store.replace_answer(
                reply.evaluation_session_id,
                reply.text if content is None else content,
                reply.a.message_id,
            )
        except LmArenaError as error:
            _log.info(f"could not record the regenerated answer: {error}")

    async def close(self) -> None:
        """Stop minting ahead, close the HTTP session, and the browser when this connection
        started it."""
        if self._tokens is not None:
            await self._tokens.close()
        await self.http.close()
        if self._browser is not None and self._owns_browser:
            await self._browser.close()


__all__ = ["Connection"]

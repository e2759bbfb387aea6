"""A connection to the site: :class:`Connection`, what every send and every command shares.

One browser (started only when needed), the :class:`~lmarena_cli.state.cache.SiteState` it
learned, one :class:`~.http.SiteHttp` for every request, the conversation store and the upload
cache. Its public methods are what the rest of the library asks of the site: the state, a
reCAPTCHA token, a refresh, a server action, an upload, a download, the models, a battle's
revealed models, and recording an exchange. :class:`~.client.Client` adds the conversations.
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
from .http import SiteHttp
from .reply import Reply
from .retry import RetryPolicy
from .uploads import ImageInput, decode_data_uri

_log = logging.getLogger("lmarena")


class Connection:
    """A connection to the site: one browser (started only when needed) and one HTTP object.

    ``Connection()`` reads its settings from ``LM_ARENA_*`` variables; pass ``Settings`` to
    override, and ``browser`` to share one (it is then not closed here). With ``record`` false,
    exchanges are not written to the conversation store (``serve`` records its own).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        browser: BrowserInterface | None = None,
        record: bool = True,
    ) -> None:
        self.settings = settings or Settings.load()
        self._browser = browser
        self._owns_browser = browser is None
        self._state: SiteState | None = None
        self._store: ConversationStore | None = None
        self._record = record
        self._bootstrap_lock = asyncio.Lock()
        self.http = SiteHttp(self.settings, lambda: self._state)
        self._uploader = Uploader(self.http, self.server_action)

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
                self._state = await self.browser.bootstrap(refresh=refresh)
            return self._state

    async def current_state(self) -> SiteState:
        """The site state, bootstrapping first when there is none yet."""
        return self._state or await self.bootstrap()

    async def mint_token(self, action: str = facts.ACTION_CHAT_SUBMIT) -> str:
        """A fresh reCAPTCHA token for ``action``, from the browser."""
        return await self.browser.mint_token(action)

    async def refresh_session(self) -> None:
        """Reload the site in the browser: a new clearance and a refreshed auth cookie."""
        self._state = await self.browser.refresh_session()

    async def sync_clock(self) -> float:
        """Read the site's clock again (one request for its ``Date`` header) and mint the next
        ids from it: the offset in use (the site's clock minus ours, in seconds; §14.3)."""
        return await self.http.learn_clock(await self.current_state())

    async def rediscover_actions(self) -> None:
        """Read the site's server action ids again (a redeploy rotated them)."""
        state = await self.current_state()
        state.action_ids.update(await self.browser.rediscover_actions())

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

    async def server_action(self, name: str, args: list[Any]) -> Any:
        """Call one of the site's Next.js server actions, with the retries of
        :class:`~.retry.RetryPolicy` for actions (a stale id, Cloudflare, an expired sign-in)."""
        policy = RetryPolicy(refresh=self.refresh_session, rediscover=self.rediscover_actions)
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
    ) -> None:
        """Write one exchange to the conversation store, for ``-c`` and ``serve``.

        A failing store never loses the answer: its error is logged, not raised.
        """
        try:
            self.store.record(
                reply.evaluation_session_id,
                model=model,
                model_b=model_b,
                mode=mode,
                messages=messages,
            )
        except LmArenaError as error:
            _log.info(f"could not record the conversation: {error}")

    async def close(self) -> None:
        """Close the HTTP session, and the browser when this connection started it."""
        await self.http.close()
        if self._browser is not None and self._owns_browser:
            await self._browser.close()


__all__ = ["Connection"]

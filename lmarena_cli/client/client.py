"""The conversation API: ``Client``, with ``client.chats`` (:mod:`.conversation.chats`).

::

    from lmarena_cli import Client

    async with Client() as client:
        chat = await client.chats.create(model="gemini-3-pro")
        reply = await chat.send("hello", stream=False)
        print(reply.text, reply.evaluation_session_id)

        stream = await chat.send("and now in French", stream=True)
        async for delta in stream:
            print(delta, end="", flush=True)
        print(stream.reply.finish_reason)

``Client`` puts its parts together and hands each user the one it needs: the browser, its state and
tokens (:class:`~.session.site_session.SiteSession`, ``client.session``), every request
(:class:`~.transport.site_transport.SiteTransport`, ``client.http``), the account's pacing
(:class:`~.session.pacing.Pacing`, ``client.pacing``), the requests beside a send and the retry
policies (:class:`~.session.site_calls.SiteCalls`), the models
(:class:`~.session.catalog.ModelCatalog`), the conversation store
(:class:`~.conversation.recording.Recorder`) and uploads (:class:`~.turn.attachments.Uploader`). One
send, its stream and its retries are :class:`~.turn.exchange.ReplyStream`, given only what a turn
uses (:class:`~.session.turn_site.TurnSite`); the reply's data types are in :mod:`.reply`.
``ChatSession``, ``ReplyStream``, ``Reply`` and ``Answer`` are re-exported here. Notices (retries,
refreshes) are INFO records of the ``"lmarena"`` logger.
"""

from __future__ import annotations

from typing import Any

from ..browser.interface import BrowserInterface
from ..settings import Settings
from ..site.models import Model
from ..state.cache import SiteState
from ..state.links import ConversationLinks
from ..state.store import ConversationStore
from ..state.turn_notes import TurnNotes
from .conversation.chats import ChatSession
from .conversation.conversations import Chats
from .conversation.recording import Recorder
from .reply import Answer, Reply
from .session.catalog import ModelCatalog
from .session.pacing import Pacing
from .session.site_calls import SiteCalls
from .session.site_session import SiteSession
from .session.tokens import TOKEN_MAX_AGE, TokenReserve
from .session.turn_site import TurnSite
from .transport.site_transport import SiteTransport
from .turn.attachments import Uploader
from .turn.exchange import ReplyStream


class Client:
    """A connection to the site and its conversations.

    ``Client()`` reads its settings from ``LM_ARENA_*`` variables; pass ``Settings`` to override,
    and ``browser`` to share one (it is then not closed here, unless ``owns_browser`` hands it
    over: :meth:`close` closes it too). With ``record`` false, exchanges are not written to the
    conversation store (``serve`` records its own). ``battle_hold``: seconds a single-model
    answer's first text is held to catch a battle (default: the settings' ``battle_hold``,
    ``LM_ARENA_BATTLE_HOLD``; protocol §15.1).
    Use it as an async context manager, or call :meth:`bootstrap` and :meth:`close` yourself.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        browser: BrowserInterface | None = None,
        record: bool = True,
        owns_browser: bool | None = None,
        battle_hold: float | None = None,
    ) -> None:
        self.settings = settings or Settings.load()
        #: The browser, what it learned, its tokens.
        self.session = SiteSession(self.settings, browser=browser, owns_browser=owns_browser)
        #: Every request to the site, through aiohttp or the browser's page (LM_ARENA_TRANSPORT).
        self.http = SiteTransport(
            self.settings, lambda: self.session.state, lambda: self.session.browser
        )
        #: Remembered penalties and LM_ARENA_MIN_INTERVAL: sends of all processes, one account.
        self.pacing = Pacing(self.settings)
        self._calls = SiteCalls(self.session, self.http, self.pacing)
        self._catalog = ModelCatalog(self.session, self.http)
        self._recorder = Recorder(self.settings, record=record)
        turn_site = TurnSite(
            settings=self.settings,
            session=self.session,
            http=self.http,
            pacing=self.pacing,
            calls=self._calls,
            catalog=self._catalog,
            battle_hold=self.settings.battle_hold if battle_hold is None else battle_hold,
        )
        uploader = Uploader(self.http, self._calls.server_action)
        #: Start a conversation or pick one up again.
        self.chats = Chats(turn_site, self._recorder, uploader)

    async def __aenter__(self) -> Client:
        await self.bootstrap()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- the browser's part ----------------------------------------------------------------------

    @property
    def browser(self) -> BrowserInterface:
        """The browser: the one given, else a ``Browser`` made (not launched) on first use."""
        return self.session.browser

    @property
    def state(self) -> SiteState | None:
        """What the last bootstrap or refresh learned; None before the first."""
        return self.session.state

    async def bootstrap(self, *, refresh: bool = False) -> SiteState:
        """Start the browser, pass the site's checks and learn what a send needs."""
        return await self.session.bootstrap(refresh=refresh)

    def keep_token_ready(self, *, max_age: float = TOKEN_MAX_AGE) -> TokenReserve:
        """Keep one reCAPTCHA token minted ahead (see :meth:`.SiteSession.keep_token_ready`)."""
        return self.session.keep_token_ready(max_age=max_age)

    # -- models, images, the store ---------------------------------------------------------------

    async def list_models(self, *, refresh: bool = False) -> list[Model]:
        """The models one can chat with. Answered from the cache when it has them (no browser)."""
        return await self._catalog.list_models(refresh=refresh)

    async def model(self, name: str | Model) -> Model:
        """A model by name (or id); ``ModelNotFound`` names the closest ones."""
        return await self._catalog.model(name)

    async def download(self, url: str, *, max_bytes: int = 50 * 1024 * 1024) -> bytes:
        """Fetch a generated image (an https URL or a ``data:`` URI) that the site answered with."""
        return await self._calls.download(url, max_bytes=max_bytes)

    @property
    def records(self) -> bool:
        """Whether each exchange is written to the conversation store (``-c`` uses it)."""
        return self._recorder.records

    @property
    def store(self) -> ConversationStore:
        """The conversation store, opened on first use."""
        return self._recorder.store

    @property
    def notes(self) -> TurnNotes:
        """What the turns taught about each conversation: first-line offsets (the battle hold's
        data, protocol §15.1) and conversations that cannot go on; opened on first use."""
        return self._recorder.notes

    @property
    def links(self) -> ConversationLinks:
        """Which conversation went on in which (recycled by the site, or ended by a refused
        skip); opened on first use."""
        return self._recorder.links

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
        """Write one exchange to the conversation store
        (:class:`~.conversation.recording.Recorder`)."""
        self._recorder.record_exchange(
            reply, mode=mode, model=model, model_b=model_b, messages=messages, answer_id=answer_id
        )

    def record_link(self, old_id: str, new_id: str) -> None:
        """The site recycled ``old_id``; it goes on in ``new_id``
        (:mod:`.conversation.recycled`)."""
        self._recorder.record_link(old_id, new_id)

    def record_retry(self, reply: Reply, content: str | None = None) -> None:
        """A regenerated answer replaces the conversation's last one in the store."""
        self._recorder.record_retry(reply, content)

    async def close(self) -> None:
        """Stop minting ahead, close the HTTP session and the conversation store, and the
        browser when this client started it."""
        await self.session.stop_tokens()
        await self.http.close()
        self._recorder.close()
        await self.session.close()


__all__ = ["Answer", "ChatSession", "Chats", "Client", "Reply", "ReplyStream"]

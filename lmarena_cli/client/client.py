"""The conversation API: ``Client``, with ``client.chats`` (:mod:`.chats`).

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

What ``Client`` does for every send (the browser, the HTTP object, uploads, server actions, the
conversation store) is :class:`~.connection.Connection`; one send, its stream and its retries are
:class:`~.exchange.ReplyStream` and :class:`~.retry.RetryPolicy`; the reply's data types are in
:mod:`.reply`. ``ChatSession``, ``ReplyStream``, ``Reply`` and ``Answer`` are re-exported here.
Notices (retries, refreshes) are INFO records of the ``"lmarena"`` logger.
"""

from __future__ import annotations

from ..browser.interface import BrowserInterface
from ..settings import Settings
from .chats import Chats, ChatSession
from .connection import Connection
from .exchange import ReplyStream
from .reply import Answer, Reply


class Client(Connection):
    """A connection to the site (see :class:`~.connection.Connection`) and its conversations.

    ``Client()`` reads its settings from ``LM_ARENA_*`` variables; pass ``Settings`` to override.
    Use it as an async context manager, or call :meth:`bootstrap` and :meth:`close` yourself.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        browser: BrowserInterface | None = None,
        record: bool = True,
        owns_browser: bool | None = None,
    ) -> None:
        super().__init__(settings, browser=browser, record=record, owns_browser=owns_browser)
        #: Start a conversation or pick one up again.
        self.chats = Chats(self)

    async def __aenter__(self) -> Client:
        await self.bootstrap()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


__all__ = ["Answer", "ChatSession", "Chats", "Client", "Reply", "ReplyStream"]

"""The library's interface as the commands use it: :class:`ClientApi`, :class:`ChatsApi`,
:class:`ChatApi`.

Two classes implement it: :class:`~.client.Client` (the library in this process) and
:class:`~.kept.remote.RemoteClient` (the same calls through a kept server's socket); a command holds
a ``ClientApi`` and does not know which. A streamed answer of either is a
:class:`~.reply.TextStream`. Only typing here: nothing heavy is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from ..settings import Settings
from ..site import facts
from ..site.models import Model
from .reply import Reply, TextStream

if TYPE_CHECKING:
    from ..state.store import ConversationStore


class ChatApi(Protocol):
    """One conversation (:class:`~.conversation.chats.ChatSession`,
    :class:`~.kept.remote.RemoteChatSession`)."""

    @property
    def id(self) -> str | None:
        """The ``evaluationSessionId``; None before the first exchange."""
        ...

    @property
    def model(self) -> Model | None:
        """Model A; None in a battle."""
        ...

    @property
    def model_b(self) -> Model | None:
        """Model B in side by side; None otherwise."""
        ...

    @property
    def mode(self) -> facts.Mode:
        """Direct, side by side or battle."""
        ...

    @overload
    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[Any] | None = ...,
        stream: Literal[False] = ...,
        timeout: float | None = ...,
        rate_limit_wait: float = ...,
    ) -> Reply: ...

    @overload
    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[Any] | None = ...,
        stream: Literal[True],
        timeout: float | None = ...,
        rate_limit_wait: float = ...,
    ) -> TextStream: ...

    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[Any] | None = None,
        stream: bool = False,
        timeout: float | None = None,
        rate_limit_wait: float = 0.0,
    ) -> Reply | TextStream:
        """Send one user turn: a :class:`Reply`, or with ``stream`` a stream of it."""
        ...

    @overload
    async def retry(
        self,
        *,
        stream: Literal[False] = ...,
        timeout: float | None = ...,
        rate_limit_wait: float = ...,
    ) -> Reply: ...

    @overload
    async def retry(
        self, *, stream: Literal[True], timeout: float | None = ..., rate_limit_wait: float = ...
    ) -> TextStream: ...

    async def retry(
        self, *, stream: bool = False, timeout: float | None = None, rate_limit_wait: float = 0.0
    ) -> Reply | TextStream:
        """Regenerate the latest answer; returns as :meth:`send` does."""
        ...


class ChatsApi(Protocol):
    """``client.chats`` (:class:`~.conversation.chats.Chats`,
    :class:`~.kept.remote.RemoteChats`)."""

    async def create(
        self,
        model: str | Model | None = None,
        *,
        versus: str | Model | None = None,
        battle: bool = False,
        system: str | None = None,
    ) -> ChatApi:
        """A new conversation: one model, two side by side (``versus``), or a battle."""
        ...

    async def resume(
        self,
        chat_id: str,
        *,
        model: str | Model | None = None,
        versus: str | Model | None = None,
    ) -> ChatApi:
        """Continue a conversation by its ``evaluationSessionId``."""
        ...

    async def latest(self) -> ChatApi:
        """The conversation this tool most recently used."""
        ...


class ClientApi(Protocol):
    """What the commands use of a client: :class:`~.client.Client` in this process, or
    :class:`~.kept.remote.RemoteClient` through a kept server."""

    settings: Settings

    @property
    def chats(self) -> ChatsApi:
        """Start a conversation or pick one up again."""
        ...

    @property
    def store(self) -> ConversationStore:
        """This user's conversation store."""
        ...

    async def list_models(self, *, refresh: bool = False) -> list[Model]:
        """The models one can chat with."""
        ...

    async def download(self, url: str) -> bytes:
        """A generated image's bytes."""
        ...

    async def close(self) -> None:
        """Let go of what the client holds."""
        ...


__all__ = ["ChatApi", "ChatsApi", "ClientApi"]

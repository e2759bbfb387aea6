"""Conversations: ``client.chats`` (:class:`Chats`) and one conversation (:class:`ChatSession`).

A conversation is the site's ``evaluationSessionId``: the site keeps its history, this tool keeps
the models and mode it was started with (the conversation store) so that it can be picked up
again. One send of a conversation is a :class:`~.exchange.ReplyStream`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Literal, overload

from ..errors import ConversationNotFound, InputError, UsageError
from ..site import facts
from ..site.ids import is_uuid
from ..site.models import Model
from .connection import Connection
from .exchange import ReplyStream
from .reply import Reply
from .uploads import ImageSource, load_image

#: An image to send, optionally with the file name to upload it under.
ImageArg = ImageSource | tuple[ImageSource, str | None]


class Chats:
    """``client.chats``: start a conversation or pick one up again."""

    def __init__(self, client: Connection) -> None:
        self._client = client

    async def create(
        self,
        model: str | Model | None = None,
        *,
        versus: str | Model | None = None,
        battle: bool = False,
    ) -> ChatSession:
        """A new conversation: one model, two side by side (``versus``), or an anonymous battle."""
        client = self._client
        if battle:
            if model is not None or versus is not None:
                raise UsageError("a battle picks its two models itself; do not name a model")
            return ChatSession(client, None, None, facts.Mode.BATTLE)
        model_a = await client.model(model or client.settings.model)
        if versus is None:
            return ChatSession(client, model_a, None, facts.Mode.DIRECT)
        model_b = await client.model(versus)
        if model_b.id == model_a.id:
            raise UsageError("side by side needs two different models")
        return ChatSession(client, model_a, model_b, facts.Mode.SIDE_BY_SIDE)

    async def resume(
        self,
        chat_id: str,
        *,
        model: str | Model | None = None,
        versus: str | Model | None = None,
    ) -> ChatSession:
        """Continue a conversation by its ``evaluationSessionId``; the site keeps its history.

        The model comes from the argument, else from this tool's conversation store, else from
        the settings' default model.
        """
        client = self._client
        chat_id = chat_id.strip()
        if not is_uuid(chat_id):
            raise ConversationNotFound(f"{chat_id!r} is not a conversation id (a UUID)")
        known = client.store.get(chat_id)
        mode = _stored_mode(known.mode) if known else facts.Mode.DIRECT
        if model is None and known is not None:
            model = known.model
        if versus is None and known is not None and known.model_b:
            versus = known.model_b
        if mode == facts.Mode.BATTLE:
            chat = ChatSession(client, None, None, mode)
        else:
            model_a = await client.model(model or client.settings.model)
            model_b = await client.model(versus) if versus else None
            if model_b is not None:
                mode = facts.Mode.SIDE_BY_SIDE
            chat = ChatSession(client, model_a, model_b, mode)
        chat.id = chat_id
        return chat

    async def latest(self) -> ChatSession:
        """The conversation this tool most recently used (``lmarena ask -c``)."""
        known = self._client.store.latest()
        if known is None:
            raise ConversationNotFound("there is no earlier conversation to continue")
        return await self.resume(known.id)


def _stored_mode(value: str) -> facts.Mode:
    try:
        return facts.Mode(value)
    except ValueError:  # "direct": the site's name for a single-model chat until mid 2026
        return facts.Mode.DIRECT


class ChatSession:
    """One conversation on the site. ``id`` is its ``evaluationSessionId`` once it exists."""

    def __init__(
        self,
        client: Connection,
        model: Model | None,
        model_b: Model | None,
        mode: facts.Mode,
    ) -> None:
        self.client = client
        self.model = model
        self.model_b = model_b
        self.mode = mode
        self.id: str | None = None
        #: The message ids (A, B) of a battle the site put into this chat that is not skipped
        #: yet (set only while a skip is due or failed; the next send skips it first).
        self.pending_battle: tuple[str, str] | None = None
        # One turn at a time: held from a send until its answer has ended.
        self._lock = asyncio.Lock()

    @property
    def modality(self) -> facts.Modality:
        """What kind of answer a send asks for: model A's modality (a battle's: chat)."""
        return self.model.modality if self.model is not None else facts.Modality.CHAT

    @overload
    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[ImageArg] | None = ...,
        stream: Literal[False] = ...,
        timeout: float | None = ...,
        rate_limit_wait: float = ...,
    ) -> Reply: ...

    @overload
    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[ImageArg] | None = ...,
        stream: Literal[True],
        timeout: float | None = ...,
        rate_limit_wait: float = ...,
    ) -> ReplyStream: ...

    @overload
    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[ImageArg] | None = ...,
        stream: bool,
        timeout: float | None = ...,
        rate_limit_wait: float = ...,
    ) -> Reply | ReplyStream: ...

    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[ImageArg] | None = None,
        stream: bool = False,
        timeout: float | None = None,
        rate_limit_wait: float = 0.0,
    ) -> Reply | ReplyStream:
        """Send one user turn. Returns a :class:`Reply`, or a :class:`ReplyStream` with ``stream``.

        ``timeout`` bounds the wait for the first answer text (default: the settings' timeout).
        ``rate_limit_wait`` is how many seconds you accept to wait out a 429 in total; by
        default a 429 raises ``RateLimited`` at once, with ``retry_after`` when the site said.
        A streaming send returns once the site has accepted the request; errors before that
        raise here, errors while streaming raise from the iteration.
        """
        if not prompt.strip() and not images:
            raise InputError("the prompt is empty")
        attachments = await self._attachments(images or [])
        reply_stream = ReplyStream(
            self.client,
            self,
            prompt,
            attachments,
            lock=self._lock,
            on_finish=self._on_finish(prompt),
            timeout=timeout,
            rate_limit_wait=rate_limit_wait,
        )
        await reply_stream.start()
        if stream:
            return reply_stream
        async for _ in reply_stream:
            pass
        return reply_stream.reply

    def _on_finish(self, prompt: str) -> Callable[[Reply], None]:
        """What a complete answer does: the conversation has its id, and is remembered."""

        def finish(reply: Reply) -> None:
            self.id = reply.evaluation_session_id
            if self.client.records:
                messages = [{"role": "user", "content": prompt}]
                if reply.text or reply.images or not reply.battle_skipped:
                    # A skipped battle with no answer leaves the turn unanswered: the
                    # conversation is remembered (for -c), its transcript gets no answer.
                    messages.append({"role": "assistant", "content": reply.text})
                self.client.record_exchange(
                    reply,
                    mode=str(self.mode),
                    model=self.model.name if self.model else None,
                    model_b=self.model_b.name if self.model_b else None,
                    messages=messages,
                )

        return finish

    async def _attachments(self, images: Sequence[ImageArg]) -> list[dict[str, str]]:
        if not images:
            return []
        models = [m for m in (self.model, self.model_b) if m is not None]
        if not models:
            raise InputError("a battle's models are not known in advance, so it takes no images")
        for model in models:
            if not model.takes_images:
                raise InputError(
                    f"{model.name} does not take images; `lmarena models --vision` "
                    "lists the models that do"
                )
        settings = self.client.settings
        loaded = []
        for index, item in enumerate(images, start=1):
            source, filename = item if isinstance(item, tuple) else (item, None)
            loaded.append(
                await load_image(
                    source,
                    filename,
                    allow_private=settings.allow_private_urls,
                    timeout=settings.timeout,
                    index=index,
                )
            )
        return [await self.client.upload(image) for image in loaded]


__all__ = ["ChatSession", "Chats", "ImageArg"]

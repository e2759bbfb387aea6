"""Conversations: ``client.chats`` (:class:`Chats`) and one conversation (:class:`ChatSession`).

A conversation is the site's ``evaluationSessionId``: the site keeps its history, this tool keeps
the models and mode it was started with (the conversation store) so that it can be picked up
again. One send of a conversation is a :class:`~.exchange.ReplyStream`; a regenerate of its latest
answer (:meth:`ChatSession.retry`) is a :class:`~.regenerate.RetryStream`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Literal, overload

from ..errors import ConversationNotFound, InputError, PromptTooLong, UsageError
from ..site import facts
from ..site.ids import is_uuid
from ..site.models import Model
from ..site.prompts import fold_system
from .attachments import Uploader
from .exchange import ReplyStream
from .recording import Recorder
from .regenerate import RetryStream, find_latest_answer
from .reply import Reply
from .turn_site import TurnSite
from .uploads import ImageSource, load_image

#: An image to send, optionally with the file name to upload it under.
ImageArg = ImageSource | tuple[ImageSource, str | None]


class Chats:
    """``client.chats``: start a conversation or pick one up again.

    Its conversations send through ``turns``, record in ``recorder`` and upload with
    ``uploader``; models are named through ``turns.catalog``.
    """

    def __init__(self, turns: TurnSite, recorder: Recorder, uploader: Uploader) -> None:
        self._turns = turns
        self._recorder = recorder
        self._uploader = uploader

    def session(self, model: Model | None, model_b: Model | None, mode: facts.Mode) -> ChatSession:
        """A conversation of these models and mode, with no id yet (nothing is checked: the
        kept server rebuilds a command's conversation with it)."""
        return ChatSession(self._turns, self._recorder, self._uploader, model, model_b, mode)

    async def create(
        self,
        model: str | Model | None = None,
        *,
        versus: str | Model | None = None,
        battle: bool = False,
        system: str | None = None,
    ) -> ChatSession:
        """A new conversation: one model, two side by side (``versus``), or an anonymous battle.

        ``system`` is a system prompt. The site has no system role, so it is folded into the
        conversation's first prompt (:func:`~lmarena_cli.site.prompts.fold_system`, exactly as
        ``lmarena serve`` folds a system message) and stored as a ``system`` turn.
        """
        turns, catalog = self._turns, self._turns.catalog
        turns.pacing.check()  # the site said to wait: refuse before a browser starts
        if battle:
            if model is not None or versus is not None:
                raise UsageError("a battle picks its two models itself; do not name a model")
            chat = self.session(None, None, facts.Mode.BATTLE)
        else:
            model_a = await catalog.model(model or turns.settings.model)
            model_b = await catalog.model(versus) if versus is not None else None
            if model_b is not None and model_b.id == model_a.id:
                raise UsageError("side by side needs two different models")
            mode = facts.Mode.DIRECT if model_b is None else facts.Mode.SIDE_BY_SIDE
            chat = self.session(model_a, model_b, mode)
        chat.system = system or None
        return chat

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
        turns, catalog = self._turns, self._turns.catalog
        turns.pacing.check()  # the site said to wait: refuse before a browser starts
        chat_id = chat_id.strip()
        if not is_uuid(chat_id):
            raise ConversationNotFound(f"{chat_id!r} is not a conversation id (a UUID)")
        known = self._recorder.store.get(chat_id)
        mode = _stored_mode(known.mode) if known else facts.Mode.DIRECT
        if model is None and known is not None:
            model = known.model
        if versus is None and known is not None and known.model_b:
            versus = known.model_b
        if mode == facts.Mode.BATTLE:
            chat = self.session(None, None, mode)
        else:
            model_a = await catalog.model(model or turns.settings.model)
            model_b = await catalog.model(versus) if versus else None
            if model_b is not None:
                mode = facts.Mode.SIDE_BY_SIDE
            chat = self.session(model_a, model_b, mode)
        chat.id = chat_id
        chat.answer_id = known.answer_id if known is not None else None
        return chat

    async def latest(self) -> ChatSession:
        """The conversation this tool most recently used (``lmarena ask -c``)."""
        known = self._recorder.store.latest()
        if known is None:
            raise ConversationNotFound("there is no earlier conversation to continue")
        return await self.resume(known.id)


def _stored_mode(value: str) -> facts.Mode:
    try:
        return facts.Mode(value)
    except ValueError:  # "direct": the site's name for a single-model chat until mid 2026
        return facts.Mode.DIRECT


class ChatSession:
    """One conversation on the site. ``id`` is its ``evaluationSessionId`` once it exists.

    Made by :class:`Chats`: its turns go through ``turns``, its exchanges to ``recorder``, its
    images through ``uploader``.
    """

    def __init__(
        self,
        turns: TurnSite,
        recorder: Recorder,
        uploader: Uploader,
        model: Model | None,
        model_b: Model | None,
        mode: facts.Mode,
    ) -> None:
        self._turns = turns
        self._recorder = recorder
        self._uploader = uploader
        self.model = model
        self.model_b = model_b
        self.mode = mode
        self.id: str | None = None
        #: A system prompt, folded into the first prompt while the conversation has no id yet.
        self.system: str | None = None
        #: The message ids (A, B) of a battle the site put into this chat that is not skipped
        #: yet (set only while a skip is due or failed; the next send skips it first).
        self.pending_battle: tuple[str, str] | None = None
        #: The site's message id of the latest answer (model A's): what :meth:`retry` asks for
        #: again. From the last send, else from the conversation store; None when not known.
        self.answer_id: str | None = None
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

        A prompt longer than the settings' ``max_prompt_chars`` once the system prompt is folded
        in raises :class:`~lmarena_cli.errors.PromptTooLong` (nothing is sent).
        ``timeout`` bounds the wait for the first answer text (default: the settings' timeout).
        ``rate_limit_wait`` is how many seconds you accept to wait out a 429 in total; by
        default only a wait the site names of at most the settings' ``max_wait`` is waited
        out, and any other 429 raises ``RateLimited`` at once (``retry_after`` when it said).
        A streaming send returns once the site has accepted the request; errors before that
        raise here, errors while streaming raise from the iteration.
        """
        if not prompt.strip() and not images:
            raise InputError("the prompt is empty")
        # Only a new conversation's first prompt carries the system prompt: afterwards the site
        # has it in the conversation's history.
        system = self.system if self.id is None else None
        content = fold_system(system, prompt)
        # The prompt as it will be sent, measured before anything leaves: the site counts an
        # oversized prompt against the account.
        limit = self._turns.settings.max_prompt_chars
        if len(content) > limit:
            raise PromptTooLong(len(content), limit)
        # Before any upload: a short wait the site asked for is waited out, a long one, a
        # flag or a model's cooldown refuses at once (protocol §15.3).
        await self._turns.pacing.wait_out(self.model, self.model_b)
        attachments = await self._attachments(images or [])
        reply_stream = ReplyStream(
            self._turns,
            self,
            content,
            attachments,
            lock=self._lock,
            on_finish=self._on_finish(prompt, system),
            timeout=timeout,
            rate_limit_wait=rate_limit_wait,
        )
        await reply_stream.start()
        if stream:
            return reply_stream
        return await reply_stream.read_reply()

    def _on_finish(self, prompt: str, system: str | None = None) -> Callable[[Reply], None]:
        """What a complete answer does: the conversation has its id, and is remembered.

        A folded system prompt is stored as a ``system`` turn before the user's own words, so
        that the transcript is the OpenAI history ``lmarena serve`` would be sent for it.
        """

        def finish(reply: Reply) -> None:
            self.id = reply.evaluation_session_id
            # A skipped battle with no answer leaves the turn unanswered: the conversation is
            # remembered (for -c), its transcript gets no answer, and there is none to retry.
            answered = bool(reply.text or reply.images or not reply.battle_skipped)
            self.answer_id = reply.a.message_id if answered else None
            if self._recorder.records:
                messages = [{"role": "user", "content": prompt}]
                if system and system.strip():
                    messages.insert(0, {"role": "system", "content": system})
                if answered:
                    messages.append({"role": "assistant", "content": reply.text})
                self._recorder.record_exchange(
                    reply,
                    mode=str(self.mode),
                    model=self.model.name if self.model else None,
                    model_b=self.model_b.name if self.model_b else None,
                    messages=messages,
                    answer_id=self.answer_id,
                )

        return finish

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
    ) -> ReplyStream: ...

    @overload
    async def retry(
        self, *, stream: bool, timeout: float | None = ..., rate_limit_wait: float = ...
    ) -> Reply | ReplyStream: ...

    async def retry(
        self, *, stream: bool = False, timeout: float | None = None, rate_limit_wait: float = 0.0
    ) -> Reply | ReplyStream:
        """Regenerate the latest answer (the site's Retry): a new answer to the last prompt,
        which replaces the old one in the conversation and in this tool's store.

        Only single-model conversations; the answer's id comes from the last send, the store,
        or the site's conversation JSON, else ``UsageError`` says it is not known. Returns and
        raises as :meth:`send` does.
        """
        if self.mode != facts.Mode.DIRECT:
            raise UsageError(
                "only a single-model conversation's answer can be regenerated, "
                f"not a {self.mode} one"
            )
        if self.id is None:
            raise UsageError("there is no answer to regenerate yet: send a prompt first")
        answer_id = self.answer_id or await find_latest_answer(self._turns.calls, self.id)
        if answer_id is None:
            raise UsageError(
                f"lmarena does not know the latest answer of the conversation {self.id} (this "
                "tool has no answer recorded for it, and the site did not say), so it cannot "
                "regenerate it; send the prompt again instead"
            )
        await self._turns.pacing.wait_out(self.model)
        retry_stream = RetryStream(
            self._turns,
            self,
            answer_id,
            lock=self._lock,
            on_finish=self._on_retry,
            timeout=timeout,
            rate_limit_wait=rate_limit_wait,
        )
        await retry_stream.start()
        if stream:
            return retry_stream
        return await retry_stream.read_reply()

    def _on_retry(self, reply: Reply) -> None:
        """A regenerated answer replaces the last one in the store's transcript."""
        self.answer_id = reply.a.message_id
        if self._recorder.records:
            self._recorder.record_retry(reply)

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
        settings = self._turns.settings
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
        return [await self._uploader.upload(image) for image in loaded]


__all__ = ["ChatSession", "Chats", "ImageArg"]

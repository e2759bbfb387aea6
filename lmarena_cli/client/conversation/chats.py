"""One conversation: :class:`ChatSession` (``client.chats`` that starts or resumes one is
:class:`~.conversations.Chats`).

A conversation is the site's ``evaluationSessionId``: the site keeps its history, this tool keeps
the models and mode it was started with (the conversation store) so that it can be picked up again.
One send of a conversation is a :class:`~..turn.exchange.ReplyStream`; a regenerate of its latest
answer (:meth:`ChatSession.retry`) is a :class:`~..turn.regenerate.RegenerateStream`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Literal, overload

from ...errors import InputError, LmArenaError, PromptTooLong, UsageError
from ...site import facts
from ...site.models import Model
from ...site.prompts import fold_history, fold_system
from ..reply import Reply
from ..session.turn_site import TurnSite
from ..turn.attachments import ImageArg, Uploader
from ..turn.exchange import ReplyStream
from ..turn.regenerate import RegenerateStream, find_latest_answer
from .carry_over import carry_over
from .recording import Recorder, image_ref
from .recycled import announce, is_recycled, stored_transcript


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
        #: The conversation this one goes on from (recycled by the site, protocol §15.3, or
        #: ended by a refused skip, §15.1) and its transcript (folded into the first prompt,
        #: stored before the first exchange), until that exchange is done.
        self._carried: tuple[str, list[dict[str, Any]]] | None = None
        #: The carried turns of the latest send ([] when none): ``serve`` stores them with its
        #: turn.
        self.carried: list[dict[str, Any]] = []
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
        self._carry_ended()
        content, system = self._content(prompt)
        # Before any upload: a short wait the site asked for is waited out, a long one, a
        # flag or a model's cooldown refuses at once (protocol §15.3).
        await self._turns.pacing.wait_out(self.model, self.model_b)
        attachments = await self._attachments(images or [])
        given = (prompt, [image_ref(image) for image in images or []])
        try:
            reply_stream = await self._start(
                content, attachments, given, system, timeout, rate_limit_wait
            )
        except LmArenaError as error:
            if not (self._recorder.records and is_recycled(error, self.id)) or not self._anew():
                raise
            content, system = self._content(prompt)
            reply_stream = await self._start(
                content, attachments, given, system, timeout, rate_limit_wait
            )
        if stream:
            return reply_stream
        return await reply_stream.read_reply()

    def _content(self, prompt: str) -> tuple[str, str | None]:
        """The prompt as it will be sent, and the system prompt folded into it (if any).

        Only a new conversation's first prompt carries the system prompt (afterwards the site
        has it in the conversation's history), or the transcript of the recycled conversation it
        goes on from. Measured before anything leaves: the site counts an oversized prompt
        against the account, so one over ``max_prompt_chars`` raises PromptTooLong.
        """
        system = self.system if self.id is None else None
        if self.id is None and self._carried is not None:
            content = fold_history(self._carried[1], prompt)
        else:
            content = fold_system(system, prompt)
        limit = self._turns.settings.max_prompt_chars
        if len(content) > limit:
            raise PromptTooLong(len(content), limit)
        return content, system

    async def _start(
        self,
        content: str,
        attachments: list[dict[str, str]],
        given: tuple[str, list[str | None]],
        system: str | None,
        timeout: float | None,
        rate_limit_wait: float,
    ) -> ReplyStream:
        reply_stream = ReplyStream(
            self._turns,
            self,
            content,
            attachments,
            lock=self._lock,
            on_finish=self._on_finish(*given, system),
            timeout=timeout,
            rate_limit_wait=rate_limit_wait,
        )
        await reply_stream.start()
        return reply_stream

    def _carry_ended(self) -> None:
        """A conversation the site will not let go on (a refused skip, protocol §15.1) goes on
        in a new one that carries its stored transcript; a turn of one that already did goes to
        its successor (:mod:`.carry_over`)."""
        self.carried = []
        if self.id is None:
            return
        self.id, carried = carry_over(self._recorder, self.id)
        if carried is not None:
            self._carried = (carried.old_id, list(carried.transcript))
            self.carried = list(carried.transcript)
            self.id, self.answer_id, self.pending_battle, self.system = None, None, None, None

    def _anew(self) -> bool:
        """The site recycled this conversation (protocol §15.3, :mod:`.recycled`): the next send
        starts a new one that carries the stored transcript (the system prompt is in it).
        False when this tool has no transcript of it: then the 404 stands."""
        old = self.id
        assert old is not None
        transcript = stored_transcript(self._recorder, old)
        if not transcript:
            return False
        announce(old, transcript)
        self._carried = (old, transcript)
        self.carried = list(transcript)
        self.id, self.answer_id, self.pending_battle, self.system = None, None, None, None
        return True

    def cannot_go_on(self, conversation_id: str, reason: str) -> None:
        """The site will not let the conversation go on (protocol §15.1): remembered, so that
        its next turn, in any process, starts a new one with its history (:mod:`.carry_over`)."""
        self.id = conversation_id
        self._recorder.end(conversation_id, reason)

    def _on_finish(
        self, prompt: str, images: list[str | None], system: str | None = None
    ) -> Callable[[Reply], None]:
        """What a complete answer does: the conversation has its id, and is remembered.

        A folded system prompt is stored as a ``system`` turn before the user's own words, so
        that the transcript is the OpenAI history ``lmarena serve`` would be sent for it; a
        carried conversation's transcript comes first, and the old conversation is linked to
        this one (every process then goes on here).
        """

        def finish(reply: Reply) -> None:
            self.id = reply.evaluation_session_id
            carried, self._carried = self._carried, None
            # A skipped battle with no answer leaves the turn unanswered: the conversation is
            # remembered (for -c), its transcript gets no answer, and there is none to retry.
            answered = bool(reply.text or reply.images or not reply.battle_skipped)
            self.answer_id = reply.a.message_id if answered else None
            if carried is not None:
                self._recorder.record_link(carried[0], self.id)
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
                    messages=(carried[1] if carried else []) + messages,
                    answer_id=self.answer_id,
                    images=images,
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
        regenerated = RegenerateStream(
            self._turns,
            self,
            answer_id,
            lock=self._lock,
            on_finish=self._on_retry,
            timeout=timeout,
            rate_limit_wait=rate_limit_wait,
        )
        await regenerated.start()
        if stream:
            return regenerated
        return await regenerated.read_reply()

    def _on_retry(self, reply: Reply) -> None:
        """A regenerated answer replaces the last one in the store's transcript."""
        self.answer_id = reply.a.message_id
        if self._recorder.records:
            self._recorder.record_retry(reply)

    async def _attachments(self, images: Sequence[ImageArg]) -> list[dict[str, str]]:
        models = [m for m in (self.model, self.model_b) if m is not None]
        return await self._uploader.upload_all(images, models, self._turns.settings)


__all__ = ["ChatSession", "ImageArg"]

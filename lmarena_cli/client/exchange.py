"""One exchange: :class:`ReplyStream`, a send and its answer as it streams.

A send is: a fresh reCAPTCHA token from the browser, a request body with fresh UUIDv7 ids, the POST
made through the client's HTTP object (:class:`~.http.SiteHttp`: the browser's cookies and
User-Agent), and the answer parsed line by line as it streams. Failures before any answer text may
start a new attempt, as :class:`~.retry.RetryPolicy` decides; every failure ends in an exception
from :mod:`errors`. The conversation API around it (``Client``, ``ChatSession``) is in
:mod:`.client` and :mod:`.chats`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol, TypedDict

from ..errors import ErrorKind, IncompleteAnswer, LmArenaError, Timeout
from ..site import facts
from ..site.bodies import MessageIds, create_evaluation_body, post_to_evaluation_body
from ..site.classify import error_from_stream
from ..site.events import (
    Citation,
    Event,
    Finish,
    Heartbeat,
    ImageOutput,
    RawEvent,
    ReasoningDelta,
    StreamError,
    TextDelta,
)
from ..site.ids import uuid7
from ..site.models import Model
from ..site.stream import StreamParser
from .connection import Connection
from .http import read_chunk
from .reply import Answer, Reply
from .retry import RetryPolicy

if TYPE_CHECKING:
    import aiohttp


class Conversation(Protocol):
    """What a send needs to know of its conversation (a :class:`~.chats.ChatSession`)."""

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

    @property
    def modality(self) -> facts.Modality:
        """What kind of answer is wanted (model A's modality)."""
        ...


class _BodyFields(TypedDict):
    """What the create-evaluation and post-to-evaluation bodies take alike (protocol §1.5, §7.2)."""

    modality: facts.Modality
    model_a_id: str | None
    model_b_id: str | None
    ids: MessageIds
    content: str
    attachments: list[dict[str, str]]
    recaptcha_token: str


class ReplyStream:
    """An answer as it arrives. Iterate for model A's text deltas; :meth:`events` for all.

    Made by ``ChatSession.send``, which passes the conversation's ``lock`` (held from
    :meth:`start` until the answer ends: one turn at a time) and ``on_finish``, called with the
    whole reply once it is complete.
    """

    def __init__(
        self,
        connection: Connection,
        chat: Conversation,
        prompt: str,
        attachments: list[dict[str, str]],
        *,
        lock: asyncio.Lock,
        on_finish: Callable[[Reply], None],
        timeout: float | None,
        rate_limit_wait: float,
    ) -> None:
        self._connection = connection
        self._chat = chat
        self._prompt = prompt
        self._attachments = attachments
        self._timeout = timeout or connection.settings.timeout
        self._started = time.monotonic()
        self._first_token: float | None = None
        self._response: aiohttp.ClientResponse | None = None
        self._ids = MessageIds.fresh()
        self._session_id = chat.id or uuid7()
        self._reply: Reply | None = None
        self._policy = RetryPolicy(
            refresh=connection.refresh_session, rate_limit_wait=rate_limit_wait
        )
        self._lock = lock
        self._on_finish = on_finish
        self._done = False

    @property
    def reply(self) -> Reply:
        """The whole reply so far; complete once iteration has ended."""
        if self._reply is None:
            self._reply = self._new_reply()
        return self._reply

    @property
    def evaluation_session_id(self) -> str:
        """The conversation's id; a new conversation's may change on a retry before any text."""
        return self._session_id

    async def start(self) -> None:
        """Make the request and wait until the site accepts it (status 200)."""
        await self._lock.acquire()
        try:
            await self._open()
        except BaseException:
            self._lock.release()
            raise

    def __aiter__(self) -> AsyncIterator[str]:
        return self._text_deltas()

    async def _text_deltas(self) -> AsyncIterator[str]:
        async for event in self.events():
            if isinstance(event, TextDelta) and event.side == "a":
                yield event.text

    async def events(self) -> AsyncGenerator[Event, None]:
        """Every typed event (text, reasoning, image, citation, finish, error, raw) as it comes."""
        if self._done:
            return
        try:
            async for event in self._attempts():
                yield event
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop reading; the site is told by the closed connection."""
        self._done = True
        await self._close_response()
        if self._lock.locked():
            self._lock.release()

    # -- the attempt loop -----------------------------------------------------------------------

    def _new_reply(self) -> Reply:
        chat = self._chat
        answers = [
            Answer(
                "a",
                model=chat.model.name if chat.model else None,
                model_id=chat.model.id if chat.model else None,
                message_id=self._ids.model_a,
            )
        ]
        if chat.mode in (facts.Mode.SIDE_BY_SIDE, facts.Mode.BATTLE):
            answers.append(
                Answer(
                    "b",
                    model=chat.model_b.name if chat.model_b else None,
                    model_id=chat.model_b.id if chat.model_b else None,
                    message_id=self._ids.model_b,
                )
            )
        return Reply(self._session_id, chat.mode, answers, self._ids.user)

    def _new_attempt(self) -> None:
        """Every attempt gets fresh ids: the site refuses ids it has already seen (400)."""
        self._ids = MessageIds.fresh()
        if self._chat.id is None:
            self._session_id = uuid7()
        self._reply = None
        self._first_token = None

    async def _open(self) -> None:
        """Send the request, retrying what may be retried before any answer text exists."""
        while True:
            try:
                self._response = await self._post()
                return
            except LmArenaError as error:
                await self._policy.recover_or_raise(error)
            self._new_attempt()

    async def _post(self) -> aiohttp.ClientResponse:
        """One POST of the prompt: 200 gives the streaming response, anything else raises."""
        connection, chat = self._connection, self._chat
        state = await connection.current_state()
        token = await connection.mint_token(facts.ACTION_CHAT_SUBMIT)
        fields = _BodyFields(
            modality=chat.modality,
            model_a_id=chat.model.id if chat.model else None,
            model_b_id=chat.model_b.id if chat.model_b else None,
            ids=self._ids,
            content=self._prompt,
            attachments=self._attachments,
            recaptcha_token=token,
        )
        if chat.id is None:
            body = create_evaluation_body(session_id=self._session_id, mode=chat.mode, **fields)
            path, referer = facts.CREATE_EVALUATION, facts.CHAT_PAGE
        else:
            body = post_to_evaluation_body(session_id=chat.id, **fields)
            path = facts.POST_TO_EVALUATION.format(session_id=chat.id)
            referer = facts.conversation_page(chat.id)
        # The wait for the answer to start counts against the first-token timeout too.
        left = max(0.0, self._started + self._timeout - time.monotonic())
        return await connection.http.post_stream(
            state, path, referer=referer, body=body, wait=left, timeout=self._timeout
        )

    async def _close_response(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    async def _attempts(self) -> AsyncIterator[Event]:
        """Read the answer; before any text, failures may start a new attempt (see _open)."""
        while True:
            if self._response is None:
                self._new_attempt()
                await self._open()
            produced_text = False
            try:
                async for event in self._read():
                    if isinstance(event, TextDelta | ImageOutput | ReasoningDelta):
                        produced_text = True
                    yield event
                if self._chat.mode == facts.Mode.BATTLE:
                    await self._connection.reveal_models(self.reply)
                self._finish()
                return
            except LmArenaError as error:
                await self._close_response()
                if produced_text or self._reply_has_content():
                    error.partial = self.reply.text
                    raise
                await self._policy.recover_or_raise(error)

    def _reply_has_content(self) -> bool:
        return any(a.text or a.images or a.reasoning for a in self.reply.answers)

    async def _read(self) -> AsyncIterator[Event]:
        """Parse the response body into events, with first-token and idle timeouts."""
        assert self._response is not None
        response = self._response
        parser = StreamParser()
        reply = self.reply
        sides = {answer.side for answer in reply.answers}
        finished: set[str] = set()
        first_deadline = self._started + self._timeout
        idle = self._connection.settings.idle_timeout
        alive = False  # bytes came (heartbeats count) though maybe no answer text yet
        while True:
            wait = (
                idle
                if self._first_token is not None
                else max(0.0, first_deadline - time.monotonic())
            )
            try:
                chunk = await read_chunk(response, wait)
            except TimeoutError:
                what = (
                    "between two parts of the answer" if self._first_token else "for a first answer"
                )
                sent = "only keep-alives" if alive and not self._first_token else "nothing"
                raise Timeout(
                    f"the site sent {sent} for {wait:.0f} s {what}", kind=ErrorKind.TIMEOUT
                ) from None
            events = parser.feed(chunk) if chunk else parser.close()
            alive = alive or bool(chunk)
            for event in events:
                self._apply(event, reply, finished)
                if isinstance(event, StreamError):
                    raise error_from_stream(event.message)
                if not isinstance(event, Heartbeat):
                    yield event
            if sides <= finished or not chunk:
                break
        if not self._reply_has_content():
            # Also when finish lines came: heartbeats and "stop" with no text or image is the
            # "no content" failure of protocol §2.3/§8.2, retried with fresh ids, never an
            # empty answer handed over as if it were one.
            raise IncompleteAnswer("the site's answer was empty", kind=ErrorKind.EMPTY)
        if sides <= finished or (finished and self._unfinished_have_content(finished)):
            # A clean end of the body after one side's finish line, with text from every side,
            # is a whole answer even when the site left out the other side's finish line.
            return
        raise IncompleteAnswer(
            "the answer was cut off: the stream ended without a finish line", kind=ErrorKind.CUT
        )

    def _unfinished_have_content(self, finished: set[str]) -> bool:
        return all(
            a.text or a.images or a.reasoning for a in self.reply.answers if a.side not in finished
        )

    def _apply(self, event: Event, reply: Reply, finished: set[str]) -> None:
        answer = next((a for a in reply.answers if a.side == event.side), None)
        if answer is None:
            return
        if isinstance(event, TextDelta | ImageOutput) and self._first_token is None:
            self._first_token = time.monotonic()
        if isinstance(event, TextDelta):
            answer.text += event.text
        elif isinstance(event, ReasoningDelta):
            answer.reasoning += event.text
        elif isinstance(event, ImageOutput):
            answer.images.append(event.url)
        elif isinstance(event, Citation):
            answer.citations.append({"url": event.url, "title": event.title})
        elif isinstance(event, Finish):
            answer.finish_reason = event.finish_reason
            answer.usage = event.usage
            finished.add(event.side)
        elif isinstance(event, StreamError):
            answer.error = event.message
        elif isinstance(event, RawEvent):
            _reveal_model(answer, event)

    def _finish(self) -> None:
        reply = self.reply
        now = time.monotonic()
        reply.timings = {
            "first_token": None if self._first_token is None else self._first_token - self._started,
            "total": now - self._started,
        }
        self._on_finish(reply)


def _reveal_model(answer: Answer, event: RawEvent) -> None:
    """Battles hide the models; when a line names one, keep it."""
    value = event.value
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict):
            for key in ("modelName", "publicName", "model"):
                if isinstance(item.get(key), str):
                    answer.model = item[key]
            if isinstance(item.get("modelId"), str):
                answer.model_id = item["modelId"]


__all__ = ["Conversation", "ReplyStream"]

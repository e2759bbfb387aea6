"""One exchange: :class:`ReplyStream`, a send and its answer as it streams.

A send is: a fresh reCAPTCHA token, a request body with fresh UUIDv7 ids, the POST made through the
client's transport (:class:`~..transport.site_transport.SiteTransport`: aiohttp or the browser's
page), and the answer parsed as it streams. Failures before any answer text may start a new attempt,
as :class:`~..session.retry.RetryPolicy` decides; every failure ends in an exception from
:mod:`errors`. What the turn is doing, and every move between phases, is :class:`~.flow.TurnFlow`'s;
this module does the I/O. The conversation API around it is in :mod:`..client` and
:mod:`..conversation.chats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING

from ...errors import ErrorKind, IncompleteAnswer, LmArenaError
from ...site import facts
from ...site.bodies import (
    BodyFields,
    MessageIds,
    create_evaluation_body,
    post_to_evaluation_body,
)
from ...site.events import Event, ImageOutput, ReasoningDelta, TextDelta
from ...site.ids import uuid7
from ..reply import Answer, Reply, SkippedBattle, TextStream
from ..session.turn_site import Conversation, TurnSite
from . import battles
from .first_lines import FirstLines
from .flow import BattleSeen, HoldDue, Phase, ReadEnd, TurnFlow
from .reading import AnswerReading, reply_has_content

if TYPE_CHECKING:
    from ..transport.base import AnswerBody

_log = logging.getLogger("lmarena")


class ReplyStream(TextStream):
    """An answer as it arrives. Iterate for model A's text deltas; :meth:`events` for all.

    Made by ``ChatSession.send``, which passes the conversation's ``lock`` (held from
    :meth:`start` until the answer ends: one turn at a time) and ``on_finish``, called with the
    whole reply once it is complete (and when a skipped battle left the turn without an answer);
    its phases and their transitions are :class:`~.flow.TurnFlow`'s (:attr:`phase`).

    **A single-model chat the site answers as a battle** (protocol §14.5): a ``b`` line in a
    ``direct-battle`` conversation means two anonymous models are answering. The battle's stream
    is read to its end and dropped, the battle is skipped with its message ids, and the skip's
    stream (the chosen model's answer) is what this object yields; ``reply.battle_skipped`` says
    so, and :meth:`events` yields that :class:`~..reply.SkippedBattle` once the skip is done. An
    empty skip raises ``UpstreamError`` (kind ``battle_turn``) saying to send the prompt again;
    the conversation stays usable. A turn refused because an earlier battle was never skipped is
    unstuck the same way (ids remembered, or read from the site's conversation JSON), then sent.

    *The hold* (protocol §15.1): from the conversation's second turn on, side A's content is
    held back from its first content event until any ``b`` line, A's finish line, or the turn's
    hold (``TurnSite.battle_hold``: ``LM_ARENA_BATTLE_HOLD``, 1 s), whichever comes first; a new
    chat's first turn is never held (no battle was ever seen there). *The limit*: a ``b`` line
    later than that finds A's text already handed over; a warning says that text was an
    anonymous model's, it is never part of ``reply.text``, ``battle_skipped.anonymous_text_shown``
    is true, and the chosen model's answer follows. ``reply.timings`` keeps the offsets of the
    first ``a`` and ``b`` lines (:mod:`.first_lines`). Side by side and battle are never held.
    """

    def __init__(
        self,
        turns: TurnSite,
        chat: Conversation,
        prompt: str,
        attachments: list[dict[str, str]],
        *,
        lock: asyncio.Lock,
        on_finish: Callable[[Reply], None],
        timeout: float | None,
        rate_limit_wait: float,
    ) -> None:
        self._turns = turns
        self._chat = chat
        self._prompt = prompt
        self._attachments = attachments
        self._timeout = timeout or turns.settings.timeout
        self._started = time.monotonic()
        #: Since when a first answer is awaited (a skip starts a new wait).
        self._waiting_since = self._started
        self._first_token: float | None = None
        #: When the current answer's status came (its first byte is awaited from then).
        self._accepted = self._started
        self._response: AnswerBody | None = None
        self._ids = MessageIds.fresh(turns.clock)
        self._session_id = chat.id or uuid7(turns.clock)
        self._reply: Reply | None = None
        self._policy = turns.calls.send_policy(rate_limit_wait=rate_limit_wait)
        self._lock = lock
        self._holds_lock = False  # whether this turn holds the lock (from start(), let go once)
        self._on_finish = on_finish
        self._lines = FirstLines(watch=self._watches())
        self._flow = TurnFlow(
            watch=self._watches(),
            # No source shows a battle on a new chat's first turn (protocol §15.1): not held.
            hold=turns.battle_hold if chat.id is not None else 0.0,
            pending_battle=chat.pending_battle,
            on_pending=self._note_pending,
        )

    @property
    def reply(self) -> Reply:  # the whole reply so far; complete once iteration has ended
        if self._reply is None:
            self._reply = self._new_reply()
        return self._reply

    @property
    def evaluation_session_id(self) -> str:
        """The conversation's id; a new conversation's may change on a retry before any text."""
        return self._session_id

    @property
    def phase(self) -> Phase:
        """What this turn is doing now (:class:`~.flow.Phase`)."""
        return self._flow.phase

    @property
    def phases(self) -> tuple[Phase, ...]:
        """Every phase this turn was in, in order."""
        return tuple(self._flow.history)

    async def start(self) -> None:
        """Make the request and wait until the site accepts it (status 200)."""
        # The site said to wait, or rate-limits this model (§15.3): refuse before touching it.
        self._turns.pacing.check(self._chat.model, self._chat.model_b)
        await self._lock.acquire()
        self._holds_lock = True
        try:
            await self._open()
        except BaseException:
            self._flow.fail()
            self._release()
            raise

    async def events(self) -> AsyncGenerator[Event | SkippedBattle, None]:
        """Every typed event (text, reasoning, image, citation, finish, error, raw) as it comes;
        also a :class:`~..reply.SkippedBattle` when a battle was skipped (see the class doc)."""
        if self._flow.ended:
            return
        try:
            async for event in self._attempts():
                yield event
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop reading; the closed connection tells the site (the page aborts its fetch)."""
        self._flow.fail()  # stopped before the end (nothing changes once done)
        await self._close_response()
        self._release()

    def _release(self) -> None:
        """Let the conversation's next send go, once (never the lock a next turn has taken)."""
        if self._holds_lock:
            self._holds_lock = False
            self._lock.release()

    # -- the attempt loop -----------------------------------------------------------------------

    def _watches(self) -> bool:
        """Whether the answer is watched (and held) for a battle: a single-model chat's."""
        return self._chat.mode == facts.Mode.DIRECT

    def _note_pending(self, ids: tuple[str, str] | None) -> None:
        """The flow's pending battle is the conversation's: its next send skips it first."""
        self._chat.pending_battle = ids

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
        reply = Reply(self._session_id, chat.mode, answers, self._ids.user)
        reply.battle_skipped = self._flow.skipped
        return reply

    def _new_attempt(self) -> None:
        """Every attempt gets fresh ids: the site refuses ids it has already seen (400)."""
        clock = self._turns.clock  # the site's clock, as last learned (§14.3)
        self._ids = MessageIds.fresh(clock)
        if self._chat.id is None:
            self._session_id = uuid7(clock)
        self._reply = None
        self._first_token = None

    async def _open(self) -> None:
        """Send the request, retrying what may be retried before any answer text exists."""
        while True:
            try:
                self._response = await self._post()
                self._accepted = time.monotonic()
                self._turns.pacing.accepted()
                self._flow.accepted((self._ids.model_a, self._ids.model_b))
                return
            except LmArenaError as error:
                if error.kind == ErrorKind.BATTLE_TURN and self._flow.may_unstick():
                    await self._unstick(error)
                else:
                    await self._policy.recover_or_raise(error)
            self._flow.move(Phase.SENDING)
            self._new_attempt()

    async def _unstick(self, error: LmArenaError) -> None:
        """The site refuses this turn until an earlier battle is skipped: skip it (its answer
        belongs to that earlier turn and is dropped), so that the turn can be sent again."""
        turns, session_id = self._turns, self._chat.id or self._session_id
        ids = self._flow.pending_battle or await battles.find_unskipped(turns.calls, session_id)
        if ids is None:
            raise battles.stuck_error(session_id, turns.settings.base_url, error)
        self._flow.found_battle(ids)
        new_id, response = await battles.post_skip(
            turns, session_id, *ids, timeout=self._timeout, on_refused=self._chat.cannot_go_on
        )
        skipped = SkippedBattle(*ids, new_id, answered=False, earlier_turn=True)
        self._flow.skipping(skipped, earlier=True)
        await battles.drain(response, turns.settings.idle_timeout)
        _log.info("skipped an anonymous battle the site had left in an earlier turn")

    async def _post(self) -> AnswerBody:
        """One POST of the prompt: 200 gives the streaming response, anything else raises."""
        turns, chat = self._turns, self._chat
        state = await turns.session.current_state()
        # Its turn (LM_ARENA_MIN_INTERVAL, penalties) is part of the wait for the first token.
        token = await turns.send_token(self._started + self._timeout)
        # Ids minted now, after the bootstrap that may have learned the site's clock (§14.3).
        self._new_attempt()
        fields = BodyFields(
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
        self._lines.sent(time.monotonic())
        return await turns.http.post_stream(
            state, path, referer=referer, body=body, wait=left, timeout=self._timeout
        )

    async def _close_response(self) -> None:
        if self._response is not None:
            response, self._response = self._response, None
            await response.aclose()

    async def _attempts(self) -> AsyncIterator[Event | SkippedBattle]:
        """Read the answer; before any text, failures may start a new attempt (see _open)."""
        flow = self._flow
        while True:
            if self._response is None:
                self._new_attempt()
                await self._open()
            produced_text = False
            earlier = flow.take_announcement()
            if earlier is not None:
                yield earlier
            try:
                try:
                    async for event in self._read():
                        if isinstance(event, TextDelta | ImageOutput | ReasoningDelta):
                            produced_text = True
                        yield event
                except BattleSeen as seen:
                    async for item in self._skip_battle(seen.shown):
                        yield item
                if self._chat.mode == facts.Mode.BATTLE:
                    await self._turns.catalog.reveal(self.reply)
                self._finish()
                return
            except LmArenaError as error:
                await self._close_response()
                if produced_text or reply_has_content(self.reply):
                    error.partial = self.reply.text
                    raise
                if flow.phase is not Phase.STREAMING:
                    raise  # this turn was the battle: another attempt would be another turn
                await self._policy.recover_or_raise(error)
                flow.move(Phase.SENDING)

    async def _skip_battle(self, shown: bool) -> AsyncIterator[Event | SkippedBattle]:
        """This turn is an anonymous battle (``battle found``): drop it, skip it, and read the
        chosen model's answer from the skip (see the class docstring)."""
        assert self._response is not None and self._flow.pending_battle is not None
        turns, ids = self._turns, self._flow.pending_battle
        model = self._chat.model.name if self._chat.model else None
        if shown:
            _log.warning(
                "the site turned this turn into an anonymous battle after its first text was "
                f"shown: that text is an anonymous model's answer, not {model}'s; skipping the "
                "battle"
            )
        response, self._response = self._response, None
        self._reply, self._first_token = None, None  # the anonymous answer is dropped
        self._lines.close()
        await battles.drain(response, turns.settings.idle_timeout)
        self._waiting_since = time.monotonic()
        new_id, self._response = await battles.post_skip(
            turns, self._session_id, *ids, timeout=self._timeout, on_refused=self._chat.cannot_go_on
        )
        self._accepted = time.monotonic()
        skipped = SkippedBattle(*ids, new_id, answered=True, anonymous_text_shown=shown)
        self._flow.skipping(skipped)
        self._flow.accepted(ids)
        self._reply = None
        self.reply.a.message_id = new_id
        announced = False
        try:
            async for event in self._read():
                if not announced:  # said before the chosen model's answer, once it comes
                    announced = True
                    yield skipped
                yield event
        except IncompleteAnswer as error:
            if error.kind != ErrorKind.EMPTY:
                raise
            self._flow.skipped = SkippedBattle(
                *ids, new_id, answered=False, anonymous_text_shown=shown
            )
            self.reply.battle_skipped = self._flow.skipped
            self._on_finish(self.reply)  # the conversation exists, and goes on from here
            raise battles.no_answer_error(model, self._session_id) from None

    async def _read(self) -> AsyncIterator[Event]:
        """The current response read into events and into the reply (``AnswerReading``); what
        is handed over, and when, is the flow's (:meth:`~.flow.TurnFlow.pass_on`)."""
        assert self._response is not None
        flow = self._flow
        reading = AnswerReading(
            self._response,
            self.reply,
            first_deadline=self._waiting_since + self._timeout,
            idle=self._turns.settings.idle_timeout,
            wake=flow.deadline,
            first_byte_timeout=self._turns.settings.first_byte_timeout,
            accepted=self._accepted,
        )
        try:
            async with contextlib.aclosing(reading.steps()) as steps:
                async for step in steps:
                    now = time.monotonic()
                    if not isinstance(step, HoldDue | ReadEnd):
                        self._lines.see(step, now)
                    for event in flow.pass_on(step, now):
                        yield event
                    if isinstance(step, ReadEnd) and step.error is not None:
                        raise step.error
        finally:
            self._first_token = reading.first_token

    def _finish(self) -> None:
        reply = self.reply
        now = time.monotonic()
        reply.timings = {
            "first_token": None if self._first_token is None else self._first_token - self._started,
            "total": now - self._started,
            **self._lines.timings(self._flow.hold),
        }
        self._lines.log(self._flow.hold)
        self._flow.move(Phase.DONE)
        self._on_finish(reply)


__all__ = ["Conversation", "ReplyStream"]

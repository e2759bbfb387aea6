"""Reading one answer body: :class:`AnswerReading`, the site's stream into steps and a reply.

The first-byte, first-token and idle timeouts and the end checks (an empty answer, one cut
off before its finish line). What the caller gets of each event, and when (the battle hold of a
single-model chat), is :class:`~.flow.TurnFlow`'s: the reading wakes it when the hold's
time comes (:data:`~.flow.HOLD_DUE`) and ends with a :class:`~.flow.ReadEnd` that
carries the failure, if any, so that held events are handed over before it is raised.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING

from ...errors import Advice, ErrorKind, IncompleteAnswer, LmArenaError, TimedOut
from ...site.classify import error_from_stream
from ...site.events import (
    Event,
    Finish,
    ImageOutput,
    RawEvent,
    StreamError,
    TextDelta,
)
from ...site.stream import StreamParser
from ..reply import Answer, Reply
from ..transport.http import NO_FIRST_ANSWER_HINT
from .flow import HOLD_DUE, ReadEnd, Step

if TYPE_CHECKING:
    from ..transport.base import AnswerBody


def reply_has_content(reply: Reply) -> bool:
    """Whether any side said anything (text, images or reasoning)."""
    return any(a.text or a.images or a.reasoning for a in reply.answers)


class AnswerReading:
    """One response body (either transport's :class:`~..transport.base.AnswerBody`) read into
    :meth:`steps` and into ``reply`` as they come.

    ``first_deadline`` (monotonic) bounds the wait for the first answer text, ``idle`` the
    silence after it. ``first_byte_timeout`` (seconds from ``accepted``, the monotonic time the
    status came; None: not watched) bounds the wait for the body's first byte: the site may send
    its status and headers and then nothing at all (protocol §15.3, "200 with no data"), which
    ends the reading with a ``TimedOut`` of kind ``no_data`` long before the first-token timeout
    would; any byte counts, a heartbeat too. ``wake`` says when the caller's hold is due (None:
    no hold runs).
    """

    def __init__(
        self,
        response: AnswerBody,
        reply: Reply,
        *,
        first_deadline: float,
        idle: float,
        wake: Callable[[], float | None],
        first_byte_timeout: float | None = None,
        accepted: float | None = None,
    ) -> None:
        self._response = response
        self._first_byte_timeout = first_byte_timeout
        self._first_byte = (
            None
            if first_byte_timeout is None
            else (time.monotonic() if accepted is None else accepted) + first_byte_timeout
        )
        self.reply = reply
        self._first_deadline = first_deadline
        self._idle = idle
        self._wake = wake
        #: When the first answer text (or image) came; None until then.
        self.first_token: float | None = None

    async def steps(self) -> AsyncGenerator[Step, None]:
        """The body's events as they come (heartbeats and error lines too), :data:`HOLD_DUE`
        when the hold's time comes first, and last a :class:`ReadEnd` (never a raise of the
        library's errors: they travel in it)."""
        response, reply, idle = self._response, self.reply, self._idle
        first_deadline = self._first_deadline
        parser = StreamParser()
        sides = {answer.side for answer in reply.answers}
        finished: set[str] = set()
        alive = False  # bytes came (heartbeats count) though maybe no answer text yet
        try:
            while True:
                wait = (
                    idle
                    if self.first_token is not None
                    else max(0.0, first_deadline - time.monotonic())
                )
                # Nothing yet, not even a heartbeat: the first-byte watchdog, when it is the
                # nearer of the two (protocol §15.3).
                byte_due = self._first_byte if not alive else None
                silent = byte_due is not None and byte_due < first_deadline
                if silent:
                    assert byte_due is not None
                    wait = min(wait, max(0.0, byte_due - time.monotonic()))
                due = self._wake()
                hold_left = None if due is None else max(0.0, due - time.monotonic())
                try:
                    chunk = await response.read(wait if hold_left is None else min(wait, hold_left))
                except TimeoutError:
                    if hold_left is not None and hold_left < wait:
                        yield HOLD_DUE  # the hold is over: no battle so far
                        continue
                    if silent:
                        raise no_data_error(self._first_byte_timeout or 0.0) from None
                    raise self._silence(wait, alive) from None
                events = parser.feed(chunk) if chunk else parser.close()
                alive = alive or bool(chunk)
                for event in events:
                    self._apply(event, reply, finished)
                    yield event
                    if isinstance(event, StreamError):
                        raise error_from_stream(event.message)
                if sides <= finished or not chunk:
                    break
            self._check_end(sides, finished)
        except LmArenaError as error:
            yield ReadEnd(error)
            return
        yield ReadEnd()

    def _silence(self, wait: float, alive: bool) -> TimedOut:
        what = "between two parts of the answer" if self.first_token else "for a first answer"
        sent = "only keep-alives" if alive and not self.first_token else "nothing"
        hint = "" if self.first_token else NO_FIRST_ANSWER_HINT
        return TimedOut(
            f"the site sent {sent} for {wait:.0f} s {what}{hint}",
            kind=ErrorKind.TIMEOUT,
            advice=None if self.first_token else Advice.CHECK_ACCOUNT,
        )

    def _check_end(self, sides: set[str], finished: set[str]) -> None:
        """Raise when the body ended without a whole answer."""
        if not reply_has_content(self.reply):
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
        if isinstance(event, TextDelta | ImageOutput) and self.first_token is None:
            self.first_token = time.monotonic()
        if answer.add(event):
            return
        if isinstance(event, Finish):
            answer.finish_reason = event.finish_reason
            answer.usage = event.usage
            finished.add(event.side)
        elif isinstance(event, StreamError):
            answer.error = event.message
        elif isinstance(event, RawEvent):
            _reveal_model(answer, event)


def no_data_error(seconds: float) -> TimedOut:
    """The site took the message (status and headers came) and then sent no byte of its answer
    within ``seconds`` (protocol §15.3): a failure of its own, never resent automatically (the
    site may still be working on the message); the conversation goes on with the next send."""
    return TimedOut(
        f"the site accepted the message but sent nothing for {seconds:.0f} s "
        "(LM_ARENA_FIRST_BYTE_TIMEOUT); it was not sent again: send it again to retry, the "
        "conversation goes on",
        kind=ErrorKind.NO_DATA,
    )


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


__all__ = ["AnswerReading", "no_data_error", "reply_has_content"]

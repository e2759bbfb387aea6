"""Regenerate: :class:`RegenerateStream`, the site's Retry of a conversation's latest answer.

``PUT /nextjs-api/stream/retry-evaluation-session-message/{id}/messages/{answer id}`` with a
reCAPTCHA token minted for the action ``chat_retry`` (protocol §7.4). The site answers with the
same line stream as a send, under the same message id, and the new answer replaces the old one in
the conversation. Everything else (the first-token and idle timeouts, the retry policy before any
text, the end checks, the lock of one turn at a time) is :class:`~.exchange.ReplyStream`'s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...site import facts
from ...site.bodies import retry_body
from ...site.evaluation import latest_answer_id
from ..reply import Reply
from ..session.site_calls import SiteCalls
from ..session.turn_site import Conversation, TurnSite
from .exchange import ReplyStream

if TYPE_CHECKING:
    from ..transport.base import AnswerBody


class RegenerateStream(ReplyStream):
    """The new answer to a conversation's last prompt as it streams (``ChatSession.retry``).

    ``answer_id`` is the site's id of the answer asked for again; the reply keeps it as model A's
    ``message_id`` (the site answers under the same id). There is no user message in a retry:
    ``reply.user_message_id`` is empty.
    """

    def __init__(
        self,
        turns: TurnSite,
        chat: Conversation,
        answer_id: str,
        *,
        lock: asyncio.Lock,
        on_finish: Callable[[Reply], None],
        timeout: float | None,
        rate_limit_wait: float,
    ) -> None:
        super().__init__(
            turns,
            chat,
            "",
            [],
            lock=lock,
            on_finish=on_finish,
            timeout=timeout,
            rate_limit_wait=rate_limit_wait,
        )
        self.answer_id = answer_id

    def _new_reply(self) -> Reply:
        reply = super()._new_reply()
        reply.a.message_id = self.answer_id
        reply.user_message_id = ""
        return reply

    async def _post(self) -> AnswerBody:
        """One PUT of the retry: 200 gives the streaming response, anything else raises."""
        turns, session_id = self._turns, self._chat.id
        assert session_id is not None  # ChatSession.retry checks it
        state = await turns.session.current_state()
        # Paced like any send (LM_ARENA_MIN_INTERVAL, penalties): part of the first-token wait.
        token = await turns.send_token(
            self._started + self._timeout, action=facts.ACTION_CHAT_RETRY
        )
        self._new_attempt()
        path = facts.RETRY_MESSAGE.format(session_id=session_id, message_id=self.answer_id)
        left = max(0.0, self._started + self._timeout - time.monotonic())
        return await turns.http.post_stream(
            state,
            path,
            referer=facts.conversation_page(session_id),
            body=retry_body(recaptcha_token=token),
            wait=left,
            timeout=self._timeout,
            method="PUT",
        )

    def _watches(self) -> bool:
        # A retry names one answer: there is no battle to watch for (and no B id to skip with).
        return False


async def find_latest_answer(calls: SiteCalls, session_id: str) -> str | None:
    """The id of the conversation's latest answer as the site's conversation JSON says; None
    when it cannot be read or shows none."""
    data = await calls.conversation_json(session_id, wanted="its latest answer")
    return latest_answer_id(data) if data is not None else None


__all__ = ["RegenerateStream", "find_latest_answer"]

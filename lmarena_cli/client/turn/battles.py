"""Skipping a battle the site put into a single-model chat (protocol §14.5): the requests.

:class:`~.exchange.ReplyStream` recognises the battle (a ``b`` line in a ``direct-battle``
conversation) and decides; this module makes the requests: the skip itself, draining the battle's
stream before it, and finding an earlier turn's unskipped battle from the conversation's JSON.
The pure parts (the skip's body, reading the JSON) are in :mod:`...site.battles`.

How long side A's text is held back to catch a battle in time is ``LM_ARENA_BATTLE_HOLD`` (a
client's ``battle_hold``; :data:`BATTLE_HOLD` is its default); the hold itself is
:class:`~.flow.TurnFlow`'s, and the guarantee and its limit are written out in
:class:`~.exchange.ReplyStream`'s docstring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...errors import ErrorKind, LmArenaError, UpstreamError
from ...site import facts
from ...site.battles import skip_direct_battle_body, unskipped_battle
from ...site.ids import uuid7
from ..session.site_calls import SiteCalls
from ..session.turn_site import TurnSite

if TYPE_CHECKING:
    from ..transport.base import AnswerBody

#: Seconds side A's first content is held back in a single-model chat, waiting for a ``b`` line
#: that would show the turn is an anonymous battle (see ``ReplyStream``'s docstring): the
#: default of the ``battle_hold`` setting (``Settings.battle_hold`` repeats it: base layer).
BATTLE_HOLD = 1.0

_log = logging.getLogger("lmarena")


async def drain(response: AnswerBody, idle: float) -> None:
    """Read the rest of a battle's answer and drop it: the site stores both sides before the
    skip. Bounded by ``idle`` seconds of silence; a failure here only ends the reading."""
    try:
        while await response.read(idle):
            pass
    except (TimeoutError, LmArenaError) as error:
        _log.info(f"stopped reading the battle's answer: {error or 'silence'}")
    finally:
        await response.aclose()


async def post_skip(
    turns: TurnSite,
    session_id: str,
    message_a_id: str,
    message_b_id: str,
    *,
    timeout: float,
    on_refused: Callable[[str, str], None],
) -> tuple[str, AnswerBody]:
    """Skip the battle whose message ids are given: the new message id, and the open 200 (a
    stream of the chosen model's answer under that id, or an empty body). Errors raise, their
    message saying that the skip failed. A skip the site refuses ("only allowed for first
    response", protocol §15.1) leaves the conversation unable to go on: ``on_refused`` is told
    (the conversation's id, why) before the error (kind ``skip_refused``) is raised."""
    state = await turns.session.current_state()
    new_id = uuid7(turns.clock)
    token = await turns.session.mint_token(facts.ACTION_CHAT_SUBMIT)
    body = skip_direct_battle_body(
        message_a_id=message_a_id,
        message_b_id=message_b_id,
        new_message_id=new_id,
        recaptcha_token=token,
    )
    path = facts.SKIP_DIRECT_BATTLE.format(session_id=session_id)
    try:
        response = await turns.http.post_stream(
            state,
            path,
            referer=facts.conversation_page(session_id),
            body=body,
            wait=timeout,
            timeout=timeout,
        )
    except LmArenaError as error:
        if facts.SKIP_ONLY_FIRST in str(error).lower():  # §15.1: the chat cannot go on
            on_refused(session_id, f"the site refused to skip its battle: {facts.SKIP_ONLY_FIRST}")
            raise UpstreamError(
                "the site turned a turn of this single-model chat into an anonymous battle and "
                f"refused to skip it ({facts.SKIP_ONLY_FIRST}): the conversation {session_id} "
                "cannot go on; the next turn (ask -c, chat, serve) starts a new conversation "
                "with its history",
                detail=error.detail,
                kind=ErrorKind.SKIP_REFUSED,
            ) from None
        error.message = (
            "the site turned a turn of this single-model chat into an anonymous battle, "
            f"and skipping the battle failed: {error.message}"
        )
        error.args = (error.message,)
        raise
    return new_id, response


async def find_unskipped(calls: SiteCalls, session_id: str) -> tuple[str, str] | None:
    """The (side A, side B) message ids of the battle that ends the conversation, as the site's
    conversation JSON says; None when it cannot be read or shows no battle."""
    data = await calls.conversation_json(session_id, wanted="its battle")
    return unskipped_battle(data) if data is not None else None


def stuck_error(session_id: str, base_url: str, cause: LmArenaError) -> UpstreamError:
    """The site refuses the next turn until an earlier battle is skipped; its ids are unknown."""
    return UpstreamError(
        "the site answered an earlier turn of this single-model chat as an anonymous battle and "
        "refuses the next turn until that battle is skipped, but lmarena could not find the "
        f"battle's message ids; open {base_url}{facts.conversation_page(session_id)} in a browser "
        "and press Skip, or start a new conversation",
        detail=cause.detail,
        kind=ErrorKind.BATTLE_TURN,
    )


def no_answer_error(model: str | None, session_id: str) -> UpstreamError:
    """The skip was accepted but gave no answer (an empty 200)."""
    who = model or "the chosen model"
    return UpstreamError(
        "the site turned this turn into an anonymous battle; lmarena skipped the battle, but the "
        f"site sent no answer from {who} for it: send the prompt again (the conversation "
        f"{session_id} continues)",
        kind=ErrorKind.BATTLE_TURN,
    )


__all__ = [
    "BATTLE_HOLD",
    "drain",
    "find_unskipped",
    "no_answer_error",
    "post_skip",
    "stuck_error",
]

"""Skipping a battle the site put into a single-model chat (protocol §14.5): the requests.

:class:`~.exchange.ReplyStream` recognises the battle (a ``b`` line in a ``direct-battle``
conversation) and decides; this module makes the requests: the skip itself, draining the battle's
stream before it, and finding an earlier turn's unskipped battle from the conversation's JSON.
The pure parts (the skip's body, reading the JSON) are in :mod:`..site.battles`.

How long side A's text is held back to catch a battle in time is :data:`BATTLE_HOLD`; the
guarantee and its limit are written out in :class:`~.exchange.ReplyStream`'s docstring.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import ErrorKind, LmArenaError, UpstreamError
from ..site import facts
from ..site.battles import skip_direct_battle_body, unskipped_battle
from ..site.events import Citation, Event, Finish, ImageOutput, ReasoningDelta, TextDelta
from ..site.ids import uuid7
from .site_calls import SiteCalls
from .turn_site import TurnSite

if TYPE_CHECKING:
    from .transport import AnswerBody

#: Seconds side A's first content is held back in a single-model chat, waiting for a ``b`` line
#: that would show the turn is an anonymous battle (see ``ReplyStream``'s docstring).
BATTLE_HOLD = 1.0

_log = logging.getLogger("lmarena")
#: The events that carry an answer's content (what the hold is about).
CONTENT = (TextDelta, ReasoningDelta, ImageOutput, Citation)


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
) -> tuple[str, AnswerBody]:
    """Skip the battle whose message ids are given: the new message id, and the open 200 (a
    stream of the chosen model's answer under that id, or an empty body). Errors raise, their
    message saying that the skip failed."""
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
        error.message = (
            "the site turned a turn of this single-model chat into an anonymous battle, and "
            f"skipping the battle failed: {error.message}"
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
    "BattleSeen",
    "Holdback",
    "drain",
    "find_unskipped",
    "no_answer_error",
    "post_skip",
    "stuck_error",
]


class BattleSeen(Exception):
    """A ``b`` line came in a single-model chat: the turn is an anonymous battle.

    ``shown``: some of side A's content had already been handed to the caller.
    """

    def __init__(self, shown: bool) -> None:
        super().__init__("the site answered this single-model turn as a battle")
        self.shown = shown


class Holdback:
    """Holds side A's events of a single-model answer until it is safe to hand them over.

    Held from side A's first content event until, whichever comes first: a ``b`` line (then
    :class:`BattleSeen`: the held events are an anonymous model's and are dropped), side A's finish
    line, :data:`BATTLE_HOLD` seconds, or the end of the body or a failure (the owner calls
    :meth:`release`). With ``watch`` false (any other chat) nothing is held.
    """

    def __init__(self, watch: bool, hold: float = BATTLE_HOLD) -> None:
        self.watch = watch
        self._hold = hold
        self._held: list[Event] = []
        self._until: float | None = None
        self._released = not watch
        self._shown = False

    def deadline(self) -> float | None:
        """When the held events are due (monotonic clock); None when nothing is held."""
        return self._until if self._held else None

    def check(self, event: Event) -> None:
        """Raise :class:`BattleSeen` for a ``b`` line (any, a heartbeat too) while watching."""
        if self.watch and event.side == "b":
            raise BattleSeen(self._shown)

    def take(self, event: Event, now: float) -> list[Event]:
        """The events to hand over now: ``event`` and any held ones, or none while holding."""
        if self._released:
            return self._hand_over([event])
        self._held.append(event)
        if self._until is None and isinstance(event, CONTENT):
            self._until = now + self._hold
        if isinstance(event, Finish):
            return self.release()
        if self._until is not None and now >= self._until:
            return self.release()
        return []

    def release(self) -> list[Event]:
        """Stop holding: the held events, in order. Later events pass at once (a ``b`` line
        still raises, with ``shown`` then true)."""
        self._released = True
        held, self._held = self._held, []
        return self._hand_over(held)

    def _hand_over(self, events: list[Event]) -> list[Event]:
        self._shown = self._shown or any(isinstance(e, CONTENT) for e in events)
        return events

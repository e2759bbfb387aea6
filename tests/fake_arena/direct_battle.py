"""A single-model chat that the site answers as an anonymous battle (protocol doc §14.5).

Switches of :class:`~tests.fake_arena.app.FakeArena`:

* ``battle_turns``: the turn numbers (1 = the conversation's first user message) of a
  ``direct-battle`` conversation that are answered as a battle: two anonymous models (picked like
  the fake's battles, never named in the stream) answer on sides ``a`` and ``b``, lines interleaved
  as in every two-sided answer of the fake, under the request's ``modelAMessageId`` and
  ``modelBMessageId`` (the fake mints a B id when the request carried none). Their default texts are
  ``Anonymous A (turn N): <prompt>`` and ``Anonymous B (turn N): <prompt>`` (a queued ``Reply``'s
  ``text``/``b_text`` replace them). A queued ``Fault`` for that turn wins: no battle then.
* Until the battle is skipped, every ``post-to-evaluation`` of that conversation answers
  ``400 {"error": BAD_NEXT_TURN}``.
* ``POST /nextjs-api/stream/skip-direct-battle/{id}`` with ``{"messageAId", "messageBId",
  "modelAMessageId"}``: ``messageAId``/``messageBId`` must be the pending battle's message ids
  (else 400), ``modelAMessageId`` a fresh UUIDv7 near the fake's clock (the ids check of every
  send). A reCAPTCHA token is not required (what the site wants is not recorded); one that is sent
  must be good (403 otherwise). No pending battle: 400 :data:`~.facts.NO_BATTLE_TO_SKIP`.
* ``skip_answer``: ``"stream"`` answers the conversation's own model's answer to the battle turn's
  prompt (``Echo (turn N): <prompt>``, as an ordinary answer) as a stream under the new message id;
  ``"empty"`` answers an empty 200. Either way the conversation is unstuck.
* ``refuse_skip``: the skip answers ``400 {"error": SKIP_ONLY_FIRST}`` ("only allowed for first
  response", protocol §15.1) and the battle stays pending: the conversation cannot go on.
* :attr:`skipped_battles` records each accepted skip; the request log has every one that came.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection
from typing import Any

import orjson
from aiohttp import web

from . import validation
from .answers import AnswersMixin
from .era2026 import Era2026Mixin
from .facts import (
    BAD_NEXT_TURN,
    DIRECT_BATTLE,
    INVALID_JSON,
    NO_BATTLE_TO_SKIP,
    RECAPTCHA_FAILED,
    SESSION_NOT_FOUND,
    SIDE_B,
    SKIP_DIRECT_BATTLE,
    SKIP_IDS_MISMATCH,
    SKIP_ONLY_FIRST,
    V2_TOKEN_FIELD,
    V3_TOKEN_FIELD,
)
from .models import FakeModel
from .recaptcha import RecaptchaMixin
from .replies import Fault, Reply
from .responses import json_response
from .state import EvaluationSession, Message
from .validation import Rejection, error

#: Values of ``skip_answer``.
SKIP_ANSWERS = ("stream", "empty")


@dataclasses.dataclass(frozen=True)
class SkippedBattle:
    """One accepted skip: the conversation, the battle's two message ids and the new one."""

    session_id: str
    message_a_id: str
    message_b_id: str
    new_message_id: str
    answered: bool


class DirectBattleMixin(AnswersMixin, Era2026Mixin, RecaptchaMixin):
    """The §14.5 behaviour of :class:`~tests.fake_arena.app.FakeArena` (see the module doc)."""

    def __init__(
        self,
        *,
        battle_turns: Collection[int] = (),
        skip_answer: str = "stream",
        **options: Any,
    ) -> None:
        if skip_answer not in SKIP_ANSWERS:
            raise ValueError(f"skip_answer must be one of {SKIP_ANSWERS}, not {skip_answer!r}")
        super().__init__(**options)
        #: Turns of a direct-battle conversation answered as an anonymous battle.
        self.battle_turns: set[int] = set(battle_turns)
        #: What the skip endpoint answers: the chosen model's answer as a stream, or nothing.
        self.skip_answer = skip_answer
        #: Refuse every skip ("only allowed for first response"): the conversation is stuck.
        self.refuse_skip = False
        #: Conversation id -> (battle's side-A message id, side-B message id) until skipped.
        self.pending_battles: dict[str, tuple[str, str]] = {}
        self.skipped_battles: list[SkippedBattle] = []
        self._direct_battle_counter = 0

    def _add_direct_battle_routes(self, app: web.Application) -> None:
        app.router.add_post(SKIP_DIRECT_BATTLE + "{sid}", self._skip_direct_battle)

    def skip_requests(self) -> list[Any]:
        """The requests that reached the skip endpoint, oldest first."""
        return [r for r in self.received if r.path.startswith(SKIP_DIRECT_BATTLE)]

    # -- the battle turn ---------------------------------------------------------------------------

    def _refuse_if_battle_pending(self, session: EvaluationSession) -> None:
        """The 400 of a conversation whose battle turn was neither voted on nor skipped."""
        if session.id in self.pending_battles:
            raise error(400, BAD_NEXT_TURN)

    def _turn_into_battle(
        self,
        session: EvaluationSession,
        targets: list[Message],
        ids: dict[str, str],
        item: Reply | Fault,
        prompt: str,
        tag: str,
    ) -> Reply | Fault:
        """Make this turn a battle when the switch says so: a B message is added to ``targets``
        and the reply's texts become the anonymous models' (see the module doc)."""
        if (
            session.mode != DIRECT_BATTLE
            or session.turns not in self.battle_turns
            or not isinstance(item, Reply)
            or len(targets) != 1
        ):
            return item
        model_a, model_b = self._anonymous_pair(session.modality)
        side_a = targets[0]
        side_a.model_id = model_a.id
        b_id = ids.get("modelBMessageId") or _uuid7(self.now())
        side_b = Message(
            b_id, "assistant", "", model_b.id, SIDE_B, parent_ids=list(side_a.parent_ids)
        )
        session.messages.append(side_b)
        targets.append(side_b)
        self.pending_battles[session.id] = (side_a.id, side_b.id)
        return dataclasses.replace(
            item,
            text=item.text if item.text is not None else f"Anonymous A ({tag}): {prompt}",
            b_text=item.b_text if item.b_text is not None else f"Anonymous B ({tag}): {prompt}",
        )

    def _anonymous_pair(self, modality: str) -> tuple[FakeModel, FakeModel]:
        pool = [m for m in self.models if m.chats and modality in m.modalities()]
        if len(pool) < 2:
            pool = [m for m in self.models if m.chats] * 2
        k = self._direct_battle_counter
        self._direct_battle_counter += 1
        return pool[k % len(pool)], pool[(k + 1) % len(pool)]

    # -- the skip ----------------------------------------------------------------------------------

    async def _skip_direct_battle(self, request: web.Request) -> web.StreamResponse:
        sid = request.match_info["sid"]
        try:
            try:
                body = orjson.loads(await request.read())
            except orjson.JSONDecodeError as exc:
                raise error(400, INVALID_JSON) from exc
            user = self._api_user(request)
            if isinstance(user, web.Response):
                return user
            schema = validation.Schema(body)
            for name in ("messageAId", "messageBId", "modelAMessageId"):
                schema.field([name], "string")
            schema.raise_if_failed()
            session = self.sessions.get(sid)
            if session is None:
                raise error(404, SESSION_NOT_FOUND)
            if session.owner != user.id:
                return self._not_owner(user.id, sid)
            if (body.get(V3_TOKEN_FIELD) or body.get(V2_TOKEN_FIELD)) and self._check_recaptcha(
                request, body
            ) is not None:
                raise Rejection(403, dict(RECAPTCHA_FAILED))
            pending = self.pending_battles.get(sid)
            if pending is None:
                raise error(400, NO_BATTLE_TO_SKIP)
            if (body["messageAId"], body["messageBId"]) != pending:
                raise error(400, SKIP_IDS_MISMATCH)
            if self.refuse_skip:
                raise error(400, SKIP_ONLY_FIRST)
            new_id: str = body["modelAMessageId"]
            self._check_ids({"modelAMessageId": new_id})
        except Rejection as rej:
            return json_response(rej.body, status=rej.status)
        self.seen_ids.add(new_id)
        del self.pending_battles[sid]
        answered = self.skip_answer == "stream"
        self.skipped_battles.append(SkippedBattle(sid, *pending, new_id, answered))
        if not answered:
            return web.Response(status=200)
        battle_a = next(m for m in session.messages if m.id == pending[0])
        asked = next(m for m in session.messages if m.id in battle_a.parent_ids)
        turn = [m for m in session.messages if m.role == "user"].index(asked) + 1
        chosen = Message(new_id, "assistant", "", session.model_a, "a", parent_ids=[asked.id])
        session.messages.append(chosen)
        return await self._stream(request, Reply(), [chosen], asked.content, f"turn {turn}")


def _uuid7(seconds: float) -> str:
    """A UUIDv7 for ``seconds`` (the fake mints the B id of a battle the client did not name)."""
    value = (int(seconds * 1000) & (2**48 - 1)) << 80
    value |= uuid.uuid4().int & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))

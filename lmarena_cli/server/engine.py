"""The one core under the three API shapes: a :class:`~.turn.Turn` in, one send, events out.

:func:`route` picks the conversation a turn continues (named, matched by transcript within the
client's session key, a regenerate, or a new one) without touching the site; :func:`compose`
writes the prompt the site will get (the new turn's text, earlier turns folded when the
conversation is new, the tool contract when the conversation has not seen this tool set, the
output format's instruction) and refuses it when it is over ``LM_ARENA_MAX_PROMPT_CHARS``;
:class:`TurnRun` sends it once and turns the answer into :data:`Out` events (text, reasoning,
citations, tool calls, finish) that each codec writes in its own wire format, while it
accumulates the :class:`Outcome` that a non-streamed answer is made of. One user turn, one send:
nothing here sends again behind the client's back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ..client.content.structured import instruction
from ..client.content.usage import estimate_tokens, site_counts
from ..client.conversation.chats import ChatSession
from ..client.conversation.recycled import announce, is_recycled, stored_transcript
from ..client.reply import SkippedBattle
from ..client.turn.exchange import ReplyStream
from ..errors import LmArenaError, PromptTooLong
from ..site.events import Citation, Finish, ImageOutput, ReasoningDelta, TextDelta
from ..site.prompts import fold_history
from . import tools
from .answer import (
    BattleSkipped,
    Called,
    Cited,
    Finished,
    Opened,
    Out,
    Outcome,
    Reasoning,
    Side,
    Text,
)
from .context import ServerState
from .side_pipe import SidePipe, finish_reason
from .turn import Message, Turn, turn_text

# --- routing and the prompt -------------------------------------------------------------------


@dataclass
class Route:
    """Where a turn goes: ``conversation_id`` (None: a new conversation), the request's messages
    that are new to the stored transcript (recorded after the answer), and whether the earlier
    turns are folded into the prompt (a new conversation) or a regenerate asks again."""

    conversation_id: str | None
    new_messages: list[Message]
    history: list[Message] = field(default_factory=list)
    retry: bool = False
    #: The conversation the site will not let go on that this new one carries on (linked once
    #: answered).
    carries: str | None = None


def route(state: ServerState, turn: Turn) -> Route:
    """Pick the conversation; reads the store only (the site is not asked).

    In order: the conversation the turn names; a **regenerate** (the request's messages are a
    stored transcript up to and including its last user message, that is, the same history
    again without the answer that followed, for the same model: the site's retry endpoint
    answers it, protocol §7.4, instead of the message being posted a second time, and the new
    answer replaces the old one in the store); a stored conversation whose transcript is the
    request's history (within the turn's session key, when it has one); else a new one, with
    the earlier turns folded into its first prompt (``LM_ARENA_SERVE_HISTORY=last``: the new
    turn alone).
    """
    return _past_ended(state, _chosen(state, turn))


def _chosen(state: ServerState, turn: Turn) -> Route:
    if turn.conversation_id is not None:
        return Route(turn.conversation_id, turn.new_messages)
    matching = state.history == "match"
    plain = not (turn.battle or turn.versus)
    if matching and state.records and plain and not turn_text(turn.new_messages)[1]:
        found = state.client.store.find_regenerate(turn.messages)
        if (
            found is not None
            and found.answer_id
            and found.model == turn.model
            and _same_session(state, found.id, turn.session_key)
        ):
            return Route(found.id, [], retry=True)
    if matching and turn.history:
        key = turn.session_key
        among = None if key is None else (lambda cid: _same_session(state, cid, key))
        found = state.client.store.find_by_transcript(turn.messages, among=among)
        if found is not None:
            return Route(found.id, turn.messages[len(found.transcript) :])
    history = turn.history if matching else []
    return Route(None, list(turn.messages if matching else turn.new_messages), history)


def _past_ended(state: ServerState, where: Route) -> Route:
    """A conversation the site will not let go on (a refused skip, protocol §15.1): the turn
    goes to the one it already went on in, or to a new one whose first prompt folds its stored
    transcript and is composed anew, so that the tool contract is sent again (the conversation
    library's own carry-over would send the prompt composed for the old one)."""
    old = where.conversation_id
    if old is None or where.retry or not state.records:
        return where
    notes = state.client.notes
    if notes.ended(old) is None:
        return where
    latest = state.client.links.latest(old)
    if latest != old and notes.ended(latest) is None:
        return Route(latest, where.new_messages)
    transcript = stored_transcript(state.client, latest)
    if not transcript:
        return where  # nothing stored to carry: the library says the conversation is stuck
    state.log(f"the conversation {latest} cannot go on; continuing in a new one with its history")
    return Route(None, [*transcript, *where.new_messages], transcript, carries=latest)


def _same_session(state: ServerState, conversation_id: str, key: str | None) -> bool:
    return key is None or state.served.session_key(conversation_id) == key


@dataclass(frozen=True)
class Prompt:
    """What one send carries, and the contract key the conversation will then have seen."""

    text: str
    images: list[str]
    contract_key: str


def compose(state: ServerState, turn: Turn, where: Route) -> Prompt:
    """The prompt for ``where``; :class:`PromptTooLong` when it is over the budget."""
    if where.retry:
        return Prompt("", [], _seen_contract(state, where))
    new = where.new_messages[len(where.history) :] if where.conversation_id is None else None
    text, images = turn_text(new if new is not None else where.new_messages)
    if where.conversation_id is None and where.history:
        text = fold_history(where.history, text)
    seen = _seen_contract(state, where)
    key = seen
    if turn.uses_tools:
        contract = tools.contract(turn.tools, turn.tool_choice, parallel=turn.parallel_tool_calls)
        key = tools.contract_key(contract)
        if key != seen:
            text = f"{contract}\n\n{text}"
    if turn.output is not None:
        text = f"{text}\n\n{instruction(turn.output)}"
    limit = state.settings.max_prompt_chars
    if len(text) > limit:
        raise PromptTooLong(len(text), limit)
    return Prompt(text, images, key)


def _seen_contract(state: ServerState, where: Route) -> str:
    return state.served.contract(where.conversation_id) if where.conversation_id else ""


async def open_chat(state: ServerState, turn: Turn, where: Route) -> ChatSession:
    """The conversation's session on the site (resumed or new)."""
    chats = state.client.chats
    model = None if turn.battle else turn.model
    if where.conversation_id is not None:
        return await chats.resume(where.conversation_id, model=model, versus=turn.versus)
    return await chats.create(model=model, versus=turn.versus, battle=turn.battle)


# --- the answer --------------------------------------------------------------------------------


class TurnRun:
    """One send and its answer, as :data:`Out` events; :attr:`outcome` fills as they pass."""

    def __init__(
        self, state: ServerState, turn: Turn, where: Route, prompt: Prompt, chat: ChatSession
    ) -> None:
        self.state, self.turn, self.where, self.prompt, self.chat = state, turn, where, prompt, chat
        self.outcome = Outcome(mode=str(chat.mode))
        self.stream: ReplyStream | None = None
        self._sides: dict[str, SidePipe] = {}
        #: The conversation the site recycled, which this turn's new one goes on from.
        self.recycled: str | None = None

    async def start(self) -> None:
        """Send; returns once the site accepted the request (errors before that raise here).

        A stored conversation the site has recycled (a 404 to the follow-up, protocol §15.3)
        goes on, once, in a new conversation whose first prompt folds the stored transcript
        and the request's new messages (:meth:`_go_on_anew`); the answer then carries the new
        ``conversation_id``. The 404 reached no model, so this is still the turn's one send.
        """
        try:
            await self._send()
        except LmArenaError as error:
            if self.where.retry or not is_recycled(error, self.where.conversation_id):
                raise
            if not await self._go_on_anew():
                raise
            await self._send()
        assert self.stream is not None
        answers = self.stream.reply.answers
        self.outcome.sides = [Side(model=answer.model) for answer in answers]
        for index, answer in enumerate(answers):
            side = self.outcome.sides[index]
            self._sides[answer.side] = SidePipe(self.turn, index, side, self.state.log)

    async def _send(self) -> None:
        if self.where.retry:
            self.stream = await self.chat.retry(stream=True)
        else:
            self.stream = await self.chat.send(
                self.prompt.text, images=self.prompt.images or None, stream=True
            )

    async def _go_on_anew(self) -> bool:
        """A new conversation in place of the recycled one, its prompt composed again (the
        earlier turns folded, the tool contract sent again); :meth:`record` links the two.
        False when the store has no transcript of it (an id the client named): the 404 stands."""
        old = self.where.conversation_id
        assert old is not None
        transcript = stored_transcript(self.state.client, old)
        if not transcript:
            return False
        announce(old, transcript)
        self.recycled = old
        self.where = Route(None, [*transcript, *self.where.new_messages], transcript)
        self.prompt = compose(self.state, self.turn, self.where)
        self.chat = await open_chat(self.state, self.turn, self.where)
        return True

    async def events(self) -> AsyncIterator[Out]:
        assert self.stream is not None, "start() first"
        stream, opened = self.stream, False
        async for event in stream.events():
            if not opened and isinstance(
                event, TextDelta | ReasoningDelta | ImageOutput | Citation | Finish | SkippedBattle
            ):
                opened = True
                self.outcome.conversation_id = stream.evaluation_session_id
                yield Opened(stream.evaluation_session_id, len(self._sides))
            if isinstance(event, SkippedBattle):
                self.outcome.battle_skipped = event
                yield BattleSkipped(event)
                continue
            pipe = self._sides.get(getattr(event, "side", ""))
            if pipe is None:
                continue
            for out in pipe.event(event):
                yield out
            if all(pipe.cut for pipe in self._sides.values()):
                break  # every side was cut short (stop sequence, max tokens): read no further
        if not opened:
            self.outcome.conversation_id = stream.evaluation_session_id
            yield Opened(stream.evaluation_session_id, len(self._sides))
        for pipe in self._sides.values():
            for out in pipe.finish(None):
                yield out
        self._count()

    def _count(self) -> None:
        reply = self.stream.reply if self.stream else None
        site = reply.usage if reply is not None else None
        prompt, completion = site_counts(site)
        a = self.outcome.a
        spoken = a.text + a.reasoning + "".join(call.arguments for call in a.calls)
        self.outcome.prompt_tokens = prompt or estimate_tokens(self.prompt.text)
        # The site counted what its model said; an answer cut short here is counted as sent.
        cut = any(pipe.cut for pipe in self._sides.values())
        self.outcome.completion_tokens = (not cut and completion) or estimate_tokens(spoken)
        if reply is not None:
            for side, answer in zip(self.outcome.sides, reply.answers, strict=False):
                side.model = answer.model or side.model

    async def aclose(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()

    def assistant_message(self) -> Message:
        """Model A's answer as the stored transcript keeps it (and a client sends it back)."""
        a = self.outcome.a
        if a.calls:
            content = tools.render_assistant(a.text, [(c.name, c.args) for c in a.calls])
        else:
            content = a.text
        return {"role": "assistant", "content": content}

    def record(self) -> None:
        """Store the exchange as the client will send it back; never raise (a store failure is
        logged by the client)."""
        state, reply = self.state, self.stream.reply if self.stream else None
        if reply is None or not state.records:
            return
        if self.where.retry:
            state.client.record_retry(reply, self.assistant_message()["content"])
        else:
            chat = self.chat
            state.client.record_exchange(
                reply,
                model=chat.model.name if chat.model else (reply.a.model or "battle"),
                model_b=chat.model_b.name if chat.model_b else reply.b.model if reply.b else None,
                mode=str(chat.mode),
                # An ended conversation's turns, carried into this new one (protocol §15.1).
                messages=[*chat.carried, *self.where.new_messages, self.assistant_message()],
                answer_id=reply.a.message_id,
            )
        went_on = self.recycled or self.where.carries
        if went_on is not None:
            state.client.record_link(went_on, reply.evaluation_session_id)
        try:
            state.served.remember(
                reply.evaluation_session_id,
                session_key=self.turn.session_key,
                contract=self.prompt.contract_key,
            )
        except Exception as error:  # the answer is never lost for a bookkeeping failure
            state.log(f"could not remember the conversation's session: {error}")


__all__ = [
    "BattleSkipped",
    "Called",
    "Cited",
    "Finished",
    "Opened",
    "Out",
    "Outcome",
    "Prompt",
    "Reasoning",
    "Route",
    "Side",
    "Text",
    "TurnRun",
    "compose",
    "finish_reason",
    "open_chat",
    "route",
]

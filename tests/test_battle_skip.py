"""A single-model chat the site answers as an anonymous battle (protocol §14.5), end to end.

The fake arena answers turn 2 of a ``direct-battle`` conversation as a battle (``battle_turns``),
refuses the next turn until it is skipped, and answers the skip with the chosen model's answer
(``skip_answer="stream"``) or an empty 200 (``"empty"``). Through the library, the CLI (a real
subprocess on the browser's stand-in, for the bytes of stdout and stderr and the exit codes) and
``serve`` (the official ``openai`` client), the user gets the chosen model's answer, never an
anonymous one, is told that a battle was skipped, and the conversation goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from lmarena_cli import Client
from lmarena_cli.client.reply import SkippedBattle
from lmarena_cli.client.turn import battles
from lmarena_cli.client.turn.flow import Phase
from lmarena_cli.errors import ErrorKind, UpstreamError
from lmarena_cli.site import facts
from lmarena_cli.site.events import TextDelta
from lmarena_cli.site.ids import is_uuid7
from tests.fake_arena import FakeArena, Reply
from tests.helpers.clients import ClientFactory
from tests.helpers.serving import openai_client, serving
from tests.helpers.standin_cli import StandInCli

pytestmark = pytest.mark.timeout(60)

MODEL = "gemini-3-pro"
#: The repository, for the CLI subprocess to import ``tests.fakes``.
ANONYMOUS = ("Anonymous A", "Anonymous B")


def skips(arena: FakeArena) -> list[Any]:
    return [r for r in arena.received if "/skip-direct-battle/" in r.path]


def posts(arena: FakeArena) -> list[Any]:
    return [r for r in arena.received if "/post-to-evaluation/" in r.path]


# --- the fake -------------------------------------------------------------------------------------


async def test_the_fake_answers_a_battle_turn_refuses_the_next_and_takes_a_skip(
    client: Client, arena: FakeArena
) -> None:
    arena.battle_turns = {2}
    arena.skip_answer = "empty"
    chat = await client.chats.create(MODEL)
    await chat.send("one")
    assert chat.id is not None
    session = arena.sessions[chat.id]
    with pytest.raises(UpstreamError):
        await chat.send("two")
    (battle,) = arena.skipped_battles
    a_msg = next(m for m in session.messages if m.id == battle.message_a_id)
    b_msg = next(m for m in session.messages if m.id == battle.message_b_id)
    assert a_msg.content.startswith("Anonymous A (turn 2): two")
    assert b_msg.content.startswith("Anonymous B (turn 2): two")
    assert {a_msg.participant, b_msg.participant} == {"a", "b"}
    # Two different models answered (so not both the chosen one), each a chat model of the site.
    assert a_msg.model_id is not None and b_msg.model_id is not None
    assert a_msg.model_id != b_msg.model_id
    assert {a_msg.model_id, b_msg.model_id} <= {m.id for m in arena.models if m.chats}
    assert not battle.answered
    assert arena.pending_battles == {}


def test_the_fake_refuses_an_unknown_skip_answer() -> None:
    with pytest.raises(ValueError, match="skip_answer"):
        FakeArena(skip_answer="maybe")
    assert FakeArena(battle_turns={2}, skip_answer="empty").battle_turns == {2}


# --- the library ----------------------------------------------------------------------------------


@pytest.mark.parametrize("skip_answer", ["stream", "empty"])
async def test_a_battle_turn_is_skipped_and_the_conversation_goes_on(
    client: Client, arena: FakeArena, skip_answer: str
) -> None:
    arena.battle_turns = {2}
    arena.skip_answer = skip_answer
    chat = await client.chats.create(MODEL)
    first = await chat.send("one")
    assert first.text == "Echo (turn 1): one"
    assert first.battle_skipped is None
    battle_post = None
    if skip_answer == "stream":
        second = await chat.send("two")
        assert second.text == "Echo (turn 2): two"
        assert second.model == MODEL
        skipped = second.battle_skipped
        assert skipped is not None and skipped.answered and not skipped.anonymous_text_shown
        assert second.a.message_id == skipped.message_id
        assert second.to_dict()["battle_skipped"]["answered"] is True
    else:
        with pytest.raises(UpstreamError) as caught:
            await chat.send("two")
        error = caught.value
        assert error.kind == ErrorKind.BATTLE_TURN
        assert "anonymous battle" in str(error) and "send the prompt again" in str(error)
        assert chat.id is not None and chat.id in str(error)
        assert error.partial == ""
    assert not any(word in str(first) for word in ANONYMOUS)
    # What reached the skip endpoint: the battle's own ids and a fresh v7.
    (skip,) = skips(arena)
    battle_post = posts(arena)[0]
    assert skip.json["messageAId"] == battle_post.json["modelAMessageId"]
    assert skip.json["messageBId"] == battle_post.json["modelBMessageId"]
    assert is_uuid7(skip.json["modelAMessageId"])
    assert skip.json["modelAMessageId"] not in battle_post.json.values()
    assert skip.json["recaptchaV3Token"]
    # The next turn works (no 400), in the same conversation.
    third = await chat.send("three")
    assert third.text == "Echo (turn 3): three"
    assert third.battle_skipped is None
    assert third.evaluation_session_id == first.evaluation_session_id
    assert len(posts(arena)) == 2 and 400 not in [r.status for r in posts(arena)]


async def test_the_stream_never_yields_the_anonymous_text(client: Client, arena: FakeArena) -> None:
    arena.battle_turns = {2}  # a new chat's first turn is not held (protocol §15.1)
    chat = await client.chats.create(MODEL)
    await chat.send("first")
    stream = await chat.send("hello", stream=True)
    texts: list[str] = []
    seen: list[SkippedBattle] = []
    async for event in stream.events():
        if isinstance(event, TextDelta):
            texts.append(event.text)
        elif isinstance(event, SkippedBattle):
            seen.append(event)
    assert "".join(texts) == "Echo (turn 2): hello"
    assert len(seen) == 1 and stream.reply.battle_skipped == seen[0]
    assert chat.id == stream.reply.evaluation_session_id
    assert (await chat.send("again")).text == "Echo (turn 3): again"


async def test_a_battle_seen_after_the_hold_is_said_and_kept_out_of_the_reply(
    client_factory: ClientFactory, arena: FakeArena, caplog: Any
) -> None:
    """The limit of the guarantee: a b line later than the hold finds A's text already shown."""
    client = client_factory(battle_hold=0.2)  # the b line comes 0.6 s after A's first text
    await client.bootstrap()
    arena.battle_turns = {2}
    chat = await client.chats.create(MODEL)
    await chat.send("first")
    arena.enqueue(Reply(text=["late ", "battle"], b_text=["b side"], delay_between=0.6))
    stream = await chat.send("x", stream=True)
    assert stream.phase is Phase.HOLDING
    texts = [event.text async for event in stream.events() if isinstance(event, TextDelta)]
    assert texts[0] == "late "  # shown before the b line came: the limit
    assert "".join(texts[1:]) == "Echo (turn 2): x"
    assert stream.reply.text == "Echo (turn 2): x"
    skipped = stream.reply.battle_skipped
    assert skipped is not None and skipped.anonymous_text_shown
    assert "anonymous model's answer" in caplog.text
    # Released by the hold's time, then found: streaming came before the battle.
    assert stream.phases == (
        Phase.SENDING,
        Phase.HOLDING,
        Phase.STREAMING,
        Phase.BATTLE_FOUND,
        Phase.SKIPPING,
        Phase.DONE,
    )


async def test_an_ordinary_answer_is_held_at_most_the_hold(
    client: Client, arena: FakeArena
) -> None:
    # Parts further apart than the hold: the first one leaves alone, when the hold ends.
    gap = battles.BATTLE_HOLD + 1.0
    chat = await client.chats.create(MODEL)
    await chat.send("first")  # the second turn is held (the first is not)
    arena.enqueue(Reply(text=["first ", "second ", "third"], delay_between=gap, heartbeats=0))
    stream = await chat.send("slow", stream=True)
    loop = asyncio.get_running_loop()
    start = loop.time()
    times = []
    async for text in stream:
        times.append((loop.time() - start, text))
    assert [t for _, t in times] == ["first ", "second ", "third"]
    # The first text came before the last chunk was even sent (incremental), held <= the hold.
    assert times[0][0] < times[1][0] - 0.2 < times[-1][0] - 0.5
    assert times[0][0] < gap + battles.BATTLE_HOLD + 0.5


async def test_a_turn_left_unskipped_by_an_earlier_run_is_skipped_then_sent(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    arena.battle_turns = {1}
    # An earlier run: the battle was answered, and nobody skipped it.
    earlier = client_factory()
    chat = await earlier.chats.create(MODEL)
    raw = await chat.send("first", stream=True)
    await raw.aclose()  # gone before the battle was seen: nobody skipped it
    session_id = raw.evaluation_session_id
    for _ in range(100):
        if session_id in arena.pending_battles:
            break
        await asyncio.sleep(0.05)
    assert session_id in arena.pending_battles
    later = client_factory(browser=earlier.browser)
    resumed = await later.chats.resume(session_id, model=MODEL)
    reply = await resumed.send("second")
    assert reply.text == "Echo (turn 2): second"
    skipped = reply.battle_skipped
    assert skipped is not None and skipped.earlier_turn
    first_post, _ = posts(arena)
    assert first_post.status == 400
    assert skips(arena)[-1].json["messageAId"] == skipped.message_a_id


async def test_a_stuck_conversation_whose_battle_cannot_be_found_is_a_clear_error(
    client: Client, arena: FakeArena, monkeypatch: pytest.MonkeyPatch
) -> None:
    arena.battle_turns = {1}
    chat = await client.chats.create(MODEL)
    raw = await chat.send("first", stream=True)
    await raw.aclose()
    for _ in range(100):
        if raw.evaluation_session_id in arena.pending_battles:
            break
        await asyncio.sleep(0.05)
    monkeypatch.setattr(facts, "EVALUATION_JSON", "/api/nothing-here/{session_id}")
    resumed = await client.chats.resume(raw.evaluation_session_id, model=MODEL)
    with pytest.raises(UpstreamError, match="press Skip") as caught:
        await resumed.send("second")
    assert caught.value.kind == ErrorKind.BATTLE_TURN
    assert skips(arena) == []


# --- the CLI, as a real process (on the browser's stand-in) ---------------------------------------


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path) -> StandInCli:
    return StandInCli(arena.url, tmp_path / "cli-state", model=MODEL)


def conversation(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("conversation: ")]
    assert lines, err
    return lines[-1].removeprefix("conversation: ")


async def test_cli_ask_gives_the_chosen_models_answer_and_continues(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.battle_turns = {2}
    one = await cli("ask", "--no-stdin", "one")
    assert (one.returncode, one.stdout) == (0, "Echo (turn 1): one\n"), one.stderr
    two = await cli("ask", "--no-stdin", "-c", "two")
    assert two.returncode == 0, two.stderr
    assert two.stdout == "Echo (turn 2): two\n"
    assert "anonymous battle" in two.stderr and f"{MODEL}'s" in two.stderr
    assert conversation(two.stderr) == conversation(one.stderr)
    three = await cli("ask", "--no-stdin", "-c", "--json", "three")
    assert three.returncode == 0, three.stderr
    data = orjson.loads(three.stdout)
    assert data["text"] == "Echo (turn 3): three" and data["battle_skipped"] is None
    assert data["evaluation_session_id"] == conversation(one.stderr)
    for run in (one, two, three):
        assert not any(word in run.stdout for word in ANONYMOUS)


async def test_cli_json_and_jsonl_say_a_battle_was_skipped(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.battle_turns = {1}
    run = await cli("ask", "--no-stdin", "--json", "hi")
    assert run.returncode == 0, run.stderr
    data = orjson.loads(run.stdout)
    assert data["text"] == "Echo (turn 1): hi"
    assert data["battle_skipped"]["answered"] is True
    assert data["battle_skipped"]["message_id"] == data["message_ids"]["a"]
    arena.battle_turns = {2}
    run = await cli("ask", "--no-stdin", "-c", "--jsonl", "again")
    assert run.returncode == 0, run.stderr
    events = [orjson.loads(line) for line in run.stdout.splitlines()]
    kinds = [event["type"] for event in events]
    assert "battle_skipped" in kinds
    assert kinds.index("battle_skipped") < kinds.index("text")
    assert "".join(e["text"] for e in events if e["type"] == "text") == "Echo (turn 2): again"
    assert events[-1]["type"] == "reply" and events[-1]["battle_skipped"]["answered"] is True
    assert not any(word in run.stdout for word in ANONYMOUS)


async def test_cli_empty_skip_exits_3_saying_so_and_the_next_turn_works(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.battle_turns = {2}
    arena.skip_answer = "empty"
    first = await cli("ask", "--no-stdin", "first")
    assert first.returncode == 0, first.stderr
    run = await cli("ask", "--no-stdin", "-c", "hi")
    assert run.returncode == 3
    assert run.stdout == ""
    (line,) = [line for line in run.stderr.splitlines() if line.startswith("lmarena: ")]
    assert "anonymous battle" in line and "send the prompt again" in line
    assert "Traceback" not in run.stderr
    (session_id,) = arena.sessions
    assert session_id in line
    again = await cli("ask", "--no-stdin", "-c", "hi")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "Echo (turn 3): hi\n"
    assert conversation(again.stderr) == session_id


async def test_cli_chat_goes_on_past_a_battle_turn(cli: StandInCli, arena: FakeArena) -> None:
    arena.battle_turns = {2}
    run = await cli("chat", stdin="one\ntwo\nthree\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Echo (turn 1): one\nEcho (turn 2): two\nEcho (turn 3): three\n"
    assert not any(word in run.stdout for word in ANONYMOUS)


# --- serve, through the official openai client ----------------------------------------------------


@pytest.fixture
async def served(client_factory: ClientFactory) -> AsyncIterator[str]:
    async with serving(client_factory(record=False)) as url:
        yield url


@pytest.mark.parametrize("streaming", [False, True])
async def test_serve_answers_with_the_chosen_model_and_says_a_battle_was_skipped(
    served: str, arena: FakeArena, streaming: bool
) -> None:
    arena.battle_turns = {2}
    api = openai_client(served)
    opening = await api.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "first"}]
    )
    named = {"conversation_id": (opening.model_extra or {})["conversation_id"]}
    messages = [{"role": "user", "content": "hi"}]
    if streaming:
        stream = await api.chat.completions.create(
            model=MODEL, messages=messages, stream=True, extra_body=named
        )
        text, marks, conversation_id = "", [], None
        async for chunk in stream:
            extra = chunk.model_extra or {}
            conversation_id = conversation_id or extra.get("conversation_id")
            if "battle_skipped" in extra:
                marks.append(extra["battle_skipped"])
            for choice in chunk.choices:
                text += choice.delta.content or ""
        assert text == "Echo (turn 2): hi"
        assert len(marks) == 1 and marks[0]["answered"] is True
    else:
        completion = await api.chat.completions.create(
            model=MODEL, messages=messages, extra_body=named
        )
        text = completion.choices[0].message.content
        assert text == "Echo (turn 2): hi"
        extra = completion.model_extra or {}
        assert extra["battle_skipped"]["answered"] is True
        conversation_id = extra["conversation_id"]
    assert not any(word in text for word in ANONYMOUS)
    follow = await api.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "more"}],
        extra_body={"conversation_id": conversation_id},
    )
    assert follow.choices[0].message.content == "Echo (turn 3): more"
    assert "battle_skipped" not in (follow.model_extra or {})
    await api.close()


async def test_serve_empty_skip_is_a_502_saying_so_and_the_next_turn_works(
    served: str, arena: FakeArena
) -> None:
    import openai

    arena.battle_turns = {1}
    arena.skip_answer = "empty"
    api = openai_client(served)
    with pytest.raises(openai.APIStatusError) as caught:
        await api.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    body: Any = caught.value.body
    assert body["code"] == "battle_turn" and "send the prompt again" in body["message"]
    (session_id,) = arena.sessions
    follow = await api.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"conversation_id": session_id},
    )
    assert follow.choices[0].message.content == "Echo (turn 2): hi"
    await api.close()

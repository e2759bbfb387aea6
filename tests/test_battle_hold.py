"""The battle hold (protocol §15.1): who waits, for what, and what each turn's timing records.

A new chat's first turn streams at once (no source shows a battle there); later turns of a
single-model chat hold side A's first text up to ``LM_ARENA_BATTLE_HOLD`` seconds, ended early by
any ``b`` line or A's finish; each watched turn keeps the offsets of its first ``a`` and ``b``
lines (``--debug``, the store's ``turn_times``, ``lmarena doctor --json``). No wall-clock bound
here: what the fake had sent when the first text reached the caller says whether it was held.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lmarena_cli import Client
from lmarena_cli.cli.doctor_checks import Doctor
from lmarena_cli.client.turn.flow import BattleSeen, Phase, TurnFlow
from lmarena_cli.errors import ConfigError
from lmarena_cli.settings import Settings
from lmarena_cli.site.events import TextDelta
from lmarena_cli.site.stream import StreamParser
from tests.fake_arena import FakeArena, Reply
from tests.fakes import HttpBrowser
from tests.helpers.clients import ClientFactory, settings_for
from tests.helpers.standin_cli import StandInCli

pytestmark = pytest.mark.timeout(60)

MODEL = "gemini-3-pro"
SLOW = ["first ", "second ", "third"]


async def first_text_status(client: Client, arena: FakeArena, chat: object, prompt: str) -> str:
    """Send ``prompt`` streamed; the fake's status of A's message when its first text reached
    the caller: "pending" (A had not finished: not held) or "success" (held to A's finish)."""
    arena.enqueue(Reply(text=SLOW, delay_between=0.3, heartbeats=0))
    stream = await chat.send(prompt, stream=True)  # type: ignore[attr-defined]
    status = None
    async for event in stream.events():
        if isinstance(event, TextDelta) and status is None:
            session = arena.sessions[stream.evaluation_session_id]
            status = next(m.status for m in session.messages if m.id == stream.reply.a.message_id)
    assert stream.reply.text == "".join(SLOW)
    assert status is not None
    return status


async def test_a_new_chats_first_turn_streams_at_once_and_later_turns_are_held(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory(battle_hold=30.0)  # only A's finish (or a b line) ends this hold
    chat = await client.chats.create(MODEL)
    assert await first_text_status(client, arena, chat, "one") == "pending"
    assert await first_text_status(client, arena, chat, "two") == "success"


async def test_battle_hold_0_turns_the_hold_off(arena: FakeArena, tmp_path: Path) -> None:
    settings = settings_for(arena.url, tmp_path / "state", battle_hold=0.0)
    browser = HttpBrowser(settings)
    client = Client(settings, browser=browser)
    try:
        chat = await client.chats.create(MODEL)
        assert await first_text_status(client, arena, chat, "one") == "pending"
        assert await first_text_status(client, arena, chat, "two") == "pending"
    finally:
        await client.close()
        await browser.close()


def test_the_battle_hold_setting_takes_0_and_refuses_a_negative() -> None:
    assert Settings().battle_hold == 1.0
    assert Settings.load(environ={"LM_ARENA_BATTLE_HOLD": "0"}).battle_hold == 0.0
    assert Settings.load(environ={"LM_ARENA_BATTLE_HOLD": "2.5"}).battle_hold == 2.5
    with pytest.raises(ConfigError, match="LM_ARENA_BATTLE_HOLD"):
        Settings.load(environ={"LM_ARENA_BATTLE_HOLD": "-1"})
    assert Settings().first_byte_timeout == 20.0 < Settings().timeout


@pytest.mark.parametrize(
    "line",
    [
        'b0:"text"',
        'bg:"reasoning"',
        'b2:[{"type":"heartbeat"}]',
        'b2:[{"type":"image","image":"https://x.test/i.png"}]',
        'b9:{"toolCallId":"c1","toolName":"search","args":{}}',
        'ba:{"toolCallId":"c1","result":"r"}',
        'bf:{"messageId":"m1"}',
    ],
)
def test_any_b_line_ends_the_hold_as_a_battle_and_drops_the_held_text(line: str) -> None:
    flow = TurnFlow(watch=True, hold=30.0)
    flow.accepted(("a-id", "b-id"))
    parser = StreamParser()
    (held,) = parser.feed(b'a0:"anonymous"\n')
    assert flow.pass_on(held, 0.0) == []  # held
    (b_event,) = parser.feed(line.encode() + b"\n")
    with pytest.raises(BattleSeen) as seen:
        flow.pass_on(b_event, 0.1)
    assert seen.value.shown is False
    assert flow.phase is Phase.BATTLE_FOUND and flow.pending_battle == ("a-id", "b-id")


async def test_each_turn_records_its_first_a_and_b_offsets_and_doctor_shows_the_largest_b(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    arena.battle_turns = {2}
    client = client_factory()
    chat = await client.chats.create(MODEL)
    one = await chat.send("one")
    two = await chat.send("two")
    assert one.timings["first_b"] is None and one.timings["battle_hold"] == 0.0
    assert two.battle_skipped is not None and two.text == "Echo (turn 2): two"
    assert chat.id is not None
    (a1, b1, hold1), (a2, b2, hold2) = client.notes.times(chat.id)
    assert (b1, hold1) == (None, 0.0) and a1 is not None and a1 > 0
    assert a2 is not None and b2 is not None and hold2 == 1.0
    assert two.timings["first_b"] == b2
    checks = [check async for check in Doctor(client).checks()]
    (transport,) = [c.to_json() for c in checks if c.step == "transport"]
    assert transport["details"]["largest_b_offset"] == b2
    assert transport["details"]["timed_turns"] == 2
    assert transport["details"]["battle_hold"] == 1.0


async def test_cli_debug_says_each_turns_first_line_offsets(
    arena: FakeArena, tmp_path: Path
) -> None:
    cli = StandInCli(arena.url, tmp_path / "state", model=MODEL)
    run = await cli("ask", "--no-stdin", "--debug", "hi")
    assert (run.returncode, run.stdout) == (0, "Echo (turn 1): hi\n"), run.stderr
    (line,) = [line for line in run.stderr.splitlines() if "first lines after the send" in line]
    assert ", b none (battle hold 0 s)" in line and " a 0." in line

"""Data that never comes (protocol §15.3): the site sends an answer's status and headers, then
no byte of its body. ``LM_ARENA_FIRST_BYTE_TIMEOUT`` ends such a send long before the first-token
timeout would, as its own failure: exit 8, ``serve`` 504 with code ``no_data``, not sent again,
and the conversation goes on with the next send. The fake plays it with ``Fault.hang()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lmarena_cli.errors import ErrorKind, ExitStatus, TimedOut
from tests.fake_arena import FakeArena, Fault, Reply
from tests.helpers.clients import ClientFactory
from tests.helpers.serving import openai_client, serving
from tests.helpers.standin_cli import StandInCli

pytestmark = pytest.mark.timeout(60)

MODEL = "gemini-3-pro"
SAID = "the site accepted the message but sent nothing"


def sends(arena: FakeArena) -> int:
    return len(arena.stream_requests())


async def test_no_byte_after_the_status_fails_as_no_data_and_is_not_sent_again(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory(first_byte_timeout=0.5)
    chat = await client.chats.create(MODEL)
    assert (await chat.send("one")).text == "Echo (turn 1): one"
    arena.enqueue(Fault.hang())
    before = sends(arena)
    with pytest.raises(TimedOut) as caught:
        await chat.send("two")
    error = caught.value
    assert error.kind == ErrorKind.NO_DATA
    assert error.exit_code == ExitStatus.TIMEOUT and error.http_status == 504
    assert SAID in str(error) and "LM_ARENA_FIRST_BYTE_TIMEOUT" in str(error)
    assert sends(arena) - before == 1  # no automatic resend
    # The conversation goes on.
    third = await chat.send("three")
    assert third.text == "Echo (turn 3): three"
    assert third.evaluation_session_id == chat.id


async def test_a_heartbeat_is_data_and_a_slow_first_token_still_comes(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory(first_byte_timeout=0.5)
    arena.enqueue(Reply(text="late but there", heartbeats=1, delay_first=1.5))
    chat = await client.chats.create(MODEL)
    assert (await chat.send("slow")).text == "late but there"


async def test_a_shorter_first_token_timeout_still_wins_with_its_own_words(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory(first_byte_timeout=30.0)
    arena.enqueue(Fault.hang())
    chat = await client.chats.create(MODEL)
    with pytest.raises(TimedOut) as caught:
        await chat.send("hi", timeout=0.5)
    assert caught.value.kind == ErrorKind.TIMEOUT
    assert SAID not in str(caught.value)


async def test_cli_ask_exits_8_saying_nothing_came_and_the_next_c_goes_on(
    arena: FakeArena, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LM_ARENA_FIRST_BYTE_TIMEOUT", "0.5")
    cli = StandInCli(arena.url, tmp_path / "state", model=MODEL)
    one = await cli("ask", "--no-stdin", "one")
    assert (one.returncode, one.stdout) == (0, "Echo (turn 1): one\n"), one.stderr
    arena.enqueue(Fault.hang())
    two = await cli("ask", "--no-stdin", "-c", "two")
    assert two.returncode == 8, two.stderr
    assert two.stdout == ""
    (line,) = [line for line in two.stderr.splitlines() if line.startswith("lmarena: ")]
    assert SAID in line
    assert "Traceback" not in two.stderr
    three = await cli("ask", "--no-stdin", "-c", "three")
    assert (three.returncode, three.stdout) == (0, "Echo (turn 3): three\n"), three.stderr
    assert len(arena.sessions) == 1


async def test_serve_answers_504_with_code_no_data_and_the_conversation_goes_on(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    import openai

    async with serving(client_factory(record=False, first_byte_timeout=0.5)) as url:
        api = openai_client(url)
        first = await api.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "one"}]
        )
        conversation_id = (first.model_extra or {})["conversation_id"]
        arena.enqueue(Fault.hang())
        with pytest.raises(openai.APIStatusError) as caught:
            await api.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "two"}],
                extra_body={"conversation_id": conversation_id},
            )
        assert caught.value.status_code == 504
        body: Any = caught.value.body
        assert body["code"] == "no_data" and SAID in body["message"]
        follow = await api.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "three"}],
            extra_body={"conversation_id": conversation_id},
        )
        assert follow.choices[0].message.content == "Echo (turn 3): three"
        await api.close()

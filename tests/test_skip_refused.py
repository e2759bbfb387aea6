"""A battle whose skip the site refuses (protocol §15.1, "only allowed for first response"): the
conversation cannot go on. lmarena says so, and the next turn (``ask -c``, ``serve`` with the same
conversation) starts a new conversation whose first prompt folds the stored history; the store
links the old conversation to the new one. The fake plays it with ``arena.refuse_skip``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lmarena_cli.errors import ErrorKind, UpstreamError
from tests.fake_arena import FakeArena
from tests.helpers.clients import ClientFactory
from tests.helpers.serving import openai_client, serving
from tests.helpers.standin_cli import StandInCli

pytestmark = pytest.mark.timeout(60)

MODEL = "gemini-3-pro"
SAID = "cannot go on"


def first_prompt(arena: FakeArena, session_id: str) -> str:
    session = arena.sessions[session_id]
    return next(m.content for m in session.messages if m.role == "user")


async def test_the_fake_refuses_a_skip_and_keeps_the_battle_pending(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    arena.battle_turns, arena.refuse_skip = {2}, True
    chat = await client_factory().chats.create(MODEL)
    await chat.send("one")
    with pytest.raises(UpstreamError) as caught:
        await chat.send("two")
    assert chat.id in arena.pending_battles and arena.skipped_battles == []
    (skip,) = arena.skip_requests()
    assert skip.status == 400
    assert caught.value.detail is not None
    assert "only allowed for first response" in caught.value.detail


async def test_a_refused_skip_ends_the_conversation_and_the_next_turn_folds_its_history(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    arena.battle_turns, arena.refuse_skip = {2}, True
    client = client_factory()
    chat = await client.chats.create(MODEL)
    await chat.send("one")
    old = chat.id
    assert old is not None
    with pytest.raises(UpstreamError) as caught:
        await chat.send("two")
    assert caught.value.kind == ErrorKind.SKIP_REFUSED
    assert SAID in str(caught.value) and old in str(caught.value)
    assert "Anonymous" not in caught.value.partial
    # The next turn: a new conversation, its first prompt the stored history and the new turn.
    arena.battle_turns = set()  # (the new conversation's second turn is no battle)
    three = await chat.send("three")
    new = three.evaluation_session_id
    assert new != old and chat.id == new
    prompt = first_prompt(arena, new)
    assert prompt.index("one") < prompt.index("Echo (turn 1): one") < prompt.index("three")
    assert three.text == f"Echo (turn 1): {prompt}"
    assert client.links.successor(old) == new  # the one table a recycled one is linked in
    stored = client.store.get(new)
    assert stored is not None
    assert [t["content"] for t in stored.transcript if t["role"] == "user"] == ["one", "three"]
    four = await chat.send("four")
    assert four.evaluation_session_id == new and four.text == "Echo (turn 2): four"
    stored = client.store.get(new)
    assert stored is not None
    assert [t["content"] for t in stored.transcript if t["role"] == "user"] == [
        "one",
        "three",
        "four",
    ]
    # A later resume of the old id goes on in the new conversation (no third one).
    resumed = await client.chats.resume(old, model=MODEL)
    five = await resumed.send("five")
    assert five.evaluation_session_id == new and five.text == "Echo (turn 3): five"


async def test_cli_says_the_conversation_cannot_go_on_and_c_starts_a_new_one(
    arena: FakeArena, tmp_path: Path
) -> None:
    arena.battle_turns, arena.refuse_skip = {2}, True
    cli = StandInCli(arena.url, tmp_path / "state", model=MODEL)
    one = await cli("ask", "--no-stdin", "one")
    assert one.returncode == 0, one.stderr
    (old,) = arena.sessions
    two = await cli("ask", "--no-stdin", "-c", "two")
    assert two.returncode == 3, two.stderr
    assert two.stdout == ""
    (line,) = [line for line in two.stderr.splitlines() if line.startswith("lmarena: ")]
    assert SAID in line and old in line
    arena.battle_turns = set()
    three = await cli("ask", "--no-stdin", "-c", "three")
    assert three.returncode == 0, three.stderr
    assert f"the conversation {old} cannot go on" in three.stderr
    (new,) = set(arena.sessions) - {old}
    assert f"conversation: {new}" in three.stderr
    assert three.stdout.startswith("Echo (turn 1): ") and three.stdout.rstrip().endswith("three")
    four = await cli("ask", "--no-stdin", "-c", "four")
    assert (four.returncode, four.stdout) == (0, "Echo (turn 2): four\n"), four.stderr


async def test_serve_says_so_and_the_next_request_goes_on_in_a_new_conversation(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    import openai

    arena.battle_turns, arena.refuse_skip = {2}, True
    async with serving(client_factory(record=False)) as url:
        api = openai_client(url)
        first = await api.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "one"}]
        )
        old = (first.model_extra or {})["conversation_id"]
        named = {"conversation_id": old}
        with pytest.raises(openai.APIStatusError) as caught:
            await api.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "two"}], extra_body=named
            )
        assert caught.value.status_code == 502
        body: Any = caught.value.body
        assert body["code"] == "skip_refused" and SAID in body["message"]
        arena.battle_turns = set()
        three = await api.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "three"}], extra_body=named
        )
        new = (three.model_extra or {})["conversation_id"]
        assert new != old
        prompt = first_prompt(arena, new)
        assert "one" in prompt and prompt.rstrip().endswith("three")
        four = await api.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "four"}],
            extra_body={"conversation_id": new},
        )
        assert four.choices[0].message.content == "Echo (turn 2): four"
        await api.close()


async def test_serve_sends_the_tool_contract_again_in_the_conversation_that_goes_on(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    import openai

    tools: Any = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up.",
                "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
            },
        }
    ]
    arena.battle_turns, arena.refuse_skip = {2}, True
    async with serving(client_factory(record=False)) as url:
        api = openai_client(url)
        first = await api.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "one"}], tools=tools
        )
        old = (first.model_extra or {})["conversation_id"]
        assert first_prompt(arena, old).startswith("You can call tools.")
        named = {"conversation_id": old}
        with pytest.raises(openai.APIStatusError):
            await api.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "two"}],
                tools=tools,
                extra_body=named,
            )
        arena.battle_turns = set()
        three = await api.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "three"}],
            tools=tools,
            extra_body=named,
        )
        new = (three.model_extra or {})["conversation_id"]
        assert new != old
        # The new conversation's model has seen no contract: it gets it with the folded history.
        prompt = first_prompt(arena, new)
        assert prompt.startswith("You can call tools.") and "- lookup " in prompt
        assert "one" in prompt and prompt.rstrip().endswith("three")
        await api.close()

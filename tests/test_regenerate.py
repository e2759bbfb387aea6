"""Regenerate: the site's retry of a conversation's latest answer (protocol §7.4), end to end.

Through the library (``chat.retry()``), the CLI (``lmarena ask --retry``, a real subprocess on the
browser's stand-in) and ``serve`` (the official ``openai`` client sending the same history again),
what reaches the fake arena is a PUT to the retry endpoint with a ``chat_retry`` token, never a new
post of the user message; the new answer replaces the old one in the conversation store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from lmarena_cli import Client
from lmarena_cli.errors import UsageError
from lmarena_cli.site import facts
from lmarena_cli.site.evaluation import latest_answer_id
from lmarena_cli.state.store import ConversationStore
from tests.fake_arena import FakeArena, Reply
from tests.helpers.clients import ClientFactory, settings_for
from tests.helpers.serving import openai_client, serving
from tests.helpers.standin_cli import StandInCli, conversation

pytestmark = pytest.mark.timeout(60)

MODEL = "gemini-3-pro"
RETRY_PREFIX = "/nextjs-api/stream/retry-evaluation-session-message/"


def retries(arena: FakeArena) -> list[Any]:
    return [r for r in arena.received if r.path.startswith(RETRY_PREFIX)]


def user_posts(arena: FakeArena) -> list[Any]:
    return [
        r
        for r in arena.received
        if "/create-evaluation" in r.path or "/post-to-evaluation/" in r.path
    ]


def assert_one_retry(arena: FakeArena, session_id: str, answer_id: str) -> None:
    """Exactly one PUT to the retry endpoint of that answer, with a good chat_retry token."""
    (put,) = retries(arena)
    assert put.method == "PUT"
    assert put.path == f"{RETRY_PREFIX}{session_id}/messages/{answer_id}"
    assert set(put.json) == {"recaptchaV3Token"} and put.json["recaptchaV3Token"]
    assert ("chat_retry", "ok") in arena.recaptcha_log


# --- the library ----------------------------------------------------------------------------------


async def test_retry_puts_to_the_retry_endpoint_and_replaces_the_answer(
    client: Client, arena: FakeArena
) -> None:
    chat = await client.chats.create(MODEL)
    first = await chat.send("hi")
    assert first.text == "Echo (turn 1): hi"
    assert chat.id is not None and chat.answer_id == first.a.message_id
    again = await chat.retry()
    assert again.text == "Echo (turn 1, retry 1): hi"
    assert again.evaluation_session_id == chat.id
    assert again.a.message_id == first.a.message_id  # the site answers under the same id
    assert_one_retry(arena, chat.id, first.a.message_id or "")
    assert len(user_posts(arena)) == 1  # the prompt was not posted again
    stored = client.store.get(chat.id)
    assert stored is not None
    assert stored.transcript == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Echo (turn 1, retry 1): hi"},
    ]
    # The conversation goes on after the new answer.
    assert (await chat.send("more")).text == "Echo (turn 2): more"


async def test_a_streamed_retry_yields_the_new_answer(client: Client, arena: FakeArena) -> None:
    chat = await client.chats.create(MODEL)
    await chat.send("hi")
    arena.enqueue(Reply(text=["new ", "answer"]))
    stream = await chat.retry(stream=True)
    deltas = [delta async for delta in stream]
    assert deltas == ["new ", "answer"]
    assert stream.reply.text == "new answer" and stream.reply.to_dict()["text"] == "new answer"


async def test_a_resumed_conversation_retries_with_the_stored_answer_id(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    first = client_factory()
    chat = await first.chats.create(MODEL)
    reply = await chat.send("hi")
    assert chat.id is not None
    later = client_factory(browser=first.browser)  # another run: the store tells the answer
    resumed = await later.chats.resume(chat.id)
    assert resumed.answer_id == reply.a.message_id
    assert (await resumed.retry()).text == "Echo (turn 1, retry 1): hi"
    assert_one_retry(arena, chat.id, reply.a.message_id or "")


async def test_a_conversation_unknown_to_the_store_finds_its_answer_on_the_site(
    client_factory: ClientFactory, arena: FakeArena, tmp_path: Path
) -> None:
    first = client_factory()
    chat = await first.chats.create(MODEL)
    reply = await chat.send("hi")
    assert chat.id is not None
    elsewhere = Client(settings_for(arena.url, tmp_path / "elsewhere"), browser=first.browser)
    try:
        resumed = await elsewhere.chats.resume(chat.id, model=MODEL)
        assert resumed.answer_id is None
        assert (await resumed.retry()).text == "Echo (turn 1, retry 1): hi"
    finally:
        await elsewhere.close()
    assert_one_retry(arena, chat.id, reply.a.message_id or "")


async def test_an_unknown_answer_is_a_clear_usage_error_and_nothing_is_sent(
    client_factory: ClientFactory, arena: FakeArena, tmp_path: Path, monkeypatch: Any
) -> None:
    first = client_factory()
    chat = await first.chats.create(MODEL)
    await chat.send("hi")
    assert chat.id is not None
    monkeypatch.setattr(facts, "EVALUATION_JSON", "/api/nothing-here/{session_id}")
    elsewhere = Client(settings_for(arena.url, tmp_path / "elsewhere"), browser=first.browser)
    try:
        resumed = await elsewhere.chats.resume(chat.id, model=MODEL)
        with pytest.raises(UsageError, match="does not know the latest answer") as caught:
            await resumed.retry()
    finally:
        await elsewhere.close()
    assert chat.id in str(caught.value)
    assert retries(arena) == []


async def test_nothing_to_retry_before_the_first_answer_or_side_by_side(
    client: Client, arena: FakeArena
) -> None:
    fresh = await client.chats.create(MODEL)
    with pytest.raises(UsageError, match="no answer to regenerate yet"):
        await fresh.retry()
    pair = await client.chats.create(MODEL, versus="claude-opus-4-5")
    await pair.send("hi")
    with pytest.raises(UsageError, match="single-model"):
        await pair.retry()
    assert retries(arena) == []


def test_the_latest_answer_id_is_read_from_the_sites_conversation_json() -> None:
    messages = [
        {"id": "u1", "role": "user"},
        {"id": "a1", "role": "assistant", "participantPosition": "a"},
        {"id": "u2", "role": "user"},
        {"id": "b2", "role": "assistant", "participantPosition": "b"},
        {"id": "a2", "role": "assistant", "participantPosition": "a"},
    ]
    assert latest_answer_id({"messages": messages}) == "a2"
    assert latest_answer_id({"evaluationSession": {"messages": messages[:2]}}) == "a1"
    assert latest_answer_id({"messages": messages[:3]}) is None
    assert latest_answer_id({"messages": "nope"}) is None
    assert latest_answer_id(None) is None


# --- the store ------------------------------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY, model TEXT, mode TEXT NOT NULL, model_b TEXT,
    title TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, updated_at REAL NOT NULL,
    touched INTEGER NOT NULL, transcript BLOB NOT NULL, turns INTEGER NOT NULL,
    transcript_hash TEXT NOT NULL
);
"""


def test_a_store_of_schema_1_is_migrated_and_its_transcripts_are_found_for_a_regenerate(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conversations.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    transcript = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "old"}]
    db.execute(
        "INSERT INTO conversations VALUES (?, ?, ?, NULL, 'hi', 1, 1, 1, ?, 2, 'x')",
        ("c1", MODEL, "direct-battle", orjson.dumps(transcript)),
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with ConversationStore(path) as store:
        found = store.find_regenerate([{"role": "user", "content": " hi "}])
        assert found is not None and found.id == "c1" and found.answer_id is None
        store.replace_answer("c1", "new", "m1")
        again = store.get("c1")
        assert again is not None and again.answer_id == "m1"
        assert again.transcript[-1] == {"role": "assistant", "content": "new"}
        assert store.find_regenerate([{"role": "user", "content": "other"}]) is None


# --- the CLI, as a real process on the browser's stand-in -----------------------------------------


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path) -> StandInCli:
    return StandInCli(arena.url, tmp_path / "cli-state", model=MODEL)


async def test_cli_ask_retry_regenerates_the_latest_answer(
    cli: StandInCli, arena: FakeArena
) -> None:
    one = await cli("ask", "--no-stdin", "hi")
    assert (one.returncode, one.stdout) == (0, "Echo (turn 1): hi\n"), one.stderr
    again = await cli("ask", "--retry")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "Echo (turn 1, retry 1): hi\n"
    session_id = conversation(one.stderr)
    assert conversation(again.stderr) == session_id
    answer_id = arena.sessions[session_id].messages[1].id
    assert_one_retry(arena, session_id, answer_id)
    assert len(user_posts(arena)) == 1
    resumed = await cli("ask", "--retry", "--resume", session_id, "--json")
    assert resumed.returncode == 0, resumed.stderr
    data = orjson.loads(resumed.stdout)
    assert data["text"] == "Echo (turn 1, retry 2): hi"
    assert data["evaluation_session_id"] == session_id
    assert data["message_ids"]["a"] == answer_id
    follow = await cli("ask", "--no-stdin", "-c", "more")
    assert (follow.returncode, follow.stdout) == (0, "Echo (turn 2): more\n"), follow.stderr


@pytest.mark.parametrize(
    "extra", [["a prompt"], ["--image", "x.png"], ["--battle"], ["-m", MODEL], ["--vs", MODEL]]
)
async def test_cli_retry_with_a_prompt_or_a_model_is_a_usage_error(
    cli: StandInCli, arena: FakeArena, extra: list[str]
) -> None:
    run = await cli("ask", "--retry", *extra)
    assert run.returncode == 2
    assert run.stdout == ""
    assert "--retry regenerates the latest answer" in run.stderr
    assert "Traceback" not in run.stderr
    assert arena.stream_requests() == []


async def test_cli_retry_with_no_conversation_exits_2_saying_so(
    cli: StandInCli, arena: FakeArena
) -> None:
    run = await cli("ask", "--retry")
    assert run.returncode == 2
    assert run.stdout == ""
    assert "no earlier conversation" in run.stderr
    assert retries(arena) == []


# --- serve, through the official openai client ----------------------------------------------------


@pytest.fixture
async def served(client_factory: ClientFactory) -> AsyncIterator[str]:
    async with serving(client_factory(record=False)) as url:
        yield url


async def _ask(api: Any, messages: list[dict[str, str]], streaming: bool) -> tuple[str, str]:
    if not streaming:
        completion = await api.chat.completions.create(model=MODEL, messages=messages)
        return completion.choices[0].message.content, completion.model_extra["conversation_id"]
    stream = await api.chat.completions.create(model=MODEL, messages=messages, stream=True)
    text, conversation_id = "", ""
    async for chunk in stream:
        conversation_id = conversation_id or (chunk.model_extra or {}).get("conversation_id", "")
        for choice in chunk.choices:
            text += choice.delta.content or ""
    return text, conversation_id


@pytest.mark.parametrize("streaming", [False, True])
async def test_serve_answers_a_regenerate_with_the_retry_endpoint(
    served: str, arena: FakeArena, streaming: bool
) -> None:
    api = openai_client(served)
    history = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    first, session_id = await _ask(api, history, streaming)
    assert first == "Echo (turn 1): [System]\nBe brief.\n\n[User]\nhi"
    again, same = await _ask(api, history, streaming)  # the client's "regenerate"
    assert same == session_id
    assert again == "Echo (turn 1, retry 1): [System]\nBe brief.\n\n[User]\nhi"
    assert_one_retry(arena, session_id, arena.sessions[session_id].messages[1].id)
    assert len(user_posts(arena)) == 1
    # The stored transcript now ends with the new answer: the next turn continues it.
    follow = [*history, {"role": "assistant", "content": again}, {"role": "user", "content": "on"}]
    text, still = await _ask(api, follow, streaming)
    assert (text, still) == ("Echo (turn 2): on", session_id)
    # The old answer is no longer the conversation's: a history with it starts anew.
    stale = [*history, {"role": "assistant", "content": first}, {"role": "user", "content": "x"}]
    _, other = await _ask(api, stale, streaming)
    assert other != session_id
    await api.close()


async def test_serve_does_not_regenerate_for_another_model(served: str, arena: FakeArena) -> None:
    api = openai_client(served)
    history = [{"role": "user", "content": "hi"}]
    _, session_id = await _ask(api, history, False)
    other = await api.chat.completions.create(model="claude-opus-4-5", messages=history)
    assert other.choices[0].message.content == "Echo (turn 1): hi"
    assert other.model_extra["conversation_id"] != session_id
    assert retries(arena) == []
    await api.close()

"""`lmarena serve`'s Anthropic Messages API (``/v1/messages``, ``/v1/messages/count_tokens``) with
the official ``anthropic`` package (and raw HTTP) against the server on the fake arena, on
loopback. The fake model "calls" a tool when a test queues a reply holding the envelope.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
import anthropic
import orjson
import pytest
import pytest_asyncio

from lmarena_cli.client.client import Client
from lmarena_cli.errors import FieldError
from lmarena_cli.server.messages_fields import parse_messages_request
from lmarena_cli.settings import Settings
from tests.fake_arena import FakeArena, Fault, Reply
from tests.helpers.o200k import count, o200k_base
from tests.helpers.serving import extra_server, served_fake

pytestmark = [pytest.mark.asyncio(loop_scope="module")]

CHAT_MODEL = "gemini-3-pro"
THINKING_MODEL = "claude-opus-4-5-thinking-32k"
SEARCH_MODEL = "gemini-3-pro-grounding"
CREATE = "/nextjs-api/stream/create-evaluation"
POST_TO = "/nextjs-api/stream/post-to-evaluation/"
WEATHER = {
    "name": "get_weather",
    "description": "The current weather of a city. Use it for any weather question.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "The city's name"}},
        "required": ["city"],
    },
}


def call(city: str) -> str:
    return f'<tool_call>{{"name": "get_weather", "arguments": {{"city": "{city}"}}}}</tool_call>'


@dataclass
class Env:
    arena: FakeArena
    client: Client
    settings: Settings
    url: str
    log: list[str]
    sdk: anthropic.AsyncAnthropic

    def streams(self) -> list[Any]:
        return self.arena.stream_requests()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with served_fake(tmp_path_factory.mktemp("serve-messages") / "state") as served:
        sdk = anthropic.AsyncAnthropic(base_url=served.url, api_key="unused", max_retries=0)
        yield Env(served.arena, served.client, served.settings, served.url, served.log, sdk)
        await sdk.close()


@pytest.fixture(autouse=True)
def fresh_script(env: Env) -> Iterator[None]:
    env.arena.queue.clear()
    yield
    env.arena.queue.clear()
    env.client.pacing.forget()


async def raw_post(url: str, body: Any, **headers: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as r:
        return r.status, dict(r.headers), await r.read()


def events_of(raw: bytes) -> list[tuple[str, Any]]:
    """A stream's (event name, data) pairs."""
    out = []
    for chunk in raw.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.split("\n") if ": " in line)
        if "event" in lines:
            out.append((lines["event"], orjson.loads(lines["data"])))
    return out


def system(cch: str) -> Any:
    """A system prompt as Claude Code sends it: a billing block whose token changes on every
    request, then the prompt."""
    billing = f"x-anthropic-billing-header: cc_version=2.1.90.a1b; cc_entrypoint=cli; cch={cch};"
    return [
        {"type": "text", "text": billing},
        {"type": "text", "text": "You are a weather bot.", "cache_control": {"type": "ephemeral"}},
    ]


def sent_text(request: Any) -> str:
    return str(request.json["userMessage"]["content"])


# --------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------


async def test_create_answers_a_message(env: Env) -> None:
    env.arena.enqueue(Reply(text="Hello from the fake."))
    before = len(env.streams())
    message = await env.sdk.messages.create(
        model=CHAT_MODEL,
        max_tokens=200,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Say hello"}],
        metadata={"user_id": "someone"},
        extra_body={"temperature": 0.2, "top_k": 5},
    )
    assert message.id.startswith("msg_")
    assert (message.type, message.role, message.model) == ("message", "assistant", CHAT_MODEL)
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Hello from the fake."  # type: ignore[union-attr]
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens == 0
    sent = env.streams()[before:]
    assert [r.path for r in sent] == [CREATE]
    assert sent_text(sent[0]) == "[System]\nBe brief.\n\n[User]\nSay hello"


async def test_stream_gives_text_deltas_and_the_final_message(env: Env) -> None:
    env.arena.enqueue(Reply(text=["Once ", "upon ", "a time."]))
    async with env.sdk.messages.stream(
        model=CHAT_MODEL, max_tokens=200, messages=[{"role": "user", "content": "A story"}]
    ) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(pieces) == "Once upon a time."
    assert len(pieces) >= 2
    assert final.content[0].text == "Once upon a time."  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0
    other = await env.sdk.messages.create(
        model=CHAT_MODEL, max_tokens=50, messages=[{"role": "user", "content": "Again"}]
    )
    assert other.id != final.id


async def test_stream_events_come_in_anthropics_order(env: Env) -> None:
    env.arena.enqueue(Reply(text=["Two ", "parts"]))
    body = {
        "model": CHAT_MODEL,
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "raw events"}],
    }
    status, headers, raw = await raw_post(
        env.url + "/v1/messages", body, **{"anthropic-version": "2023-06-01"}
    )
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = events_of(raw)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["content"] == [] and start["usage"]["input_tokens"] > 0
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] > 0


async def test_keep_alives_are_ping_events(env: Env) -> None:
    async with extra_server(env.client, env.settings, keepalive=0.05) as url:
        env.arena.enqueue(Reply(text="Slow.", delay_first=0.4))
        body = {
            "model": CHAT_MODEL,
            "max_tokens": 100,
            "stream": True,
            "messages": [{"role": "user", "content": "take your time"}],
        }
        status, _, raw = await raw_post(url + "/v1/messages", body)
    assert status == 200
    assert b": keep-alive" not in raw
    names = [name for name, _ in events_of(raw)]
    assert names[0] == "ping" and names.count("ping") >= 3
    assert next(name for name in names if name != "ping") == "message_start"
    assert names[-1] == "message_stop"


async def test_reasoning_is_a_thinking_block_with_a_signature(env: Env) -> None:
    env.arena.enqueue(Reply(reasoning="Let me think.", text="Forty-two."))
    message = await env.sdk.messages.create(
        model=THINKING_MODEL,
        max_tokens=500,
        thinking={"type": "enabled", "budget_tokens": 200},
        messages=[{"role": "user", "content": "The answer?"}],
    )
    assert [block.type for block in message.content] == ["thinking", "text"]
    thinking = message.content[0]
    assert thinking.thinking == "Let me think." and thinking.signature  # type: ignore[union-attr]
    env.arena.enqueue(Reply(reasoning=["Hmm, ", "yes."], text="Done."))
    async with env.sdk.messages.stream(
        model=THINKING_MODEL, max_tokens=500, messages=[{"role": "user", "content": "And now?"}]
    ) as stream:
        final = await stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Hmm, yes."  # type: ignore[union-attr]
    assert final.content[0].signature  # type: ignore[union-attr]


async def test_search_sources_are_citations_of_the_text(env: Env) -> None:
    sources = [{"url": "https://example.com/a", "title": "A"}]
    env.arena.enqueue(Reply(text="Found it.", citations=sources))
    message = await env.sdk.messages.create(
        model=SEARCH_MODEL, max_tokens=100, messages=[{"role": "user", "content": "Search"}]
    )
    block = message.content[0]
    assert block.type == "text" and block.citations
    assert [(c.url, c.title) for c in block.citations] == [("https://example.com/a", "A")]  # type: ignore[union-attr]
    env.arena.enqueue(Reply(text="Found again.", citations=sources))
    async with env.sdk.messages.stream(
        model=SEARCH_MODEL, max_tokens=100, messages=[{"role": "user", "content": "Search more"}]
    ) as stream:
        final = await stream.get_final_message()
    block = final.content[0]
    assert block.type == "text" and block.text == "Found again."
    assert [c.url for c in block.citations or []] == ["https://example.com/a"]  # type: ignore[union-attr]


async def test_output_config_format_gives_checked_json(env: Env) -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
    env.arena.enqueue(Reply(text='Sure: ```json\n{"n": 3}\n```'))
    before = len(env.streams())
    message = await env.sdk.messages.create(
        model=CHAT_MODEL,
        max_tokens=100,
        output_config={"format": {"type": "json_schema", "schema": schema}},
        messages=[{"role": "user", "content": "A number"}],
    )
    assert message.content[0].text == '{"n":3}'  # type: ignore[union-attr]
    assert '"required":["n"]' in sent_text(env.streams()[before])
    env.arena.enqueue(Reply(text='{"n": "three"}'))
    with pytest.raises(anthropic.APIStatusError) as caught:
        await env.sdk.messages.create(
            model=CHAT_MODEL,
            max_tokens=100,
            output_config={"format": {"type": "json_schema", "schema": schema}},
            messages=[{"role": "user", "content": "A number, again"}],
        )
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]


async def test_beta_requests_are_served_too(env: Env) -> None:
    env.arena.enqueue(Reply(text="Beta."))
    message = await env.sdk.beta.messages.create(
        model=CHAT_MODEL,
        max_tokens=100,
        betas=["interleaved-thinking-2025-05-14"],
        messages=[{"role": "user", "content": "beta?"}],
    )
    assert message.content[0].text == "Beta."  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------------


async def test_tool_use_then_tool_result_continues_the_conversation(env: Env) -> None:
    session = {"X-Claude-Code-Session-Id": "session-tool-loop"}
    question: anthropic.types.MessageParam = {"role": "user", "content": "Weather in Paris?"}
    env.arena.enqueue(Reply(text="Let me check.\n" + call("Paris")))
    before = len(env.streams())
    first = await env.sdk.messages.create(
        model=CHAT_MODEL,
        max_tokens=300,
        system=system("3f2a1"),
        tools=[WEATHER, {"type": "web_search_20250305", "name": "web_search"}],  # type: ignore[list-item]
        messages=[question],
        extra_headers=session,
    )
    assert first.stop_reason == "tool_use"
    assert [block.type for block in first.content] == ["text", "tool_use"]
    use = first.content[1]
    assert use.type == "tool_use"
    assert use.id.startswith("toolu_") and use.name == "get_weather"
    assert use.input == {"city": "Paris"}
    sent = env.streams()[before:]
    assert [r.path for r in sent] == [CREATE]
    assert "get_weather" in sent_text(sent[0]) and "<tool_call>" in sent_text(sent[0])
    assert "web_search" not in sent_text(sent[0]) and "billing" not in sent_text(sent[0])
    assert any("web_search_20250305" in line for line in env.log)

    # The whole history comes back, with the result (as Claude Code sends it).
    env.arena.enqueue(Reply(text="It is 18°C and sunny in Paris."))
    before = len(env.streams())
    second = await env.sdk.messages.create(
        model=CHAT_MODEL,
        max_tokens=300,
        system=system("9c0d7"),
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            question,
            {
                "role": "assistant",
                "content": [cast(Any, block.to_dict()) for block in first.content],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": use.id, "content": "18°C, sunny"},
                    {"type": "text", "text": "Thanks."},
                ],
            },
        ],
        extra_headers=session,
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "It is 18°C and sunny in Paris."  # type: ignore[union-attr]
    sent = env.streams()[before:]
    assert len(sent) == 1 and sent[0].path.startswith(POST_TO)
    assert sent_text(sent[0]) == f"[Tool result {use.id} get_weather]\n18°C, sunny\n\nThanks."


async def test_the_claude_code_session_id_keys_the_matching(env: Env) -> None:
    question: anthropic.types.MessageParam = {"role": "user", "content": "Session question"}
    env.arena.enqueue(Reply(text="Session answer."))
    first = await env.sdk.messages.create(
        model=CHAT_MODEL,
        max_tokens=100,
        messages=[question],
        extra_headers={"X-Claude-Code-Session-Id": "session-a"},
    )
    history: list[anthropic.types.MessageParam] = [
        question,
        {"role": "assistant", "content": [cast(Any, b.to_dict()) for b in first.content]},
        {"role": "user", "content": "Go on"},
    ]
    before = len(env.streams())
    for session in ("session-b", "session-a"):
        env.arena.enqueue(Reply(text="More."))
        await env.sdk.messages.create(
            model=CHAT_MODEL,
            max_tokens=100,
            messages=history,
            extra_headers={"X-Claude-Code-Session-Id": session},
        )
    other, same = env.streams()[before:]
    assert other.path == CREATE and "[Assistant]\nSession answer." in sent_text(other)
    assert same.path.startswith(POST_TO) and sent_text(same) == "Go on"


async def test_a_system_message_among_the_messages_is_a_note_where_it_stands(env: Env) -> None:
    # What Claude Code sends under its beta "mid-conversation-system": its first request holds the
    # user's words, then a system message; later requests hold the same two in that place.
    note = "Available agent types: general, explore."
    opening: list[Any] = [
        {"role": "user", "content": "Plan the trip"},
        {"role": "system", "content": note},
    ]
    env.arena.enqueue(Reply(text="Planned."), Reply(text="Booked."))
    before = len(env.streams())
    first = await env.sdk.messages.create(
        model=CHAT_MODEL,
        max_tokens=100,
        messages=opening,
        extra_headers={"anthropic-beta": "mid-conversation-system-2026-04-07"},
    )
    assert first.content[0].text == "Planned."  # type: ignore[union-attr]
    history = [
        *opening,
        {"role": "assistant", "content": "Planned."},
        {"role": "user", "content": "Book it"},
    ]
    await env.sdk.messages.create(model=CHAT_MODEL, max_tokens=100, messages=history)
    create, post = env.streams()[before:]
    assert sent_text(create) == f"Plan the trip\n\n[System]\n{note}"
    assert post.path.startswith(POST_TO) and sent_text(post) == "Book it"


async def test_tool_use_streams_its_input_as_json_deltas(env: Env) -> None:
    env.arena.enqueue(
        Reply(
            text=[
                "Checking. <tool_",
                'call>{"name": "get_weather", ',
                '"arguments": {"city": "Oslo"}}</tool_call>',
            ]
        )
    )
    async with env.sdk.messages.stream(
        model=CHAT_MODEL,
        max_tokens=300,
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
    ) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert "input_json" in kinds
    assert final.stop_reason == "tool_use"
    assert [block.type for block in final.content] == ["text", "tool_use"]
    assert final.content[0].text == "Checking. "  # type: ignore[union-attr]
    use = final.content[1]
    assert use.type == "tool_use" and use.input == {"city": "Oslo"}
    assert use.id.startswith("toolu_")


async def test_a_streamed_answer_split_around_a_call_still_matches(env: Env) -> None:
    question: anthropic.types.MessageParam = {"role": "user", "content": "Weather in Lima?"}
    env.arena.enqueue(Reply(text=["Checking. ", call("Lima"), " Back soon."]))
    async with env.sdk.messages.stream(
        model=CHAT_MODEL,
        max_tokens=300,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[question],
    ) as stream:
        first = await stream.get_final_message()
    assert [block.type for block in first.content] == ["text", "tool_use", "text"]
    use = first.content[1]
    assert use.type == "tool_use"
    env.arena.enqueue(Reply(text="Warm."))
    before = len(env.streams())
    await env.sdk.messages.create(
        model=CHAT_MODEL,
        max_tokens=300,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            question,
            {"role": "assistant", "content": [cast(Any, b.to_dict()) for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id}]},
        ],
    )
    sent = env.streams()[before:]
    assert len(sent) == 1 and sent[0].path.startswith(POST_TO)
    assert sent_text(sent[0]) == f"[Tool result {use.id} get_weather]"


async def test_a_tool_error_result_is_marked_as_an_error(env: Env) -> None:
    env.arena.enqueue(Reply(text=call("Atlantis")))
    first = await env.sdk.messages.create(
        model=CHAT_MODEL,
        max_tokens=100,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Atlantis?"}],
    )
    use = first.content[0]
    assert use.type == "tool_use"
    env.arena.enqueue(Reply(text="Atlantis is not a known city."))
    before = len(env.streams())
    await env.sdk.messages.create(
        model=CHAT_MODEL,
        max_tokens=100,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "Weather in Atlantis?"},
            {"role": "assistant", "content": [cast(Any, use.to_dict())]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": use.id,
                        "is_error": True,
                        "content": [{"type": "text", "text": "unknown city"}],
                    }
                ],
            },
        ],
    )
    sent = env.streams()[before:]
    assert len(sent) == 1 and sent[0].path.startswith(POST_TO)
    assert sent_text(sent[0]) == f"[Tool error {use.id} get_weather]\nunknown city"


# --------------------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------------------


async def test_a_stop_sequence_is_stop_reason_stop_sequence(env: Env) -> None:
    env.arena.enqueue(Reply(text=["one two ", "STO", "P three"]))
    message = await env.sdk.messages.create(
        model=CHAT_MODEL,
        max_tokens=100,
        stop_sequences=["never", "STOP"],
        messages=[{"role": "user", "content": "Count"}],
    )
    assert message.content[0].text == "one two "  # type: ignore[union-attr]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "STOP")
    env.arena.enqueue(Reply(text="no stop here"))
    async with env.sdk.messages.stream(
        model=CHAT_MODEL,
        max_tokens=100,
        stop_sequences=["STOP"],
        messages=[{"role": "user", "content": "Count again"}],
    ) as stream:
        final = await stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == ("end_turn", None)


async def test_max_tokens_cuts_the_answer(env: Env) -> None:
    env.arena.enqueue(Reply(text="word " * 200))
    message = await env.sdk.messages.create(
        model=CHAT_MODEL, max_tokens=5, messages=[{"role": "user", "content": "Talk"}]
    )
    assert message.stop_reason == "max_tokens"
    assert 0 < len(message.content[0].text) < 100  # type: ignore[union-attr]
    env.arena.enqueue(Reply(text=["word " * 50, "word " * 150]))
    async with env.sdk.messages.stream(
        model=CHAT_MODEL, max_tokens=5, messages=[{"role": "user", "content": "Talk more"}]
    ) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "max_tokens"


async def test_an_oversized_prompt_is_prompt_is_too_long(env: Env) -> None:
    before = len(env.streams())
    with pytest.raises(anthropic.BadRequestError) as caught:
        await env.sdk.messages.create(
            model=CHAT_MODEL,
            max_tokens=100,
            messages=[{"role": "user", "content": "x" * (env.settings.max_prompt_chars + 1)}],
        )
    assert "prompt is too long" in caught.value.message
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert len(env.streams()) == before


# --------------------------------------------------------------------------------------------------
# count_tokens
# --------------------------------------------------------------------------------------------------


async def test_count_tokens_estimates_the_prompt_without_sending(env: Env, tmp_path: Path) -> None:
    before = len(env.streams())
    question: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Hi there " * 50}]
    plain = await env.sdk.messages.count_tokens(model=CHAT_MODEL, messages=question)
    with_tools = await env.sdk.messages.count_tokens(
        model=CHAT_MODEL,
        system="You are terse.",
        tools=[WEATHER],  # type: ignore[list-item]
        messages=question,
    )
    # The prompt is the question itself; never 10% under OpenAI's o200k_base count of it.
    real = count(o200k_base(tmp_path / "tiktoken"), "Hi there " * 50)
    assert real * 0.9 <= plain.input_tokens <= real * 1.3
    assert with_tools.input_tokens > plain.input_tokens
    ending_with_an_answer = await env.sdk.messages.count_tokens(
        model=CHAT_MODEL,
        messages=[*question, {"role": "assistant", "content": "Hello " * 50}],
    )
    assert ending_with_an_answer.input_tokens > plain.input_tokens
    assert len(env.streams()) == before
    status, _, raw = await raw_post(env.url + "/v1/messages/count_tokens", {"model": CHAT_MODEL})
    assert status == 400
    assert orjson.loads(raw)["error"]["type"] == "invalid_request_error"


async def test_count_tokens_counts_an_oversized_prompt_too(env: Env, tmp_path: Path) -> None:
    text = "y" * env.settings.max_prompt_chars * 2
    counted = await env.sdk.messages.count_tokens(
        model=CHAT_MODEL, messages=[{"role": "user", "content": text}]
    )
    assert counted.input_tokens >= count(o200k_base(tmp_path / "tiktoken"), text) * 0.9


# --------------------------------------------------------------------------------------------------
# Errors and the API key
# --------------------------------------------------------------------------------------------------


async def test_rate_limit_before_the_stream_is_a_rate_limit_error(env: Env) -> None:
    env.arena.enqueue(Fault.rate_limit(retry_after=600))  # longer than LM_ARENA_MAX_WAIT
    with pytest.raises(anthropic.RateLimitError) as caught:
        async with env.sdk.messages.stream(
            model=CHAT_MODEL, max_tokens=100, messages=[{"role": "user", "content": "too fast"}]
        ) as stream:
            await stream.get_final_message()
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "600"
    env.client.pacing.forget()  # remembered for every later send; this module's tests send on
    assert caught.value.body == {  # the SDK keeps the whole envelope
        "type": "error",
        "error": {"type": "rate_limit_error", "message": caught.value.body["error"]["message"]},  # type: ignore[index]
    }


async def test_unknown_model_is_not_found(env: Env) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        await env.sdk.messages.create(
            model="gemini-3-pr", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert "gemini-3-pro" in caught.value.message


@pytest.mark.parametrize(
    ("fault", "status", "kind"),
    [
        (Fault.a3("internal server error"), 502, "api_error"),
        (Fault.login_gate(), 503, "overloaded_error"),
        (Fault.hang(), 504, "timeout_error"),
    ],
    ids=["model-failure-502", "sign-in-503", "timeout-504"],
)
async def test_site_failures_map_to_anthropic_types(
    env: Env, fault: Fault, status: int, kind: str
) -> None:
    settings = env.settings.replace(timeout=1.5)
    client = Client(settings, browser=env.client.browser, record=False)
    async with extra_server(client, settings) as url:
        sdk = anthropic.AsyncAnthropic(base_url=url, api_key="x", max_retries=0)
        env.arena.enqueue(fault)
        with pytest.raises(anthropic.APIStatusError) as caught:
            await sdk.messages.create(
                model=CHAT_MODEL, max_tokens=50, messages=[{"role": "user", "content": "fail"}]
            )
        await sdk.close()
    await client.close()
    assert caught.value.status_code == status
    assert caught.value.body["error"]["type"] == kind  # type: ignore[index]


async def test_an_error_after_the_start_is_an_error_event(env: Env) -> None:
    env.arena.enqueue(Fault.cut(after_text="Partial ans"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with env.sdk.messages.stream(
            model=CHAT_MODEL, max_tokens=100, messages=[{"role": "user", "content": "cut me"}]
        ) as stream:
            async for _ in stream:
                pass
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    env.arena.enqueue(Fault.cut(after_text="Partial ans"))
    body = {
        "model": CHAT_MODEL,
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "cut me again"}],
    }
    status, _, raw = await raw_post(env.url + "/v1/messages", body)
    events = events_of(raw)
    assert status == 200
    assert events[0][0] == "message_start" and events[-1][0] == "error"
    text = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
    assert text == "Partial ans"


async def test_bad_requests_are_anthropic_envelopes(env: Env) -> None:
    bodies = [
        {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}]},  # no max_tokens
        {"model": CHAT_MODEL, "max_tokens": 5, "messages": [{"role": "developer", "content": "x"}]},
        {
            "model": CHAT_MODEL,
            "max_tokens": 5,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "prefill"},
            ],
        },
    ]
    said = []
    for body in bodies:
        status, _, raw = await raw_post(env.url + "/v1/messages", body)
        assert status == 400, body
        error = orjson.loads(raw)
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
        said.append(error["error"]["message"])
    # Worded as Anthropic words it: Claude Code falls back when it reads "Unexpected role".
    assert "Unexpected role 'developer'" in said[1] and "input message role" in said[1]
    async with aiohttp.ClientSession() as http:
        async with http.get(env.url + "/v1/messages") as response:
            assert response.status == 405
            assert (await response.json())["error"]["type"] == "invalid_request_error"
        async with http.post(env.url + "/v1/messages/nothing", json={}) as response:
            assert response.status == 404
            assert (await response.json())["error"]["type"] == "not_found_error"
        async with http.get(env.url + "/v1/nothing") as response:  # OpenAI's, as before
            assert response.status == 404
            assert set((await response.json())["error"]) == {"message", "type", "param", "code"}


async def test_x_api_key_is_accepted_when_the_server_has_a_key(env: Env) -> None:
    settings = env.settings.replace(api_key="s3cret-key")
    async with extra_server(env.client, settings) as url:
        wrong = anthropic.AsyncAnthropic(base_url=url, api_key="nope", max_retries=0)
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await wrong.messages.count_tokens(
                model=CHAT_MODEL, messages=[{"role": "user", "content": "hi"}]
            )
        assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
        await wrong.close()
        right = anthropic.AsyncAnthropic(base_url=url, api_key="s3cret-key", max_retries=0)
        env.arena.enqueue(Reply(text="Keyed."))
        message = await right.messages.create(
            model=CHAT_MODEL, max_tokens=50, messages=[{"role": "user", "content": "key?"}]
        )
        assert message.content[0].text == "Keyed."  # type: ignore[union-attr]
        await right.close()
        bearer = anthropic.AsyncAnthropic(base_url=url, auth_token="s3cret-key", max_retries=0)
        counted = await bearer.messages.count_tokens(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "bearer"}]
        )
        assert counted.input_tokens > 0
        await bearer.close()
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/v1/models", headers={"x-api-key": "s3cret-key"}) as r:
                assert r.status == 200
            async with http.get(url + "/v1/models") as r:  # OpenAI's envelope elsewhere
                assert (await r.json())["error"]["code"] == "invalid_api_key"


# --------------------------------------------------------------------------------------------------
# The request in the turn's plain form (no server)
# --------------------------------------------------------------------------------------------------


async def test_blocks_become_the_plain_form() -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    text_file = base64.b64encode(b"line one\nline two").decode()
    body = {
        "model": CHAT_MODEL,
        "max_tokens": 10,
        "system": [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}],
        "tools": [WEATHER, {"type": "bash_20250124", "name": "bash"}],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "stop_sequences": ["a", "b", "c", "d", "e"],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look:"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": png},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/a.png"},
                    },
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "inline"},
                    },
                    {
                        "type": "document",
                        "title": "notes.txt",
                        "source": {"type": "base64", "media_type": "text/plain", "data": text_file},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hidden", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
    }
    request = parse_messages_request(body)
    assert request.dropped_tools == ("bash_20250124",)
    assert [tool.name for tool in request.tools] == ["get_weather"]
    assert (request.tool_choice.mode, request.tool_choice.name) == ("function", "get_weather")
    assert request.parallel_tool_calls is False
    assert request.stop_sequences == ("a", "b", "c", "d", "e")
    turn = request.to_turn(session_key="s")
    assert turn.call_id_prefix == "toolu_" and turn.limits.max_tokens == 10
    system, user, assistant, tool, last = turn.messages
    assert system == {"role": "system", "content": "One.\nTwo."}
    kinds = [part["type"] for part in user["content"]]
    assert kinds == ["text", "image_url", "image_url", "text", "text"]
    assert user["content"][1]["image_url"]["url"] == f"data:image/png;base64,{png}"
    assert user["content"][2]["image_url"]["url"] == "https://example.com/a.png"
    assert user["content"][3]["text"] == "inline"
    assert "line two" in user["content"][4]["text"] and "notes.txt" in user["content"][4]["text"]
    assert assistant == {
        "role": "assistant",
        "content": 'Checking.\n<tool_call>{"name":"get_weather",'
        '"arguments":{"city":"Rome"}}</tool_call>',
    }
    assert tool == {"role": "tool", "content": "[Tool result toolu_1 get_weather]\nsunny"}
    assert last == {"role": "user", "content": "And tomorrow?"}
    assert [m["role"] for m in turn.new_messages] == ["tool", "user"]


async def test_choices_and_refusals() -> None:
    def parse(**extra: Any) -> Any:
        body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
        return parse_messages_request({**body, "tools": [WEATHER], **extra})

    assert parse(tool_choice={"type": "any"}).tool_choice.mode == "required"
    assert parse(tool_choice={"type": "none"}).to_turn().uses_tools is False
    assert parse().parallel_tool_calls is True
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    output = parse(output_config={"format": {"type": "json_schema", "schema": schema}}).output
    assert output is not None and output.strict and output.schema == schema
    with pytest.raises(FieldError) as caught:
        parse(tool_choice={"type": "tool", "name": "missing"})
    assert caught.value.param == "tool_choice.name"
    with pytest.raises(FieldError) as caught:
        parse(tools=[{"name": "t", "input_schema": "nope"}])
    assert caught.value.param == "tools[0].input_schema"
    with pytest.raises(FieldError) as caught:
        image = {"type": "image", "source": {"type": "file", "file_id": "f"}}
        parse(messages=[{"role": "user", "content": [image]}])
    assert caught.value.param == "messages[0].content[0].source.type"
    counting = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert parse_messages_request(counting, counting=True).max_tokens is None

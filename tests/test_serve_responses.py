"""`lmarena serve`'s ``/v1/responses``, driven by the official `openai` package (and raw HTTP)
against the server on the fake arena, all on loopback.

One server, client, stand-in browser and fake arena serve the whole module, as in
tests/test_server.py. The fake model "calls" a tool by answering with the envelope the tool
contract asks for.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import openai
import orjson
import pydantic
import pytest
import pytest_asyncio

from lmarena_cli.client.client import Client
from lmarena_cli.errors import RateLimited, UpstreamError
from lmarena_cli.server.app import make_app
from lmarena_cli.server.responses_output import failure
from lmarena_cli.server.run import start, warm_up
from lmarena_cli.settings import Settings
from tests.fake_arena import FakeArena, Fault, Reply
from tests.helpers.images import png
from tests.helpers.serving import served_fake

pytestmark = [pytest.mark.asyncio(loop_scope="module")]

MODEL = "gemini-3-pro"
CREATE = "/nextjs-api/stream/create-evaluation"
POST_TO = "/nextjs-api/stream/post-to-evaluation/"
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather of a city. Use it for any weather question.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "the city's name"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}
CALL_PARIS = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
CONTRACT = "You can call tools."


@dataclass
class Env:
    arena: FakeArena
    client: Client
    settings: Settings
    url: str
    log: list[str]
    openai: openai.AsyncOpenAI

    def sent(self, before: int) -> list[Any]:
        """The stream requests the fake received since ``before`` of them."""
        return self.arena.stream_requests()[before:]

    def count(self) -> int:
        return len(self.arena.stream_requests())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with served_fake(tmp_path_factory.mktemp("serve-responses") / "state") as served:
        sdk = openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key="unused", max_retries=0)
        yield Env(served.arena, served.client, served.settings, served.url, served.log, sdk)
        await sdk.close()


@pytest.fixture(autouse=True)
def fresh_script(env: Env) -> Iterator[None]:
    env.arena.queue.clear()
    yield
    env.arena.queue.clear()


def prompt_of(received: Any) -> str:
    content: str = received.json["userMessage"]["content"]
    return content


@contextlib.asynccontextmanager
async def extra_server(client: Client, settings: Settings, keepalive: float) -> AsyncIterator[str]:
    """Another app on the same browser, with other settings."""
    app = make_app(client, settings, keepalive=keepalive)
    running = await start(app, "127.0.0.1", 0)
    await warm_up(app)
    try:
        yield running.url
    finally:
        await running.runner.cleanup()


async def raw(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, json=body) as response,
    ):
        return response.status, orjson.loads(await response.read())


async def raw_events(url: str, body: Any) -> list[tuple[str, Any]]:
    """A streamed response's (event name, data) pairs, as they came."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/v1/responses", json={**body, "stream": True}) as response,
    ):
        assert response.status == 200
        text = (await response.read()).decode()
    events = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if "event" in lines:
            events.append((lines["event"], orjson.loads(lines["data"])))
    return events


# --- text --------------------------------------------------------------------------------------


async def test_create_answers_text_with_usage_and_an_id(env: Env) -> None:
    env.arena.enqueue(Reply(text="Hello from the arena", usage={"promptTokens": 5}))
    response = await env.openai.responses.create(
        model=MODEL, input="say hello (responses)", instructions="Be brief."
    )
    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == "Hello from the arena"
    assert [item.type for item in response.output] == ["message"]
    assert response.instructions == "Be brief."
    assert response.usage is not None
    assert response.usage.input_tokens == 5
    assert isinstance(response.usage.output_tokens, int) and response.usage.output_tokens > 0
    assert response.usage.total_tokens == 5 + response.usage.output_tokens
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert (response.model_extra or {})["conversation_id"] in env.arena.sessions


async def test_stream_sends_the_events_in_order_and_a_final_response(env: Env) -> None:
    env.arena.enqueue(Reply(text=["Four", " it is"], reasoning=["2+2", " is 4"]))
    async with env.openai.responses.stream(model=MODEL, input="what is 2+2 (stream)") as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    names = [event.type for event in events]
    assert names == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert final.output_text == "Four it is"
    reasoning = final.output[0]
    assert reasoning.type == "reasoning"
    assert reasoning.summary[0].text == "2+2 is 4"
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens > 0
    kept = await env.openai.responses.retrieve(final.id)
    assert kept.output_text == "Four it is"


async def test_max_output_tokens_makes_an_incomplete_response(env: Env) -> None:
    env.arena.enqueue(Reply(text="word " * 200))
    response = await env.openai.responses.create(
        model=MODEL, input="a long answer please", max_output_tokens=16
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert 0 < len(response.output_text) < len("word " * 200)
    env.arena.enqueue(Reply(text="word " * 200))
    events = await raw_events(
        env.url, {"model": MODEL, "input": "a long stream please", "max_output_tokens": 16}
    )
    assert events[-1][0] == "response.incomplete"
    assert events[-1][1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


async def test_search_citations_are_url_citation_annotations(env: Env) -> None:
    sources = [{"url": "https://example.org/a", "title": "Source A"}]
    env.arena.enqueue(Reply(text="Cited answer", citations=sources))
    response = await env.openai.responses.create(model=MODEL, input="cite something")
    message: Any = response.output[-1]
    assert message.type == "message"
    annotation = message.content[0].annotations[0]
    assert (annotation.type, annotation.url, annotation.title) == (
        "url_citation",
        "https://example.org/a",
        "Source A",
    )


async def test_json_schema_format_answers_json(env: Env) -> None:
    schema: dict[str, object] = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "degrees": {"type": "integer"}},
        "required": ["city", "degrees"],
    }
    env.arena.enqueue(Reply(text='Here: ```json\n{"city": "Oslo", "degrees": 4}\n```'))
    before = env.count()
    response = await env.openai.responses.create(
        model=MODEL,
        input="weather in Oslo as JSON",
        text={"format": {"type": "json_schema", "name": "w", "schema": schema, "strict": True}},
    )
    assert orjson.loads(response.output_text) == {"city": "Oslo", "degrees": 4}
    assert '"degrees"' in prompt_of(env.sent(before)[0])  # the schema went into the prompt
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"


class Weather(pydantic.BaseModel):
    city: str
    degrees: int


async def test_parse_with_a_pydantic_model(env: Env) -> None:
    env.arena.enqueue(Reply(text='{"city": "Rome", "degrees": 18}'))
    parsed = await env.openai.responses.parse(
        model=MODEL, input="weather in Rome (parse)", text_format=Weather
    )
    assert parsed.output_parsed == Weather(city="Rome", degrees=18)


# --- tools -------------------------------------------------------------------------------------


async def test_function_call_loop_with_previous_response_id(env: Env) -> None:
    env.arena.enqueue(Reply(text=CALL_PARIS))
    before = env.count()
    first = await env.openai.responses.create(
        model=MODEL,
        input="weather in Paris? (loop by id)",
        tools=[WEATHER],
    )
    call = first.output[-1]
    assert call.type == "function_call"
    assert (call.name, orjson.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert call.call_id.startswith("call_") and (call.id or "").startswith("fc_")
    assert first.output_text == ""
    env.arena.enqueue(Reply(text="It is sunny in Paris."))
    second = await env.openai.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}],
        tools=[WEATHER],
    )
    assert second.output_text == "It is sunny in Paris."
    assert second.previous_response_id == first.id
    conversation = (first.model_extra or {})["conversation_id"]
    assert (second.model_extra or {})["conversation_id"] == conversation
    sent = env.sent(before)
    assert [r.path for r in sent] == [CREATE, POST_TO + conversation]  # one send per turn
    assert CONTRACT in prompt_of(sent[0])
    assert CONTRACT not in prompt_of(sent[1])  # the conversation has seen this tool set
    assert prompt_of(sent[1]) == f"[Tool result {call.call_id} get_weather]\nsunny, 21C"


async def test_function_call_loop_with_the_full_history_and_store_false(env: Env) -> None:
    question: Any = {"role": "user", "content": "weather in Paris? (full history)"}
    env.arena.enqueue(Reply(text=["Let me check.\n", CALL_PARIS]))
    before = env.count()
    async with env.openai.responses.stream(
        model=MODEL,
        input=[question],
        tools=[WEATHER],
        store=False,
    ) as stream:
        events = [event.type async for event in stream]
        first = await stream.get_final_response()
    assert "response.function_call_arguments.delta" in events
    assert [item.type for item in first.output] == ["message", "function_call"]
    assert first.output_text == "Let me check.\n"
    call = first.output[1]
    assert call.type == "function_call"
    history: list[Any] = [question, *(item.to_dict() for item in first.output)]
    env.arena.enqueue(Reply(text="Sunny."))
    second = await env.openai.responses.create(
        model=MODEL,
        input=[
            *history,
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
        tools=[WEATHER],
        store=False,
    )
    assert second.output_text == "Sunny."
    conversation = (first.model_extra or {})["conversation_id"]
    sent = env.sent(before)
    assert [r.path for r in sent] == [CREATE, POST_TO + conversation]
    assert prompt_of(sent[1]) == f"[Tool result {call.call_id} get_weather]\nsunny"
    # store: false keeps nothing to fetch or continue from.
    with pytest.raises(openai.NotFoundError):
        await env.openai.responses.retrieve(second.id)


async def test_a_new_tool_set_sends_the_contract_again(env: Env) -> None:
    first = await env.openai.responses.create(
        model=MODEL,
        input="hello (tools change)",
        tools=[WEATHER],
    )
    time_tool: Any = {"type": "function", "name": "get_time", "parameters": {"type": "object"}}
    before = env.count()
    await env.openai.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input="and the time?",
        tools=[WEATHER, time_tool],
    )
    (sent,) = env.sent(before)
    assert CONTRACT in prompt_of(sent) and "get_time" in prompt_of(sent)


async def test_custom_tool_calls_are_custom_tool_call_items(env: Env) -> None:
    patch: Any = {"type": "custom", "name": "apply_patch", "description": "Edit files."}
    envelope = '<tool_call>{"name": "apply_patch", "arguments": "*** Begin Patch"}</tool_call>'
    env.arena.enqueue(Reply(text=envelope))
    first = await env.openai.responses.create(
        model=MODEL,
        input="patch it (custom)",
        tools=[patch],
    )
    (call,) = first.output
    assert call.type == "custom_tool_call"
    assert (call.name, call.input) == ("apply_patch", "*** Begin Patch")
    before = env.count()
    env.arena.enqueue(Reply(text="Patched."))
    output: Any = {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Done!"}
    second = await env.openai.responses.create(
        model=MODEL,
        input=[{"role": "user", "content": "patch it (custom)"}, call.to_dict(), output],  # type: ignore[list-item]
        tools=[patch],
    )
    assert second.output_text == "Patched."
    (sent,) = env.sent(before)
    assert sent.path.startswith(POST_TO)  # the full history matched the stored conversation
    assert prompt_of(sent) == f"[Tool result {call.call_id} apply_patch]\nDone!"


# --- previous_response_id, GET, DELETE ------------------------------------------------------------


async def test_an_older_previous_response_id_is_409_and_an_unknown_one_404(env: Env) -> None:
    first = await env.openai.responses.create(model=MODEL, input="first (branch)")
    second = await env.openai.responses.create(
        model=MODEL, input="second (branch)", previous_response_id=first.id
    )
    assert (second.model_extra or {})["conversation_id"] == (first.model_extra or {})[
        "conversation_id"
    ]
    before = env.count()
    with pytest.raises(openai.ConflictError) as conflict:
        await env.openai.responses.create(
            model=MODEL, input="third (branch)", previous_response_id=first.id
        )
    assert "cannot branch" in conflict.value.message
    with pytest.raises(openai.NotFoundError) as unknown:
        await env.openai.responses.create(
            model=MODEL, input="hi", previous_response_id="resp_nothing"
        )
    assert unknown.value.code == "previous_response_not_found"
    assert unknown.value.param == "previous_response_id"
    assert env.count() == before  # nothing was sent


async def test_get_and_delete_a_kept_response(env: Env) -> None:
    made = await env.openai.responses.create(model=MODEL, input="keep me")
    got = await env.openai.responses.retrieve(made.id)
    assert (got.id, got.output_text) == (made.id, made.output_text)
    status, body = await raw("DELETE", f"{env.url}/v1/responses/{made.id}")
    assert (status, body) == (200, {"id": made.id, "object": "response.deleted", "deleted": True})
    with pytest.raises(openai.NotFoundError):
        await env.openai.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):  # nor can it be continued from
        await env.openai.responses.create(model=MODEL, input="hi", previous_response_id=made.id)
    status, body = await raw("DELETE", f"{env.url}/v1/responses/{made.id}")
    assert status == 404


# --- errors ------------------------------------------------------------------------------------


async def test_rate_limit_is_a_rate_limit_error(env: Env) -> None:
    env.arena.enqueue(Fault.rate_limit(retry_after=600))  # longer than LM_ARENA_MAX_WAIT
    with pytest.raises(openai.RateLimitError) as caught:
        await env.openai.responses.create(model=MODEL, input="too fast (responses)")
    assert caught.value.response.headers["Retry-After"] == "600"
    assert caught.value.code == "rate_limit_exceeded"
    env.client.pacing.forget()


async def test_a_failure_after_the_start_is_response_failed(env: Env) -> None:
    env.arena.enqueue(Fault.cut(after_text="Partial ans"))
    events = await raw_events(env.url, {"model": MODEL, "input": "cut me (responses)"})
    names = [name for name, _ in events]
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.failed"
    failed = events[-1][1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "server_error" and failed["error"]["message"]
    text = "".join(data["delta"] for name, data in events if name == "response.output_text.delta")
    assert text == "Partial ans"
    env.arena.enqueue(Fault.cut(after_text="Partial ans"))
    async with env.openai.responses.stream(model=MODEL, input="cut me (sdk)") as stream:
        seen = [event.type async for event in stream]
        with pytest.raises(RuntimeError):
            await stream.get_final_response()
    assert seen[-1] == "response.failed"


async def test_a_rate_limit_after_the_start_says_how_long_to_wait() -> None:
    error = failure(RateLimited("the site is rate limiting this account", retry_after=3))
    assert error["code"] == "rate_limit_exceeded"
    assert error["message"].endswith("Please try again in 3s.")
    assert failure(UpstreamError("the answer was cut"))["code"] == "server_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": MODEL}, "input"),
        ({"model": MODEL, "input": [{"type": "function_call_output"}]}, "input[0].call_id"),
        ({"model": MODEL, "input": [{"role": "assistant", "content": "hi"}]}, "input"),
        ({"model": MODEL, "input": [{"type": "bogus"}]}, "input[0].type"),
        ({"model": MODEL, "input": "hi", "tool_choice": {"type": "function", "name": "x"}},
         "tool_choice"),
        ({"model": MODEL, "input": "hi", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"model": MODEL, "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
    ],
)  # fmt: skip
async def test_bad_fields_are_400_naming_the_field(
    env: Env, body: dict[str, Any], param: str
) -> None:
    status, answer = await raw("POST", f"{env.url}/v1/responses", body)
    assert status == 400
    assert answer["error"]["param"] == param


async def test_other_tools_are_dropped_with_a_log_line(env: Env) -> None:
    before = env.count()
    response = await env.openai.responses.create(
        model=MODEL, input="hello (web search)", tools=[{"type": "web_search"}]
    )
    assert response.status == "completed"
    assert CONTRACT not in prompt_of(env.sent(before)[0])
    assert any("'web_search' tool" in line for line in env.log)


# --- what Codex sends -----------------------------------------------------------------------------

CODEX_TOOLS: Any = [
    {
        "type": "function",
        "name": "shell",
        "description": "Runs a shell command and returns its output.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "array", "items": {"type": "string"}}},
            "required": ["command"],
            "additionalProperties": False,
        },
    },
    {"type": "custom", "name": "apply_patch", "description": "Edit files with a patch."},
    {"type": "web_search"},
]


def codex_body(items: list[Any], *, stream: bool = True) -> dict[str, Any]:
    return {
        "model": MODEL,
        "instructions": "You are a coding agent running in a terminal.",
        "input": items,
        "tools": CODEX_TOOLS,
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": stream,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "codex-session-1",
    }


def text_item(role: str, text: str) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}


def output_items(events: list[tuple[str, Any]]) -> list[Any]:
    """The items a stream finished, as a client keeps them for the next request."""
    return [data["item"] for name, data in events if name == "response.output_item.done"]


async def test_a_codex_session_is_one_conversation_with_one_send_per_turn(env: Env) -> None:
    items: list[Any] = [
        text_item("developer", "<permissions>workspace-write</permissions>"),
        text_item("user", "<environment_context>cwd=/w</environment_context>"),
        text_item("user", "list the files"),
    ]
    shell = '<tool_call>{"name": "shell", "arguments": {"command": ["ls"]}}</tool_call>'
    patch = '<tool_call>{"name": "apply_patch", "arguments": "*** Begin Patch"}</tool_call>'
    env.arena.enqueue(
        Reply(text=shell, reasoning="I should look."),
        Reply(text=["Now I fix it.", patch]),
        Reply(text="Done: README.md edited."),
    )
    before = env.count()
    first = await raw_events(env.url, codex_body(items))
    assert first[-1][0] == "response.completed"
    done = output_items(first)
    assert [item["type"] for item in done] == ["reasoning", "function_call"]
    call = done[1]
    items += [
        *done,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "README.md"},
    ]
    second = await raw_events(env.url, codex_body(items))
    done = output_items(second)
    assert [item["type"] for item in done] == ["message", "custom_tool_call"]
    assert done[1]["input"] == "*** Begin Patch"
    custom = done[1]
    items += [
        *done,
        {"type": "custom_tool_call_output", "call_id": custom["call_id"], "output": "ok"},
    ]
    third = await raw_events(env.url, codex_body(items))
    assert third[-1][1]["response"]["output_text"] == "Done: README.md edited."
    sent = env.sent(before)
    conversation = first[-1][1]["response"]["conversation_id"]
    assert [r.path for r in sent] == [CREATE, POST_TO + conversation, POST_TO + conversation]
    opening = prompt_of(sent[0])
    assert opening.count(CONTRACT) == 1 and "apply_patch string" in opening
    assert "web_search" not in opening  # a built-in tool: dropped
    assert "You are a coding agent" in opening and "list the files" in opening
    assert prompt_of(sent[1]) == f"[Tool result {call['call_id']} shell]\nREADME.md"
    assert prompt_of(sent[2]) == f"[Tool result {custom['call_id']} apply_patch]\nok"


async def test_session_keys_keep_equal_histories_apart(env: Env) -> None:
    question: Any = {"role": "user", "content": "same question (session keys)"}
    first = await env.openai.responses.create(
        model=MODEL,
        input=[question],
        prompt_cache_key="alpha",
    )
    answer = {"role": "assistant", "content": first.output_text}
    history: Any = [question, answer, {"role": "user", "content": "and then?"}]
    before = env.count()
    await env.openai.responses.create(model=MODEL, input=history, prompt_cache_key="beta")
    await env.openai.responses.create(model=MODEL, input=history, prompt_cache_key="alpha")
    sent = env.sent(before)
    conversation = (first.model_extra or {})["conversation_id"]
    assert sent[0].path == CREATE  # another session: a new conversation, history folded
    assert "same question (session keys)" in prompt_of(sent[0])
    assert sent[1].path == POST_TO + conversation
    assert prompt_of(sent[1]) == "and then?"


async def test_session_id_header_is_a_session_key(env: Env) -> None:
    question: Any = {"role": "user", "content": "same question (header)"}
    header = {"session_id": "gamma"}
    first = await env.openai.responses.create(
        model=MODEL,
        input=[question],
        extra_headers=header,
    )
    history: Any = [
        question,
        {"role": "assistant", "content": first.output_text},
        {"role": "user", "content": "more?"},
    ]
    before = env.count()
    await env.openai.responses.create(model=MODEL, input=history, extra_headers={"session_id": "x"})
    await env.openai.responses.create(model=MODEL, input=history, extra_headers=header)
    assert [r.path.startswith(POST_TO) for r in env.sent(before)] == [False, True]


async def test_images_are_attached_and_files_become_text(env: Env) -> None:
    image = "data:image/png;base64," + base64.b64encode(png(1, 1)).decode()
    notes = "data:text/plain;base64," + base64.b64encode(b"the launch is on Tuesday").decode()
    before = env.count()
    await env.openai.responses.create(
        model=MODEL,
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what do these say?"},
                    {"type": "input_image", "image_url": image, "detail": "auto"},
                    {"type": "input_file", "filename": "notes.txt", "file_data": notes},
                ],
            }
        ],
    )
    (sent,) = env.sent(before)
    message = sent.json["userMessage"]
    assert message["content"].startswith("what do these say?")
    assert "the launch is on Tuesday" in message["content"] and "notes.txt" in message["content"]
    assert [a["contentType"] for a in message["experimental_attachments"]] == ["image/png"]


async def test_a_failure_after_keep_alives_still_starts_the_response(env: Env) -> None:
    settings = env.settings.replace(timeout=1.0)
    client = Client(settings, browser=env.client.browser, record=False)
    async with extra_server(client, settings, keepalive=0.1) as server:
        env.arena.enqueue(Fault.hang_before_headers())
        events = await raw_events(server, {"model": MODEL, "input": "slow site (responses)"})
    await client.close()
    assert [name for name, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.failed",
    ]
    assert events[-1][1]["response"]["error"]["message"]


async def test_item_references_stand_for_the_kept_items(env: Env) -> None:
    """What the AI SDK sends with store: true: earlier answers as item_reference items."""
    question: Any = {"role": "user", "content": "weather in Paris? (references)"}
    env.arena.enqueue(Reply(text=CALL_PARIS, reasoning="A tool will know."))
    first = await env.openai.responses.create(model=MODEL, input=[question], tools=[WEATHER])
    reasoning, call = first.output
    assert call.type == "function_call"
    references: list[Any] = [
        {"type": "item_reference", "id": reasoning.id},
        {"type": "item_reference", "id": call.id},
    ]
    result: Any = {"type": "function_call_output", "call_id": call.call_id, "output": "rain"}
    env.arena.enqueue(Reply(text="Rain in Paris."))
    before = env.count()
    second = await env.openai.responses.create(
        model=MODEL, input=[question, *references, result], tools=[WEATHER]
    )
    reply: Any = {"type": "item_reference", "id": second.output[0].id}
    await env.openai.responses.create(
        model=MODEL,
        input=[question, *references, result, reply, {"role": "user", "content": "and Rome?"}],
        tools=[WEATHER],
    )
    conversation = (first.model_extra or {})["conversation_id"]
    sent = env.sent(before)
    assert [r.path for r in sent] == [POST_TO + conversation] * 2
    assert prompt_of(sent[0]) == f"[Tool result {call.call_id} get_weather]\nrain"
    assert prompt_of(sent[1]) == "and Rome?"
    status, body = await raw(
        "POST",
        f"{env.url}/v1/responses",
        {"model": MODEL, "input": [question, {"type": "item_reference", "id": "msg_gone_0"}]},
    )
    assert (status, body["error"]["param"]) == (400, "input[1].id")


async def test_kept_responses_survive_a_restart_of_the_server(env: Env) -> None:
    first = await env.openai.responses.create(model=MODEL, input="before the restart (kept)")
    async with extra_server(env.client, env.settings, keepalive=10.0) as server:
        sdk = openai.AsyncOpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)
        got = await sdk.responses.retrieve(first.id)
        before = env.count()
        second = await sdk.responses.create(
            model=MODEL, input="after the restart", previous_response_id=first.id
        )
        await sdk.close()
    assert got.output_text == first.output_text
    conversation = (first.model_extra or {})["conversation_id"]
    assert [r.path for r in env.sent(before)] == [POST_TO + conversation]
    assert (second.model_extra or {})["conversation_id"] == conversation

"""`serve`'s chat completions for the clients people run: tool calls (emulated in the prompt),
structured output, stop and max_tokens, files, the prompt budget; the official `openai` package
against the server on the fake arena, whose model answers what each test scripts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pydantic
import pytest
import pytest_asyncio

from tests.fake_arena import FakeArena, Reply
from tests.helpers.serving import served_fake

pytestmark = [pytest.mark.asyncio(loop_scope="module")]

MODEL = "gemini-3-pro"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city. Use it whenever weather is asked.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city's name, e.g. Paris."},
                "unit": {"type": "string", "enum": ["c", "f"]},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'


@dataclass
class Env:
    arena: FakeArena
    sdk: Any  # the openai client: these tests send plain dicts and this server's extensions
    log: list[str]

    def prompts(self) -> list[str]:
        sends = [r.json for r in self.arena.stream_requests() if r.method == "POST"]
        return [body["userMessage"]["content"] for body in sends if "userMessage" in body]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    state_dir = tmp_path_factory.mktemp("tools") / "state"
    async with served_fake(state_dir, recaptcha_delay=0.01, max_prompt_chars=6000) as served:
        sdk = openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key="unused", max_retries=0)
        yield Env(served.arena, sdk, served.log)
        await sdk.close()


@pytest.fixture(autouse=True)
def fresh(env: Env) -> Iterator[None]:
    env.arena.queue.clear()
    env.arena.scripts.clear()
    env.arena.received.clear()
    env.log.clear()
    yield


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


async def test_a_tool_loop_calls_gets_the_result_and_answers_in_one_conversation(
    env: Env,
) -> None:
    env.arena.script(r"\[Tool result call_\w+ get_weather\]\n\{\"temp\": 21\}", Reply("Sunny, 21."))
    env.arena.script("weather in Paris", Reply(CALL))
    messages: list[Any] = [user("What is the weather in Paris?")]
    first = await env.sdk.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Paris"},
    )
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    second = await env.sdk.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "Sunny, 21."
    assert second.choices[0].finish_reason == "stop"
    create, post = env.arena.stream_requests()
    assert create.path.endswith("/create-evaluation") and post.path.endswith(
        first.model_extra["conversation_id"]
    )
    # The contract went once; the result went back verbatim with its call id and tool name.
    first_prompt, second_prompt = env.prompts()
    assert "get_weather" in first_prompt and "<tool_call>" in first_prompt
    assert "Get the current weather for a city." in first_prompt
    assert "e.g. Paris" not in first_prompt  # parameter prose is not sent
    assert second_prompt == f'[Tool result {call.id} get_weather]\n{{"temp": 21}}'


async def test_a_streamed_call_comes_as_tool_call_deltas_after_the_text_before_it(
    env: Env,
) -> None:
    env.arena.script("weather", Reply(["Let me look", " that up.\n<tool_", "call>", CALL[11:]]))
    stream = await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("weather in Paris?")], tools=[WEATHER], stream=True
    )
    text, finish = "", None
    deltas: list[Any] = []
    async for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            deltas += choice.delta.tool_calls or []
            finish = choice.finish_reason or finish
    assert text == "Let me look that up.\n"
    assert finish == "tool_calls"
    head, *rest = deltas
    assert (head.index, head.type, head.function.name) == (0, "function", "get_weather")
    assert head.id.startswith("call_")
    assert all(d.id is None and d.function.name is None for d in rest)
    arguments = (head.function.arguments or "") + "".join(d.function.arguments for d in rest)
    assert json.loads(arguments) == {"city": "Paris"}


async def test_a_call_the_request_did_not_declare_stays_text_and_is_logged(env: Env) -> None:
    bogus = '<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>'
    env.arena.script("weather", Reply(bogus))
    reply = await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("weather?")], tools=[WEATHER]
    )
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content == bogus
    assert not reply.choices[0].message.tool_calls
    assert any("no tool named 'rm_rf'" in line for line in env.log)
    assert len(env.arena.stream_requests()) == 1  # never a second send


async def test_arguments_that_break_the_schema_stay_text(env: Env) -> None:
    wrong = '<tool_call>{"name": "get_weather", "arguments": {"city": 7}}</tool_call>'
    env.arena.script("weather", Reply(wrong))
    reply = await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("weather in Rome?")], tools=[WEATHER]
    )
    assert reply.choices[0].message.content == wrong
    assert any("$.city: 7 is not of type 'string'" in line for line in env.log)


async def test_a_call_inside_a_fenced_code_block_is_text(env: Env) -> None:
    fenced = f"Example:\n```\n{CALL}\n```\n"
    env.arena.script("weather", Reply(fenced))
    reply = await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("how to ask for the weather?")], tools=[WEATHER]
    )
    assert reply.choices[0].message.content == fenced
    assert reply.choices[0].finish_reason == "stop"


async def test_tool_choice_none_sends_no_contract_and_parses_nothing(env: Env) -> None:
    env.arena.script("weather", Reply(CALL))
    reply = await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("weather in Oslo?")], tools=[WEATHER], tool_choice="none"
    )
    assert reply.choices[0].message.content == CALL
    assert "<tool_call>" not in env.prompts()[0]


async def test_required_and_named_tool_choice_add_one_sentence(env: Env) -> None:
    env.arena.script("weather", Reply(CALL), repeat=True)
    await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("weather in Lima?")], tools=[WEATHER], tool_choice="required"
    )
    named = {"type": "function", "function": {"name": "get_weather"}}
    await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("weather!")], tools=[WEATHER], tool_choice=named
    )
    required, function = env.prompts()
    assert "You must call at least one tool now." in required
    assert "You must call the tool get_weather now." in function


class Person(pydantic.BaseModel):
    name: str
    age: int


async def test_parse_returns_the_pydantic_object_from_fenced_json(env: Env) -> None:
    env.arena.script("Ada", Reply('Here it is:\n```json\n{"name": "Ada", "age": 36}\n```'))
    result = await env.sdk.chat.completions.parse(
        model=MODEL, messages=[user("Ada Lovelace, 36")], response_format=Person
    )
    assert result.choices[0].message.parsed == Person(name="Ada", age=36)
    assert "JSON" in env.prompts()[0] and '"age"' in env.prompts()[0]


async def test_a_strict_schema_mismatch_is_an_error_naming_it(env: Env) -> None:
    env.arena.script("Ada", Reply('{"name": "Ada", "age": "old"}'))
    with pytest.raises(openai.APIStatusError) as caught:
        await env.sdk.chat.completions.parse(
            model=MODEL, messages=[user("Ada Lovelace")], response_format=Person
        )
    assert "age" in str(caught.value) and "integer" in str(caught.value)
    assert caught.value.status_code == 502


async def test_stop_cuts_the_answer_at_the_first_stop_sequence(env: Env) -> None:
    env.arena.script("count", Reply(["one two ", "thr", "ee four"]))
    reply = await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("count")], stop=["three", "zzz"]
    )
    assert reply.choices[0].message.content == "one two "
    assert reply.choices[0].finish_reason == "stop"


async def test_max_tokens_cuts_the_answer_with_finish_reason_length(env: Env) -> None:
    env.arena.script("essay", Reply("word " * 400))
    reply = await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("essay")], max_tokens=20
    )
    content = reply.choices[0].message.content or ""
    assert reply.choices[0].finish_reason == "length"
    assert 0 < len(content) < len("word " * 400)
    assert reply.usage is not None and reply.usage.completion_tokens <= 20


async def test_usage_is_always_there_and_n_above_one_is_refused(env: Env) -> None:
    reply = await env.sdk.chat.completions.create(model=MODEL, messages=[user("hi")])
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    assert reply.choices[0].logprobs is None
    with pytest.raises(openai.BadRequestError) as caught:
        await env.sdk.chat.completions.create(model=MODEL, messages=[user("hi")], n=2)
    assert caught.value.body["param"] == "n"  # type: ignore[index]


async def test_a_text_file_part_reaches_the_model_as_text_with_its_name(env: Env) -> None:
    data = base64.b64encode(b"quarterly numbers: 42").decode()
    part = {
        "type": "file",
        "file": {"filename": "q3.txt", "file_data": f"data:text/plain;base64,{data}"},
    }
    message = {"role": "user", "content": [part, {"type": "text", "text": "sum it up"}]}
    await env.sdk.chat.completions.create(model=MODEL, messages=[message])
    prompt = env.prompts()[0]
    assert "q3.txt" in prompt and "quarterly numbers: 42" in prompt and "sum it up" in prompt


async def test_a_prompt_over_the_budget_is_refused_and_never_sent(env: Env) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await env.sdk.chat.completions.create(model=MODEL, messages=[user("x" * 7000)])
    assert "7,000" in str(caught.value) and "6,000" in str(caught.value)
    assert env.arena.stream_requests() == []


async def test_legacy_functions_get_a_function_call_whole_and_streamed(env: Env) -> None:
    function = WEATHER["function"]
    env.arena.script("weather", Reply(CALL), repeat=True)
    reply = await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("weather in Kyiv?")], functions=[function]
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "function_call" and not choice.message.tool_calls
    assert choice.message.function_call.name == "get_weather"
    assert json.loads(choice.message.function_call.arguments) == {"city": "Paris"}
    stream = await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("weather in Riga?")], functions=[function], stream=True
    )
    names, arguments, finish = [], "", None
    async for chunk in stream:
        for part in chunk.choices:
            if part.delta.function_call is not None:
                names.append(part.delta.function_call.name)
                arguments += part.delta.function_call.arguments or ""
            finish = part.finish_reason or finish
    assert (names[0], finish) == ("get_weather", "function_call")
    assert json.loads(arguments) == {"city": "Paris"}
    # The result comes back as a `function` message and continues the conversation.
    messages = [
        user("weather in Kyiv?"),
        choice.message.model_dump(exclude_none=True),
        {"role": "function", "name": "get_weather", "content": "cold"},
    ]
    env.arena.scripts.clear()
    env.arena.script(r"^\[Tool result get_weather\]\ncold$", Reply("Cold in Kyiv."))
    final = await env.sdk.chat.completions.create(
        model=MODEL, messages=messages, functions=[function]
    )
    assert final.choices[0].message.content == "Cold in Kyiv."


async def test_prompt_cache_key_keeps_equal_histories_of_two_sessions_apart(env: Env) -> None:
    first = [user("Session question?")]
    one = await env.sdk.chat.completions.create(
        model=MODEL, messages=first, prompt_cache_key="session-1"
    )
    two = await env.sdk.chat.completions.create(
        model=MODEL, messages=[user("Another opening?")], prompt_cache_key="session-2"
    )
    history = [*first, {"role": "assistant", "content": one.choices[0].message.content}]
    # The same history under the other session's key matches nothing there: a new conversation.
    other = await env.sdk.chat.completions.create(
        model=MODEL, messages=[*history, user("and then?")], prompt_cache_key="session-2"
    )
    same = await env.sdk.chat.completions.create(
        model=MODEL, messages=[*history, user("and so?")], prompt_cache_key="session-1"
    )
    ids = [r.model_extra["conversation_id"] for r in (one, two, other, same)]
    assert ids[3] == ids[0] and ids[2] not in (ids[0], ids[1])

"""`lmarena serve` end to end: the official `openai` package (and raw HTTP) against the server,
which drives a real Client on the browser's stand-in (:class:`tests.fakes.HttpBrowser`) and the
fake arena, all on loopback.

One server, client, stand-in and fake arena serve the whole module; variants (an API key, CORS,
another history mode) are extra apps on the same client. The ``serve`` process tests that start
a real Chromium are marked ``browser``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessageParam,
    ChatCompletionUserMessageParam,
)

from lmarena_cli.client.client import Client
from lmarena_cli.errors import ConfigError, UsageError
from lmarena_cli.server.app import make_app
from lmarena_cli.server.run import check_bind, is_loopback, start
from lmarena_cli.settings import Settings
from tests.fake_arena import FakeArena, Fault, Reply
from tests.helpers.command import LMARENA
from tests.helpers.images import png
from tests.helpers.processes import pids_with
from tests.helpers.servers import loopback_server
from tests.helpers.serving import extra_server, served_fake

pytestmark = [pytest.mark.asyncio(loop_scope="module")]

CHAT_MODEL = "gemini-3-pro"
TEXT_ONLY_MODEL = "llama-3.3-70b-instruct"
IMAGE_MODEL = "gemini-3-pro-image-preview"
CREATE = "/nextjs-api/stream/create-evaluation"
POST_TO = "/nextjs-api/stream/post-to-evaluation/"


@dataclass
class Env:
    arena: FakeArena
    client: Client
    settings: Settings
    url: str
    log: list[str]
    openai: openai.AsyncOpenAI

    def streams(self) -> list[Any]:
        return self.arena.stream_requests()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with served_fake(tmp_path_factory.mktemp("serve") / "state") as served:
        sdk = openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key="unused", max_retries=0)
        yield Env(served.arena, served.client, served.settings, served.url, served.log, sdk)
        await sdk.close()


@pytest.fixture(autouse=True)
def fresh_script(env: Env) -> Iterator[None]:
    env.arena.queue.clear()
    yield
    env.arena.queue.clear()


async def raw_post(url: str, body: bytes | Any, **headers: str) -> tuple[int, dict[str, str], Any]:
    # A file object: aiohttp warns (an error here) about a large body given as bytes.
    data = io.BytesIO(body if isinstance(body, bytes) else orjson.dumps(body))
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=data, headers=headers) as response,
    ):
        payload = await response.read()
        return response.status, dict(response.headers), orjson.loads(payload)


async def sse_lines(url: str, body: Any, **headers: str) -> list[str]:
    """Every non-empty line of a streamed answer, comments included."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        text = (await response.read()).decode()
    return [line for line in text.split("\n") if line]


def data_of(lines: list[str]) -> list[Any]:
    return [orjson.loads(line[6:]) for line in lines if line.startswith("data: {")]


# --------------------------------------------------------------------------------------------------
# The OpenAI SDK
# --------------------------------------------------------------------------------------------------


async def test_models_list_has_the_openai_shape_and_capabilities(env: Env) -> None:
    page = await env.openai.models.list()
    by_id = {model.id: model for model in page.data}
    assert {CHAT_MODEL, IMAGE_MODEL} <= set(by_id)
    chat = by_id[CHAT_MODEL]
    assert chat.object == "model"
    assert chat.owned_by and isinstance(chat.created, int)
    extra = chat.model_extra or {}
    assert extra["takes_images"] is True
    assert by_id[IMAGE_MODEL].model_extra["outputs_images"] is True  # type: ignore[index]
    one = await env.openai.models.retrieve(CHAT_MODEL)
    assert (one.id, one.owned_by) == (CHAT_MODEL, chat.owned_by)
    with pytest.raises(openai.NotFoundError):
        await env.openai.models.retrieve("no-such-model")


async def test_non_streaming_completion_has_text_usage_and_the_conversation(env: Env) -> None:
    env.arena.enqueue(Reply(text="Hello there", usage={"promptTokens": 3, "completionTokens": 2}))
    completion = await env.openai.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "say hello (plain)"}]
    )
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert abs(completion.created - time.time()) < 60
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.total_tokens) == (3, 5)
    extra = completion.model_extra or {}
    assert extra["conversation"]["evaluationSessionId"] == extra["conversation_id"]
    assert extra["conversation_id"] in env.arena.sessions


async def test_streaming_completion_sends_role_reasoning_content_finish_and_usage(
    env: Env,
) -> None:
    env.arena.enqueue(
        Reply(
            text=["Four", " it is"],
            reasoning=["2+2", " is 4"],
            usage={"promptTokens": 4, "completionTokens": 3},
        )
    )
    stream = await env.openai.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "what is 2+2 (stream)"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    first = chunks[0]
    assert first.object == "chat.completion.chunk"
    assert first.choices[0].delta.role == "assistant"
    conversation_id = (first.model_extra or {})["conversation_id"]
    assert conversation_id in env.arena.sessions
    assert len({chunk.id for chunk in chunks}) == 1
    with_choices = [chunk for chunk in chunks if chunk.choices]
    text = "".join(c.choices[0].delta.content or "" for c in with_choices)
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in with_choices
    )
    assert (text, reasoning) == ("Four it is", "2+2 is 4")
    assert with_choices[-1].choices[0].finish_reason == "stop"
    assert [c.choices[0].finish_reason for c in with_choices[:-1]] == [None] * (
        len(with_choices) - 1
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None and last.usage.total_tokens == 7


async def test_stream_ends_with_done_after_the_finish_chunk(env: Env) -> None:
    env.arena.enqueue(Reply(text="ok"))
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "raw stream"}]}
    lines = sse_lines(env.url, {**body, "stream": True})
    got = await lines
    assert got[-1] == "data: [DONE]"
    chunks = data_of(got)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["conversation"]["evaluationSessionId"] == chunks[0]["conversation_id"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert "usage" not in chunks[-1]  # not asked for


async def test_resume_through_extra_body_sends_only_the_last_message(env: Env) -> None:
    first = await env.openai.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "remember the word kiwi"}]
    )
    conversation_id = (first.model_extra or {})["conversation_id"]
    before = len(env.streams())
    second = await env.openai.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "which word?"}],
        extra_body={"conversation": {"evaluationSessionId": conversation_id}},
    )
    sent = env.streams()[before:]
    assert [r.path for r in sent] == [POST_TO + conversation_id]
    assert sent[0].json["userMessage"]["content"] == "which word?"
    assert (second.model_extra or {})["conversation_id"] == conversation_id
    assert "turn 2" in (second.choices[0].message.content or "")


async def test_resume_by_conversation_id_field_and_unknown_id_is_404(env: Env) -> None:
    first = await env.openai.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "first of two by id"}]
    )
    conversation_id = (first.model_extra or {})["conversation_id"]
    second = await env.openai.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "second"}],
        extra_body={"conversation_id": conversation_id},
    )
    assert (second.model_extra or {})["conversation_id"] == conversation_id
    with pytest.raises(openai.NotFoundError) as caught:
        await env.openai.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"conversation_id": "not-a-conversation"},
        )
    assert caught.value.status_code == 404
    assert "not-a-conversation" in caught.value.message
    with pytest.raises(openai.NotFoundError) as caught:  # a UUID the site does not know
        await env.openai.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"conversation_id": "01a20f67-4b3a-7387-86aa-024879b6718c"},
        )
    assert caught.value.code == "conversation_not_found"


async def test_full_history_continues_the_stored_conversation(env: Env) -> None:
    question: ChatCompletionUserMessageParam = {
        "role": "user",
        "content": "full history: name a fruit",
    }
    first = await env.openai.chat.completions.create(model=CHAT_MODEL, messages=[question])
    conversation_id = (first.model_extra or {})["conversation_id"]
    answer: ChatCompletionAssistantMessageParam = {
        "role": "assistant",
        "content": first.choices[0].message.content,
    }
    before = len(env.streams())
    second = await env.openai.chat.completions.create(
        model=CHAT_MODEL,
        messages=[question, answer, {"role": "user", "content": "another one"}],
    )
    sent = env.streams()[before:]
    assert [r.path for r in sent] == [POST_TO + conversation_id]
    assert sent[0].json["userMessage"]["content"] == "another one"
    assert (second.model_extra or {})["conversation_id"] == conversation_id
    # And a third turn still matches: the store kept the second exchange too.
    answer2: ChatCompletionAssistantMessageParam = {
        "role": "assistant",
        "content": second.choices[0].message.content,
    }
    before = len(env.streams())
    await env.openai.chat.completions.create(
        model=CHAT_MODEL,
        messages=[question, answer, {"role": "user", "content": "another one"}, answer2,
                  {"role": "user", "content": "and a third"}],
    )  # fmt: skip
    assert [r.path for r in env.streams()[before:]] == [POST_TO + conversation_id]


async def test_conversations_survive_a_restart_of_the_server(env: Env) -> None:
    question: ChatCompletionUserMessageParam = {
        "role": "user",
        "content": "before the restart: name a river",
    }
    first = await env.openai.chat.completions.create(model=CHAT_MODEL, messages=[question])
    conversation_id = (first.model_extra or {})["conversation_id"]
    answer: ChatCompletionAssistantMessageParam = {
        "role": "assistant",
        "content": first.choices[0].message.content,
    }

    # A new Client and app over the same state directory, as after `lmarena serve` restarts:
    # only the conversation store on disk links the history to the conversation.
    restarted = Client(env.settings, browser=env.client.browser, record=False)
    async with extra_server(restarted, env.settings) as server:
        sdk = openai.AsyncOpenAI(base_url=f"{server}/v1", api_key="x", max_retries=0)
        before = len(env.streams())
        by_history = await sdk.chat.completions.create(
            model=CHAT_MODEL, messages=[question, answer, {"role": "user", "content": "longer?"}]
        )
        by_id = await sdk.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "and the shortest?"}],
            extra_body={"conversation_id": conversation_id},
        )
        await sdk.close()
    await restarted.close()
    sent = env.streams()[before:]
    assert [r.path for r in sent] == [POST_TO + conversation_id] * 2
    assert (by_history.model_extra or {})["conversation_id"] == conversation_id
    assert by_id.choices[0].message.content == "Echo (turn 3): and the shortest?"


async def test_unmatched_history_is_folded_into_the_first_prompt(env: Env) -> None:
    before = len(env.streams())
    await env.openai.chat.completions.create(
        model=CHAT_MODEL,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "never stored question"},
            {"role": "assistant", "content": "never stored answer"},
            {"role": "user", "content": [{"type": "text", "text": "and now?"}]},
        ],
    )
    sent = env.streams()[before:]
    assert [r.path for r in sent] == [CREATE]
    assert sent[0].json["userMessage"]["content"] == (
        "[System]\nYou are terse.\n\n"
        "[User]\nnever stored question\n\n"
        "[Assistant]\nnever stored answer\n\n"
        "[User]\nand now?"
    )


async def test_history_setting_last_sends_only_the_last_message(env: Env) -> None:
    settings = env.settings.replace(serve_history="last")
    async with extra_server(env.client, settings) as url:
        sdk = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        before = len(env.streams())
        await sdk.chat.completions.create(
            model=CHAT_MODEL,
            messages=[
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "only the last, please"},
            ],
        )
        await sdk.close()
    sent = env.streams()[before:]
    assert sent[0].json["userMessage"]["content"] == "only the last, please"


async def test_history_setting_comes_from_the_environment_and_is_checked(env: Env) -> None:
    loaded = Settings.load(environ={"LM_ARENA_SERVE_HISTORY": "last"}, config_path=Path("/nil"))
    assert loaded.serve_history == "last"
    with pytest.raises(ConfigError) as caught:
        make_app(env.client, env.settings.replace(serve_history="everything"))
    assert "LM_ARENA_SERVE_HISTORY must be one of match, last" in str(caught.value)


async def test_image_as_data_uri_is_uploaded_and_attached(env: Env) -> None:
    uri = "data:image/png;base64," + base64.b64encode(png(1, 1)).decode()
    before = len(env.streams())
    await env.openai.chat.completions.create(
        model=CHAT_MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what colour is this?"},
                    {"type": "image_url", "image_url": {"url": uri}},
                ],
            }
        ],
    )
    sent = env.streams()[before:]
    message = sent[0].json["userMessage"]
    assert message["content"] == "what colour is this?"
    attachments = message["experimental_attachments"]
    assert len(attachments) == 1
    assert attachments[0]["contentType"] == "image/png"


@pytest_asyncio.fixture(loop_scope="module")
async def image_host() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server with /dot.png, and the paths it was asked for."""
    hits: list[str] = []

    async def dot(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=png(1, 1), content_type="image/png")

    async with loopback_server({"/dot.png": dot}) as url:
        yield url + "/dot.png", hits


def image_message(url: str) -> list[ChatCompletionMessageParam]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "describe"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


async def test_image_url_on_loopback_is_refused_by_default(
    env: Env, image_host: tuple[str, list[str]]
) -> None:
    url, hits = image_host
    before = len(env.streams())
    with pytest.raises(openai.BadRequestError) as caught:
        await env.openai.chat.completions.create(model=CHAT_MODEL, messages=image_message(url))
    assert caught.value.status_code == 400
    assert "loopback" in caught.value.message
    assert hits == []
    assert len(env.streams()) == before


async def test_image_url_on_loopback_is_fetched_when_private_urls_are_allowed(
    env: Env, image_host: tuple[str, list[str]]
) -> None:
    url, hits = image_host
    settings = env.settings.replace(allow_private_urls=True)
    # The client fetches the image, so it needs the setting too; it shares the browser.
    client = Client(settings, browser=env.client.browser, record=False)
    async with extra_server(client, settings) as server:
        sdk = openai.AsyncOpenAI(base_url=f"{server}/v1", api_key="x", max_retries=0)
        before = len(env.streams())
        await sdk.chat.completions.create(model=CHAT_MODEL, messages=image_message(url))
        await sdk.close()
    await client.close()
    assert hits == ["/dot.png"]
    attachments = env.streams()[before:][0].json["userMessage"]["experimental_attachments"]
    assert len(attachments) == 1


async def test_image_for_a_model_without_vision_is_a_bad_request(env: Env) -> None:
    uri = "data:image/png;base64," + base64.b64encode(png(1, 1)).decode()
    with pytest.raises(openai.BadRequestError) as caught:
        await env.openai.chat.completions.create(model=TEXT_ONLY_MODEL, messages=image_message(uri))
    assert "does not take images" in caught.value.message


async def test_image_model_answers_with_markdown_images(env: Env) -> None:
    completion = await env.openai.chat.completions.create(
        model=IMAGE_MODEL, messages=[{"role": "user", "content": "a red dot"}]
    )
    content = completion.choices[0].message.content or ""
    # Exactly one markdown image, of the picture the site generated (an image model's default
    # answer is one PNG and no text), and its URL serves that PNG.
    shown = re.fullmatch(r"!\[image\]\((\S+)\)", content)
    assert shown is not None, content
    url = shown[1]
    assert url.startswith(env.arena.url + "/") and "/generated/" in url and ".png?" in url
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        assert (await response.read()).startswith(b"\x89PNG\r\n\x1a\n")


async def test_streamed_images_come_in_order_and_the_history_still_matches(env: Env) -> None:
    env.arena.enqueue(Reply(text="Here it is.", images=["https://img.example/1.png"]))
    question: ChatCompletionUserMessageParam = {"role": "user", "content": "a blue dot, streamed"}
    stream = await env.openai.chat.completions.create(
        model=IMAGE_MODEL, messages=[question], stream=True
    )
    chunks = [c async for c in stream]
    streamed = "".join([c.choices[0].delta.content or "" for c in chunks if c.choices])
    # The fake sends the image before the text; the stream keeps the site's order.
    assert streamed == "![image](https://img.example/1.png)\n\nHere it is."
    conversation_id = (chunks[0].model_extra or {})["conversation_id"]
    before = len(env.streams())
    await env.openai.chat.completions.create(
        model=IMAGE_MODEL,
        messages=[question, {"role": "assistant", "content": streamed},
                  {"role": "user", "content": "now green"}],
    )  # fmt: skip
    assert [r.path for r in env.streams()[before:]] == [POST_TO + conversation_id]


async def test_images_generations_returns_urls(env: Env) -> None:
    result = await env.openai.images.generate(model=IMAGE_MODEL, prompt="a blue square")
    assert result.data is not None and len(result.data) == 1
    url = result.data[0].url or ""
    assert url.startswith("http")
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        assert (await response.read()).startswith(b"\x89PNG")


async def test_images_generations_refuses_a_text_model(env: Env) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await env.openai.images.generate(model=CHAT_MODEL, prompt="a blue square")
    assert "does not generate images" in caught.value.message


async def test_side_by_side_returns_both_answers(env: Env) -> None:
    env.arena.enqueue(Reply(text="from A", b_text="from B"))
    completion = await env.openai.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "compare yourselves"}],
        extra_body={"arena": {"versus": "claude-opus-4-5"}},
    )
    contents = [(c.index, c.message.content) for c in completion.choices]
    assert contents == [(0, "from A"), (1, "from B")]
    assert (completion.model_extra or {})["arena"]["models"] == [CHAT_MODEL, "claude-opus-4-5"]


async def test_side_by_side_stream_tells_the_sides_apart_by_index(env: Env) -> None:
    env.arena.enqueue(Reply(text="left", b_text="right"))
    body = {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": "stream both"}],
        "stream": True,
        "arena": {"versus": "claude-opus-4-5"},
    }
    chunks = data_of(await sse_lines(env.url, body))
    texts = {0: "", 1: ""}
    finished = set()
    for chunk in chunks:
        for choice in chunk["choices"]:
            texts[choice["index"]] += choice["delta"].get("content") or ""
            if choice["finish_reason"]:
                finished.add(choice["index"])
    assert texts == {0: "left", 1: "right"}
    assert finished == {0, 1}


async def test_battle_returns_two_anonymous_answers(env: Env) -> None:
    completion = await env.openai.chat.completions.create(
        model="battle",
        messages=[{"role": "user", "content": "battle me"}],
        extra_body={"arena": {"battle": True}},
    )
    assert len(completion.choices) == 2
    assert env.streams()[-1].json["mode"] == "battle"


# --------------------------------------------------------------------------------------------------
# Errors through the SDK
# --------------------------------------------------------------------------------------------------


async def test_unknown_model_is_not_found_with_suggestions(env: Env) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await env.openai.chat.completions.create(
            model="gemini-3-pr", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "model_not_found"
    assert "gemini-3-pro" in caught.value.message


async def test_rate_limit_is_429_with_retry_after(env: Env) -> None:
    env.arena.enqueue(Fault.rate_limit(retry_after=600))  # longer than LM_ARENA_MAX_WAIT
    with pytest.raises(openai.RateLimitError) as caught:
        await env.openai.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "too fast"}]
        )
    assert caught.value.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "600"
    # Remembered for every later send (tests/test_pacing.py); this module's tests send on.
    assert env.client.pacing.penalty() is not None
    env.client.pacing.forget()


async def test_a_short_wait_the_site_asks_for_is_the_clients_to_wait(env: Env) -> None:
    # 3 s is within LM_ARENA_MAX_WAIT: a command waits it out and sends again; serve hands the
    # 429 on at once, since its client waits by Retry-After itself (a retry here would succeed).
    env.arena.enqueue(Fault.rate_limit(retry_after=3))
    with pytest.raises(openai.RateLimitError) as caught:
        await env.openai.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "too fast"}]
        )
    assert caught.value.response.headers["Retry-After"] == "3"
    env.client.pacing.forget()
    answer = await env.openai.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "later"}]
    )
    assert answer.choices[0].message.content == "Echo (turn 1): later"


async def test_rate_limit_on_a_stream_is_429_before_any_event(env: Env) -> None:
    env.arena.enqueue(Fault.rate_limit())
    with pytest.raises(openai.RateLimitError):
        await env.openai.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "too fast"}], stream=True
        )


async def test_missing_field_is_a_bad_request_naming_it(env: Env) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await env.openai.chat.completions.create(model=CHAT_MODEL, messages=[])
    assert caught.value.param == "messages"


@pytest.mark.parametrize(
    ("fault", "status", "words"),
    [
        (Fault.a3("internal server error"), 502, "internal server error"),
        # Advice for an API client, not a shell command: the server's operator signs in.
        (Fault.login_gate(), 503, "must be signed in in a browser window (its operator: `lmarena"),
        (Fault.hang(), 504, "the server's operator can check the account with `lmarena doctor`"),
    ],
    ids=["model-failure-502", "sign-in-503", "timeout-504"],
)
async def test_site_failures_map_to_gateway_statuses(
    env: Env, fault: Fault, status: int, words: str
) -> None:
    settings = env.settings.replace(timeout=1.5)
    client = Client(settings, browser=env.client.browser, record=False)
    async with extra_server(client, settings) as server:
        sdk = openai.AsyncOpenAI(base_url=f"{server}/v1", api_key="x", max_retries=0)
        env.arena.enqueue(fault)
        with pytest.raises(openai.APIStatusError) as caught:
            await sdk.chat.completions.create(
                model=CHAT_MODEL, messages=[{"role": "user", "content": "fail please"}]
            )
        await sdk.close()
    await client.close()
    assert caught.value.status_code == status
    assert isinstance(caught.value.body, dict)
    assert words in caught.value.body["message"] and "run `lmarena" not in caught.value.message


async def test_error_after_the_stream_started_ends_it_with_an_error_chunk(env: Env) -> None:
    env.arena.enqueue(Fault.cut(after_text="Partial ans"))
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "cut me"}]}
    lines = await sse_lines(env.url, {**body, "stream": True})
    assert lines[-1] == "data: [DONE]"
    chunks = data_of(lines)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Partial ans"
    assert chunks[-1]["error"]["type"] == "upstream_error"
    # The SDK raises on it, as it does for OpenAI's own in-stream errors.
    env.arena.enqueue(Fault.cut(after_text="Partial ans"))
    stream = await env.openai.chat.completions.create(**body, stream=True)  # type: ignore[call-overload]
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass


# --------------------------------------------------------------------------------------------------
# Raw HTTP
# --------------------------------------------------------------------------------------------------


async def test_malformed_json_is_400_in_the_openai_envelope(env: Env) -> None:
    status, _, body = await raw_post(env.url + "/v1/chat/completions", b"{not json")
    assert status == 400
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert "not valid JSON" in body["error"]["message"]


@pytest.mark.parametrize(
    ("request_body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": CHAT_MODEL}, "messages"),
        (
            {"model": CHAT_MODEL, "messages": [{"role": "robot", "content": "x"}]},
            "messages[0].role",
        ),
        (
            {"model": CHAT_MODEL, "messages": [{"role": "user", "content": 5}]},
            "messages[0].content",
        ),
        (
            {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}], "stream": "yes"},
            "stream",
        ),
        ([1, 2], None),
    ],
)
async def test_bad_fields_are_400_naming_the_field(
    env: Env, request_body: Any, param: str | None
) -> None:
    status, _, body = await raw_post(env.url + "/v1/chat/completions", request_body)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param
    if param:
        assert param.split("[")[0] in body["error"]["message"]


async def test_local_file_paths_are_not_images(env: Env) -> None:
    status, _, body = await raw_post(
        env.url + "/v1/chat/completions",
        {"model": CHAT_MODEL, "messages": image_message("/etc/passwd")},
    )
    assert status == 400
    assert "data: URI or an http(s) URL" in body["error"]["message"]


async def test_too_large_body_is_413(env: Env) -> None:
    status, _, body = await raw_post(env.url + "/v1/chat/completions", b" " * (21 * 1024 * 1024))
    assert status == 413
    assert "larger than 20 MiB" in body["error"]["message"]


async def test_unknown_path_is_a_json_404(env: Env) -> None:
    async with aiohttp.ClientSession() as http, http.get(env.url + "/v1/nothing") as response:
        assert response.status == 404
        assert (await response.json())["error"]["type"] == "invalid_request_error"


async def test_health_says_ready(env: Env) -> None:
    async with aiohttp.ClientSession() as http, http.get(env.url + "/health") as response:
        body = await response.json()
    assert response.status == 200
    assert body["ready"] is True and "models" in body["reason"]


async def test_health_says_not_ready_before_the_bootstrap(env: Env) -> None:
    running = await start(make_app(env.client, env.settings), "127.0.0.1", 0)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(running.url + "/health") as response,
        ):
            body = await response.json()
    finally:
        await running.runner.cleanup()
    assert response.status == 503
    assert body == {
        "ready": False,
        "status": "starting",
        "reason": "the browser has not been started yet",
    }


async def test_access_log_has_one_line_per_request_without_secrets(env: Env) -> None:
    env.log.clear()
    async with (
        aiohttp.ClientSession() as http,
        http.get(env.url + "/v1/models?secret=1", headers={"Authorization": "Bearer sk-x"}),
    ):
        pass
    assert len(env.log) == 1
    method, path, status, elapsed = env.log[0].split()
    assert (method, path, status) == ("GET", "/v1/models", "200")
    assert elapsed.endswith("ms")


async def test_api_key_is_required_when_set(env: Env) -> None:
    settings = env.settings.replace(api_key="s3cret-key")
    async with extra_server(env.client, settings) as url, aiohttp.ClientSession() as http:
        models = url + "/v1/models"
        async with http.get(models) as response:
            assert response.status == 401
            body = await response.json()
            assert body["error"]["code"] == "invalid_api_key"
            assert "Authorization: Bearer" in body["error"]["message"]
        async with http.get(models, headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401
        async with http.get(models, headers={"Authorization": "Bearer s3cret-key"}) as response:
            assert response.status == 200
        async with http.get(url + "/health") as response:
            assert response.status == 200
        wrong = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="nope", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            await wrong.models.list()
        await wrong.close()
        right = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="s3cret-key", max_retries=0)
        assert (await right.models.list()).data
        await right.close()


async def test_cors_headers_only_for_allowed_origins(env: Env) -> None:
    origin = "http://ui.example"
    async with aiohttp.ClientSession() as http:
        async with http.get(env.url + "/v1/models", headers={"Origin": origin}) as response:
            assert "Access-Control-Allow-Origin" not in response.headers
        async with extra_server(env.client, env.settings, cors_origins=(origin,)) as url:
            preflight = {
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            }
            async with http.options(url + "/v1/chat/completions", headers=preflight) as response:
                assert response.status == 204
                assert response.headers["Access-Control-Allow-Origin"] == origin
                assert "POST" in response.headers["Access-Control-Allow-Methods"]
            async with http.get(url + "/v1/models", headers={"Origin": origin}) as response:
                assert response.headers["Access-Control-Allow-Origin"] == origin
            other = {"Origin": "http://evil.example"}
            async with http.get(url + "/v1/models", headers=other) as response:
                assert "Access-Control-Allow-Origin" not in response.headers


async def test_keep_alive_comments_while_waiting_for_a_slow_first_token(env: Env) -> None:
    env.arena.enqueue(Reply(text="late", delay_first=1.2, heartbeats=0))
    async with extra_server(env.client, env.settings, keepalive=0.3) as url:
        body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "slow"}]}
        lines = await sse_lines(url, {**body, "stream": True})
    first_data = next(i for i, line in enumerate(lines) if line.startswith("data:"))
    assert ": keep-alive" in lines[:first_data]
    assert lines[-1] == "data: [DONE]"


async def test_client_disconnect_cancels_the_upstream_stream(env: Env) -> None:
    env.arena.enqueue(Reply(text=["one ", "two ", "three ", "four ", "five "], delay_between=0.4))
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "long"}], "stream": True}
    async with aiohttp.ClientSession() as http:
        response = await http.post(env.url + "/v1/chat/completions", json=body)
        line = b""
        while b"content" not in line or b'"content":""' in line:
            line = await response.content.readline()
        response.close()  # hang up mid-answer
    deadline = time.monotonic() + 5
    session = None
    while time.monotonic() < deadline:
        sessions = [s for s in env.arena.sessions.values() if s.messages[0].content == "long"]
        session = sessions[-1] if sessions else None
        if session and session.messages[-1].status == "error":
            break
        await asyncio.sleep(0.1)
    assert session is not None
    assert session.messages[-1].status == "error"  # the fake saw its reader go away
    assert "five" not in session.messages[-1].content


async def test_eight_concurrent_streams_are_served_together(env: Env) -> None:
    for _ in range(8):
        env.arena.enqueue(Reply(delay_first=2.0))
    first_text: list[float] = []  # when each stream's first text came (time.time())

    async def one(n: int) -> str:
        stream = await env.openai.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": f"concurrent {n}"}],
            stream=True,
        )
        parts: list[str] = []
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                if not parts:
                    first_text.append(time.time())
                parts.append(chunk.choices[0].delta.content)
        return "".join(parts)

    before = len(env.streams())
    texts = await asyncio.gather(*(one(n) for n in range(8)))
    for n, text in enumerate(texts):
        assert text.endswith(f"concurrent {n}")
    arrived = [r.time for r in env.streams()[before:]]
    assert len(arrived) == 8 and len(first_text) == 8
    # Together: all eight reached the site before any answer began (each waits 2 s for it);
    # one after another, the second would reach it only after the first answer.
    assert max(arrived) < min(first_text)


# --------------------------------------------------------------------------------------------------
# Binding and lifecycle
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.com"])
async def test_non_loopback_bind_without_key_is_refused(host: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_bind(host, api_key=None, insecure=False)
    assert "LM_ARENA_API_KEY" in str(caught.value) and "--insecure" in str(caught.value)
    check_bind(host, api_key="k", insecure=False)
    check_bind(host, api_key=None, insecure=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
async def test_loopback_bind_needs_no_key(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, api_key=None, insecure=False)


async def test_serve_command_refuses_a_public_bind_with_exit_2() -> None:
    proc = await asyncio.create_subprocess_exec(
        *LMARENA, "serve", "--host", "0.0.0.0", "--port", "0",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        cwd=str(Path(__file__).parent.parent),
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert "without an API key" in err.decode()
    assert "Traceback" not in err.decode()


async def test_second_server_on_the_same_port_fails_clearly(env: Env) -> None:
    port = int(env.url.rsplit(":", 1)[1])
    app = make_app(env.client, env.settings)
    with pytest.raises(UsageError) as caught:
        await start(app, "127.0.0.1", port)
    assert str(caught.value).startswith(f"port {port} on 127.0.0.1 is already in use")


@pytest.mark.browser
async def test_sigterm_ends_an_open_stream_and_exits_0_without_chromium(
    env: Env, tmp_path: Path
) -> None:
    state_dir = tmp_path / "serve-state"
    environ = {
        **os.environ,
        "LM_ARENA_BASE_URL": env.arena.url,
        "LM_ARENA_STATE_DIR": str(state_dir),
        "LM_ARENA_BROWSER_HEADLESS": "1",
    }
    proc = await asyncio.create_subprocess_exec(
        *LMARENA, "serve", "--port", "0",
        env=environ, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        cwd=str(Path(__file__).parent.parent),
    )  # fmt: skip
    assert proc.stderr is not None
    output = proc.stderr  # narrowed here: the closure below does not see the assert
    stderr: list[str] = []

    async def read_until(marker: str) -> str:
        while True:
            line = (await asyncio.wait_for(output.readline(), 60)).decode()
            assert line, "serve exited early: " + "".join(stderr)
            stderr.append(line)
            if marker in line:
                return line

    try:
        listening = await read_until("listening on ")
        url = listening.rsplit(" ", 1)[1].strip()
        await read_until("ready")
        env.arena.enqueue(Reply(text=[f"w{i} " for i in range(40)], delay_between=0.5))
        body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}], "stream": True}
        async with aiohttp.ClientSession() as http:
            response = await http.post(url + "/v1/chat/completions", json=body)
            seen = b""
            while b"w0" not in seen:
                seen += await response.content.readline()
            proc.send_signal(signal.SIGTERM)
            rest = (await asyncio.wait_for(response.content.read(), 20)).decode()
        code = await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    tail = (await proc.stderr.read()).decode()
    assert code == 0, "".join(stderr) + tail
    assert rest.rstrip().endswith("data: [DONE]")
    assert "shutting down" in rest  # the last chunk says why the answer stopped
    assert pids_with(state_dir) == []
    assert "Traceback" not in tail

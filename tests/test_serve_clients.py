"""`serve` with the clients people point at it, as they run: the `llm` command line (a real
subprocess, configured through its own `extra-openai-models.yaml`) and LangChain's `ChatOpenAI`,
each through a tool loop and a structured answer, against the fake arena.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest
import pytest_asyncio

from tests.fake_arena import FakeArena, Reply
from tests.helpers.serving import served_fake

pytestmark = [pytest.mark.asyncio(loop_scope="module")]

MODEL = "gemini-3-pro"
LLM = Path(sys.executable).with_name("llm")


@dataclass
class Env:
    arena: FakeArena
    url: str

    def prompts(self) -> list[str]:
        sends = [r.json for r in self.arena.stream_requests() if r.method == "POST"]
        return [body["userMessage"]["content"] for body in sends if "userMessage" in body]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    state_dir = tmp_path_factory.mktemp("clients") / "state"
    async with served_fake(state_dir, recaptcha_delay=0.01) as served:
        yield Env(served.arena, f"{served.url}/v1")


@pytest.fixture(autouse=True)
def fresh(env: Env) -> Iterator[None]:
    env.arena.queue.clear()
    env.arena.scripts.clear()
    env.arena.received.clear()
    yield


# --- llm -----------------------------------------------------------------------------------------


@pytest.fixture
def llm_home(env: Env, tmp_path: Path) -> dict[str, str]:
    """An llm user directory that knows this server as the model ``arena``."""
    home = tmp_path / "llm"
    home.mkdir()
    (home / "extra-openai-models.yaml").write_text(
        f"- model_id: arena\n  model_name: {MODEL}\n  api_base: {env.url}\n"
        "  supports_tools: true\n  supports_schema: true\n"
    )
    return {**os.environ, "LLM_USER_PATH": str(home), "OPENAI_API_KEY": "unused"}


async def run_llm(environ: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(LLM), *args,
        env=environ,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


FUNCTIONS = """
def multiply(x: int, y: int) -> int:
    "Multiply two whole numbers."
    return x * y
"""


async def test_llm_functions_runs_the_tool_and_prints_the_final_answer(
    env: Env, llm_home: dict[str, str]
) -> None:
    call = '<tool_call>{"name": "multiply", "arguments": {"x": 6, "y": 7}}</tool_call>'
    env.arena.script(r"\[Tool result \S+ multiply\]\n42", Reply("The product is 42."))
    env.arena.script("six times seven", Reply(call))
    code, out, err = await run_llm(
        llm_home, "-m", "arena", "--functions", FUNCTIONS, "What is six times seven?"
    )
    assert code == 0, err
    assert out.strip() == "The product is 42."
    first, second = env.prompts()
    assert "multiply" in first and "Multiply two whole numbers." in first
    assert second.startswith("[Tool result ") and second.endswith(" multiply]\n42")


async def test_llm_schema_prints_the_json_object(env: Env, llm_home: dict[str, str]) -> None:
    env.arena.script("Invent a dog", Reply('```json\n{"name": "Rex", "age": 3}\n```'))
    code, out, err = await run_llm(
        llm_home, "-m", "arena", "--schema", "name, age int", "Invent a dog"
    )
    assert code == 0, err
    assert json.loads(out) == {"name": "Rex", "age": 3}
    assert '"age"' in env.prompts()[0] and "JSON" in env.prompts()[0]


# --- LangChain ------------------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="module")
async def chat_model(env: Env) -> AsyncIterator[Any]:
    """LangChain's ChatOpenAI on this server; its HTTP client closed after the test."""
    import httpx
    from langchain_openai import ChatOpenAI

    # Its own HTTP client: LangChain's default one is shared by the process and never closed.
    async with httpx.AsyncClient() as http:
        yield ChatOpenAI(
            model=MODEL,
            base_url=env.url,
            api_key=pydantic.SecretStr("unused"),
            max_retries=0,
            http_async_client=http,
        )


class Weather(pydantic.BaseModel):
    """The weather in a city."""

    city: str
    celsius: int


async def test_langchain_bind_tools_loop(env: Env, chat_model: Any) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        return f"{city}: 21 C"

    call = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
    env.arena.script(r"\[Tool result \S+ get_weather\]\nParis: 21 C", Reply("21 C in Paris."))
    env.arena.script("weather in Paris", Reply(call))
    model = chat_model.bind_tools([get_weather])
    messages: list[Any] = [HumanMessage("What is the weather in Paris?")]
    first = await model.ainvoke(messages)
    (tool_call,) = first.tool_calls
    assert (tool_call["name"], tool_call["args"]) == ("get_weather", {"city": "Paris"})
    messages += [
        first,
        ToolMessage(get_weather.invoke(tool_call["args"]), tool_call_id=tool_call["id"]),
    ]
    final = await model.ainvoke(messages)
    assert final.content == "21 C in Paris." and not final.tool_calls
    assert len(env.prompts()) == 2 and "<tool_call>" not in env.prompts()[1]


async def test_langchain_with_structured_output(env: Env, chat_model: Any) -> None:
    env.arena.script("weather report", Reply('{"city": "Oslo", "celsius": -3}'))
    model = chat_model.with_structured_output(Weather)
    result = await model.ainvoke("A weather report for Oslo, please.")
    assert result == Weather(city="Oslo", celsius=-3)

"""The prompt budget (``LM_ARENA_MAX_PROMPT_CHARS``): a prompt longer than it, as it would be
sent, is refused with exit 2 and a message naming both sizes, and never reaches the site.

The CLI runs as a real subprocess on the browser's stand-in against the fake arena; the same
refusal through a kept server is in ``test_kept.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lmarena_cli.errors import ErrorKind, PromptTooLong
from tests.fake_arena import FakeArena
from tests.fakes import HttpBrowser
from tests.helpers.clients import ClientFactory
from tests.helpers.serving import openai_client, serving
from tests.helpers.standin_cli import StandInCli, conversation

pytestmark = pytest.mark.timeout(90)

MODEL = "gemini-3-pro"


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path) -> StandInCli:
    return StandInCli(arena.url, tmp_path / "cli-state", model=MODEL)


def refusal(size: int, limit: int) -> str:
    return (
        f"lmarena: the prompt is {size:,} characters, over the limit of {limit:,} "
        "(LM_ARENA_MAX_PROMPT_CHARS); nothing was sent"
    )


async def test_a_prompt_over_the_default_budget_exits_2_and_is_never_sent(
    cli: StandInCli, arena: FakeArena
) -> None:
    done = await cli("ask", "--no-stdin", "x" * 48_001)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [refusal(48_001, 48_000)]
    assert arena.stream_requests() == []


async def test_a_prompt_at_the_budget_is_sent(cli: StandInCli, arena: FakeArena) -> None:
    done = await cli("ask", "--no-stdin", "y" * 48_000)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Echo (turn 1): " + "y" * 48_000 + "\n"
    assert conversation(done.stderr)


async def test_the_budget_counts_stdin_and_the_folded_system_prompt(
    cli: StandInCli, arena: FakeArena, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("max_prompt_chars = 100\n")
    cli.config = config
    # 60 characters of prompt: under the limit alone, over it with the system prompt folded in
    # ("[System]\n" + 40 + "\n\n[User]\n" + 60 = 118).
    done = await cli("ask", "-s", "s" * 40, "question " * 6 + "??????", stdin="")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [refusal(118, 100)]
    piped = await cli("ask", "short", stdin="p" * 200)
    assert piped.returncode == 2
    assert piped.stderr.splitlines() == [refusal(207, 100)]  # stdin, a blank line, the argument
    assert arena.stream_requests() == []


async def test_the_library_refuses_before_a_token_is_minted_or_anything_sent(
    arena: FakeArena, client_factory: ClientFactory
) -> None:
    client = client_factory(max_prompt_chars=10)
    chat = await client.chats.create(MODEL)
    with pytest.raises(PromptTooLong) as caught:
        await chat.send("eleven char")
    error = caught.value
    assert (error.size, error.limit, error.kind) == (11, 10, ErrorKind.CONTEXT_LENGTH)
    assert (error.exit_code, error.http_status) == (2, 400)
    assert isinstance(client.browser, HttpBrowser)
    assert client.browser.counts.tokens == 0
    assert arena.stream_requests() == []


async def test_serve_answers_an_over_budget_request_400_context_length_exceeded(
    arena: FakeArena, client_factory: ClientFactory
) -> None:
    import openai

    client = client_factory(max_prompt_chars=100)
    async with serving(client) as url:
        api = openai_client(url)
        with pytest.raises(openai.BadRequestError) as caught:
            await api.chat.completions.create(
                model=MODEL,
                messages=[
                    {"role": "system", "content": "s" * 60},
                    {"role": "user", "content": "u" * 60},
                ],
            )
        await api.close()
    assert caught.value.status_code == 400
    assert caught.value.code == "context_length_exceeded"
    assert "over the limit of 100 (LM_ARENA_MAX_PROMPT_CHARS); nothing was sent" in str(
        caught.value.message
    )
    assert arena.stream_requests() == []

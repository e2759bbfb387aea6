"""System prompts (``-s/--system``) and roles (``[roles.NAME]``, ``--role``): ``ask``, ``chat``.

The site has no system role: a system prompt is folded into the first prompt through the one code
path ``lmarena serve`` folds a system message with. What reached the fake arena is compared with
what ``serve`` sends for the same system message; the CLI runs as a real subprocess on the
browser's stand-in, with a real config file.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from lmarena_cli.client.client import Client
from lmarena_cli.errors import LmArenaError, UsageError
from lmarena_cli.server import requests
from lmarena_cli.server.app import make_app
from lmarena_cli.server.run import start, warm_up
from lmarena_cli.settings import Role, Settings
from lmarena_cli.site import prompts
from tests.fake_arena import DEFAULT_MODELS, FakeArena, Fault
from tests.fakes import HttpBrowser
from tests.helpers.clients import ClientFactory
from tests.helpers.command import run_lmarena
from tests.helpers.standin_cli import StandInCli, conversation
from tests.test_completions import complete_bash, write_cache

pytestmark = pytest.mark.timeout(90)

MODEL = "gemini-3-pro"
OTHER = "claude-opus-4-5"
IDS = {model.public_name: model.id for model in DEFAULT_MODELS}
SYSTEM = "You are terse.\nAnswer in one line."
CONFIG = f"""
[roles.terse]
system = "Be terse."

[roles.shell]
system = "Answer with one POSIX shell command in a sh code block."
model = "{OTHER}"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The config file where the isolated XDG_CONFIG_HOME puts it (completion finds it there)."""
    path = tmp_path / "config" / "lmarena" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(CONFIG)
    return path


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path, config: Path) -> StandInCli:
    return StandInCli(arena.url, tmp_path / "cli-state", config=config, model=MODEL)


def contents(arena: FakeArena) -> list[str]:
    return [r.json["userMessage"]["content"] for r in arena.stream_requests()]


# --- the one code path ----------------------------------------------------------------------------


def test_a_system_prompt_folds_as_serve_folds_one_system_message() -> None:
    assert prompts.fold_system("Be terse.", "hi") == "[System]\nBe terse.\n\n[User]\nhi"
    assert prompts.fold_system(SYSTEM, "q") == requests.fold_history(
        [{"role": "system", "content": SYSTEM}], "q"
    )
    assert requests.fold_history is prompts.fold_history
    assert prompts.fold_system(None, "q") == prompts.fold_system("  \n", "q") == "q"


@pytest.fixture
async def serve(arena: FakeArena, cli: StandInCli) -> AsyncIterator[openai.AsyncOpenAI]:
    """``lmarena serve`` in this process, on the same fake arena and the CLI's own store."""
    settings = Settings(base_url=arena.url, state_dir=cli.state, browser_headless=True)
    browser = HttpBrowser(settings)
    client = Client(settings, browser=browser, record=False)
    app = make_app(client, settings)
    running = await start(app, "127.0.0.1", 0)
    try:
        await warm_up(app)
        sdk = openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key="x", max_retries=0)
        yield sdk
        await sdk.close()
    finally:
        await running.runner.cleanup()
        await client.close()
        await browser.close()


async def test_ask_system_sends_what_serve_sends_for_a_system_message(
    cli: StandInCli, arena: FakeArena, serve: openai.AsyncOpenAI
) -> None:
    await serve.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "What is 2+2?"},
        ],
    )
    done = await cli("ask", "--no-stdin", "-s", SYSTEM, "What is 2+2?")
    assert done.returncode == 0, done.stderr
    by_serve, by_ask = contents(arena)
    assert by_ask == by_serve == f"[System]\n{SYSTEM}\n\n[User]\nWhat is 2+2?"
    assert done.stdout == f"Echo (turn 1): {by_ask}\n"
    assert "ignored" not in done.stderr


async def test_serve_continues_a_conversation_ask_started_with_a_system_prompt(
    cli: StandInCli, arena: FakeArena, serve: openai.AsyncOpenAI
) -> None:
    done = await cli("ask", "--no-stdin", "-s", SYSTEM, "What is 2+2?")
    assert done.returncode == 0, done.stderr
    started = conversation(done.stderr)
    answer = done.stdout.removesuffix("\n")
    # A stock OpenAI client sends the whole history back: it is recognised as that conversation.
    reply = await serve.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": answer},
            {"role": "user", "content": "And 3+3?"},
        ],
    )
    assert reply.choices[0].message.content == "Echo (turn 2): And 3+3?"
    last = arena.stream_requests()[-1]
    assert last.path.endswith(started) and last.json["userMessage"]["content"] == "And 3+3?"


async def test_history_keeps_the_system_prompt_as_its_own_turn_and_the_title_from_the_prompt(
    cli: StandInCli,
) -> None:
    done = await cli("ask", "--no-stdin", "--role", "terse", "name a colour")
    assert done.returncode == 0, done.stderr
    env = {**os.environ, "LM_ARENA_STATE_DIR": str(cli.state)}
    shown = run_lmarena("history", "show", conversation(done.stderr), env=env)
    assert shown.stdout == (
        "[System]\nBe terse.\n\n[User]\nname a colour\n\n"
        "[Assistant]\nEcho (turn 1): [System]\nBe terse.\n\n[User]\nname a colour\n"
    )
    listed = run_lmarena("history", env=env).stdout.split("\t")
    assert listed[3:4] == ["1"] and listed[-1] == "name a colour\n"


@pytest.mark.parametrize(
    ("options", "what"),
    [(["-s", "Be brief."], "-s/--system"), (["--role", "terse"], "the role 'terse'")],
)
async def test_a_continued_conversation_ignores_the_system_prompt_saying_so(
    cli: StandInCli, arena: FakeArena, options: list[str], what: str
) -> None:
    first = await cli("ask", "--no-stdin", "one")
    assert first.returncode == 0, first.stderr
    for continuing in (["-c"], ["--resume", conversation(first.stderr)]):
        done = await cli("ask", "--no-stdin", *continuing, *options, "more")
        assert done.returncode == 0, done.stderr
        assert f"lmarena: {what} ignored: a continued conversation keeps the history" in (
            done.stderr
        )
        assert contents(arena)[-1] == "more"
        assert conversation(done.stderr) == conversation(first.stderr)


async def test_the_library_folds_the_system_prompt_until_the_conversation_exists(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory()
    chat = await client.chats.create(MODEL, system="Be terse.")
    assert chat.system == "Be terse."
    arena.enqueue(Fault.server_error(status=400, message="no"))
    with pytest.raises(LmArenaError):
        await chat.send("one")  # refused: there is no conversation yet
    assert chat.id is None
    await chat.send("one")
    await chat.send("two")
    folded = "[System]\nBe terse.\n\n[User]\none"
    assert contents(arena) == [folded, folded, "two"]
    assert chat.id is not None
    stored = client.store.get(chat.id)
    assert stored is not None and stored.title == "one" and stored.turns == 2
    assert [turn["role"] for turn in stored.transcript] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert stored.transcript[0]["content"] == "Be terse."


# --- roles ----------------------------------------------------------------------------------------


async def test_a_role_gives_its_system_prompt_and_its_model(
    cli: StandInCli, arena: FakeArena
) -> None:
    done = await cli("ask", "--no-stdin", "--role", "shell", "list files")
    assert done.returncode == 0, done.stderr
    (request,) = arena.stream_requests()
    assert request.json["modelAId"] == IDS[OTHER]
    assert request.json["userMessage"]["content"] == (
        "[System]\nAnswer with one POSIX shell command in a sh code block.\n\n[User]\nlist files"
    )


async def test_an_explicit_model_and_system_win_over_the_roles(
    cli: StandInCli, arena: FakeArena
) -> None:
    done = await cli("ask", "--no-stdin", "--role", "shell", "-m", MODEL, "-s", "Mine.", "x")
    assert done.returncode == 0, done.stderr
    (request,) = arena.stream_requests()
    assert request.json["modelAId"] == IDS[MODEL]
    assert request.json["userMessage"]["content"] == "[System]\nMine.\n\n[User]\nx"


async def test_an_unknown_role_is_a_usage_error_listing_the_known_ones(
    cli: StandInCli, arena: FakeArena
) -> None:
    done = await cli("ask", "--no-stdin", "--role", "poet", "hi")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "lmarena: unknown role 'poet'; the config file defines: terse, shell\n"
    assert arena.stream_requests() == []


async def test_without_roles_the_error_names_the_config_file(
    cli: StandInCli, arena: FakeArena, config: Path
) -> None:
    await asyncio.to_thread(config.write_text, 'model = "gemini-3-pro"\n')
    done = await cli("ask", "--no-stdin", "--role", "poet", "hi")
    assert (done.returncode, done.stdout) == (2, "")
    assert f"unknown role 'poet': the config file {config} defines no roles" in done.stderr
    assert arena.stream_requests() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[roles.x]\nmodel = 'm'\n", '[roles.x] in the config file needs system = "..."'),
        ("[roles.x]\nsystem = 'a'\nprompt = 'b'\n", "has unknown key(s) prompt"),
        ("roles = 'x'\n", "roles in the config file must be tables"),
        ("[roles]\nx = 'y'\n", "[roles.x] in the config file must be a table"),
    ],
)
async def test_a_bad_role_in_the_config_file_exits_2_naming_it(
    cli: StandInCli, arena: FakeArena, config: Path, text: str, message: str
) -> None:
    await asyncio.to_thread(config.write_text, text)
    done = await cli("ask", "--no-stdin", "hi")
    assert (done.returncode, done.stdout) == (2, "")
    assert message in done.stderr and "Traceback" not in done.stderr
    assert arena.stream_requests() == []


async def test_an_empty_system_prompt_is_a_usage_error(cli: StandInCli, arena: FakeArena) -> None:
    done = await cli("ask", "--no-stdin", "-s", " ", "hi")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "lmarena: -s/--system is empty; give the system prompt's text\n"
    assert arena.stream_requests() == []


def test_settings_read_roles_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    settings = Settings.load(environ={"LM_ARENA_ROLES": "ignored"}, config_path=path)
    assert settings.roles == (
        Role("terse", "Be terse."),
        Role("shell", "Answer with one POSIX shell command in a sh code block.", OTHER),
    )
    assert settings.role("shell").model == OTHER


# --- chat -----------------------------------------------------------------------------------------


async def test_chat_folds_the_system_prompt_into_the_first_turn_only(
    cli: StandInCli, arena: FakeArena
) -> None:
    done = await cli("chat", "--role", "shell", stdin="one\ntwo\n")
    assert done.returncode == 0, done.stderr
    assert contents(arena) == [
        "[System]\nAnswer with one POSIX shell command in a sh code block.\n\n[User]\none",
        "two",
    ]
    assert arena.stream_requests()[0].json["modelAId"] == IDS[OTHER]
    assert done.stdout.splitlines()[-1] == "Echo (turn 2): two"


async def test_chat_resume_ignores_the_system_prompt_saying_so(
    cli: StandInCli, arena: FakeArena
) -> None:
    first = await cli("ask", "--no-stdin", "one")
    done = await cli("chat", "--resume", conversation(first.stderr), "-s", "X", stdin="two\n")
    assert done.returncode == 0, done.stderr
    assert "lmarena: -s/--system ignored" in done.stderr
    assert contents(arena)[-1] == "two"


# --- help and completion --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_help_shows_the_system_and_role_options(command: str) -> None:
    done = run_lmarena(command, "--help", env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0
    assert "-s, --system TEXT" in done.stdout and "--role NAME" in done.stdout


def test_role_completes_from_the_config_file_offline(tmp_path: Path, config: Path) -> None:
    done = complete_bash("lmarena ask --role ", tmp_path)
    assert (done.returncode, done.stdout.split()) == (0, ["terse", "shell"])
    assert complete_bash("lmarena chat --role sh", tmp_path).stdout.split() == ["shell"]
    assert not (tmp_path / "browser-profile").exists()


def test_model_completes_from_the_cache_and_the_config_file(tmp_path: Path, config: Path) -> None:
    config.write_text('model = "my-default"\n' + CONFIG.replace(OTHER, "role-model"))
    assert complete_bash("lmarena ask -m ", tmp_path).stdout.split() == [
        "my-default",
        "role-model",
    ]
    write_cache(tmp_path, ["gemini-3-pro", "role-model"])
    assert complete_bash("lmarena ask -m ", tmp_path).stdout.split() == [
        "gemini-3-pro",
        "role-model",
        "my-default",
    ]
    assert complete_bash("lmarena chat -m ro", tmp_path).stdout.split() == ["role-model"]


def test_a_broken_config_file_completes_nothing_silently(tmp_path: Path, config: Path) -> None:
    config.write_text("[roles.x\n")
    done = complete_bash("lmarena ask --role ", tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, "")
    assert [ln for ln in done.stderr.splitlines() if not ln.startswith("import time:")] == []


def test_role_lookup_error_lists_roles_in_file_order() -> None:
    settings = Settings(roles=(Role("b", "x"), Role("a", "y")))
    with pytest.raises(UsageError, match=r"defines: b, a$") as caught:
        settings.role("c")
    assert caught.value.exit_code == 2

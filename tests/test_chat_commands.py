"""``lmarena chat`` commands: /retry, /new, /model NAME, /id, /help, /exit; unknown ones are
answered with the list and never sent to the model.

A real subprocess on the browser's stand-in: stdin piped one line per turn, and on a real terminal
(stdin and stdout a pty, answers rendered as markdown). What reached the fake arena is checked too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.fake_arena import FakeArena, Reply
from tests.helpers.standin_cli import StandInCli
from tests.helpers.terminal import ESC, run_on_terminal, screen

pytestmark = pytest.mark.timeout(90)

MODEL = "gemini-3-pro"
OTHER = "claude-opus-4-5"
COMMANDS = ("/retry", "/new", "/model NAME", "/id", "/usage", "/help", "/exit")


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path) -> StandInCli:
    return StandInCli(arena.url, tmp_path / "cli-state", model=MODEL)


def sent_texts(arena: FakeArena) -> list[str]:
    """The user messages that reached the site."""
    return [
        r.json["userMessage"]["content"]
        for r in arena.stream_requests()
        if isinstance(r.json, dict) and "userMessage" in r.json
    ]


def retries(arena: FakeArena) -> list[Any]:
    return [r for r in arena.stream_requests() if "/retry-evaluation-session-message/" in r.path]


def ids(stderr: str) -> list[str]:
    return [
        line.removeprefix("conversation: ")
        for line in stderr.splitlines()
        if line.startswith("conversation: ")
    ]


async def test_piped_commands_retry_switch_and_never_reach_the_model(
    cli: StandInCli, arena: FakeArena
) -> None:
    lines = [
        "hi",
        "/id",
        "/retry",
        "/new",
        "again",
        "/model no-such-model-x",
        "still here",
        f"/model {OTHER}",
        "third",
        "/bogus do things",
        "//slash text",
        "/exit",
        "never sent",
    ]
    run = await cli("chat", stdin="\n".join(lines) + "\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout == (
        "Echo (turn 1): hi\n"
        "Echo (turn 1, retry 1): hi\n"
        "Echo (turn 1): again\n"
        "Echo (turn 2): still here\n"
        "Echo (turn 1): third\n"
        "Echo (turn 2): /slash text\n"
    )
    # Only the turns reached the site; no command, and nothing after /exit.
    assert sent_texts(arena) == ["hi", "again", "still here", "third", "/slash text"]
    assert len(retries(arena)) == 1 and retries(arena)[0].method == "PUT"
    assert ("chat_retry", "ok") in arena.recaptcha_log
    sessions = list(arena.sessions.values())
    assert len(sessions) == 3
    names = [(arena.model(s.model_a) or pytest.fail("no model")).public_name for s in sessions]
    assert names == [MODEL, MODEL, OTHER]
    # /id named the first conversation; each conversation was announced when it began.
    first, second, third = (s.id for s in sessions)
    assert ids(run.stderr)[:4] == [first, first, second, third]
    assert "unknown model 'no-such-model-x'" in run.stderr
    assert f"new conversation with {OTHER}" in run.stderr
    assert "unknown command /bogus" in run.stderr
    for command in COMMANDS:
        assert command in run.stderr
    assert "Traceback" not in run.stderr


async def test_help_and_id_before_any_answer(cli: StandInCli, arena: FakeArena) -> None:
    run = await cli("chat", stdin="/help\n/id\n/model\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    for command in COMMANDS:
        assert command in run.stderr
    assert "no conversation id yet" in run.stderr
    assert f"usage: /model NAME (now {MODEL})" in run.stderr
    assert arena.stream_requests() == []


async def test_piped_retry_with_nothing_to_retry_exits_2(cli: StandInCli, arena: FakeArena) -> None:
    run = await cli("chat", stdin="/retry\nhi\n")
    assert run.returncode == 2
    assert run.stdout == ""
    assert "no answer to regenerate yet" in run.stderr
    assert arena.stream_requests() == []


async def test_on_a_terminal_commands_work_and_answers_are_rendered(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.enqueue(Reply(text=["Some ", "**bold**", " words"]))
    env = {k: v for k, v in cli.env().items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    typed = b"hi\n/help\n/nope\n/retry\n/new\nsecond\n\x04"
    run = await asyncio.to_thread(
        run_on_terminal, cli.command("chat"), env, stdin_tty=True, typed=typed
    )
    assert run.code == 0, run.err
    assert ESC in run.out
    shown = [line.strip() for line in screen(run.out)]
    assert shown == ["Some bold words", "Echo (turn 1, retry 1): hi", "Echo (turn 1): second"]
    assert f"chatting with {MODEL}" in run.err and "> " in run.err
    assert "unknown command /nope" in run.err
    assert sent_texts(arena) == ["hi", "second"]
    assert len(retries(arena)) == 1

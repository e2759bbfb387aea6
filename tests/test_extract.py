"""``lmarena ask -x``: only the answer's first fenced code block reaches stdout, for pipelines.

The CLI runs as a real subprocess on the browser's stand-in against the fake arena, which is told
what to answer; the pipeline into ``sh`` is a real shell.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lmarena_cli.cli.extract import first_code_block
from tests.fake_arena import FakeArena, Fault, Reply
from tests.helpers.command import run_lmarena
from tests.helpers.standin_cli import StandInCli, conversation

pytestmark = pytest.mark.timeout(90)

MODEL = "gemini-3-pro"
ANSWER = "Here you go:\n\n```sh\necho hello from sh\n```\n\nOr in Python:\n```py\nx\n```\n"


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path) -> StandInCli:
    return StandInCli(arena.url, tmp_path / "cli-state", model=MODEL)


@pytest.mark.parametrize(
    ("text", "block"),
    [
        (ANSWER, "echo hello from sh\n"),
        ("~~~\nuses tildes\n```\nstill inside\n~~~\n", "uses tildes\n```\nstill inside\n"),
        # A longer fence is closed only by one at least as long.
        ("````md\n```sh\nls\n```\n````\n", "```sh\nls\n```\n"),
        # The fence's indentation comes off the lines (a block inside a list item).
        ("1. run:\n   ```\n   make\n     -j4\n   ```\n", "make\n  -j4\n"),
        # A blank block is passed over: piping nothing into sh would look like success.
        ("```\n\n```\ntext\n```\nreal\n```", "real\n"),
        ("```\nunclosed to the end", "unclosed to the end\n"),
        ("inline ```code``` is not a fence\n", None),
        ("    indented code is not fenced\n", None),
        ("no code at all", None),
    ],
)
def test_first_code_block(text: str, block: str | None) -> None:
    assert first_code_block(text) == block


async def test_extract_prints_only_the_first_block(cli: StandInCli, arena: FakeArena) -> None:
    arena.enqueue(Reply(text=ANSWER))
    done = await cli("ask", "--no-stdin", "-x", "a greeting in sh")
    assert (done.returncode, done.stdout) == (0, "echo hello from sh\n")
    assert conversation(done.stderr)
    assert "Here you go" not in done.stderr


async def test_extract_pipes_into_sh(cli: StandInCli, arena: FakeArena) -> None:
    arena.enqueue(Reply(text=ANSWER))
    done = await cli.shell('lmarena ask -q --no-stdin -x "a greeting in sh" | sh')
    assert (done.returncode, done.stdout, done.stderr) == (0, "hello from sh\n", "")


async def test_an_answer_without_a_block_exits_10_with_nothing_on_stdout(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.enqueue(Reply(text="I would rather not write code today."))
    done = await cli("ask", "--no-stdin", "-x", "rm everything")
    assert (done.returncode, done.stdout) == (10, "")
    chat_id = conversation(done.stderr)
    assert (
        "lmarena: the answer has no fenced code block (```), so -x printed nothing; "
        f"`lmarena history show {chat_id}` shows the answer"
    ) in done.stderr.splitlines()
    # The answer is not lost: history has it.
    env = {**os.environ, "LM_ARENA_STATE_DIR": str(cli.state)}
    shown = run_lmarena("history", "show", chat_id, env=env)
    assert shown.stdout.endswith("[Assistant]\nI would rather not write code today.\n")


async def test_a_script_sees_exit_10_and_an_empty_output(cli: StandInCli, arena: FakeArena) -> None:
    arena.enqueue(Reply(text="no code"))
    done = await cli.shell('out=$(lmarena ask -q --no-stdin -x "x"); echo "rc=$? out=[$out]"')
    assert done.stdout == "rc=10 out=[]\n"
    assert "no fenced code block" in done.stderr


async def test_extract_does_not_stream_a_cut_answer(cli: StandInCli, arena: FakeArena) -> None:
    arena.enqueue(Fault.cut(after_text="```sh\nrm -rf /tmp/x"))
    done = await cli("ask", "--no-stdin", "-x", "something")
    assert done.returncode == 3
    assert done.stdout == ""  # never a half command into the pipe


@pytest.mark.parametrize(
    "other", [["--json"], ["--jsonl"], ["--vs", "claude-opus-4-5"], ["--battle"]]
)
async def test_extract_with_a_machine_format_or_two_answers_is_a_usage_error(
    cli: StandInCli, arena: FakeArena, other: list[str]
) -> None:
    done = await cli("ask", "--no-stdin", "-x", *other, "hi")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "lmarena: -x/--extract prints one answer's code block: "
        "not with --json, --jsonl, --vs or --battle\n"
    )
    assert arena.stream_requests() == []


async def test_extract_works_with_a_role_and_stdin(cli: StandInCli, arena: FakeArena) -> None:
    arena.enqueue(Reply(text="```\nwc -l\n```"))
    done = await cli("ask", "-x", "-s", "Shell only.", "count the lines", stdin="some context\n")
    assert (done.returncode, done.stdout) == (0, "wc -l\n")
    (request,) = arena.stream_requests()
    assert request.json["userMessage"]["content"].startswith("[System]\nShell only.\n\n[User]\n")


def test_help_shows_extract_and_exit_10() -> None:
    done = run_lmarena("ask", "--help", env={**os.environ, "COLUMNS": "200"})
    assert "-x, --extract" in done.stdout and "exit 10" in done.stdout
    assert "10 no code block (-x)" in " ".join(run_lmarena("--help").stdout.split())


def test_extract_result_in_json_is_refused_before_reading_stdin() -> None:
    done = run_lmarena("ask", "-x", "--json", input="never read\n")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and "-x/--extract" in done.stderr

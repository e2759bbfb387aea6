"""Answers rendered as markdown on a terminal, raw in pipes and files (``--raw`` too).

``lmarena ask`` runs as a real subprocess on the browser's stand-in, its stdout on a real pty (what
the terminal shows is replayed by :func:`tests.helpers.terminal.screen`) or on a pipe (the exact
bytes). Never an escape code in a pipe; ``NO_COLOR`` keeps the rendering without colour;
``TERM=dumb`` gets plain rendered text with no escape codes at all.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import orjson
import pytest

from lmarena_cli.cli.markdown import split_blocks
from tests.fake_arena import FakeArena, Reply
from tests.helpers.standin_cli import StandInCli
from tests.helpers.terminal import (
    COLOUR_CODES,
    ESC,
    TerminalRun,
    run_on_terminal,
    screen,
    sgr_codes,
)

pytestmark = pytest.mark.timeout(90)

MODEL = "gemini-3-pro"
ANSWER = (
    "# Heading\n\nSome **bold** text and `code`.\n\n- item one\n- item two\n\n"
    "```python\nprint('hi')\n```\n\nThe end."
)
#: What a terminal shows for ANSWER (80 columns): rendered, no markdown syntax left.
RENDERED = ["Heading", "Some bold text and code.", "• item one", "• item two", "print('hi')"]


def pieces(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path) -> StandInCli:
    return StandInCli(arena.url, tmp_path / "cli-state", model=MODEL)


async def on_terminal(cli: StandInCli, *args: str, **env: str) -> TerminalRun:
    environment = {k: v for k, v in cli.env().items() if k not in ("NO_COLOR", "COLUMNS")}
    environment.update({"TERM": "xterm-256color", **env})
    return await asyncio.to_thread(run_on_terminal, cli.command(*args), environment)


def text_of(run: TerminalRun) -> str:
    return "\n".join(line.strip() for line in screen(run.out))


def assert_rendered(shown: str) -> None:
    for line in RENDERED:
        assert line in shown, shown
    assert "The end." in shown
    assert "**" not in shown and "```" not in shown and "# Heading" not in shown


# --- blocks ---------------------------------------------------------------------------------------


def test_blocks_end_at_blank_lines_outside_code_fences() -> None:
    text = "one\n\n```\na\n\nb\n```\n\ntwo\n\n  indented\nthree\n\nfour\n"
    blocks, rest = split_blocks(text)
    assert blocks == ["one", "```\na\n\nb\n```", "two\n\n  indented\nthree"]
    assert rest == "four\n"
    # A line still being written may yet turn out to continue the block: it waits.
    assert split_blocks("one\n\ntw") == ([], "one\n\ntw")
    assert split_blocks("still growing\n\n") == ([], "still growing\n\n")
    assert split_blocks("```\nopen fence\n\nmore\n") == ([], "```\nopen fence\n\nmore\n")


# --- on a terminal --------------------------------------------------------------------------------


async def test_a_streamed_answer_is_rendered_live_and_its_final_frame_stays(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.enqueue(Reply(text=pieces(ANSWER), delay_between=0.01))
    run = await on_terminal(cli, "ask", "--no-stdin", "hi")
    assert run.code == 0, run.err
    assert ESC in run.out
    assert b"\r\x1b[2K" in run.out  # redrawn as it streamed
    shown = text_of(run)
    assert_rendered(shown)
    # The screen at the end is the whole answer rendered once, as when it comes in one piece.
    arena.enqueue(Reply(text=ANSWER))
    whole = await on_terminal(cli, "ask", "--no-stdin", "--no-stream", "hi")
    assert whole.code == 0, whole.err
    assert b"\x1b[1A" not in whole.out  # printed at once: nothing to redraw
    assert screen(run.out) == screen(whole.out)
    assert "conversation: " in run.err and ESC.decode() not in run.err


async def test_a_long_answer_taller_than_the_screen_ends_whole_on_screen(
    cli: StandInCli, arena: FakeArena
) -> None:
    lines = "\n".join(f"line {n}" for n in range(60))
    answer = f"Intro.\n\n```\n{lines}\n```\n\nDone."
    arena.enqueue(Reply(text=pieces(answer, 40), delay_between=0.01))
    run = await on_terminal(cli, "ask", "--no-stdin", "hi")
    assert run.code == 0, run.err
    shown = [line.strip() for line in screen(run.out)]
    code = [line for line in shown if line.startswith("line ")]
    assert code == [f"line {n}" for n in range(60)]  # each once, in order, none lost
    assert shown.count("Intro.") == 1 and shown[-1] == "Done."


async def test_no_color_keeps_the_rendering_without_colour(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.enqueue(Reply(text=pieces(ANSWER), delay_between=0.01))
    run = await on_terminal(cli, "ask", "--no-stdin", "hi", NO_COLOR="1")
    assert run.code == 0, run.err
    assert_rendered(text_of(run))
    codes = sgr_codes(run.out)
    assert 1 in codes  # bold stays
    assert not codes & COLOUR_CODES
    arena.enqueue(Reply(text=ANSWER))
    flag = await on_terminal(cli, "ask", "--no-stdin", "--no-color", "hi")
    assert flag.code == 0, flag.err
    assert not sgr_codes(flag.out) & COLOUR_CODES


async def test_a_dumb_terminal_gets_rendered_text_without_escape_codes(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.enqueue(Reply(text=pieces(ANSWER), delay_between=0.01))
    run = await on_terminal(cli, "ask", "--no-stdin", "hi", TERM="dumb")
    assert run.code == 0, run.err
    assert ESC not in run.out
    assert_rendered(text_of(run))


async def test_raw_prints_the_text_as_written_on_a_terminal(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.enqueue(Reply(text=pieces(ANSWER), delay_between=0.01))
    run = await on_terminal(cli, "ask", "--no-stdin", "--raw", "hi")
    assert run.code == 0, run.err
    assert ESC not in run.out
    assert run.out.replace(b"\r\n", b"\n") == (ANSWER + "\n").encode()


async def test_json_and_jsonl_on_a_terminal_are_unchanged(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.enqueue(Reply(text=pieces(ANSWER)))
    run = await on_terminal(cli, "ask", "--no-stdin", "--json", "hi")
    assert run.code == 0, run.err
    assert ESC not in run.out
    assert orjson.loads(run.out.replace(b"\r\n", b"\n"))["text"] == ANSWER
    arena.enqueue(Reply(text=pieces(ANSWER)))
    lines = await on_terminal(cli, "ask", "--no-stdin", "--jsonl", "hi")
    assert lines.code == 0, lines.err
    assert ESC not in lines.out
    events = [orjson.loads(line) for line in lines.out.replace(b"\r\n", b"\n").splitlines()]
    assert "".join(e["text"] for e in events if e["type"] == "text") == ANSWER


async def test_side_by_side_renders_both_answers_under_their_headers(
    cli: StandInCli, arena: FakeArena
) -> None:
    arena.enqueue(Reply(text=pieces(ANSWER), b_text="B says **loud**"))
    run = await on_terminal(cli, "ask", "--no-stdin", "--vs", "claude-opus-4-5", "hi")
    assert run.code == 0, run.err
    shown = text_of(run)
    assert_rendered(shown)
    assert shown.index("=== model A: gemini-3-pro ===") < shown.index("Heading")
    assert shown.index("The end.") < shown.index("=== model B: claude-opus-4-5 ===")
    assert shown.endswith("B says loud")


# --- pipes and files ------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["--no-stream"]])
async def test_a_pipe_gets_the_raw_text_byte_for_byte(
    cli: StandInCli, arena: FakeArena, extra: list[str]
) -> None:
    arena.enqueue(Reply(text=pieces(ANSWER)))
    run = await cli("ask", "--no-stdin", *extra, "hi")
    assert run.returncode == 0, run.stderr
    assert run.stdout == ANSWER + "\n"
    assert "\x1b" not in run.stderr


async def test_a_file_gets_the_raw_text_even_with_a_terminal_elsewhere(
    cli: StandInCli, arena: FakeArena, tmp_path: Path
) -> None:
    arena.enqueue(Reply(text=pieces(ANSWER)))
    target = tmp_path / "answer.md"

    def run() -> int:
        with target.open("wb") as out:
            return subprocess.run(
                cli.command("ask", "--no-stdin", "hi"),
                stdout=out,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                env={**cli.env(), "TERM": "xterm-256color"},
                timeout=40,
            ).returncode

    assert await asyncio.to_thread(run) == 0
    assert target.read_bytes() == (ANSWER + "\n").encode()

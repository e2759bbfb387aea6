"""The ``lmarena`` command as a user sees it: stdout, stderr and the exit code, each asserted apart.

Two kinds of tests:

* in-process (``typer.testing.CliRunner``) for what needs no browser: argument checks, the model
  list and ``-m`` completion answered from the cache (written by the browser's stand-in,
  :class:`tests.fakes.HttpBrowser`), unknown models, ``login`` without a display;
* real processes (``python -m lmarena_cli``) for what only a process shows: pipes, ``| head -1``,
  a closed stdin, a stdin that never closes, signals, terminals, exit codes, parallel runs.

One fake arena serves the whole module. It runs on its own thread and event loop, so that the
tests can block on ``subprocess`` calls while it keeps answering. Each test gets a copy of one
warm state directory (bootstrapped once), so only the tests about bootstrapping pay for it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import pty
import re
import select
import shlex
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from lmarena_cli.cli import app as cli
from lmarena_cli.cli.catalog import complete_model
from lmarena_cli.cli.prompt import compose_prompt
from lmarena_cli.cli.terminal import Terminal
from lmarena_cli.client.client import Answer, Reply
from lmarena_cli.errors import EXIT_INTERRUPTED
from tests.fake_arena import FakeArena, Fault
from tests.fake_arena import Reply as FakeReply
from tests.fakes import HttpBrowser
from tests.helpers.arena_host import ArenaHost
from tests.helpers.clients import settings_for
from tests.helpers.command import LMARENA
from tests.helpers.processes import pids_with

ESC = "\x1b"
#: A 1x1 PNG, for --image.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


# --------------------------------------------------------------------------------------------------
# The fake arena on its own thread, and the warm state directory
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host() -> Iterator[ArenaHost]:
    running = ArenaHost()
    yield running
    running.close()


@pytest.fixture(scope="module")
def shared_arena(host: ArenaHost) -> FakeArena:
    # A short reCAPTCHA delay: every run mints a token, and the tests are about the CLI.
    return host.start(recaptcha_delay=0.05)


@pytest.fixture
def fake(shared_arena: FakeArena) -> Iterator[FakeArena]:
    """The module's arena with an empty script queue (a failed test leaves nothing behind)."""
    shared_arena.queue.clear()
    yield shared_arena
    shared_arena.queue.clear()
    shared_arena.login_gate = False


def base_env(url: str, state: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LM_ARENA_") and k not in ("NO_COLOR", "DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update(
        LM_ARENA_BASE_URL=url,
        LM_ARENA_STATE_DIR=str(state),
        LM_ARENA_BROWSER_HEADLESS="1",
        LM_ARENA_TIMEOUT="30",
        # In-process, as these tests are about the command itself; tests/test_kept.py covers
        # the kept server.
        LM_ARENA_KEEP_ALIVE="0",
        PYTHONUNBUFFERED="1",
        TERM="xterm-256color",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def warm_state(shared_arena: FakeArena, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory that has been through one bootstrap (cache file and browser profile)."""
    state = tmp_path_factory.mktemp("warm") / "state"
    done = subprocess.run(
        [*LMARENA, "models", "--refresh"],
        env=base_env(shared_arena.url, state),
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert (state / "site-cache.json").exists()
    return state


@dataclass
class Run:
    """What a user sees of one run."""

    code: int
    out: str
    err: str


class Lmarena:
    """Runs the command against the fake with this test's own copy of the warm state."""

    def __init__(self, arena: FakeArena, state: Path) -> None:
        self.arena = arena
        self.state = state

    def env(self, **extra: str) -> dict[str, str]:
        return base_env(self.arena.url, self.state, **extra)

    def __call__(
        self,
        *args: str,
        input: bytes | str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Run:
        data = input.encode() if isinstance(input, str) else input
        done = subprocess.run(
            [*LMARENA, *args],
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=True,
            env=self.env(**(env or {})),
            timeout=timeout,
        )
        return Run(done.returncode, done.stdout.decode(), done.stderr.decode())

    def shell(self, script: str, *, timeout: float = 60, **extra: str) -> Run:
        done = subprocess.run(
            ["sh", "-c", script],
            capture_output=True,
            env=self.env(**extra),
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


@pytest.fixture
def lmarena(fake: FakeArena, warm_state: Path, tmp_path: Path) -> Lmarena:
    state = tmp_path / "run-state"
    shutil.copytree(warm_state, state, ignore=shutil.ignore_patterns("*.lock", "Singleton*"))
    return Lmarena(fake, state)


def command_line(*args: str) -> str:
    return shlex.join([*LMARENA, *args])


CONVERSATION = re.compile(r"^conversation: ([0-9a-f-]{36})$", re.M)


def conversation_id(err: str) -> str:
    found = CONVERSATION.findall(err)
    assert found, f"no conversation line on stderr: {err!r}"
    return str(found[-1])


# --------------------------------------------------------------------------------------------------
# ask: the answer on stdout, everything else on stderr
# --------------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_ask_puts_stdin_first_then_the_argument_and_the_conversation_id_on_stderr(
    lmarena: Lmarena,
) -> None:
    run = lmarena("ask", "summarise it", input="the context\n")
    assert run.code == 0, run.err
    assert run.out == "Echo (turn 1): the context\n\nsummarise it\n"
    assert conversation_id(run.err)
    sent = lmarena.arena.stream_requests()[-1].json
    assert sent["userMessage"]["content"] == "the context\n\nsummarise it"


@pytest.mark.browser
def test_ask_json_prints_one_object_with_the_library_reply_field_names(lmarena: Lmarena) -> None:
    lmarena.arena.enqueue(FakeReply(text="The answer.", reasoning="Let me think."))
    run = lmarena("ask", "--json", "-q", "-m", "claude-opus-4-5-thinking-32k", "hi")
    assert run.code == 0, run.err
    data = orjson.loads(run.out)
    library = Reply("id", "direct-battle", [Answer("a")], "user").to_dict()
    assert set(data) == set(library) | {"usage_report"}  # the command's counts: see --usage
    assert data["text"] == "The answer."
    assert data["reasoning"] == "Let me think."  # always in --json
    assert data["finish_reason"] == "stop"
    assert data["model"] == "claude-opus-4-5-thinking-32k"
    assert run.err == ""  # -q hides the conversation line; reasoning only with --show-reasoning


@pytest.mark.browser
def test_ask_jsonl_streams_events_and_ends_with_the_whole_reply(lmarena: Lmarena) -> None:
    run = lmarena("ask", "--jsonl", "hi")
    assert run.code == 0, run.err
    lines = [orjson.loads(line) for line in run.out.splitlines()]
    texts = [e["text"] for e in lines if e["type"] == "text"]
    assert len(texts) > 1  # streamed in several events, not one
    assert "".join(texts) == "Echo (turn 1): hi"
    assert lines[-1]["type"] == "reply"
    library = Reply("id", "direct-battle", [Answer("a")], "user").to_dict()
    assert set(lines[-1]) - {"type"} == set(library) | {"usage_report"}
    assert lines[-1]["evaluation_session_id"] == conversation_id(run.err)


@pytest.mark.browser
def test_ask_no_stream_prints_the_whole_answer_once(lmarena: Lmarena) -> None:
    lmarena.arena.enqueue(FakeReply(text=["one ", "two ", "three"]))
    run = lmarena("ask", "--no-stream", "-q", "count")
    assert run.code == 0, run.err
    assert run.out == "one two three\n"
    assert run.err == ""


@pytest.mark.browser
def test_ask_vs_prints_both_answers_under_headers_naming_the_models(lmarena: Lmarena) -> None:
    run = lmarena("ask", "-m", "gemini-3-pro", "--vs", "claude-opus-4-5", "hi")
    assert run.code == 0, run.err
    assert run.out == (
        "=== model A: gemini-3-pro ===\n"
        "Echo (turn 1): hi\n"
        "=== model B: claude-opus-4-5 ===\n"
        "Echo B (turn 1): hi\n"
    )
    assert conversation_id(run.err)


@pytest.mark.browser
def test_ask_battle_streams_both_answers_and_names_the_models_once_revealed(
    lmarena: Lmarena,
) -> None:
    run = lmarena("ask", "--battle", "hi")
    assert run.code == 0, run.err
    assert run.out.startswith("=== model A ===\nEcho (turn 1): hi\n=== model B")
    assert run.out.endswith("===\nEcho B (turn 1): hi\n")
    revealed = [line for line in run.err.splitlines() if line.startswith("battle: ")]
    assert len(revealed) == 1
    assert "model A was " in revealed[0] and "model B was " in revealed[0]


@pytest.mark.browser
def test_ask_battle_json_keeps_the_two_answers_apart(lmarena: Lmarena) -> None:
    run = lmarena("ask", "--battle", "--json", "hi")
    assert run.code == 0, run.err
    data = orjson.loads(run.out)
    assert data["mode"] == "battle"
    assert [(a["side"], a["text"]) for a in data["answers"]] == [
        ("a", "Echo (turn 1): hi"),
        ("b", "Echo B (turn 1): hi"),
    ]


@pytest.mark.browser
def test_reasoning_reaches_stderr_only_with_show_reasoning_and_always_json(
    lmarena: Lmarena,
) -> None:
    thinking = ("-m", "claude-opus-4-5-thinking-32k")
    lmarena.arena.enqueue(FakeReply(text="The answer.", reasoning="Let me think."))
    plain = lmarena("ask", *thinking, "q")
    assert plain.code == 0, plain.err
    assert plain.out == "The answer.\n"
    assert "Let me think." not in plain.err

    lmarena.arena.enqueue(FakeReply(text="The answer.", reasoning="Let me think."))
    shown = lmarena("ask", *thinking, "--show-reasoning", "-c", "q")
    assert shown.code == 0, shown.err
    assert shown.out == "The answer.\n"
    assert "Let me think." in shown.err
    assert ESC not in shown.err  # stderr is a pipe: no dimming


@pytest.mark.browser
def test_image_model_urls_print_one_per_line_and_o_saves_numbered_files(
    lmarena: Lmarena, tmp_path: Path
) -> None:
    image_model = ("-m", "gemini-3-pro-image-preview")
    run = lmarena("ask", *image_model, "a cat")
    assert run.code == 0, run.err
    urls = run.out.splitlines()
    assert len(urls) == 1 and urls[0].startswith(lmarena.arena.url + "/")

    two = [lmarena.arena._generated_image_url() for _ in range(2)]
    lmarena.arena.enqueue(FakeReply(text="", images=two))
    target = tmp_path / "out" / "pic.png"
    target.parent.mkdir()
    saved = lmarena("ask", *image_model, "-o", str(target), "two cats")
    assert saved.code == 0, saved.err
    assert saved.out.strip() == ""  # with -o the URLs are not printed
    paths = [tmp_path / "out" / "pic-1.png", tmp_path / "out" / "pic-2.png"]
    for path in paths:
        assert path.read_bytes().startswith(b"\x89PNG")
        assert f"saved {path}" in saved.err
    assert not target.exists()


@pytest.mark.browser
def test_image_from_a_path_and_from_stdin_are_uploaded_with_the_prompt(
    lmarena: Lmarena, tmp_path: Path
) -> None:
    picture = tmp_path / "dot.png"
    picture.write_bytes(PNG)
    run = lmarena("ask", "--image", str(picture), "what is this?")
    assert run.code == 0, run.err
    assert run.out.startswith("Echo (turn 1): what is this?")
    sent = lmarena.arena.stream_requests()[-1].json["userMessage"]
    assert len(sent["experimental_attachments"]) == 1

    piped = lmarena("ask", "--image", "-", "and this?", input=PNG)
    assert piped.code == 0, piped.err
    assert piped.out.startswith("Echo (turn 1): and this?")
    sent = lmarena.arena.stream_requests()[-1].json["userMessage"]
    assert sent["content"] == "and this?"
    assert len(sent["experimental_attachments"]) == 1


@pytest.mark.browser
def test_continue_and_resume_carry_on_the_same_conversation(lmarena: Lmarena) -> None:
    first = lmarena("ask", "one")
    assert first.code == 0, first.err
    chat_id = conversation_id(first.err)
    other = lmarena("ask", "elsewhere")
    assert conversation_id(other.err) != chat_id

    resumed = lmarena("ask", "--resume", chat_id, "two")
    assert resumed.code == 0, resumed.err
    assert resumed.out == "Echo (turn 2): two\n"
    assert conversation_id(resumed.err) == chat_id

    continued = lmarena("ask", "-c", "three")  # the latest conversation is now chat_id again
    assert continued.code == 0, continued.err
    assert continued.out == "Echo (turn 3): three\n"
    assert conversation_id(continued.err) == chat_id


# --------------------------------------------------------------------------------------------------
# Failures: one line on stderr, the exit code of errors.py, no traceback
# --------------------------------------------------------------------------------------------------


def assert_one_error_line(run: Run, *words: str) -> None:
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("lmarena: ")
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in run.err
    assert ESC not in run.err  # stderr is a pipe: no colour


@pytest.mark.browser
@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        (Fault.rate_limit(retry_after=600), 6, ["Too many requests"]),  # over LM_ARENA_MAX_WAIT
        (Fault.moderation(), 7, []),
        (Fault.a3("Resource exhausted."), 6, ["Resource exhausted."]),
        (Fault.a3("Error during image generation: upstream 500"), 3, ["upstream 500"]),
    ],
    ids=["rate-limited-6", "moderation-7", "in-stream-quota-6", "upstream-a3-3"],
)
def test_a_refused_request_exits_with_its_code_and_one_line(
    lmarena: Lmarena, fault: Fault, code: int, words: list[str]
) -> None:
    lmarena.arena.enqueue(fault)
    run = lmarena("ask", "hi")
    assert run.code == code
    assert run.out == ""
    assert_one_error_line(run, *words)


@pytest.mark.browser
def test_a_recaptcha_rejected_twice_exits_5_without_a_third_try(lmarena: Lmarena) -> None:
    lmarena.arena.enqueue(Fault.recaptcha(), Fault.recaptcha(), FakeReply(text="never sent"))
    before = len(lmarena.arena.stream_requests())
    run = lmarena("ask", "hi")
    assert run.code == 5
    assert run.out == ""
    assert "reCAPTCHA" in run.err
    assert run.err.strip().splitlines()[-1].startswith("lmarena: ")
    assert "Traceback" not in run.err
    assert len(lmarena.arena.stream_requests()) - before == 2


@pytest.mark.browser
def test_the_login_gate_exits_4_and_points_at_lmarena_login(lmarena: Lmarena) -> None:
    lmarena.arena.login_gate = True
    run = lmarena("ask", "hi")
    assert run.code == 4
    assert run.out == ""
    assert_one_error_line(run, "lmarena login")


@pytest.mark.browser
def test_no_first_token_within_timeout_exits_8(lmarena: Lmarena) -> None:
    lmarena.arena.enqueue(Fault.hang())  # silent until the client leaves: only its timeout ends it
    before = len(lmarena.arena.stream_requests())
    # The wait counts from the send's start (Chromium's start and the token included): long
    # enough for the request to reach the site, whose silence is then what times out.
    run = lmarena("ask", "--timeout", "6", "hi")
    assert run.code == 8
    assert run.out == ""
    assert_one_error_line(run, "first answer")
    assert len(lmarena.arena.stream_requests()) - before == 1  # sent, given up on, not again


@pytest.mark.browser
def test_a_cut_answer_keeps_the_partial_text_and_exits_3(lmarena: Lmarena) -> None:
    lmarena.arena.enqueue(Fault.cut(after_text="Partial ans"))
    run = lmarena("ask", "hi")
    assert run.code == 3
    assert run.out == "Partial ans\n"
    assert_one_error_line(run, "cut off")


def test_a_missing_browser_exits_9_naming_the_variable(fake: FakeArena, tmp_path: Path) -> None:
    cold = Lmarena(fake, tmp_path / "cold")
    run = cold("ask", "hi", env={"LM_ARENA_BROWSER_EXECUTABLE_PATH": "/nonexistent"})
    assert run.code == 9
    assert run.out == ""
    assert_one_error_line(run, "LM_ARENA_BROWSER_EXECUTABLE_PATH", "/nonexistent")


def test_debug_shows_the_traceback_of_a_failure(fake: FakeArena, tmp_path: Path) -> None:
    cold = Lmarena(fake, tmp_path / "cold")
    run = cold("ask", "--debug", "hi", env={"LM_ARENA_BROWSER_EXECUTABLE_PATH": "/nonexistent"})
    assert run.code == 9
    assert "Traceback" in run.err
    assert "BrowserUnavailable" in run.err


@pytest.mark.browser
def test_sigint_during_an_answer_exits_130_keeps_the_partial_line_and_leaves_no_chromium(
    lmarena: Lmarena,
) -> None:
    lmarena.arena.enqueue(FakeReply(text=[f"w{i} " for i in range(60)], delay_between=0.25))
    proc = subprocess.Popen(
        [*LMARENA, "ask", "count"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=lmarena.env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + 40
    while b"w1 " not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            seen += os.read(proc.stdout.fileno(), 4096)
    assert b"w1 " in seen, "the answer never started"
    assert pids_with(lmarena.state), "expected a Chromium of this run while it streams"
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=20)
    out = (seen + rest).decode()
    assert proc.returncode == EXIT_INTERRUPTED
    assert out.startswith("w0 w1 ") and out.endswith("\n")
    assert "w59" not in out
    assert err.decode().strip().splitlines()[-1] == "lmarena: interrupted"
    assert "Traceback" not in err.decode()
    deadline = time.monotonic() + 5
    while pids_with(lmarena.state) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pids_with(lmarena.state) == []


# --------------------------------------------------------------------------------------------------
# Pipes, stdin and terminals
# --------------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_head_1_ends_the_run_quietly(lmarena: Lmarena, tmp_path: Path) -> None:
    lines = [f"line {i}\n" for i in range(40)]
    lmarena.arena.enqueue(FakeReply(text=lines, delay_between=0.05))
    status = tmp_path / "status"
    run = lmarena.shell(f"{{ {command_line('ask', 'hi')}; echo $? > {status}; }} | head -1")
    assert run.code == 0
    assert run.out == "line 0\n"
    assert run.err == ""  # no traceback, no "Exception ignored", no conversation line
    assert status.read_text().strip() == "0"


@pytest.mark.browser
def test_a_closed_stdin_is_fine_with_a_prompt_argument(lmarena: Lmarena) -> None:
    run = lmarena.shell(f"exec 0<&-; {command_line('ask', 'hi')}")
    assert run.code == 0, run.err
    assert run.out == "Echo (turn 1): hi\n"
    assert conversation_id(run.err)


@pytest.mark.browser
def test_no_stdin_does_not_wait_for_a_stdin_that_never_closes(lmarena: Lmarena) -> None:
    proc = subprocess.Popen(
        [*LMARENA, "ask", "--no-stdin", "hi"],
        stdin=subprocess.PIPE,  # kept open and never written: a cron job's stdin
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=lmarena.env(),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    with proc.stdin, proc.stdout, proc.stderr:  # every pipe closed, whatever happens
        code = proc.wait(timeout=40)
        out, err = proc.stdout.read(), proc.stderr.read()
    assert code == 0, err
    assert out == b"Echo (turn 1): hi\n"


@pytest.mark.browser
def test_no_color_env_and_a_pipe_give_no_escape_codes_or_spinner(lmarena: Lmarena) -> None:
    run = lmarena("ask", "hi", env={"NO_COLOR": "1"})
    assert run.code == 0, run.err
    assert ESC not in run.out and ESC not in run.err
    assert "starting the browser" not in run.err
    assert "\r" not in run.err


def read_pty(fd: int, until: bytes, timeout: float) -> bytes:
    """What a terminal shows, read until ``until`` appears (or the timeout)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while until not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.browser
def test_the_spinner_shows_on_a_terminal_stderr_and_is_gone_before_the_answer(
    lmarena: Lmarena,
) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*LMARENA, "ask", "hi"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=lmarena.env(),
    )
    os.close(slave)
    try:
        shown = read_pty(master, b"conversation:", 40)
        out, _ = proc.communicate(timeout=20)
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert out == b"Echo (turn 1): hi\n"  # stdout is a pipe: no spinner bytes there
    assert b"starting the browser" in shown
    spinner_end = shown.rindex(b"\r\x1b[K")
    assert spinner_end < shown.index(b"conversation:")


# --------------------------------------------------------------------------------------------------
# chat
# --------------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_chat_with_piped_stdin_answers_each_line_and_ends_at_eof(lmarena: Lmarena) -> None:
    run = lmarena("chat", input="first\nsecond\n")
    assert run.code == 0, run.err
    assert run.out == "Echo (turn 1): first\nEcho (turn 2): second\n"
    ids = CONVERSATION.findall(run.err)
    assert len(ids) >= 2 and len(set(ids)) == 1
    assert "> " not in run.err  # no prompt when stdin is not a terminal


@pytest.mark.browser
def test_chat_on_a_terminal_ctrl_c_stops_an_answer_and_ctrl_d_ends_with_0(
    lmarena: Lmarena,
) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal session running `lmarena chat`
        os.execvpe(LMARENA[0], [*LMARENA, "chat"], lmarena.env())
    try:
        shown = read_pty(fd, b"> ", 40)
        assert b"chatting with gemini-3-pro" in shown
        os.write(fd, b"hello\n")
        shown = read_pty(fd, b"> ", 30)
        assert b"Echo (turn 1): hello" in shown

        lmarena.arena.enqueue(FakeReply(text=[f"w{i} " for i in range(60)], delay_between=0.2))
        os.write(fd, b"count\n")
        shown = read_pty(fd, b"w1 ", 30)
        assert b"w1 " in shown
        os.write(fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT
        shown = read_pty(fd, b"> ", 15)
        assert b"(answer stopped)" in shown
        assert b"w59" not in shown

        os.write(fd, b"again\n")  # the chat goes on
        shown = read_pty(fd, b"> ", 30)
        # The stopped answer's prompt was turn 2 on the site (it records a prompt as it comes).
        assert b"Echo (turn 3): again" in shown
        os.write(fd, b"\x04")  # Ctrl-D
        shown = read_pty(fd, b"conversation:", 15)
        assert b"conversation:" in shown
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.browser
def test_login_says_what_it_waits_for_and_times_out_with_8(lmarena: Lmarena) -> None:
    run = lmarena("login", "--timeout", "2")
    assert run.code == 8
    assert run.out == ""
    assert f"opening {lmarena.arena.url}/login in a browser window" in run.err
    assert "waiting up to 2 s for you to sign in" in run.err
    assert run.err.strip().splitlines()[-1].startswith("lmarena: no sign-in happened")


@pytest.mark.browser
def test_models_refresh_rediscovers_through_the_browser(fake: FakeArena, tmp_path: Path) -> None:
    cold = Lmarena(fake, tmp_path / "cold")
    run = cold("models", "--refresh")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == "gemini-3-pro"
    assert (tmp_path / "cold" / "site-cache.json").exists()


# --------------------------------------------------------------------------------------------------
# In process: what needs no browser
# --------------------------------------------------------------------------------------------------


@dataclass
class InProcess:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def stand_in_cache(
    host: ArenaHost, shared_arena: FakeArena, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A site cache file from one bootstrap of the browser's stand-in (no Chromium)."""
    settings = settings_for(shared_arena.url, tmp_path_factory.mktemp("stand-in") / "state")

    async def bootstrap() -> None:
        async with HttpBrowser(settings) as browser:
            await browser.bootstrap()

    host.call(bootstrap())
    return settings.cache_path


@pytest.fixture
def cached(
    stand_in_cache: Path,
    isolated_dirs: Path,
    shared_arena: FakeArena,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """This test's state dir holds a warm cache file; any browser launch would fail (exit 9)."""
    isolated_dirs.mkdir(parents=True, exist_ok=True)
    shutil.copy(stand_in_cache, isolated_dirs / "site-cache.json")
    monkeypatch.setenv("LM_ARENA_BASE_URL", shared_arena.url)
    monkeypatch.setenv("LM_ARENA_BROWSER_EXECUTABLE_PATH", "/nonexistent")
    return isolated_dirs


def invoke(*args: str, input: str | bytes | None = None) -> InProcess:
    result = CliRunner().invoke(cli.app, list(args), input=input, prog_name="lmarena")
    return InProcess(result.exit_code, result.stdout, result.stderr)


def test_models_from_the_cache_prints_one_name_per_line_without_a_browser(cached: Path) -> None:
    run = invoke("models")
    assert run.code == 0, run.err
    names = run.out.splitlines()
    assert names[:2] == ["gemini-3-pro", "claude-opus-4-5"]
    assert "gemini-3-pro-image-preview" in names
    assert run.err == ""


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("--image-output", ["gemini-3-pro-image-preview"]),
        ("--search", ["gemini-3-pro-grounding"]),
    ],
)
def test_models_filters_by_capability(cached: Path, flag: str, expected: list[str]) -> None:
    run = invoke("models", flag)
    assert run.code == 0, run.err
    assert run.out.splitlines() == expected


def test_models_vision_lists_only_models_that_take_images(cached: Path) -> None:
    every = orjson.loads(invoke("models", "--json").out)
    vision = invoke("models", "--vision").out.splitlines()
    assert vision == [m["name"] for m in every if m["takes_images"]]
    assert 0 < len(vision) < len(every)


def test_models_json_has_ids_organization_and_capabilities(cached: Path) -> None:
    run = invoke("models", "--json")
    assert run.code == 0, run.err
    first = orjson.loads(run.out)[0]
    assert first["name"] == "gemini-3-pro"
    assert {"id", "organization", "capabilities", "takes_images", "outputs_images"} <= set(first)


def test_models_with_no_cache_and_no_browser_exits_9(
    isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LM_ARENA_BROWSER_EXECUTABLE_PATH", "/nonexistent")
    run = invoke("models")
    assert run.code == 9
    assert run.out == ""
    assert "LM_ARENA_BROWSER_EXECUTABLE_PATH" in run.err


def test_an_unknown_model_exits_2_suggesting_close_names(cached: Path) -> None:
    run = invoke("ask", "-m", "gemini-3-prp", "hi")
    assert run.code == 2
    assert run.out == ""
    assert "unknown model 'gemini-3-prp'" in run.err
    assert "gemini-3-pro" in run.err.split("did you mean:")[1]


def test_model_completion_lists_cached_names_and_nothing_without_a_cache(
    cached: Path,
) -> None:
    assert complete_model("claude") == ["claude-opus-4-5", "claude-opus-4-5-thinking-32k"]
    (cached / "site-cache.json").unlink()
    assert complete_model("claude") == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["ask", "--json", "--jsonl", "hi"], "--json or --jsonl"),
        (["ask", "--battle", "-m", "gemini-3-pro", "hi"], "--battle"),
        (["ask", "--resume", "x", "-c", "hi"], "--resume"),
        (["ask", "--image", "-", "--image", "-", "hi"], "--image -"),
        (["ask", "--timeout", "0", "hi"], "--timeout"),
    ],
)
def test_conflicting_or_bad_options_are_usage_errors(
    cached: Path, args: list[str], says: str
) -> None:
    run = invoke(*args)
    assert run.code == 2
    assert run.out == ""
    assert says in run.err


def test_image_from_stdin_needs_bytes_on_stdin(cached: Path) -> None:
    run = invoke("ask", "--image", "-", "what is it?", input=b"")
    assert run.code == 2
    assert "stdin was empty" in run.err


def test_an_empty_prompt_is_a_usage_error(cached: Path) -> None:
    run = invoke("ask", input="\n\n")
    assert run.code == 2
    assert "the prompt is empty" in run.err


def test_a_bad_conversation_id_is_a_usage_error(cached: Path) -> None:
    run = invoke("ask", "--resume", "not-an-id", "hi")
    assert run.code == 2
    assert "not a conversation id" in run.err


def test_continue_with_no_earlier_conversation_is_a_usage_error(cached: Path) -> None:
    run = invoke("ask", "-c", "hi")
    assert run.code == 2
    assert "no earlier conversation" in run.err


def test_login_without_a_display_says_it_needs_one(
    isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LM_ARENA_BROWSER_HEADLESS")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    run = invoke("login")
    assert run.code == 2
    assert "no display" in run.err
    assert "opening" not in run.err  # no window is promised


def test_compose_prompt_puts_context_first_and_instruction_last() -> None:
    assert compose_prompt("diff\n", "explain") == "diff\n\nexplain"
    assert compose_prompt("", "explain") == "explain"
    assert compose_prompt("only stdin\n", None) == "only stdin"


# --------------------------------------------------------------------------------------------------
# Many runs at once
# --------------------------------------------------------------------------------------------------

#: `xargs -P 20 lmarena ask -c`: twenty processes, one state dir, one conversation store.
PARALLEL = 20


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_twenty_parallel_continue_runs_all_answer_and_leave_the_store_intact(
    lmarena: Lmarena,
) -> None:
    first = lmarena("ask", "start")
    assert first.code == 0, first.err
    chat_id = conversation_id(first.err)
    procs = [
        subprocess.Popen(
            [*LMARENA, "ask", "-c", f"job {n}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=lmarena.env(LM_ARENA_TIMEOUT="120"),
        )
        for n in range(PARALLEL)
    ]
    results = [(p.communicate(timeout=200), p.returncode) for p in procs]
    for n, ((out, err), code) in enumerate(results):
        assert code == 0, f"job {n} exited {code}: {err.decode()}"
        assert re.fullmatch(rb"Echo \(turn \d+\): job %d\n" % n, out), out
        assert conversation_id(err.decode()) == chat_id
    db = sqlite3.connect(lmarena.state / "conversations.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT id, turns, transcript FROM conversations").fetchall()
    finally:
        db.close()
    assert [(row[0], row[1]) for row in rows] == [(chat_id, 2 * (PARALLEL + 1))]
    prompts = {t["content"] for t in orjson.loads(rows[0][2]) if t["role"] == "user"}
    assert prompts == {"start"} | {f"job {n}" for n in range(PARALLEL)}


# --------------------------------------------------------------------------------------------------
# Colour decisions (a terminal faked by a stream that says it is one)
# --------------------------------------------------------------------------------------------------


class FakeTty:
    def __init__(self) -> None:
        self.written = ""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.written += text
        return len(text)

    def flush(self) -> None:
        pass


def tty_terminal(**options: Any) -> tuple[Terminal, FakeTty]:
    stream = FakeTty()
    return Terminal(stdin=None, stderr=stream, **options), stream  # type: ignore[arg-type]


def test_errors_are_red_on_a_terminal_only_without_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    term, stream = tty_terminal()
    term.err(term.style("lmarena: ", "1;31") + "boom")
    assert ESC in stream.written
    for env, flag in ((("NO_COLOR", "1"), False), (("TERM", "dumb"), False), (None, True)):
        if env:
            monkeypatch.setenv(*env)
        term, stream = tty_terminal(no_color=flag)
        term.err(term.style("lmarena: ", "1;31") + "boom")
        assert stream.written == "lmarena: boom\n", env
        monkeypatch.setenv("TERM", "xterm-256color")
        monkeypatch.delenv("NO_COLOR", raising=False)


def test_no_spinner_with_term_dumb_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    term, stream = tty_terminal()

    async def undrawn() -> None:
        with term.spinner("starting the browser…"):
            # No task but this one: nothing is there to draw a spinner, now or later.
            assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(undrawn())
    assert stream.written == ""
    monkeypatch.setenv("TERM", "xterm-256color")

    async def drawn() -> None:
        with term.spinner("starting the browser…"):
            deadline = time.monotonic() + 10
            while "starting the browser…" not in stream.written:
                assert time.monotonic() < deadline, "the spinner was never drawn"
                await asyncio.sleep(0.02)

    asyncio.run(drawn())
    assert "starting the browser…" in stream.written
    assert stream.written.endswith("\r\x1b[K")

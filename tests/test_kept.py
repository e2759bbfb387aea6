"""The kept server (``lmarena server``): ``ask`` and ``chat`` through a warm server, started on
demand, and the same bytes, lines and exit codes as in-process.

Real processes and real sockets: the CLI runs as a subprocess, starts a real kept server (a
detached process) on the browser's stand-in, which talks to the fake arena of this test (the
tests' entry modules ``tests.helpers.stand_in_lmarena`` and ``stand_in_kept`` hand the real
``main()`` of each :class:`tests.fakes.HttpBrowser`). Every server a test started is stopped (or
killed) and waited for by the ``cli`` fixture. The ``browser``-marked tests at the end run the
kept server on real Chromium.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from lmarena_cli.cli.kept import probe, stop_server
from lmarena_cli.client import factory
from lmarena_cli.client.content.uploads import MAX_IMAGE_BYTES as UPLOADS_MAX
from lmarena_cli.client.kept.wire_images import MAX_IMAGE_BYTES
from lmarena_cli.client.turn.battles import BATTLE_HOLD
from lmarena_cli.server.private import peer_allowed, peer_uid
from lmarena_cli.settings import Settings
from lmarena_cli.state.kept import KeptPaths, read_pid
from tests.fake_arena import FakeArena, Fault, Reply
from tests.fakes import HttpBrowser
from tests.helpers.processes import chromium_browsers, chromium_with, cmdline

MODEL = "gemini-3-pro"
ROOT = str(Path(__file__).resolve().parent.parent)
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMING = re.compile(
    r'("(?:first_token|total|first_a|first_b|first_byte_seconds|total_seconds)": ?)-?[0-9.e-]+'
)
#: Clock times, waits and signatures, which change from one run to the next.
CLOCK = re.compile(r"\b\d\d:\d\d:\d\d\b|\bin \d+ s\b|(?<=X-Amz-)(Date|Signature)=\w+")
#: A battle's models: the fake picks the next pair for each battle.
BATTLE = re.compile(r"(=== model [AB]: |model [AB] was )[^ =,\n]+")


def alive(pid: int) -> bool:
    """A live process (a zombie, never reaped here, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def listening(socket_path: Path, seconds: float) -> dict[str, Any] | None:
    """The hello of the server at ``socket_path`` once it answers (None after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while (hello := probe(socket_path)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return hello


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


class Cli:
    """``lmarena`` as a subprocess on the fake ``arena``; remembers every server it saw."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url, self.tmp = url, tmp
        self.state = tmp / "kept-state"
        self.states: set[Path] = set()
        self.pids: set[int] = set()
        self.children: list[subprocess.Popen[str]] = []
        #: The browser's stand-in in the server (False: real Chromium, for `browser` tests).
        self.stand_in = True
        #: More of the environment of every command.
        self.extra_env: dict[str, str] = {}

    def env(self, state: Path, keep: float, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "LM_ARENA_BASE_URL": self.url,
            "LM_ARENA_STATE_DIR": str(state),
            "LM_ARENA_MODEL": MODEL,
            "LM_ARENA_KEEP_ALIVE": str(keep),
            "PYTHONPATH": ROOT,
            **self.extra_env,
            **extra,
        }

    def popen(
        self, *args: str, state: Path | None = None, keep: float = 60, cwd: Path | None = None
    ) -> subprocess.Popen[str]:
        state = state or self.state
        self.states.add(state)
        # The stand-in's entry module runs the real main() on HttpBrowser, and so does the
        # kept server it starts; the product's own entry point runs Chromium.
        entry = "tests.helpers.stand_in_lmarena" if self.stand_in else "lmarena_cli"
        child = subprocess.Popen(
            [sys.executable, "-m", entry, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(state, keep),
            cwd=cwd or self.tmp,
        )
        self.children.append(child)
        return child

    async def __call__(
        self,
        *args: str,
        stdin: str = "",
        state: Path | None = None,
        keep: float = 60,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        def run() -> subprocess.CompletedProcess[str]:
            process = self.popen(*args, state=state, keep=keep, cwd=cwd)
            out, err = process.communicate(stdin, timeout=60)
            return subprocess.CompletedProcess(process.args, process.returncode, out, err)

        done = await asyncio.to_thread(run)
        self.remember(state or self.state)
        return done

    def remember(self, state: Path) -> int | None:
        pid = read_pid(KeptPaths.of(state).pid)
        if pid is not None:
            self.pids.add(pid)
        return pid

    def server(self, state: Path | None = None) -> int | None:
        """The pid of the server answering on ``state``'s socket."""
        hello = probe(KeptPaths.of(state or self.state).socket)
        if hello is None:
            return None
        self.pids.add(int(hello["pid"]))
        return int(hello["pid"])

    def close(self) -> None:
        # A command a failed test left running is ended, and its pipes closed (left to the
        # garbage collector, they fail a later test with ResourceWarning).
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.communicate()
        for state in self.states:
            self.remember(state)
            stop_server(KeptPaths.of(state), wait=10)
        for pid in self.pids:
            if alive(pid):
                os.kill(pid, signal.SIGTERM)
                if not wait_gone(pid, 10):
                    os.kill(pid, signal.SIGKILL)
                    wait_gone(pid, 5)
        left = [pid for pid in self.pids if alive(pid)]
        assert left == [], f"servers left running: {left}"


@pytest.fixture
async def cli(arena: FakeArena, tmp_path: Path) -> AsyncIterator[Cli]:
    runner = Cli(arena.url, tmp_path)
    try:
        yield runner
    finally:
        await asyncio.to_thread(runner.close)


def normal(text: str, *states: Path) -> str:
    """Output with what differs between two runs of the same thing made equal."""
    for state in states:
        text = text.replace(str(state), "<state>")
    text = TIMING.sub(r"\1<t>", UUID.sub("<id>", text))
    return CLOCK.sub("<clock>", BATTLE.sub(r"\1<m>", text))


def conversation(err: str) -> str:
    found = [line for line in err.splitlines() if line.startswith("conversation: ")]
    assert found, err
    return found[-1].removeprefix("conversation: ")


Step = tuple[Sequence[str], str, Sequence[Any]]


async def both_ways(
    cli: Cli, arena: FakeArena, steps: Sequence[Step], *, cwd: Path | None = None
) -> list[tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]]:
    """Run ``steps`` (args, stdin, what the fake answers) in-process, then through a kept
    server, each way in its own state directory; ``{id}`` in args is the last conversation."""
    runs: dict[str, list[subprocess.CompletedProcess[str]]] = {}
    states = {"in-process": cli.tmp / "in-process", "kept": cli.state}
    for way, state in states.items():
        runs[way] = []
        last = ""
        for args, stdin, queued in steps:
            arena.queue.extend(queued)
            argv = [arg.replace("{id}", last) for arg in args]
            done = await cli(
                *argv, stdin=stdin, state=state, keep=0 if way == "in-process" else 60, cwd=cwd
            )
            arena.queue.clear()
            if "conversation: " in done.stderr:
                last = conversation(done.stderr)
            runs[way].append(done)
    pairs = list(zip(runs["in-process"], runs["kept"], strict=True))
    for (args, _, _), (here, kept) in zip(steps, pairs, strict=True):
        where = f"lmarena {' '.join(args)}"
        assert normal(kept.stdout, *states.values()) == normal(here.stdout, *states.values()), where
        assert normal(kept.stderr, *states.values()) == normal(here.stderr, *states.values()), where
        assert kept.returncode == here.returncode, (where, here.stderr, kept.stderr)
    return pairs


# --- the same bytes as in-process -----------------------------------------------------------------


async def test_the_front_ends_use_the_browser_and_kept_server_they_were_handed(
    monkeypatch: pytest.MonkeyPatch, arena: FakeArena
) -> None:
    monkeypatch.setattr(factory, "_choice", factory._choice)  # restored after the test
    monkeypatch.setenv("LM_ARENA_BASE_URL", arena.url)
    assert factory.kept_server_command() == [sys.executable, "-m", "lmarena_cli.server.kept"]
    chromium = factory.new_client(Settings.load({}))
    assert type(chromium.browser).__name__ == "Browser"  # made, never launched
    await chromium.close()
    factory.use_browser(HttpBrowser, kept_server=["python3", "-m", "elsewhere"])
    assert factory.kept_server_command() == ["python3", "-m", "elsewhere"]
    client = factory.new_client(Settings.load({}))
    stand_in = client.browser
    assert isinstance(stand_in, HttpBrowser)
    await client.bootstrap()
    assert stand_in.counts.bootstraps == 1
    await client.close()
    assert stand_in.counts.closes == 1  # the client's own: closed with it


async def test_answers_through_the_kept_server_are_the_bytes_of_an_in_process_run(
    cli: Cli, arena: FakeArena
) -> None:
    steps: list[Step] = [
        (["ask", "--no-stdin", "hello"], "", []),
        (["ask", "-c", "--no-stdin", "and then?"], "", []),
        (["ask", "context piped in"], "the stdin part\n", []),
        (["ask", "--no-stdin", "--json", "as json"], "", []),
        (["ask", "--no-stdin", "--jsonl", "as lines"], "", [Reply(text=["one ", "two"])]),
        (["ask", "--no-stdin", "--vs", "claude-opus-4-5", "both"], "", []),
        (["ask", "--no-stdin", "--battle", "who?"], "", []),
        (["ask", "--no-stdin", "--resume", "{id}", "resumed"], "", []),
        (["ask", "--no-stdin", "-x", "code"], "", [Reply(text="say\n```sh\necho hi\n```\n")]),
        (
            ["ask", "--no-stdin", "--show-reasoning", "-m", "claude-opus-4-5-thinking-32k", "t"],
            "",
            [],
        ),
        (["chat"], "first line\nsecond line\n", []),
    ]
    pairs = await both_ways(cli, arena, steps)
    assert [kept.returncode for _, kept in pairs] == [0] * len(steps)
    assert pairs[0][1].stdout == "Echo (turn 1): hello\n"
    assert pairs[1][1].stdout.startswith("Echo (turn 2)")
    assert '"text": "Echo (turn 1): as json"' in pairs[3][1].stdout
    assert pairs[8][1].stdout == "echo hi\n"
    assert cli.server() is not None  # the kept runs did use a server


async def test_failures_through_the_kept_server_exit_and_say_what_in_process_does(
    cli: Cli, arena: FakeArena
) -> None:
    steps: list[Step] = [
        (["ask", "--no-stdin", "-m", "nosuchmodel", "x"], "", []),
        (["ask", "--no-stdin", "-m", "llama-3.3-70b-instruct", "--image", "cat.png", "x"], "", []),
        (["ask", "--no-stdin", "--image", "missing.png", "x"], "", []),
        (["ask", "--no-stdin", "x"], "", [Fault.moderation()]),
        (["ask", "--no-stdin", "x"], "", [Fault.cut("Partial ans")] * 3),
        (["ask", "--no-stdin", "x"], "", [Fault.server_error(503)] * 4),
        (["ask", "--no-stdin", "-c", "--resume", "nope", "x"], "", []),
        (["ask", "--no-stdin", "--resume", "not-a-uuid", "x"], "", []),
        # Longer than LM_ARENA_MAX_WAIT (60 s), so not waited out.
        (["ask", "--no-stdin", "x"], "", [Fault.rate_limit(retry_after=600)]),
        (["ask", "--no-stdin", "again"], "", []),
    ]
    work = cli.tmp / "work"
    work.mkdir()
    (work / "cat.png").write_bytes(PNG)
    pairs = await both_ways(cli, arena, steps, cwd=work)
    codes = [kept.returncode for _, kept in pairs]
    assert codes == [2, 2, 2, 7, 3, 3, 2, 2, 6, 6], [kept.stderr for _, kept in pairs]
    cut = pairs[4][1]
    assert cut.stdout == "Partial ans\n"
    assert "Traceback" not in "".join(kept.stderr for _, kept in pairs)


async def test_the_budget_and_a_schema_mismatch_exit_through_the_kept_server_as_in_process(
    cli: Cli, arena: FakeArena
) -> None:
    # The budget is checked in the server's library; its refusal crosses the wire as the same
    # error. A schema is checked in the command, on the answer the server relayed.
    schema = '{"type": "object", "required": ["n"]}'
    steps: list[Step] = [
        (["ask", "--no-stdin", "warm up"], "", []),
        (["ask", "too long"], "z" * 48_000, []),
        (["ask", "--no-stdin", "--schema", schema, "n?"], "", [Reply(text='{"m": 1}')]),
        (["ask", "--no-stdin", "--schema", schema, "n?"], "", [Reply(text='{"n": 1}')]),
    ]
    pairs = await both_ways(cli, arena, steps)
    assert [kept.returncode for _, kept in pairs] == [0, 2, 11, 0]
    refused, mismatch, matched = (kept for _, kept in pairs[1:])
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "lmarena: the prompt is 48,010 characters, over the limit of 48,000 "
        "(LM_ARENA_MAX_PROMPT_CHARS); nothing was sent"
    ]
    assert mismatch.stdout == ""
    assert mismatch.stderr.splitlines()[:3] == [
        "lmarena: the answer did not match the schema: $: 'n' is a required property",
        "lmarena: the model's answer was:",
        '{"m": 1}',
    ]
    assert matched.stdout == '{"n":1}\n'
    assert cli.server() is not None
    assert len(arena.stream_requests()) == 6  # all but the two refused, in-process and kept


async def test_images_go_in_from_this_folder_and_come_out_to_it(cli: Cli, arena: FakeArena) -> None:
    work = cli.tmp / "work"
    work.mkdir()
    (work / "cat.png").write_bytes(PNG)
    image_model = "gemini-3-pro-image-preview"
    steps: list[Step] = [
        (["ask", "--no-stdin", "--image", "cat.png", "what is it?"], "", []),
        (["ask", "--no-stdin", "-m", image_model, "-o", "out.png", "a cat"], "", []),
        (["ask", "--no-stdin", "-m", image_model, "a cat"], "", []),
    ]
    pairs = await both_ways(cli, arena, steps, cwd=work)
    assert [kept.returncode for _, kept in pairs] == [0, 0, 0], pairs[1][1].stderr
    assert (work / "out.png").read_bytes()[:8] == PNG[:8]  # saved in the command's folder
    assert pairs[2][1].stdout.startswith(("http", "data:"))  # without -o: the image's URL


# --- starting, sharing, replacing -----------------------------------------------------------------


async def test_the_first_ask_starts_a_detached_server_that_the_next_one_uses(
    cli: Cli, arena: FakeArena
) -> None:
    assert cli.server() is None
    one = await cli("ask", "--no-stdin", "one")
    assert (one.returncode, one.stdout) == (0, "Echo (turn 1): one\n"), one.stderr
    pid = cli.server()
    assert pid is not None
    two = await cli("ask", "--no-stdin", "two")
    assert two.returncode == 0
    assert cli.server() == pid
    # Detached: its own session, stdin on /dev/null, no descriptor of the command but its log.
    assert os.getsid(pid) == pid
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
    paths = KeptPaths.of(cli.state)
    assert os.readlink(f"/proc/{pid}/fd/2") == str(paths.log)
    assert os.readlink(f"/proc/{pid}/cwd") == str(paths.directory)
    assert oct(paths.socket.stat().st_mode & 0o777) == oct(0o600)
    assert oct(paths.directory.stat().st_mode & 0o777) == oct(0o700)
    status = await cli("server", "status")
    assert status.returncode == 0
    assert f"pid {pid}" in status.stdout and "requests: " in status.stdout


async def test_debug_through_the_kept_server_shows_that_commands_debug_records(
    cli: Cli,
) -> None:
    first = await cli("ask", "--no-stdin", "start")
    assert first.returncode == 0, first.stderr
    pid = cli.server()
    debug = await cli("ask", "--no-stdin", "--debug", "traced")
    assert (debug.returncode, debug.stdout) == (0, "Echo (turn 1): traced\n"), debug.stderr
    assert cli.server() == pid  # answered by the kept server, not in-process
    (line,) = [line for line in debug.stderr.splitlines() if "first lines after the send" in line]
    assert ", b none (battle hold 0 s)" in line
    plain = await cli("ask", "--no-stdin", "quiet")
    assert plain.returncode == 0 and "first lines after the send" not in plain.stderr
    # The server's own log stays at INFO: the command's DEBUG records went to the command only.
    assert "first lines after the send" not in KeptPaths.of(cli.state).log.read_text()


async def test_commands_started_at_once_start_one_server(cli: Cli) -> None:
    processes = [cli.popen("ask", "--no-stdin", f"q{n}") for n in range(4)]
    outs = await asyncio.to_thread(lambda: [p.communicate("", timeout=60) for p in processes])
    assert [p.returncode for p in processes] == [0] * 4, [err for _, err in outs]
    assert sorted(out for out, _ in outs) == [f"Echo (turn 1): q{n}\n" for n in range(4)]
    log = KeptPaths.of(cli.state).log.read_text()
    assert log.count("listening on") == 1, log
    assert cli.server() is not None


async def test_an_idle_kept_server_of_other_settings_is_replaced(cli: Cli) -> None:
    first = await cli("ask", "--no-stdin", "one")
    old = cli.server()
    assert first.returncode == 0 and old is not None
    cli.extra_env = {"LM_ARENA_MIN_INTERVAL": "0.001"}  # other settings: another fingerprint
    second = await cli("ask", "--no-stdin", "two")
    assert (second.returncode, second.stdout) == (0, "Echo (turn 1): two\n"), second.stderr
    new = cli.server()
    assert new not in (None, old)
    assert await asyncio.to_thread(wait_gone, old, 10)
    cli.extra_env = {}  # the first settings again, for a command that never starts a server
    models = await cli("models", "--refresh")
    assert models.returncode == 0 and cli.server() == new
    log = KeptPaths.of(cli.state).log.read_text()
    assert log.count("listening on") == 2, log


async def test_keep_alive_0_runs_in_process_and_starts_nothing(cli: Cli) -> None:
    done = await cli("ask", "--no-stdin", "plain", keep=0)
    assert (done.returncode, done.stdout) == (0, "Echo (turn 1): plain\n")
    assert not KeptPaths.of(cli.state).directory.exists()


async def test_models_refresh_uses_a_running_server_and_starts_none(cli: Cli) -> None:
    alone = await cli("models", "--refresh")
    assert alone.returncode == 0 and MODEL in alone.stdout.splitlines()
    assert cli.server() is None  # models does not start a server
    await cli("ask", "--no-stdin", "start one")
    before = probe(KeptPaths.of(cli.state).socket)
    assert before is not None
    refreshed = await cli("models", "--refresh")
    assert refreshed.stdout == alone.stdout
    after = probe(KeptPaths.of(cli.state).socket)
    assert after is not None and after["requests"] == before["requests"] + 1


@pytest.mark.browser  # doctor starts Chromium (in its own process)
async def test_doctor_names_the_kept_server_that_ask_would_use(cli: Cli) -> None:
    alone = await cli("doctor")
    assert alone.returncode == 0, alone.stderr
    assert "kept server" not in alone.stderr
    await cli("ask", "--no-stdin", "start one")
    pid = cli.server()
    assert pid is not None
    with_server = await cli("doctor")
    assert with_server.returncode == 0, with_server.stderr
    assert f"ask and chat answer through a kept server (pid {pid})" in with_server.stderr
    assert "`lmarena server stop`" in with_server.stderr
    # stdout unchanged: the steps (the account first, as the ask was today's send, then the
    # browser); the kept server is named on stderr only.
    first, second = with_server.stdout.splitlines()[:2]
    assert first.startswith("ok    account") and second.startswith("ok    browser")
    assert cli.server() == pid  # doctor neither stops nor replaces it
    cli.extra_env = {"LM_ARENA_MIN_INTERVAL": "0.001"}  # other settings
    other = await cli("doctor")
    assert other.returncode == 0, other.stderr
    assert f"a kept server (pid {pid}) holds this state folder with other settings" in other.stderr
    assert cli.server() == pid


async def test_status_says_why_the_servers_browser_is_not_ready(cli: Cli) -> None:
    cli.stand_in = False
    cli.extra_env = {"LM_ARENA_BROWSER_EXECUTABLE_PATH": str(cli.tmp / "no-such-chromium")}
    failed = await cli("ask", "--no-stdin", "x")
    assert failed.returncode == 9, failed.stderr
    assert cli.server() is not None
    status = await cli("server", "status")
    assert status.returncode == 0
    browser = next(line for line in status.stdout.splitlines() if line.startswith("browser: "))
    assert browser.startswith("browser: not ready: ") and "no-such-chromium" in browser
    assert browser.endswith("(each request tries again)")


async def test_a_server_exits_after_the_keep_alive_without_requests(cli: Cli) -> None:
    done = await cli("ask", "--no-stdin", "brief", keep=1)
    assert done.returncode == 0
    pid = cli.remember(cli.state)
    assert pid is not None
    assert await asyncio.to_thread(wait_gone, pid, 10)
    paths = KeptPaths.of(cli.state)
    assert not paths.socket.exists() and not paths.pid.exists()
    assert "no request for 1 s; exiting" in paths.log.read_text()


async def test_server_stop_and_sigterm_end_the_server(cli: Cli) -> None:
    none = await cli("server", "status")
    assert none.returncode == 1 and "no kept server" in none.stdout
    await cli("ask", "--no-stdin", "x")
    pid = cli.server()
    assert pid is not None
    stopped = await cli("server", "stop")
    assert stopped.returncode == 0 and f"pid {pid}" in stopped.stderr
    assert not alive(pid)
    assert (await cli("server", "status")).returncode == 1
    await cli("ask", "--no-stdin", "y")
    second = cli.server()
    assert second is not None and second != pid
    os.kill(second, signal.SIGTERM)
    assert await asyncio.to_thread(wait_gone, second, 10)
    assert not KeptPaths.of(cli.state).socket.exists()


#: A server that answers every line with its hello and never ends (it ignores ``stop``), holding
#: the lock as a kept server does: argv is its socket and its lock.
STUBBORN = """
import fcntl, os, socket, sys
lock = os.open(sys.argv[2], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(lock, fcntl.LOCK_EX)
server = socket.socket(socket.AF_UNIX)
server.bind(sys.argv[1])
server.listen()
print("listening", flush=True)
while True:
    connection, _ = server.accept()
    with connection:
        connection.recv(65536)
        connection.sendall(b'{"t": "hello", "pid": %d}\\n' % os.getpid())
"""


async def test_server_stop_says_so_when_the_server_does_not_end(cli: Cli) -> None:
    paths = KeptPaths.of(cli.state)
    paths.prepare()
    stubborn = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STUBBORN, str(paths.socket), str(paths.lock), stdout=subprocess.PIPE
    )
    try:
        assert stubborn.stdout is not None
        assert await stubborn.stdout.readline() == b"listening\n"
        stopped = await cli("server", "stop")
        assert stopped.returncode == 1, stopped.stderr
        assert f"the kept server (pid {stubborn.pid}) has not ended yet" in stopped.stderr
        assert str(paths.log) in stopped.stderr and "stopped the kept" not in stopped.stderr
    finally:
        stubborn.kill()
        await stubborn.wait()


# --- reliability ----------------------------------------------------------------------------------


async def test_a_server_killed_mid_answer_fails_that_ask_with_exit_3_and_the_next_starts_anew(
    cli: Cli, arena: FakeArena
) -> None:
    await cli("ask", "--no-stdin", "warm")
    pid = cli.server()
    assert pid is not None
    # A single-model answer's first text is held up to BATTLE_HOLD s (a battle may show itself):
    # the next part comes well after, so that the kill falls between the two.
    gap = BATTLE_HOLD + 2.0
    arena.queue.append(Reply(text=["first ", "second ", "third"], delay_between=gap))
    process = cli.popen("ask", "--no-stdin", "slow")
    assert process.stdout is not None
    first = await asyncio.to_thread(process.stdout.read, 6)
    assert first == "first "
    os.kill(pid, signal.SIGKILL)
    out, err = await asyncio.to_thread(process.communicate, "", 30)
    assert process.returncode == 3, err
    assert first + out == "first \n"
    assert f"the kept server (pid {pid}) ended before it answered" in err
    assert "Traceback" not in err
    again = await cli("ask", "--no-stdin", "after")
    assert (again.returncode, again.stdout) == (0, "Echo (turn 1): after\n"), again.stderr
    assert cli.server() not in (None, pid)


async def test_a_stale_socket_and_garbage_in_the_folder_do_not_stop_ask(cli: Cli) -> None:
    paths = KeptPaths.of(cli.state)
    paths.prepare()
    paths.socket.write_text("not a socket")
    paths.pid.write_text("garbage\n")
    paths.lock.write_text("junk")
    done = await cli("ask", "--no-stdin", "still")
    assert (done.returncode, done.stdout) == (0, "Echo (turn 1): still\n"), done.stderr
    assert cli.server() is not None
    assert paths.socket.is_socket()


async def test_a_state_folder_that_cannot_hold_a_socket_runs_in_process(cli: Cli) -> None:
    cli.state.mkdir(parents=True)
    (cli.state / "server").write_text("a file where the folder should be")
    done = await cli("ask", "--no-stdin", "anyway")
    assert (done.returncode, done.stdout) == (0, "Echo (turn 1): anyway\n"), done.stderr
    assert cli.server() is None


async def test_ask_through_the_server_imports_neither_aiohttp_nor_nodriver(cli: Cli) -> None:
    await cli("ask", "--no-stdin", "start")
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('HEAVY', [m for m in ('aiohttp', 'nodriver') "
        "if m in sys.modules], file=sys.stderr))\n"
        "from lmarena_cli.cli.app import main\n"
        "sys.argv = ['lmarena', 'ask', '--no-stdin', 'light']\n"
        "main()\n"
    )
    env = cli.env(cli.state, 60)
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert done.stdout == "Echo (turn 1): light\n", done.stderr
    assert "HEAVY []" in done.stderr


async def test_lmarena_serve_also_serves_the_commands_on_the_socket(cli: Cli) -> None:
    serve = cli.popen("serve", "--port", "0")
    try:
        paths = KeptPaths.of(cli.state)
        hello = await asyncio.to_thread(listening, paths.socket, 30)
        assert hello is not None and hello["pid"] == serve.pid and hello["kept"] is False
        done = await cli("ask", "--no-stdin", "via serve")
        assert (done.returncode, done.stdout) == (0, "Echo (turn 1): via serve\n"), done.stderr
        after = probe(paths.socket)
        assert after is not None and after["requests"] == 2  # open, then send
        serve.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(serve.communicate, timeout=30)
        assert serve.returncode == 0, err
        assert "lmarena's commands use this server" in err
        assert not paths.socket.exists()
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.communicate()


# --- who may connect ------------------------------------------------------------------------------


def test_only_this_user_may_use_the_socket() -> None:
    assert peer_allowed(1000, own_uid=1000)
    assert not peer_allowed(1001, own_uid=1000)
    assert not peer_allowed(0, own_uid=1000)
    assert not peer_allowed(None, own_uid=1000)


def test_the_peer_of_a_real_unix_socket_is_this_user() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        assert peer_uid(left) == os.getuid()
        assert peer_allowed(peer_uid(left))


def test_the_image_limit_is_the_librarys() -> None:
    assert MAX_IMAGE_BYTES == UPLOADS_MAX


# --- real Chromium --------------------------------------------------------------------------------


@pytest.mark.browser
async def test_one_chromium_answers_twenty_asks_at_once_and_ends_with_its_server(
    cli: Cli,
) -> None:
    cli.stand_in = False
    first = await cli("ask", "--no-stdin", "warm up")
    assert (first.returncode, first.stdout) == (0, "Echo (turn 1): warm up\n"), first.stderr
    pid = cli.server()
    assert pid is not None and chromium_browsers(cli.state) == 1
    headless = [p for p in chromium_with(cli.state) if b"--headless" in cmdline(p)]
    assert headless, "the kept server's Chromium runs headless"
    processes = [cli.popen("ask", "--no-stdin", f"n{n}") for n in range(20)]
    peak = 0
    while any(p.poll() is None for p in processes):
        peak = max(peak, chromium_browsers(cli.state))
        await asyncio.sleep(0.05)
    outs = [p.communicate() for p in processes]
    assert [p.returncode for p in processes] == [0] * 20, [err for _, err in outs]
    assert sorted(out for out, _ in outs) == sorted(f"Echo (turn 1): n{n}\n" for n in range(20))
    assert peak == 1 and chromium_browsers(cli.state) == 1
    assert cli.server() == pid
    stopped = await cli("server", "stop")
    assert stopped.returncode == 0
    assert chromium_with(cli.state) == []  # no Chromium left once `server stop` returns
    # SIGTERM, and the idle timeout, end a server and its Chromium the same way.
    again = await cli("ask", "--no-stdin", "again")
    second = cli.server()
    assert again.returncode == 0 and second not in (None, pid)
    os.kill(second, signal.SIGTERM)
    assert await asyncio.to_thread(wait_gone, second, 15)
    assert chromium_with(cli.state) == []
    idle = await cli("ask", "--no-stdin", "brief", keep=2)
    third = cli.remember(cli.state)
    assert idle.returncode == 0 and third not in (None, pid, second)
    assert await asyncio.to_thread(wait_gone, third, 20)
    assert chromium_with(cli.state) == []


@pytest.mark.browser
async def test_what_the_start_up_says_reaches_the_command_that_waited_for_it(
    cli: Cli, arena: FakeArena
) -> None:
    arena.tou_required = True  # the start-up accepts the Terms of Use, and says so
    cli.stand_in = False
    here = await cli("ask", "--no-stdin", "in-process", keep=0, state=cli.tmp / "alone")
    assert here.returncode == 0, here.stderr
    assert "accepted the site's Terms of Use for this account" in here.stderr
    first = await cli("ask", "--no-stdin", "through a new server")
    assert (first.returncode, first.stdout) == (0, "Echo (turn 1): through a new server\n")
    assert "accepted the site's Terms of Use for this account" in first.stderr
    assert "ready" not in first.stderr.split()  # the server's own log lines stay in its log
    second = await cli("ask", "--no-stdin", "through the same server")
    assert second.returncode == 0 and "Terms of Use" not in second.stderr  # said once

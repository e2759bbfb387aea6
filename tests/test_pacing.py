"""Account safety across runs: remembered penalties and LM_ARENA_MIN_INTERVAL.

When the site says to wait (a 429 with ``Retry-After``, or a second reCAPTCHA rejection in a row),
the wait is remembered in the state directory; later runs, in this process or another, refuse at
once with exit 6 and say when sending is possible again, without a request to the site or a
browser. ``LM_ARENA_MIN_INTERVAL`` spaces the sends of all processes of this user. Through the
library on the browser's stand-in, and through ``lmarena ask`` as a real subprocess (on the
stand-in, and once as the real command with no usable browser, to show none is needed).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from lmarena_cli.client.session.pacing import Pacing, local_time
from lmarena_cli.client.session.retry import RECAPTCHA_COOL_DOWN
from lmarena_cli.errors import Blocked, ConfigError, ErrorKind, ExitStatus, RateLimited
from lmarena_cli.server.app import make_app
from lmarena_cli.server.run import start, warm_up
from lmarena_cli.settings import Settings
from lmarena_cli.state.penalty import LAST_SEND_FILE, MAX_PENALTY, PENALTIES_FILE
from tests.fake_arena import FakeArena, Fault
from tests.fake_arena.facts import CREATE_EVALUATION
from tests.helpers.clients import ClientFactory, settings_for
from tests.helpers.command import run_lmarena

pytestmark = pytest.mark.timeout(60)

MODEL = "gemini-3-pro"
ROOT = str(Path(__file__).resolve().parent.parent)
#: How much later than its turn a request may reach the fake (2 shared cores, under load).
JITTER = 0.2
#: ``lmarena`` with the browser's stand-in in place of Chromium (as in test_battle_skip.py).
RUNNER = """
import sys
from lmarena_cli.cli import ask, chat, runtime
from lmarena_cli.client.client import Client
from tests.fakes import HttpBrowser

def make_client(settings):
    return Client(settings, browser=HttpBrowser(settings))

for module in (ask, chat, runtime):
    module.make_client = make_client
from lmarena_cli.cli.app import main
sys.argv = ["lmarena", *sys.argv[1:]]
main()
"""
#: A date only when it is not today; the time zone's name when the system has one.
REFUSAL = re.compile(
    r"^lmarena: not sending to (?P<url>\S+): (?P<reason>.+) \(at (?:\S+ )?[0-9:]{8}(?: \S+)?\); "
    r"sending is possible again at (?:\S+ )?(?P<at>[0-9:]{8})(?: \S+)? \(in (?P<left>\d+) s\)\. "
    r"Remembered in (?P<path>\S+)$"
)


def cli_env(arena: FakeArena, state: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LM_ARENA_BASE_URL": arena.url,
        "LM_ARENA_STATE_DIR": str(state),
        "LM_ARENA_MODEL": MODEL,
        "PYTHONPATH": ROOT,
        **extra,
    }


def start_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """``lmarena args...`` on the stand-in, as a real process (stdin /dev/null)."""
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    def run() -> tuple[int, str, str]:
        process = start_cli(env, *args)
        out, err = process.communicate(timeout=40)
        return process.returncode, out, err

    return await asyncio.to_thread(run)


def creates(arena: FakeArena) -> list[Any]:
    return [r for r in arena.received if r.path == CREATE_EVALUATION]


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document))


def remembered(state: Path) -> dict[str, Any]:
    document = orjson.loads((state / PENALTIES_FILE).read_bytes())
    assert document["format"] == "lmarena-penalties" and document["version"] == 1
    sites: dict[str, Any] = document["sites"]
    return sites


async def rate_limited_once(client_factory: ClientFactory, arena: FakeArena, seconds: int) -> None:
    """A send the site answers 429 with ``Retry-After: seconds`` (not waited out)."""
    client = client_factory(max_wait=0)
    chat = await client.chats.create(MODEL)
    arena.enqueue(Fault.rate_limit(retry_after=seconds))
    with pytest.raises(RateLimited) as caught:
        await chat.send("hello")
    assert caught.value.retry_after == seconds


# --- penalties -------------------------------------------------------------------------------


async def test_a_429_with_retry_after_is_remembered_in_the_state_directory(
    client_factory: ClientFactory,
    arena: FakeArena,
    isolated_dirs: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="lmarena")
    before = time.time()
    await rate_limited_once(client_factory, arena, 1200)
    path = isolated_dirs / PENALTIES_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = remembered(isolated_dirs)[arena.url]
    assert before + 1200 <= entry["until"] <= time.time() + 1200
    assert "429" in entry["reason"] and "1200 s" in entry["reason"]
    assert any(
        f"no send to {arena.url} until {local_time(entry['until'])}" in record.getMessage()
        for record in caplog.records
    ), caplog.text


async def test_a_second_process_refuses_at_once_with_exit_6_and_says_when(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    await rate_limited_once(client_factory, arena, 1200)
    until = remembered(isolated_dirs)[arena.url]["until"]
    seen = len(arena.received)
    code, out, err = await run_cli(cli_env(arena, isolated_dirs), "ask", "--no-stdin", "hi")
    assert code == 6 and ExitStatus.RATE_LIMITED.value == 6, err
    assert out == ""
    (line,) = err.splitlines()
    match = REFUSAL.match(line)
    assert match is not None, line
    assert match["url"] == arena.url
    assert "429" in match["reason"]
    assert match["at"] == time.strftime("%H:%M:%S", time.localtime(until))
    assert 1100 < int(match["left"]) <= 1200
    assert match["path"] == str(isolated_dirs / PENALTIES_FILE)
    assert len(arena.received) == seen  # not one request: no page load, no token, no send


async def test_the_real_command_refuses_without_starting_a_browser(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path, tmp_path: Path
) -> None:
    """The real ``lmarena ask`` (no stand-in), no usable Chromium, and no site cache (so the
    model would have to be learned from the page): exit 6 all the same, not 9."""
    await rate_limited_once(client_factory, arena, 600)
    state = tmp_path / "other-state"
    state.mkdir()
    shutil.copy(isolated_dirs / PENALTIES_FILE, state / PENALTIES_FILE)
    seen = len(arena.received)
    env = cli_env(arena, state, LM_ARENA_BROWSER_EXECUTABLE_PATH="/nonexistent")
    run = await asyncio.to_thread(run_lmarena, "ask", "--no-stdin", "hi", env=env)
    assert run.returncode == 6, run.stderr
    assert REFUSAL.match(run.stderr.strip()), run.stderr
    assert run.stdout == ""
    assert len(arena.received) == seen
    assert not (state / "browser-profile").exists()


async def test_the_library_refuses_before_the_browser_or_the_site_is_touched(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    await rate_limited_once(client_factory, arena, 300)
    seen = len(arena.received)
    fresh = client_factory()  # a new connection, as a later run would have
    with pytest.raises(RateLimited) as caught:
        await fresh.chats.create(MODEL)
    error = caught.value
    assert error.kind == ErrorKind.RATE_LIMITED and error.exit_code == 6
    assert error.retry_after is not None and 280 < error.retry_after <= 300
    assert "sending is possible again at" in str(error)
    browser: Any = fresh.browser
    assert browser.counts.page_loads == 0 and browser.counts.tokens == 0
    assert len(arena.received) == seen


async def test_a_chat_made_before_the_penalty_refuses_its_next_send(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory()
    chat = await client.chats.create(MODEL)
    assert (await chat.send("one")).text == "Echo (turn 1): one"
    other = client_factory()  # another connection (as another process) gets the 429
    other_chat = await other.chats.create(MODEL)
    arena.enqueue(Fault.rate_limit(retry_after=900))
    with pytest.raises(RateLimited):
        await other_chat.send("x")
    seen = len(arena.received)
    with pytest.raises(RateLimited, match="sending is possible again"):
        await chat.send("two")
    assert len(arena.received) == seen


async def test_once_the_wait_is_over_sends_go_through_again(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    await rate_limited_once(client_factory, arena, 1)
    client = client_factory(max_wait=0)
    seen = len(creates(arena))
    with pytest.raises(RateLimited) as caught:
        await client.chats.create(MODEL)
    assert caught.value.retry_after is not None and caught.value.retry_after <= 1
    assert len(creates(arena)) == seen
    await asyncio.sleep(1.1)
    chat = await client.chats.create(MODEL)
    assert (await chat.send("again")).text == "Echo (turn 1): again"
    assert len(creates(arena)) == seen + 1


async def test_rate_limit_wait_still_waits_out_a_429_within_one_call(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    client = client_factory()
    chat = await client.chats.create(MODEL)
    arena.enqueue(Fault.rate_limit(retry_after=1))
    reply = await chat.send("patient", rate_limit_wait=5)
    assert reply.text == "Echo (turn 1): patient"
    sent = creates(arena)
    assert len(sent) == 2 and sent[0].status == 429
    assert sent[1].time - sent[0].time >= 1 - 0.05
    assert arena.url in remembered(isolated_dirs)  # other runs were told, for that second
    assert client.pacing.penalty() is None


async def test_a_second_recaptcha_rejection_holds_every_send_for_20_minutes(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    client = client_factory()
    chat = await client.chats.create(MODEL)
    arena.enqueue(Fault.recaptcha(), Fault.recaptcha())
    before = time.time()
    with pytest.raises(Blocked) as caught:
        await chat.send("hello")
    assert caught.value.exit_code == 5
    assert len(creates(arena)) == 2  # one retry, never more
    entry = remembered(isolated_dirs)[arena.url]
    assert before + RECAPTCHA_COOL_DOWN <= entry["until"] <= time.time() + RECAPTCHA_COOL_DOWN
    assert RECAPTCHA_COOL_DOWN == 20 * 60
    assert entry["flagged"] is True and "two sends in a row" in entry["reason"]
    with pytest.raises(RateLimited, match="the account is flagged") as refused:
        await chat.send("again")
    assert refused.value.exit_code == 6
    assert len(creates(arena)) == 2


async def test_one_rejection_then_an_answer_remembers_nothing(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    client = client_factory()
    chat = await client.chats.create(MODEL)
    arena.enqueue(Fault.recaptcha())
    assert (await chat.send("hello")).text == "Echo (turn 1): hello"
    # The rejection was counted, and the answer that followed started the count again.
    assert remembered(isolated_dirs).get(arena.url, {}) == {}
    assert client.pacing.penalty() is None


async def test_a_429_without_retry_after_or_a_challenge_is_not_remembered(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    client = client_factory()
    chat = await client.chats.create(MODEL)
    arena.enqueue(Fault.rate_limit())
    with pytest.raises(RateLimited):
        await chat.send("hello")
    arena.enqueue(Fault.cloudflare_burst())
    assert (await chat.send("hello")).text.startswith("Echo")
    assert not (isolated_dirs / PENALTIES_FILE).exists()


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"[]",
        b'{"format": "someone-else", "sites": {}}',
        b'{"format": "lmarena-penalties", "version": 99, "sites": {}}',
    ],
    ids=["truncated", "binary", "list", "foreign", "future-version"],
)
async def test_a_corrupt_or_foreign_penalty_file_does_not_stop_ask(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path, content: bytes
) -> None:
    client = client_factory()
    await client.bootstrap()  # the cache, for the process below
    path = isolated_dirs / PENALTIES_FILE
    path.write_bytes(content)
    code, out, err = await run_cli(cli_env(arena, isolated_dirs), "ask", "--no-stdin", "hi")
    assert (code, out) == (0, "Echo (turn 1): hi\n"), err
    notices = [line for line in err.splitlines() if "penalties" in line]
    assert notices == [
        f"ignoring the remembered penalties in {path}: it is not a file this version wrote; "
        "it will be replaced"
    ], err
    # The next penalty replaces it.
    await rate_limited_once(client_factory, arena, 60)
    assert arena.url in remembered(isolated_dirs)


async def test_entries_of_other_sites_and_bogus_entries_are_ignored(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    now = time.time()
    sites = {
        "https://arena.ai": {"until": now + 600, "since": now, "reason": "elsewhere"},
        arena.url: {"until": now + MAX_PENALTY + 3600, "since": now, "reason": "a clock set back"},
    }
    document = {"format": "lmarena-penalties", "version": 1, "sites": sites}
    write_json(isolated_dirs / PENALTIES_FILE, document)
    client = client_factory()
    chat = await client.chats.create(MODEL)
    assert (await chat.send("hi")).text == "Echo (turn 1): hi"
    await rate_limited_once(client_factory, arena, 30)
    kept = remembered(isolated_dirs)
    assert kept["https://arena.ai"]["reason"] == "elsewhere"  # the other site's entry stays
    assert kept[arena.url]["until"] <= time.time() + 30


async def test_a_longer_penalty_already_remembered_stands(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    await rate_limited_once(client_factory, arena, 1200)
    first = remembered(isolated_dirs)[arena.url]
    pacing = Pacing(settings_for(arena.url, isolated_dirs))
    pacing.remember(5, "a short wait")
    assert remembered(isolated_dirs)[arena.url] == first


async def test_forget_drops_this_sites_penalty_and_sends_go_through(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    await rate_limited_once(client_factory, arena, 1200)
    client = client_factory()
    assert client.pacing.penalty() is not None
    client.pacing.forget()
    assert client.pacing.penalty() is None and remembered(isolated_dirs) == {}
    chat = await client.chats.create(MODEL)
    assert (await chat.send("again")).text == "Echo (turn 1): again"


# --- LM_ARENA_MIN_INTERVAL ----------------------------------------------------------------------


def test_min_interval_is_read_from_the_environment_and_checked() -> None:
    assert Settings.load(environ={}).min_interval == 0
    assert Settings.load(environ={"LM_ARENA_MIN_INTERVAL": "0"}).min_interval == 0
    assert Settings.load(environ={"LM_ARENA_MIN_INTERVAL": "45"}).min_interval == 45
    for bad in ("-1", "nan", "inf"):
        with pytest.raises(ConfigError, match="LM_ARENA_MIN_INTERVAL must be 0 or more seconds"):
            Settings.load(environ={"LM_ARENA_MIN_INTERVAL": bad})
    with pytest.raises(ConfigError, match="LM_ARENA_MIN_INTERVAL must be a number of seconds"):
        Settings.load(environ={"LM_ARENA_MIN_INTERVAL": "soon"})


async def test_min_interval_spaces_the_sends_of_two_processes(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    await client_factory().bootstrap()  # the cache both processes start from
    env = cli_env(arena, isolated_dirs, LM_ARENA_MIN_INTERVAL="2")

    def both() -> list[tuple[int, str, str]]:
        processes = [start_cli(env, "ask", "--no-stdin", f"p{n}") for n in (1, 2)]
        results = []
        for process in processes:
            out, err = process.communicate(timeout=40)
            results.append((process.returncode, out, err))
        return results

    results = await asyncio.to_thread(both)
    for code, _, err in results:
        assert code == 0, err
    assert sorted(out for _, out, _ in results) == ["Echo (turn 1): p1\n", "Echo (turn 1): p2\n"]
    first, second = creates(arena)
    # The interval runs from the moment each send's turn ends (its token minted) to the next; the
    # fake sees each request a little later, by however long the loopback takes under load.
    assert second.time - first.time >= 2 - JITTER, (first.time, second.time)
    waited = [err for _, _, err in results if "LM_ARENA_MIN_INTERVAL is 2 s" in err]
    assert len(waited) == 1, [err for _, _, err in results]
    # Whether it also waited for the lock depends on when it came; the interval's wait it always
    # says, and its two figures (to wait, since the last send) make the 2 s.
    said = re.search(
        r"waiting (\d+\.\d) s before sending: LM_ARENA_MIN_INTERVAL is 2 s and the last send "
        r"left (\d+\.\d) s ago",
        waited[0],
    )
    assert said is not None, waited[0]
    assert abs(float(said[1]) + float(said[2]) - 2.0) <= 0.1, said[0]
    assert stat.S_IMODE((isolated_dirs / LAST_SEND_FILE).stat().st_mode) == 0o600


async def test_min_interval_spaces_the_sends_of_one_process_and_says_so(
    client_factory: ClientFactory, arena: FakeArena, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lmarena")
    client = client_factory(min_interval=1.0)
    chats = [await client.chats.create(MODEL) for _ in range(3)]
    replies = await asyncio.gather(*(chat.send(f"n{i}") for i, chat in enumerate(chats)))
    assert sorted(r.text for r in replies) == [f"Echo (turn 1): n{i}" for i in range(3)]
    times = sorted(r.time for r in creates(arena))
    assert all(b - a >= 1.0 - JITTER for a, b in itertools.pairwise(times)), times
    waits = [r.getMessage() for r in caplog.records if "before sending" in r.getMessage()]
    assert len(waits) == 2 and all("LM_ARENA_MIN_INTERVAL is 1 s" in w for w in waits), waits


async def test_a_turn_beyond_the_timeout_fails_at_once_saying_why(
    client_factory: ClientFactory, arena: FakeArena, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lmarena")
    client = client_factory(min_interval=100.0, timeout=3.0)
    chat = await client.chats.create(MODEL)
    await chat.send("first")
    seen = len(creates(arena))
    caplog.clear()
    with pytest.raises(RateLimited) as caught:
        await chat.send("second")
    # Refused before any wait (a wait would have said so), and without a request.
    assert [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()] == []
    message = str(caught.value)
    assert "LM_ARENA_MIN_INTERVAL is 100 s" in message and "after this send's timeout" in message
    assert caught.value.retry_after is not None and 95 < caught.value.retry_after <= 100
    assert len(creates(arena)) == seen


async def test_no_min_interval_means_no_lock_and_no_file(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    client = client_factory()
    chat = await client.chats.create(MODEL)
    await chat.send("one")
    await chat.send("two")
    assert not (isolated_dirs / LAST_SEND_FILE).exists()
    assert not (isolated_dirs / "last-send.lock").exists()


async def test_a_last_send_in_the_future_waits_one_interval_at_most(
    client_factory: ClientFactory,
    arena: FakeArena,
    isolated_dirs: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A clock set back leaves the last send in the future: the wait stays bounded."""
    document = {
        "format": "lmarena-last-send",
        "version": 1,
        "sites": {arena.url: time.time() + 3600},
    }
    write_json(isolated_dirs / LAST_SEND_FILE, document)
    caplog.set_level(logging.INFO, logger="lmarena")
    client = client_factory(min_interval=0.5)
    chat = await client.chats.create(MODEL)
    await chat.send("hi")
    waits = [r.getMessage() for r in caplog.records if "before sending" in r.getMessage()]
    assert len(waits) == 1 and waits[0].startswith("waiting 0.5 s before sending"), waits


async def test_serve_answers_429_with_retry_after_while_a_penalty_runs(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    """Another process was told to wait: `serve` refuses with the OpenAI envelope, no request."""
    await rate_limited_once(client_factory, arena, 600)
    client = client_factory(record=False)
    app = make_app(client, client.settings)
    running = await start(app, "127.0.0.1", 0)
    try:
        await warm_up(app)
        seen = len(arena.stream_requests())
        sdk = openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key="unused", max_retries=0)
        try:
            with pytest.raises(openai.RateLimitError) as caught:
                await sdk.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "hi"}]
                )
        finally:
            await sdk.close()
    finally:
        await running.runner.cleanup()
    assert caught.value.code == "rate_limit_exceeded"
    assert "sending is possible again at" in caught.value.message
    assert 590 <= int(caught.value.response.headers["Retry-After"]) <= 600
    assert len(arena.stream_requests()) == seen


def make_dir(path: Path) -> None:
    path.mkdir(parents=True)


async def test_a_lock_file_that_cannot_be_opened_is_a_clear_error(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    make_dir(isolated_dirs / "last-send.lock")  # a directory where the lock file goes
    client = client_factory(min_interval=1.0)
    chat = await client.chats.create(MODEL)
    with pytest.raises(ConfigError, match="LM_ARENA_MIN_INTERVAL needs a lock file") as caught:
        await chat.send("hi")
    assert str(isolated_dirs / "last-send.lock") in str(caught.value)
    assert caught.value.exit_code == 2
    assert creates(arena) == []

"""A flagged account (protocol §15.3): what a user sees when the site flags it, and after.

Two rejections in a row (a 403 reCAPTCHA rejection, a 429 ``prompt failed``, in any mix) flag
the account: every command then fails at once with exit 6 saying what the site wants and how to
clear the flag (``lmarena doctor --clear-flag``), ``doctor`` and ``server status`` show it, and
``serve`` answers 429 with ``Retry-After``. A short wait is waited out instead (at most
``LM_ARENA_MAX_WAIT``), ``RateLimit-Reset`` wins over ``Retry-After``, a model row's
``rateLimitedUntil`` refuses that model only, and ``LM_ARENA_DAILY_SENDS`` caps a UTC day's sends.
The arithmetic of the pauses is tested on its own; the rest through ``lmarena`` as a real process
on the browser's stand-in, and through the ``openai`` package against ``serve``.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from lmarena_cli.client.session.pacing import Pacing
from lmarena_cli.errors import ErrorKind, RateLimited
from lmarena_cli.server.app import make_app
from lmarena_cli.server.run import start, warm_up
from lmarena_cli.site.classify import error_from_response
from lmarena_cli.site.flags import FLAG_WINDOW, flag_seconds, next_midnight_utc
from lmarena_cli.state.penalty import PENALTIES_FILE, PenaltyFile
from tests.fake_arena import FakeArena, Fault
from tests.fake_arena.facts import CREATE_EVALUATION
from tests.helpers.clients import ClientFactory, settings_for
from tests.test_kept import Cli

pytestmark = pytest.mark.timeout(90)

MODEL = "gemini-3-pro"
OTHER = "claude-opus-4-5"
ROOT = str(Path(__file__).resolve().parent.parent)
SITE = "https://arena.example"


def env_for(arena: FakeArena, state: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LM_ARENA_BASE_URL": arena.url,
        "LM_ARENA_STATE_DIR": str(state),
        "LM_ARENA_MODEL": MODEL,
        "LM_ARENA_KEEP_ALIVE": "0",
        "PYTHONPATH": ROOT,
        **extra,
    }


async def lmarena(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``lmarena args...`` as a real process on the browser's stand-in (stdin /dev/null)."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tests.helpers.stand_in_lmarena", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    return await asyncio.to_thread(run)


def creates(arena: FakeArena) -> list[Any]:
    return [r for r in arena.received if r.path == CREATE_EVALUATION]


def entry(state: Path, arena: FakeArena) -> dict[str, Any]:
    document = orjson.loads((state / PENALTIES_FILE).read_bytes())
    site: dict[str, Any] = document["sites"][arena.url]
    return site


# --- the arithmetic --------------------------------------------------------------------------


def test_a_flag_pauses_1200_s_doubling_within_a_day_up_to_7200_s() -> None:
    assert [flag_seconds(n) for n in range(6)] == [1200, 2400, 4800, 7200, 7200, 7200]


def test_two_rejections_in_a_row_flag_and_an_accepted_send_between_does_not(
    tmp_path: Path,
) -> None:
    file = PenaltyFile(tmp_path, lambda line: None)
    assert file.reject(SITE, "a 429", now=1000.0) is None
    file.accepted(SITE)
    assert file.reject(SITE, "a 403", now=1010.0) is None  # the count started again
    flag = file.reject(SITE, 'a 429 "prompt failed"', now=1020.0)
    assert flag is not None and flag.flagged
    assert flag.until == 1020.0 + 1200
    assert 'a 403, then a 429 "prompt failed"' in flag.reason
    assert stat.S_IMODE((tmp_path / PENALTIES_FILE).stat().st_mode) == 0o600


def test_the_next_flag_within_a_day_doubles_even_after_a_clear_but_not_a_day_later(
    tmp_path: Path,
) -> None:
    file = PenaltyFile(tmp_path, lambda line: None)
    file.reject(SITE, "one", now=1000.0)
    first = file.reject(SITE, "two", now=1001.0)
    assert first is not None and first.until - 1001.0 == 1200
    file.forget(SITE)  # the flag is cleared; the day's flags are still counted
    file.reject(SITE, "three", now=5000.0)
    second = file.reject(SITE, "four", now=5001.0)
    assert second is not None and second.until - 5001.0 == 2400
    later = 5001.0 + FLAG_WINDOW + 1
    file.reject(SITE, "five", now=later)
    third = file.reject(SITE, "six", now=later + 1)
    assert third is not None and third.until - (later + 1) == 1200


def test_a_rejection_a_day_old_does_not_count_towards_a_flag(tmp_path: Path) -> None:
    file = PenaltyFile(tmp_path, lambda line: None)
    file.reject(SITE, "old", now=1000.0)
    assert file.reject(SITE, "new", now=1000.0 + FLAG_WINDOW + 1) is None


def test_ratelimit_reset_wins_over_retry_after() -> None:
    now = time.time()
    headers = {"Retry-After": "1200", "RateLimit-Reset": str(int(now) + 30)}
    error = error_from_response(429, "Too many requests", headers)
    assert isinstance(error, RateLimited)
    assert error.retry_after is not None and 28 <= error.retry_after <= 30
    only = error_from_response(429, "Too many requests", {"Retry-After": "1200"})
    assert isinstance(only, RateLimited) and only.retry_after == 1200


def test_the_daily_budget_ends_at_the_next_midnight_utc() -> None:
    noon = datetime(2026, 12, 6, 12, tzinfo=UTC).timestamp()
    assert next_midnight_utc(noon) == datetime(2026, 12, 7, tzinfo=UTC).timestamp()


# --- through the command line ----------------------------------------------------------------


async def test_two_refused_prompts_in_a_row_flag_the_account_until_the_flag_is_cleared(
    arena: FakeArena, isolated_dirs: Path
) -> None:
    env = env_for(arena, isolated_dirs)
    arena.enqueue(Fault.prompt_failed(), Fault.prompt_failed())
    first = await lmarena(env, "ask", "--no-stdin", "one")
    assert first.returncode == 7, first.stderr
    second = await lmarena(env, "ask", "--no-stdin", "two")
    assert second.returncode == 7, second.stderr
    assert "the account is flagged" in second.stderr  # said when it happens
    flag = entry(isolated_dirs, arena)
    assert flag["flagged"] is True and "prompt failed" in flag["reason"]
    assert 1190 <= flag["until"] - time.time() <= 1200

    seen = len(arena.received)
    refused = await lmarena(env, "ask", "--no-stdin", "three")
    assert refused.returncode == 6, refused.stderr
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert "the account is flagged" in line and "prompt failed" in line
    assert "security check" in line and "`lmarena login`" in line
    assert "without a display" in line
    assert "`lmarena doctor --clear-flag`" in line
    assert "(in 0 s)" not in line and "sending is possible again at" in line
    assert len(arena.received) == seen  # nothing reached the site

    status = await lmarena(env, "server", "status", "--json")
    account = orjson.loads(status.stdout)["account"]
    assert account["flagged"] is True and "prompt failed" in account["reason"]
    assert account["until"] == pytest.approx(flag["until"])
    text = await lmarena(env, "server", "status")
    assert "account: FLAGGED until" in text.stdout and "prompt failed" in text.stdout

    doctor = await lmarena(env, "doctor", "--json")
    assert doctor.returncode == 6, doctor.stderr
    (step,) = [orjson.loads(x) for x in doctor.stdout.splitlines()]
    assert step["step"] == "account" and step["ok"] is False
    assert step["kind"] == ErrorKind.ACCOUNT_FLAGGED
    assert step["details"]["flagged"] is True and step["details"]["until"] > time.time()

    cleared = await lmarena(env, "doctor", "--clear-flag")
    assert cleared.returncode == 0, cleared.stderr
    assert "cleared the flag" in cleared.stderr and "prompt failed" in cleared.stderr
    again = await lmarena(env, "ask", "--no-stdin", "four")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "Echo (turn 1): four\n"


async def test_a_recaptcha_rejection_and_a_refused_prompt_in_a_row_flag_too(
    arena: FakeArena, isolated_dirs: Path
) -> None:
    env = env_for(arena, isolated_dirs)
    # One reCAPTCHA rejection, retried once and answered: not a run of rejections.
    arena.enqueue(Fault.recaptcha())
    assert (await lmarena(env, "ask", "--no-stdin", "one")).returncode == 0
    arena.enqueue(Fault.recaptcha(), Fault.prompt_failed())
    mixed = await lmarena(env, "ask", "--no-stdin", "two")
    assert mixed.returncode == 7, mixed.stderr
    refused = await lmarena(env, "ask", "--no-stdin", "three")
    assert refused.returncode == 6
    assert "recaptcha validation failed" in refused.stderr and "prompt failed" in refused.stderr


async def test_a_short_remembered_wait_is_waited_out_then_sent(
    arena: FakeArena, isolated_dirs: Path
) -> None:
    env = env_for(arena, isolated_dirs)
    arena.enqueue(Fault.rate_limit(retry_after=2))
    # The first command: its 2 s wait is waited out within the send.
    first = await lmarena(env, "ask", "--no-stdin", "patient")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "Echo (turn 1): patient\n"
    assert "waiting 2 s as it asked" in first.stderr
    sent = creates(arena)
    assert [r.status for r in sent] == [429, 200]
    assert sent[1].time - sent[0].time >= 2 - 0.05

    # A wait another process was told: the next command says so, waits, then sends.
    # 3 s: the command takes a second or so to start.
    until = PenaltyFile(isolated_dirs, lambda line: None).remember(arena.url, 3, "told to").until
    second = await lmarena(env, "ask", "--no-stdin", "later")
    assert second.returncode == 0, second.stderr
    assert re.search(r"waiting [123] s before sending, until .*: told to", second.stderr)
    assert "LM_ARENA_MAX_WAIT is 60 s" in second.stderr
    assert second.stdout == "Echo (turn 1): later\n"
    assert creates(arena)[-1].time >= until - 0.05


async def test_a_wait_longer_than_max_wait_still_fails_at_once(
    arena: FakeArena, isolated_dirs: Path
) -> None:
    PenaltyFile(isolated_dirs, lambda line: None).remember(arena.url, 30, "told to wait")
    env = env_for(arena, isolated_dirs, LM_ARENA_MAX_WAIT="5")
    refused = await lmarena(env, "ask", "--no-stdin", "hi")
    assert refused.returncode == 6
    assert "not sending to" in refused.stderr and "(in 0 s)" not in refused.stderr
    assert creates(arena) == []


def test_a_sub_second_wait_refused_never_says_in_0_s(tmp_path: Path) -> None:
    """In-process: a command would take longer to start than the wait lasts."""
    pacing = Pacing(settings_for(SITE, tmp_path, max_wait=0.0))
    pacing.remember(0.9, "told to wait")
    with pytest.raises(RateLimited) as caught:
        pacing.check()
    assert "(in 1 s)" in str(caught.value), caught.value


async def test_ratelimit_reset_is_waited_out_though_retry_after_is_long(
    arena: FakeArena, isolated_dirs: Path
) -> None:
    env = env_for(arena, isolated_dirs)
    # The command starts in about a second; the reset is a little after that.
    reset = int(time.time()) + 4
    arena.enqueue(Fault.rate_limit(retry_after=1200, reset=reset))
    run = await lmarena(env, "ask", "--no-stdin", "reset")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Echo (turn 1): reset\n"
    assert "rate-limited by the site; waiting" in run.stderr
    sent = creates(arena)
    assert [r.status for r in sent] == [429, 200]
    assert sent[0].time < reset and sent[1].time >= reset - 0.05


async def test_a_rate_limited_model_is_marked_and_refused_and_others_still_answer(
    arena: FakeArena, isolated_dirs: Path
) -> None:
    until = datetime.fromtimestamp(time.time() + 3600, UTC)
    arena.rate_limit_model(OTHER, until.isoformat().replace("+00:00", "Z"))
    env = env_for(arena, isolated_dirs)
    listed = await lmarena(env, "models", "--json")
    rows = {m["name"]: m for m in orjson.loads(listed.stdout)}
    assert rows[OTHER]["rate_limited_until"] == until.isoformat(timespec="seconds").replace(
        "+00:00", "Z"
    )
    assert rows[MODEL]["rate_limited_until"] is None
    names = (await lmarena(env, "models")).stdout.splitlines()
    assert f"{MODEL}" in names
    assert any(n.startswith(f"{OTHER}  (rate-limited until ") for n in names)

    seen = len(creates(arena))
    refused = await lmarena(env, "ask", "--no-stdin", "-m", OTHER, "hi")
    assert refused.returncode == 6
    assert (
        f"rate-limits {OTHER}" in refused.stderr and "other models still answer" in refused.stderr
    )
    assert len(creates(arena)) == seen
    fine = await lmarena(env, "ask", "--no-stdin", "-m", MODEL, "hi")
    assert fine.returncode == 0 and fine.stdout == "Echo (turn 1): hi\n"


async def test_the_daily_budget_refuses_past_it_until_midnight_utc_and_doctor_counts(
    arena: FakeArena, isolated_dirs: Path
) -> None:
    env = env_for(arena, isolated_dirs, LM_ARENA_DAILY_SENDS="2")
    for n in (1, 2):
        assert (await lmarena(env, "ask", "--no-stdin", f"n{n}")).returncode == 0
    refused = await lmarena(env, "ask", "--no-stdin", "n3")
    assert refused.returncode == 6
    assert "today's 2 sends (LM_ARENA_DAILY_SENDS) are spent" in refused.stderr
    assert "midnight UTC" in refused.stderr
    assert len(creates(arena)) == 2
    doctor = await lmarena(env, "doctor", "--json")
    (step,) = [orjson.loads(x) for x in doctor.stdout.splitlines()]
    assert step["step"] == "account" and step["kind"] == ErrorKind.DAILY_BUDGET
    assert step["details"]["sends_today"] == 2 and step["details"]["daily_sends"] == 2


# --- serve -----------------------------------------------------------------------------------


async def test_serve_answers_429_with_retry_after_and_the_flag_message(
    client_factory: ClientFactory, arena: FakeArena, isolated_dirs: Path
) -> None:
    file = PenaltyFile(isolated_dirs, lambda line: None)
    file.reject(arena.url, 'a 429 "prompt failed"')
    file.reject(arena.url, 'a 429 "prompt failed"')
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
    assert "the account is flagged" in caught.value.message
    assert "`lmarena doctor --clear-flag`" in caught.value.message
    assert 1190 <= int(caught.value.response.headers["Retry-After"]) <= 1200
    assert len(arena.stream_requests()) == seen


def test_foreign_values_in_an_entry_do_not_stop_the_count(tmp_path: Path) -> None:
    (tmp_path / PENALTIES_FILE).write_bytes(
        orjson.dumps(
            {
                "format": "lmarena-penalties",
                "version": 1,
                "sites": {SITE: {"flags": 7, "rejections": "x"}},
            }
        )
    )
    file = PenaltyFile(tmp_path, lambda line: None)
    assert file.reject(SITE, "one", now=1000.0) is None
    flag = file.reject(SITE, "two", now=1001.0)
    assert flag is not None and flag.until == 1001.0 + 1200
    assert file.flags_today(SITE, now=1002.0) == 1


@pytest.fixture
async def kept(arena: FakeArena, tmp_path: Path) -> AsyncIterator[Cli]:
    """``lmarena`` through a kept server (the default way a command runs)."""
    runner = Cli(arena.url, tmp_path)
    try:
        yield runner
    finally:
        await asyncio.to_thread(runner.close)


async def test_through_the_kept_server_a_short_wait_is_said_then_sent_and_a_flag_refuses(
    kept: Cli, arena: FakeArena
) -> None:
    assert (await kept("ask", "--no-stdin", "warm")).returncode == 0
    assert kept.server() is not None
    file = PenaltyFile(kept.state, lambda line: None)
    until = file.remember(arena.url, 3, "told to wait").until
    run = await kept("ask", "--no-stdin", "later")
    assert run.returncode == 0, run.stderr
    assert re.search(r"waiting [123] s before sending", run.stderr), run.stderr
    assert run.stdout == "Echo (turn 1): later\n"
    assert creates(arena)[-1].time >= until - 0.05

    file.reject(arena.url, 'a 429 "prompt failed"')
    file.reject(arena.url, 'a 429 "prompt failed"')
    seen = len(arena.received)
    refused = await kept("ask", "--no-stdin", "flagged")
    assert refused.returncode == 6
    assert "the account is flagged" in refused.stderr
    assert "`lmarena doctor --clear-flag`" in refused.stderr
    assert len(arena.received) == seen

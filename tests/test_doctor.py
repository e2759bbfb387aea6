"""``lmarena doctor``: one line (or JSON object) per step, stopping at the first failure with its
exit code, and nothing secret in what it prints.

The CLI runs as a real process against the fake arena (on its own thread and loop, so that it
answers while a test waits on the process), with a real Chromium (``browser``): healthy, and
broken one way at a time. The library's checks are also run in-process on the browser's
stand-in, for what needs no Chromium.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from lmarena_cli.cli.doctor import render
from lmarena_cli.cli.doctor_checks import STEPS, Check, Doctor
from lmarena_cli.errors import ProtocolError
from tests.fake_arena import FakeArena, Fault
from tests.helpers.arena_host import ArenaHost
from tests.helpers.clients import ClientFactory
from tests.helpers.command import run_lmarena

ALL_BUT_SEND = list(STEPS[:-1])


class NeverClears(FakeArena):
    """A Cloudflare check that no browser passes."""

    async def _challenge_verify(self, request: web.Request) -> web.Response:
        return web.json_response({"success": False}, status=403)


class RefusingCatalog(FakeArena):
    """A model catalog that refuses every request, as it refuses cross-origin ones."""

    async def _model_catalog(self, request: web.Request) -> web.Response:
        body = {"error": "Cross-origin catalog requests are not permitted"}
        return web.json_response(body, status=403)


@pytest.fixture
def host() -> Iterator[ArenaHost]:
    running = ArenaHost()
    yield running
    running.close()


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def steps(self) -> list[tuple[str, str]]:
        """(mark, step) of each text line."""
        return [(line.split()[0], line.split()[1]) for line in self.lines]

    def objects(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.lines]


def doctor(arena: FakeArena, state: Path, *args: str, timeout: float = 90, **env: str) -> Run:
    environ = {
        **os.environ,
        "LM_ARENA_BASE_URL": arena.url,
        "LM_ARENA_STATE_DIR": str(state),
        "LM_ARENA_TIMEOUT": "20",
        **env,
    }
    done = run_lmarena("doctor", *args, env=environ, timeout=timeout)
    return Run(done.returncode, done.stdout, done.stderr)


def secrets_of(arena: FakeArena, state: Path) -> list[str]:
    """Every cookie value the run's browser held and every reCAPTCHA token the fake minted."""
    values = list(arena.recaptcha_tokens)
    cache = state / "site-cache.json"
    if cache.exists():
        values += orjson.loads(cache.read_bytes())["state"]["cookies"].values()
    return [v for v in values if len(v) >= 8]


def assert_nothing_secret(run: Run, arena: FakeArena, state: Path) -> None:
    found = secrets_of(arena, state)
    assert found, "the run left no cookie or token to look for"
    for value in found:
        assert value not in run.out and value not in run.err
    assert arena.site_key not in run.out + run.err  # public, but shown as its first characters


# --------------------------------------------------------------------------------------------------
# The CLI against the fake, with a real Chromium
# --------------------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_healthy_site_passes_every_step_in_order_and_json_prints_one_object_per_step(
    host: ArenaHost, tmp_path: Path
) -> None:
    # The site of Oct 2026 (Terms of Use to accept, models from the catalog), signed-out chats
    # allowed so that the round trip can pass.
    arena = host.serve(FakeArena.as_of_2026_10(login_gate=False, recaptcha_delay=0.05))
    state = tmp_path / "state"

    run = doctor(arena, state, "--send")
    assert run.code == 0, run.err
    assert run.steps() == [("ok", step) for step in STEPS]
    by_step = dict(zip(STEPS, run.lines, strict=True))
    assert "expected a Chromium-family browser that starts; got " in by_step["browser"]
    assert "clock offset" in by_step["site"]
    assert "anonymous, Terms of Use accepted" in by_step["session"]
    assert f"site key {arena.site_key[:6]}… found, a token minted" in by_step["recaptcha"]
    assert "from /nextjs-api/model-catalog" in by_step["models"]
    assert "100 credits left, 100 free daily" in by_step["balance"]
    assert len(arena.stream_requests()) == 1  # one round trip, and only with --send
    assert_nothing_secret(run, arena, state)

    again = doctor(arena, state, "--json")
    assert again.code == 0, again.err
    # The first run's send is today's: the account step comes first and counts it.
    account, *objects = again.objects()
    assert account["step"] == "account" and account["ok"] is True
    assert account["details"]["sends_today"] == 1 and account["details"]["flagged"] is False
    assert [o["step"] for o in objects] == ALL_BUT_SEND
    assert all(o["ok"] is True and "exit_code" not in o for o in objects)
    assert set(objects[0]) == {"step", "ok", "expected", "got", "seconds", "details"}
    details = {o["step"]: o["details"] for o in objects}
    assert details["models"]["source"] == "catalog" and details["models"]["count"] > 0
    assert details["recaptcha"] == {"site_key": arena.site_key[:6] + "…", "token_minted": True}
    assert details["session"] == {"signed_in": False, "terms_of_use": True}
    assert details["balance"]["credits_remaining"] == 100
    assert isinstance(details["site"]["clock_offset"], float)
    assert len(arena.stream_requests()) == 1  # no --send: nothing spent
    assert_nothing_secret(again, arena, state)


def test_no_browser_fails_the_first_step_with_exit_9(host: ArenaHost, tmp_path: Path) -> None:
    arena = host.serve(FakeArena())
    run = doctor(arena, tmp_path / "state", LM_ARENA_BROWSER_EXECUTABLE_PATH="/nonexistent")
    assert run.code == 9, run.err
    assert run.steps() == [("FAIL", "browser")]
    assert "/nonexistent" in run.out and "not an executable file" in run.out
    assert run.err.startswith("lmarena: doctor: browser: ")
    assert "Traceback" not in run.err
    assert arena.received == []  # stopped before the site

    json_run = doctor(
        arena, tmp_path / "state", "--json", LM_ARENA_BROWSER_EXECUTABLE_PATH="/nonexistent"
    )
    assert json_run.code == 9
    (failed,) = json_run.objects()
    assert (failed["step"], failed["ok"], failed["exit_code"]) == ("browser", False, 9)


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_challenge_that_never_passes_fails_the_anti_bot_step_with_exit_5(
    host: ArenaHost, tmp_path: Path
) -> None:
    arena = host.serve(NeverClears())
    run = doctor(arena, tmp_path / "state", LM_ARENA_TIMEOUT="5")
    assert run.code == 5, run.err
    assert run.steps() == [("ok", "browser"), ("ok", "site"), ("FAIL", "anti-bot")]
    assert "Cloudflare check did not clear within 5 s" in run.lines[-1]


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_signed_out_user_behind_the_login_gate_fails_the_send_with_exit_4(
    host: ArenaHost, tmp_path: Path
) -> None:
    arena = host.serve(FakeArena.as_of_2026_10(recaptcha_delay=0.05))
    state = tmp_path / "state"
    run = doctor(arena, state, "--send")
    assert run.code == 4, run.err
    assert run.steps() == [*(("ok", step) for step in ALL_BUT_SEND), ("FAIL", "send")]
    assert "anonymous" in run.lines[3]
    assert "signed-in account" in run.lines[-1] and "lmarena login" in run.lines[-1]
    assert run.err.splitlines()[-1].startswith("lmarena: doctor: send: ")
    assert_nothing_secret(run, arena, state)


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_held_send_fails_with_exit_8_within_the_configured_timeout(
    host: ArenaHost, tmp_path: Path
) -> None:
    arena = host.serve(FakeArena(recaptcha_delay=0.05))
    arena.enqueue(Fault.hang())
    run = doctor(arena, tmp_path / "state", "--send", "--json", LM_ARENA_TIMEOUT="5")
    assert run.code == 8, run.err
    objects = run.objects()
    assert [o["step"] for o in objects] == list(STEPS)
    failed = objects[-1]
    assert (failed["ok"], failed["exit_code"], failed["kind"]) == (False, 8, "timeout")
    # What ended the send is the configured wait for a first answer (5 s), not the step's own
    # bound (10 s), which would say "the send step took longer than 10 s".
    assert failed["got"].startswith("the site sent nothing for 5 s for a first answer")
    assert failed["seconds"] >= 4.5
    assert len(arena.stream_requests()) == 1


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_page_without_a_site_key_fails_the_recaptcha_step_with_exit_3(
    host: ArenaHost, tmp_path: Path
) -> None:
    arena = host.serve(FakeArena(site_key=""))
    run = doctor(arena, tmp_path / "state")
    assert run.code == 3, run.err
    assert run.steps() == [
        ("ok", "browser"),
        ("ok", "site"),
        ("ok", "anti-bot"),
        ("ok", "session"),
        ("FAIL", "recaptcha"),
    ]
    assert "no reCAPTCHA site key" in run.lines[-1]
    assert arena.recaptcha_tokens == {}


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_catalog_that_refuses_fails_the_models_step_with_exit_3(
    host: ArenaHost, tmp_path: Path
) -> None:
    arena = host.serve(RefusingCatalog(models_in_page="undefined"))
    run = doctor(arena, tmp_path / "state", "--json")
    assert run.code == 3, run.err
    objects = run.objects()
    # The page loaded and its check passed; what failed is the model list, named as such.
    assert [(o["step"], o["ok"]) for o in objects] == [
        ("browser", True),
        ("site", True),
        ("anti-bot", True),
        ("models", False),
    ]
    failed = objects[-1]
    assert (failed["exit_code"], failed["kind"]) == (3, "no_models")
    assert "HTTP 403" in failed["got"] and "Cross-origin catalog" in failed["got"]


# --------------------------------------------------------------------------------------------------
# The library's checks on the browser's stand-in, and the text rendering
# --------------------------------------------------------------------------------------------------


async def test_checks_run_in_order_on_a_stand_in_and_stop_at_nothing_when_healthy(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory()
    checks = [check async for check in Doctor(client, send=True).checks()]
    assert [c.step for c in checks] == list(STEPS)
    assert all(c.ok and c.exit_code == 0 for c in checks), [c.got for c in checks if not c.ok]
    assert "stand-in browser (HttpBrowser)" in checks[0].got
    assert checks[-1].details["characters"] > 0
    assert arena.stream_requests()[0].json["mode"] == "direct-battle"


async def test_a_failing_send_stops_the_checks_with_its_exit_code(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    arena.enqueue(Fault.rate_limit(retry_after=600))  # longer than LM_ARENA_MAX_WAIT
    client = client_factory()
    checks = [check async for check in Doctor(client, send=True).checks()]
    assert checks[-1].step == "send" and not checks[-1].ok
    assert checks[-1].exit_code == 6
    assert checks[-1].to_json()["exit_code"] == 6


async def test_without_send_nothing_is_sent(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    checks = [check async for check in Doctor(client_factory()).checks()]
    assert [c.step for c in checks] == ALL_BUT_SEND
    assert arena.stream_requests() == []


async def test_a_message_quoting_the_site_key_or_a_cookie_is_scrubbed(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory()
    state = await client.bootstrap()
    cookie = next(v for v in state.cookies.values() if len(v) >= 8)
    secret_words = f"refused key {state.site_key} with cookie {cookie}"

    async def fail() -> Any:
        raise ProtocolError(secret_words)

    check = await Doctor(client)._run("recaptcha", "a token", fail, 5)
    assert check is not None and not check.ok
    assert state.site_key and state.site_key not in check.got
    assert cookie not in check.got
    assert f"refused key {state.site_key[:6]}…" in check.got


async def test_a_step_that_outlasts_its_bound_fails_with_exit_8(
    client_factory: ClientFactory,
) -> None:
    ends: list[str] = []

    async def slow() -> Any:
        try:
            await asyncio.Event().wait()  # never done: only the step's bound ends it
        except asyncio.CancelledError:
            ends.append("cancelled")
            raise

    check = await Doctor(client_factory())._run("site", "an answer", slow, 0.2)
    assert check is not None and check.exit_code == 8
    assert check.got == "the site step took longer than 0.2 s"
    assert ends == ["cancelled"]  # the step was ended at its bound, not waited for


def test_text_line_names_mark_step_expected_and_got() -> None:
    ok = Check("site", "an HTTP answer", "HTTP 200")
    assert render(ok) == "ok    site       expected an HTTP answer; got HTTP 200\n"
    failed = Check("models", "a list", "HTTP 403", error=ProtocolError("HTTP 403"))
    assert render(failed).startswith("FAIL  models     expected a list; got HTTP 403")

"""The two transports (issue 11): aiohttp, and the site's page making the requests itself.

The fake arena's ``browser_only`` switch stands in for Cloudflare's TLS fingerprint check: it
challenges any request without the client hints (``Sec-CH-UA``) and ``Sec-Fetch-Mode`` that a
browser's own requests carry. aiohttp never sends client hints, so the fake (and these tests)
can tell which way each request went. The stand-in browser (``tests/fakes``) runs the fallback's
logic fast; the ``browser`` tests check the real page transport in a real Chromium: streaming as
the fake writes, cancelling, Chromium dying mid-answer, and every kind of send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from lmarena_cli.browser.cdp import command
from lmarena_cli.browser.session import Browser
from lmarena_cli.cli.doctor_checks import Doctor
from lmarena_cli.client.client import Client
from lmarena_cli.errors import Blocked, BrowserUnavailable, ConfigError, ErrorKind
from lmarena_cli.server.app import make_app
from lmarena_cli.server.run import start, warm_up
from lmarena_cli.settings import Settings
from lmarena_cli.site.events import TextDelta
from lmarena_cli.state.cache import SiteCache
from tests.fake_arena import FakeArena, Reply
from tests.fake_arena.state import Received
from tests.fakes import HttpBrowser
from tests.helpers.arena_host import ArenaHost
from tests.helpers.clients import ClientFactory, settings_for
from tests.helpers.command import run_lmarena
from tests.helpers.images import png

MODEL = "gemini-3-pro"
IMAGE_MODEL = "claude-opus-4-5"
DAY = 24 * 3600
SWITCHED = "sending them from the browser page from now on"


def from_page(request: Received) -> bool:
    """Whether a request carried a browser's client hints (the page made it)."""
    return "sec-ch-ua" in request.headers


def sends(arena: FakeArena) -> list[tuple[bool, int | None]]:
    """Each send that reached the fake: (made by the page, status; None while it streams)."""
    return [(from_page(r), r.status) for r in arena.stream_requests()]


async def settled(arena: FakeArena) -> list[tuple[bool, int | None]]:
    """:func:`sends` once the fake's handlers have returned (a streamed answer's status is
    recorded when its handler ends, just after the client read the last byte)."""
    await until(lambda: all(r.status is not None for r in arena.stream_requests()), 5.0)
    return sends(arena)


def lmarena_records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "lmarena" and r.levelno == level]


# --------------------------------------------------------------------------------------------------
# The fake's switch, and what aiohttp sends
# --------------------------------------------------------------------------------------------------


async def test_the_fakes_browser_only_switch_challenges_requests_without_client_hints() -> None:
    async with FakeArena(browser_only=True, challenge=False) as arena:
        hints = {"Sec-CH-UA": '"Chromium";v="131"', "Sec-Fetch-Mode": "navigate"}
        async with aiohttp.ClientSession() as http:
            async with http.get(arena.url + "/") as plain:
                assert plain.status == 403 and plain.headers["cf-mitigated"] == "challenge"
            async with http.get(arena.url + "/", headers={"Sec-Fetch-Mode": "cors"}) as half:
                assert half.status == 403
            async with http.get(arena.url + "/", headers=hints) as browser:
                assert browser.status == 200
        assert arena.not_a_browser == 2


async def test_the_aiohttp_path_sends_no_client_hints(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory(transport="http")
    chat = await client.chats.create(model=MODEL)
    await chat.send("hi", stream=False)
    [request] = arena.stream_requests()
    assert not [name for name in request.headers if name.startswith("sec-ch-ua")]
    assert request.headers["sec-fetch-mode"] == "cors"  # only the hints tell the paths apart
    assert isinstance(client.browser, HttpBrowser) and client.browser.counts.page_fetches == 0


# --------------------------------------------------------------------------------------------------
# auto: the fallback and its memory (on the browser's stand-in)
# --------------------------------------------------------------------------------------------------


async def test_auto_falls_back_to_the_page_once_and_the_next_run_starts_there(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lmarena")
    async with FakeArena(browser_only=True, recaptcha_delay=0.05) as arena:
        settings = settings_for(arena.url, tmp_path / "state")
        async with HttpBrowser(settings) as browser:
            client = Client(settings, browser=browser)
            chat = await client.chats.create(model=MODEL)
            reply = await chat.send("hello", stream=False)
            assert reply.text == "Echo (turn 1): hello"
            # aiohttp refused, a refresh, refused again, then the page: answered.
            assert await settled(arena) == [(False, 403), (False, 403), (True, 200)]
            assert browser.counts.refreshes == 1
            assert "gateway" not in reply.text
            again = await chat.send("more", stream=False)  # the rest of the process: the page
            assert again.text == "Echo (turn 2): more"
            assert (await settled(arena))[3:] == [(True, 200)]
            await client.close()
        warnings = lmarena_records(caplog, logging.WARNING)
        assert len([w for w in warnings if SWITCHED in w]) == 1, warnings
        cached = SiteCache(settings.cache_path).load(arena.url, warn=pytest.fail)
        assert cached is not None
        assert DAY - 60 < cached.page_transport_until - time.time() <= DAY

        caplog.clear()
        async with HttpBrowser(settings) as browser:  # the next run
            client = Client(settings, browser=browser)
            chat = await client.chats.create(model=MODEL)
            assert (await chat.send("next run", stream=False)).text == "Echo (turn 1): next run"
            assert client.http.describe()[0] == "the browser page"
            await client.close()
        assert (await settled(arena))[4:] == [(True, 200)]  # no refusal first
        assert not [w for w in lmarena_records(caplog, logging.WARNING) if SWITCHED in w]
        assert any("sending from the browser page" in i for i in lmarena_records(caplog, 20))


async def test_a_remembered_fallback_expires_after_a_day(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory()
    state = await client.bootstrap()
    state.remember_page_transport(now=time.time() - DAY - 1)
    assert client.http.active() == "http"
    state.remember_page_transport()
    assert client.http.active() == "page"


async def test_an_upload_falls_back_too_and_goes_from_the_page(tmp_path: Path) -> None:
    async with FakeArena(browser_only=True, recaptcha_delay=0.05) as arena:
        settings = settings_for(arena.url, tmp_path / "state")
        async with HttpBrowser(settings) as browser:
            client = Client(settings, browser=browser)
            chat = await client.chats.create(model=IMAGE_MODEL)
            reply = await chat.send("what is it?", images=[png()], stream=False)
            assert reply.text.startswith("Echo (turn 1)")
            actions = [r for r in arena.received if r.headers.get("next-action")]
            # generateUploadUrl refused twice from Python, then from the page; getSignedUrl too.
            assert [(from_page(r), r.status) for r in actions] == [
                (False, 403),
                (False, 403),
                (True, 200),
                (True, 200),
            ]
            [put] = [r for r in arena.received if r.method == "PUT"]
            assert from_page(put) and "cookie" not in put.headers  # no cookies to the bucket
            assert await settled(arena) == [(True, 200)]
            await client.close()


async def test_the_http_transport_never_falls_back(tmp_path: Path) -> None:
    async with FakeArena(browser_only=True, recaptcha_delay=0.05) as arena:
        settings = settings_for(arena.url, tmp_path / "state", transport="http")
        async with HttpBrowser(settings) as browser:
            client = Client(settings, browser=browser)
            chat = await client.chats.create(model=MODEL)
            with pytest.raises(Blocked) as caught:
                await chat.send("hi", stream=False)
            assert caught.value.kind == ErrorKind.CLOUDFLARE and caught.value.exit_code == 5
            assert sends(arena) == [(False, 403), (False, 403)]
            assert browser.counts.page_fetches == 0
            await client.close()


async def test_doctor_says_which_transport_and_why(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    checks = {c.step: c async for c in Doctor(client_factory()).checks()}
    got = checks["transport"].got
    assert got.startswith("aiohttp: LM_ARENA_TRANSPORT=auto, the default"), got
    assert checks["transport"].details == {
        "mode": "auto",
        "active": "http",
        # What the battle hold is sized from (protocol §15.1): no turn timed yet, so no
        # largest_b_offset.
        "battle_hold": 1.0,
        "timed_turns": 0,
    }
    checks = {c.step: c async for c in Doctor(client_factory(transport="page")).checks()}
    assert checks["transport"].got == "the browser page: LM_ARENA_TRANSPORT=page"


def test_the_transport_setting_takes_three_words_from_the_environment_or_the_file(
    tmp_path: Path,
) -> None:
    assert Settings.load(environ={}).transport == "auto"
    assert Settings.load(environ={"LM_ARENA_TRANSPORT": "Page"}).transport == "page"
    config = tmp_path / "config.toml"
    config.write_text('transport = "http"\n')
    assert Settings.load(environ={}, config_path=config).transport == "http"
    with pytest.raises(ConfigError, match="LM_ARENA_TRANSPORT must be one of auto, http, page"):
        Settings.load(environ={"LM_ARENA_TRANSPORT": "carrier-pigeon"})
    config.write_text('transport = "curl"\n')
    with pytest.raises(ConfigError, match="transport in the config file"):
        Settings.load(environ={}, config_path=config)


def test_a_bad_transport_exits_2_naming_the_variable() -> None:
    env = {**os.environ, "LM_ARENA_TRANSPORT": "carrier-pigeon"}
    done = run_lmarena("ask", "--no-stdin", "hi", env=env)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "LM_ARENA_TRANSPORT must be one of auto, http, page" in done.stderr
    assert "Traceback" not in done.stderr


# --------------------------------------------------------------------------------------------------
# The page transport in a real Chromium
# --------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def page_client(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[FakeArena, Client]]:
    """A site that refuses aiohttp, and a Client on a real Chromium sending from its page."""
    async with FakeArena(browser_only=True, recaptcha_delay=0.05, **options) as arena:
        settings = settings_for(arena.url, tmp_path / "state", transport="page", timeout=30.0)
        client = Client(settings, browser=Browser(settings), owns_browser=True)
        try:
            yield arena, client
        finally:
            await client.close()


async def until(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.mark.browser
@pytest.mark.timeout(120)
async def test_the_page_streams_each_part_as_the_fake_writes_it(tmp_path: Path) -> None:
    deltas = [f"part{n} " for n in range(8)]
    async with page_client(tmp_path) as (arena, client):
        arena.enqueue(Reply(text=deltas, b_text=["b"], delay_between=0.25))
        # Side by side: a single-model chat holds its first second back to catch a battle.
        chat = await client.chats.create(model=MODEL, versus=IMAGE_MODEL)
        stream = await chat.send("slowly", stream=True)
        seen: list[tuple[float, str, str]] = []  # (when, delta, what the fake had sent by then)
        async for event in stream.events():
            if isinstance(event, TextDelta) and event.side == "a":
                [session] = arena.sessions.values()
                sent = next(m for m in session.messages if m.participant == "a").content
                seen.append((time.monotonic(), event.text, sent))
        assert "".join(delta for _, delta, _ in seen) == "".join(deltas)
        first_at, _, sent_then = seen[0]
        # The first part arrived while the fake had written only the start of the answer.
        assert len(sent_then) <= len("part0 part1 "), sent_then
        assert len(seen) == len(deltas)  # part by part
        assert seen[-1][0] - first_at > 1.0  # and the rest as it came, not all at the end
        assert await settled(arena) == [(True, 200)] and arena.not_a_browser == 0


#: A body as a site might write it: characters split between writes, bytes that are not UTF-8,
#: and more than one batch of the page's of each kind (ASCII, and not).
RAW_WRITES = [
    b'a0:"caf\xc3',
    b"\xa9 \xe2\x80",
    b'\x94 done"\n',
    b"\xff\xfe not UTF-8\n",
    b'a0:"' + b"ascii " * 60_000 + b'"\n',
    b'a0:"' + "é—".encode() * 60_000 + b'"\n',
]
RAW_PATH = "/nextjs-api/stream/raw-bytes"


class RawArena(FakeArena):
    """The fake with one more stream endpoint, which writes :data:`RAW_WRITES` as they are."""

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_post(RAW_PATH, self._raw)

    async def _raw(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        for chunk in RAW_WRITES:
            await response.write(chunk)
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response


async def _raw_body(client: Client) -> bytes:
    state = await client.bootstrap()
    body = await client.http.page.post_stream(
        state, RAW_PATH, referer="/", body={}, wait=30, timeout=30
    )
    data = bytearray()
    try:
        while chunk := await body.read(30):
            data += chunk
    finally:
        await body.aclose()
    return bytes(data)


@pytest.mark.browser
@pytest.mark.timeout(120)
async def test_the_page_hands_over_the_bodys_exact_bytes(tmp_path: Path) -> None:
    async with RawArena(browser_only=True, recaptcha_delay=0.05) as arena:
        settings = settings_for(arena.url, tmp_path / "state", transport="page", timeout=30.0)
        browser = Browser(settings)
        async with Client(settings, browser=browser, owns_browser=True) as client:
            assert await _raw_body(client) == b"".join(RAW_WRITES)
            # A browser older than Uint8Array.prototype.toBase64 (Chrome 140) takes the other way.
            await browser.tab.send(
                command("Runtime.evaluate", expression="delete Uint8Array.prototype.toBase64")
            )
            assert await _raw_body(client) == b"".join(RAW_WRITES)


@pytest.mark.browser
@pytest.mark.timeout(120)
async def test_closing_a_stream_aborts_the_request_in_the_page(tmp_path: Path) -> None:
    async with page_client(tmp_path) as (arena, client):
        arena.enqueue(Reply(text=[f"word{n} " for n in range(40)], delay_between=0.2))
        chat = await client.chats.create(model=MODEL)
        stream = await chat.send("long", stream=True)
        async for text in stream:
            assert text.startswith("word0")
            break
        await stream.aclose()
        [session] = arena.sessions.values()
        answer = next(m for m in session.messages if m.role == "assistant")
        # The fake saw the client go away mid-answer: the message ends in error.
        assert await until(lambda: answer.status == "error"), answer.status
        assert len(answer.content) < len("".join(f"word{n} " for n in range(40)))


@pytest.mark.browser
@pytest.mark.timeout(120)
async def test_chromium_killed_mid_answer_is_a_clear_error_and_the_next_send_relaunches_it(
    tmp_path: Path,
) -> None:
    async with page_client(tmp_path) as (arena, client):
        arena.enqueue(Reply(text=[f"word{n} " for n in range(40)], delay_between=0.2))
        chat = await client.chats.create(model=MODEL)
        stream = await chat.send("long", stream=True)
        browser = client.browser
        assert isinstance(browser, Browser) and browser.pid is not None
        first_pid = browser.pid
        with pytest.raises(BrowserUnavailable) as caught:
            async for _ in stream:
                os.kill(first_pid, signal.SIGKILL)
        error = caught.value
        assert error.exit_code == 9
        assert "browser died" in error.message and "starts it again" in error.message
        assert error.partial is not None and error.partial.startswith("word0")
        again = await (await client.chats.create(model=MODEL)).send("again", stream=False)
        assert again.text == "Echo (turn 1): again"
        assert browser.pid is not None and browser.pid != first_pid


@pytest.mark.browser
@pytest.mark.timeout(180)
async def test_side_by_side_battles_and_images_all_go_from_the_page(tmp_path: Path) -> None:
    async with page_client(tmp_path) as (arena, client):
        versus = await client.chats.create(model=MODEL, versus=IMAGE_MODEL)
        both = await versus.send("compare", stream=False)
        assert [a.text for a in both.answers] == [
            "Echo (turn 1): compare",
            "Echo B (turn 1): compare",
        ]
        battle = await client.chats.create(battle=True)
        fight = await battle.send("fight", stream=False)
        assert len(fight.answers) == 2 and all(a.text for a in fight.answers)
        assert all(a.model for a in fight.answers)  # revealed from the page's HTML
        seeing = await client.chats.create(model=IMAGE_MODEL)
        looked = await seeing.send("what is it?", images=[png()], stream=False)
        assert looked.text.startswith("Echo (turn 1)")
        assert arena.not_a_browser == 0  # nothing left from Python
        assert await settled(arena) == [(True, 200)] * 3
        [put] = [r for r in arena.received if r.method == "PUT"]
        assert put.status == 200 and from_page(put)


@pytest.mark.browser
@pytest.mark.timeout(120)
async def test_serve_streams_through_the_page(tmp_path: Path) -> None:
    async with page_client(tmp_path) as (arena, client):
        arena.enqueue(Reply(text=["one ", "two ", "three"], delay_between=0.2))
        app = make_app(client, client.settings, access_log=lambda line: None)
        running = await start(app, "127.0.0.1", 0)
        sdk = openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key="unused", max_retries=0)
        try:
            await warm_up(app)
            chunks = await sdk.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "count"}], stream=True
            )
            texts = [c.choices[0].delta.content async for c in chunks if c.choices]
            assert "".join(t for t in texts if t) == "one two three"
            assert len([t for t in texts if t]) >= 3  # streamed part by part
        finally:
            await sdk.close()
            await running.runner.cleanup()
        assert await settled(arena) == [(True, 200)]


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_ask_falls_back_in_a_real_browser_and_the_next_run_starts_on_the_page(
    tmp_path: Path,
) -> None:
    host = ArenaHost()
    arena = host.serve(FakeArena(browser_only=True, recaptcha_delay=0.05))
    env = {
        **os.environ,
        "LM_ARENA_BASE_URL": arena.url,
        "LM_ARENA_STATE_DIR": str(tmp_path / "state"),
        "LM_ARENA_TIMEOUT": "30",
    }
    try:
        first = run_lmarena("ask", "--no-stdin", "-m", MODEL, "hello", env=env, timeout=90)
        assert first.returncode == 0, first.stderr
        assert first.stdout == "Echo (turn 1): hello\n"
        assert first.stderr.count(SWITCHED) == 1, first.stderr
        assert host.call(settled(arena), 10) == [
            (False, 403),
            (False, 403),
            (True, 200),
        ]
        second = run_lmarena("ask", "--no-stdin", "-m", MODEL, "again", env=env, timeout=90)
        assert second.returncode == 0, second.stderr
        assert second.stdout == "Echo (turn 1): again\n"
        assert SWITCHED not in second.stderr
        assert host.call(settled(arena), 10)[3:] == [(True, 200)]
    finally:
        host.close()

"""A reCAPTCHA token minted ahead (``Connection.keep_token_ready``, :class:`TokenReserve`).

Against the fake arena (single-use tokens bound to the minting browser, each remembered with
when it was minted) on the browser's stand-in (which counts the tokens it mints): a send after
warm-up goes out with a token minted before it started; no token is sent twice; an unused token
is thrown away once too old, and a page reload throws it away too; the reserve refills after
each take; failures in the background are logged, never raised into a send; closing the client
leaves no task behind.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from lmarena_cli import Client
from lmarena_cli.client.session.tokens import TOKEN_MAX_AGE, TokenReserve
from lmarena_cli.errors import Blocked, ErrorKind
from tests.fake_arena import FakeArena, Fault
from tests.fake_arena.facts import CREATE_EVALUATION, V3_TOKEN_FIELD
from tests.fakes import HttpBrowser
from tests.helpers.clients import ClientFactory, settings_for

pytestmark = pytest.mark.timeout(60)

MODEL = "gemini-3-pro"


async def until(condition: Any, seconds: float = 10.0) -> None:
    """Wait (bounded) until ``condition()`` is true."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


def sent_tokens(arena: FakeArena) -> list[str]:
    return [r.json[V3_TOKEN_FIELD] for r in arena.stream_requests()]


def stand_in(client: Client) -> HttpBrowser:
    browser = client.browser
    assert isinstance(browser, HttpBrowser)
    return browser


def reserve_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "lmarena token reserve"]


async def test_a_send_after_warm_up_goes_out_with_a_token_minted_before_it_started(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory()
    await client.bootstrap()
    reserve = client.keep_token_ready()
    assert reserve.max_age == TOKEN_MAX_AGE == 100
    await until(lambda: reserve.ready)
    browser = stand_in(client)
    assert browser.counts.tokens == 1
    chat = await client.chats.create(MODEL)
    started = time.time()
    reply = await chat.send("hi")
    assert reply.text == "Echo (turn 1): hi"
    (token,) = sent_tokens(arena)
    assert arena.recaptcha_tokens[token].created_at < started  # minted ahead, not on demand
    assert arena.recaptcha_log[-1] == ("chat_submit", "ok")
    assert reserve.counts.taken == 1
    # Refilled in the background after the take.
    await until(lambda: reserve.ready)
    assert browser.counts.tokens == 2 and reserve.counts.minted == 2
    fresh = next(iter(reversed(arena.recaptcha_tokens.values())))
    assert fresh.token != token and not fresh.used


async def test_no_token_is_ever_sent_twice(client_factory: ClientFactory, arena: FakeArena) -> None:
    client = client_factory()
    await client.bootstrap()
    reserve = client.keep_token_ready()
    await until(lambda: reserve.ready)
    chat = await client.chats.create(MODEL)
    for n in range(3):  # one after another, each taking the token the last one left
        await chat.send(f"turn {n}")
    chats = [await client.chats.create(MODEL) for _ in range(4)]
    replies = await asyncio.gather(*(c.send(f"at once {i}") for i, c in enumerate(chats)))
    assert all(r.text.startswith("Echo (turn 1): at once") for r in replies)
    tokens = sent_tokens(arena)
    assert len(tokens) == 7 and len(set(tokens)) == 7
    # The fake refuses a reused token: every one was accepted.
    assert [outcome for action, outcome in arena.recaptcha_log] == ["ok"] * 7
    assert reserve.counts.taken >= 1


async def test_an_unused_token_is_thrown_away_when_too_old_and_a_new_one_minted(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    arena.token_ttl = 0.8  # the fake refuses older tokens ("expired"), as Google does at ~120 s
    client = client_factory()
    await client.bootstrap()
    reserve = client.keep_token_ready(max_age=0.3)
    await until(lambda: reserve.counts.discarded >= 3)
    assert reserve.counts.minted >= 3
    chat = await client.chats.create(MODEL)
    reply = await chat.send("late")
    assert reply.text == "Echo (turn 1): late"
    assert arena.recaptcha_log == [("chat_submit", "ok")]
    (token,) = sent_tokens(arena)
    (request,) = [r for r in arena.received if r.path == CREATE_EVALUATION]
    assert request.time - arena.recaptcha_tokens[token].created_at < 0.8
    # The ones thrown away never reached the site.
    assert [t.token for t in arena.recaptcha_tokens.values() if t.used] == [token]


async def test_a_page_reload_throws_the_reserved_token_away(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory()
    await client.bootstrap()
    reserve = client.keep_token_ready()
    await until(lambda: reserve.ready)
    before = next(iter(arena.recaptcha_tokens))
    await client.session.refresh()
    assert reserve.counts.discarded >= 1
    await until(lambda: reserve.ready)
    chat = await client.chats.create(MODEL)
    await chat.send("after the reload")
    (token,) = sent_tokens(arena)
    assert token != before
    assert stand_in(client).calls.index("refresh") < len(stand_in(client).calls) - 1
    assert arena.recaptcha_log == [("chat_submit", "ok")]


async def test_a_failed_mint_in_the_background_is_logged_not_raised_into_a_send(
    client_factory: ClientFactory,
    arena: FakeArena,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="lmarena")
    client = client_factory()
    await client.bootstrap()
    browser = stand_in(client)
    real_mint = browser.mint_token
    calls = itertools.count()

    async def flaky(action: str = "chat_submit") -> str:
        if next(calls) == 0:
            raise Blocked("reCAPTCHA request failed: 503", kind=ErrorKind.RECAPTCHA)
        return await real_mint(action)

    monkeypatch.setattr(browser, "mint_token", flaky)
    reserve = client.keep_token_ready()
    await until(lambda: reserve.counts.failures == 1)
    assert "could not mint a reCAPTCHA token ahead" in caplog.text
    assert "reCAPTCHA request failed: 503" in caplog.text
    chat = await client.chats.create(MODEL)
    reply = await chat.send("still fine")  # takes a token or mints its own, never the failure
    assert reply.text == "Echo (turn 1): still fine"
    assert arena.recaptcha_log == [("chat_submit", "ok")]


async def test_closing_the_client_stops_the_refill_and_leaves_no_task(
    client_factory: ClientFactory, arena: FakeArena, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_factory()
    await client.bootstrap()
    browser = stand_in(client)
    minting = asyncio.Event()

    async def slow(action: str = "chat_submit") -> str:
        minting.set()
        await asyncio.sleep(30)  # a mint still under way when the client closes
        return "never"

    monkeypatch.setattr(browser, "mint_token", slow)
    reserve = client.keep_token_ready()
    await asyncio.wait_for(minting.wait(), 5)
    assert reserve.running and reserve_tasks()
    await client.close()
    assert not reserve.running
    assert reserve_tasks() == []
    assert await reserve.take() is None  # a closed reserve hands out nothing
    await client.close()  # twice is fine


async def test_a_send_waiting_on_the_mint_under_way_gets_that_token() -> None:
    """No second mint is started while one is under way; the send gets the one being made."""
    release = asyncio.Event()
    under_way = asyncio.Event()
    minted: list[str] = []

    async def mint(action: str) -> str:
        under_way.set()
        await release.wait()
        minted.append(f"token-{len(minted)}")
        return minted[-1]

    reserve = TokenReserve(mint)
    reserve.start()
    await asyncio.wait_for(under_way.wait(), 5)  # the first mint has started
    taking = asyncio.ensure_future(reserve.take())
    await asyncio.sleep(0)  # one turn of the loop: take() runs up to its wait for that mint
    assert not taking.done()
    assert minted == []
    release.set()
    assert await asyncio.wait_for(taking, 5) == "token-0"
    await until(lambda: reserve.ready)
    assert minted == ["token-0", "token-1"]
    await reserve.close()


async def test_takes_at_once_never_get_the_same_token() -> None:
    counter = itertools.count()

    async def mint(action: str) -> str:
        await asyncio.sleep(0.01)
        return f"token-{next(counter)}"

    reserve = TokenReserve(mint, retry_delay=0.01)
    reserve.start()
    await until(lambda: reserve.ready)
    got = await asyncio.gather(*(reserve.take() for _ in range(10)))
    handed = [token for token in got if token is not None]
    assert handed and len(handed) == len(set(handed))
    assert reserve.counts.taken == len(handed)
    await reserve.close()
    assert reserve_tasks() == []


async def test_the_reserve_is_off_unless_turned_on(
    client_factory: ClientFactory, arena: FakeArena
) -> None:
    client = client_factory()
    chat = await client.chats.create(MODEL)
    await chat.send("hi")
    # No filler task exists, so none can mint ahead later either.
    assert reserve_tasks() == []
    assert stand_in(client).counts.tokens == 1  # the send's own, and none ahead
    await chat.send("again")
    assert reserve_tasks() == []
    assert stand_in(client).counts.tokens == 2


@pytest.mark.browser
async def test_a_real_chromium_mints_ahead_and_a_reload_throws_the_token_away(
    arena: FakeArena, tmp_path: Path
) -> None:
    """The reserve on the real browser: its mints share the page with the sends (one lock)."""
    async with Client(settings_for(arena.url, tmp_path / "chromium")) as client:
        reserve = client.keep_token_ready()
        await until(lambda: reserve.ready, 30)
        chat = await client.chats.create(MODEL)
        started = time.time()
        assert (await chat.send("ahead")).text == "Echo (turn 1): ahead"
        (token,) = sent_tokens(arena)
        assert arena.recaptcha_tokens[token].created_at < started
        await until(lambda: reserve.ready, 30)
        arena.enqueue(Fault.recaptcha())  # a refusal reloads the page: the reserve starts over
        assert (await chat.send("again")).text == "Echo (turn 2): again"
        assert [outcome for _, outcome in arena.recaptcha_log] == ["ok", "ok", "ok"]
        assert len(set(sent_tokens(arena))) == 3
        assert reserve.counts.discarded >= 1
    assert reserve_tasks() == []

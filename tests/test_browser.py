"""The real browser (``lmarena_cli.browser``) against the fake arena, with a real Chromium on
loopback: every job of the browser (bootstrap, challenge, sign-up, token, refresh, rediscovering
actions, sign-in, close and reaping) at least once. Finding and configuring a browser needs none."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from lmarena_cli.browser import profile as profile_mod
from lmarena_cli.browser import recaptcha as recaptcha_mod
from lmarena_cli.browser import session as session_mod
from lmarena_cli.browser.options import (
    browser_args,
    decide_headless,
    find_browser,
    proxy_for_chromium,
)
from lmarena_cli.browser.session import Browser
from lmarena_cli.errors import Blocked, BrowserUnavailable, UsageError
from lmarena_cli.settings import Settings
from lmarena_cli.site import facts
from lmarena_cli.state.cache import SiteCache
from tests.fake_arena import CHALLENGE_ENDPOINT, FakeArena
from tests.fake_arena import facts as facts_fake
from tests.helpers.clients import settings_for
from tests.helpers.processes import pids_with

REPO = Path(__file__).resolve().parents[1]


def _settings(tmp_path: Path, arena: FakeArena, **changes: object) -> Settings:
    return settings_for(arena.url, tmp_path / "state", **{"timeout": 30.0, **changes})


def chromium_pids(profile: Path) -> list[int]:
    """Pids of live processes whose command line uses ``profile`` as user data dir."""
    return pids_with(f"--user-data-dir={profile}")


async def _wait_no_chromium(profile: Path, within: float = 5.0) -> list[int]:
    deadline = time.monotonic() + within
    while (left := chromium_pids(profile)) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    return left


def notices(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The INFO notices the library logged (what the CLI prints on stderr)."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("lmarena")]


def _profile_copies() -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob("lmarena-profile-copy-*"))


@pytest.fixture
async def browser(tmp_path: Path, arena: FakeArena) -> AsyncIterator[Browser]:
    instance = Browser(_settings(tmp_path, arena))
    try:
        yield instance
    finally:
        await instance.close()


# --- finding and configuring the browser (no launch) ---------------------------------------------


def test_missing_browser_says_how_to_install_one_and_exits_9(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    with pytest.raises(BrowserUnavailable) as caught:
        find_browser(settings, search_path=str(tmp_path), install_paths=[])
    assert caught.value.exit_code == 9
    assert "apt-get install chromium" in str(caught.value)
    assert "LM_ARENA_BROWSER_EXECUTABLE_PATH" in str(caught.value)


def test_executable_path_setting_wins_and_a_wrong_one_is_an_error(tmp_path: Path) -> None:
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_browser(Settings(browser_executable_path=str(fake))) == str(fake)
    with pytest.raises(BrowserUnavailable, match="not an executable"):
        find_browser(Settings(browser_executable_path=str(tmp_path / "nope")))


def test_browser_names_are_searched_on_path_in_order(tmp_path: Path) -> None:
    for name in ("brave-browser", "google-chrome"):
        exe = tmp_path / name
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    found = find_browser(Settings(), search_path=str(tmp_path), install_paths=[])
    assert found == str(tmp_path / "google-chrome")


def test_headless_follows_the_setting_then_the_display() -> None:
    assert decide_headless(Settings(browser_headless=False), environ={}, platform="linux") is False
    assert decide_headless(
        Settings(browser_headless=True), environ={"DISPLAY": ":0"}, platform="linux"
    )
    assert decide_headless(Settings(), environ={}, platform="linux") is True
    assert decide_headless(Settings(), environ={"DISPLAY": ":0"}, platform="linux") is False
    assert decide_headless(Settings(), environ={"WAYLAND_DISPLAY": "w"}, platform="linux") is False
    assert decide_headless(Settings(), environ={}, platform="darwin") is False
    assert decide_headless(Settings(), environ={}, platform="win32") is False


def test_flags_are_quiet_and_carry_profile_and_proxy(tmp_path: Path) -> None:
    settings = Settings(
        proxy="http://user:secret@proxy.example:3128", browser_profile_directory="Profile 2"
    )
    args = browser_args(settings, user_data_dir=tmp_path, headless=True, environ={})
    for flag in (
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--headless=new",
        f"--user-data-dir={tmp_path}",
        "--profile-directory=Profile 2",
        "--proxy-server=http://proxy.example:3128",
    ):
        assert flag in args
    assert not any("secret" in arg for arg in args)
    assert ("--no-sandbox" in args) == (os.geteuid() == 0)
    headful = browser_args(Settings(), user_data_dir=tmp_path, headless=False, environ={})
    assert not any(arg.startswith("--headless") for arg in headful)
    assert proxy_for_chromium("socks5://[::1]:1080") == "socks5://[::1]:1080"


def test_login_without_a_display_explains_how_to_copy_a_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    instance = Browser(Settings(state_dir=tmp_path, browser_headless=None))
    with pytest.raises(UsageError) as caught:
        asyncio.run(instance.login(timeout=5))
    assert "no display" in str(caught.value)
    assert "LM_ARENA_BROWSER_USER_DATA_DIR" in str(caught.value)
    assert not instance.running


# --- bootstrap ------------------------------------------------------------------------------------


@pytest.mark.browser
async def test_cold_bootstrap_learns_everything_and_caches_it(
    browser: Browser, arena: FakeArena
) -> None:
    state = await browser.bootstrap()
    assert arena.challenges_passed == 1
    assert arena.count(facts.SIGN_UP) == 1
    assert "cf_clearance" in state.cookies
    session = state.auth_session()
    assert session is not None and session.is_anonymous is True
    assert "Headless" not in state.user_agent and "Chrome/" in state.user_agent
    assert state.site_key == arena.site_key
    assert {row["id"] for row in state.models} == {m.id for m in arena.models}
    for name in facts.UPLOAD_ACTIONS:
        assert state.action_ids[name] == arena.action_ids[name]
    cache = browser.settings.cache_path
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert SiteCache(cache).load(arena.url, warn=pytest.fail) == state
    assert b"cf_clearance" in cache.read_bytes()

    token = await browser.mint_token()
    record = arena.recaptcha_tokens[token]
    assert (record.action, record.site_key) == ("chat_submit", arena.site_key)
    assert record.user_agent == state.user_agent
    assert await browser.mint_token("chat_retry") != token


@pytest.mark.browser
async def test_warm_bootstrap_reuses_cached_cookies_without_challenge_or_sign_up(
    tmp_path: Path, arena: FakeArena
) -> None:
    settings = _settings(tmp_path, arena)
    first = Browser(settings)
    try:
        cold = await first.bootstrap()
    finally:
        await first.close()
    # A throwaway profile: the cookies can only come from the cache file.
    warm_browser = Browser(settings.replace(browser_incognito=True))
    served, signups, chunks = (
        arena.challenges_served,
        arena.count(facts.SIGN_UP),
        arena.count("/_next/static/chunks/"),
    )
    throwaway = set(Path(tempfile.gettempdir()).glob("lmarena-incognito-*"))  # noqa: ASYNC240
    try:
        warm = await warm_browser.bootstrap()
        token = await warm_browser.mint_token()
    finally:
        await warm_browser.close()
    # The throwaway profile is gone with the browser.
    assert set(Path(tempfile.gettempdir()).glob("lmarena-incognito-*")) <= throwaway  # noqa: ASYNC240
    assert arena.challenges_served == served
    assert arena.count(facts.SIGN_UP) == signups
    assert warm.auth_cookie() == cold.auth_cookie()
    assert warm.cookies["cf_clearance"] == cold.cookies["cf_clearance"]
    # Fresh cached action ids are reused; the browser fetched no chunk with fetch().
    page_loads = [r for r in arena.received if r.path.startswith("/_next/static/chunks/")]
    assert all(r.headers.get("sec-fetch-dest") == "script" for r in page_loads[chunks:])
    assert warm.action_ids == cold.action_ids
    assert token in arena.recaptcha_tokens


@pytest.mark.browser
async def test_headless_user_agent_would_be_refused_and_ours_is_not(
    browser: Browser, arena: FakeArena
) -> None:
    state = await browser.bootstrap()
    headless_ua = state.user_agent.replace("Chrome/", "HeadlessChrome/")
    async with aiohttp.ClientSession() as http:
        payload = {"ray": "x", "ua": headless_ua, "webdriver": False, "cookies": True}
        async with http.post(
            arena.url + CHALLENGE_ENDPOINT, json=payload, headers={"User-Agent": headless_ua}
        ) as response:
            assert response.status == 403
    page_requests = [r for r in arena.received if r.path == "/"]
    assert page_requests
    for request in page_requests:
        assert "Headless" not in request.headers["user-agent"]
        assert '"Chromium"' in request.headers.get("sec-ch-ua", "")
    assert arena.challenges_passed == 1


@pytest.mark.browser
async def test_lazy_recaptcha_script_is_waited_for(tmp_path: Path) -> None:
    async with FakeArena(recaptcha_delay=2.5) as arena:
        instance = Browser(_settings(tmp_path, arena))
        try:
            await instance.bootstrap()
            started = time.monotonic()
            token = await instance.mint_token()
            assert token in arena.recaptcha_tokens
            assert time.monotonic() - started > 1.0  # it really had to wait
        finally:
            await instance.close()


@pytest.mark.browser
async def test_recaptcha_that_never_loads_is_a_bounded_blocked_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recaptcha_mod, "RECAPTCHA_WAIT", 1.0)
    async with FakeArena(recaptcha_delay=60) as arena:
        instance = Browser(_settings(tmp_path, arena))
        try:
            await instance.bootstrap()
            with pytest.raises(Blocked, match="did not load") as caught:
                await instance.mint_token()
            assert caught.value.exit_code == 5
        finally:
            await instance.close()


@pytest.mark.browser
async def test_wrong_site_key_gives_blocked_with_the_page_message(
    browser: Browser, arena: FakeArena
) -> None:
    state = await browser.bootstrap()
    state.site_key = "6LwrongwrongwrongwrongwrongwrongwrongXXX"
    with pytest.raises(Blocked) as caught:
        await browser.mint_token()
    assert "Invalid site key" in str(caught.value)
    assert caught.value.kind == "recaptcha"


@pytest.mark.browser
async def test_site_key_change_is_picked_up_after_refresh(
    browser: Browser, arena: FakeArena
) -> None:
    await browser.bootstrap()
    arena.site_key = "6LnewNEWnewNEWnewNEWnewNEWnewNEWnewNEW01"
    state = await browser.refresh_session()
    assert state.site_key == arena.site_key
    token = await browser.mint_token()
    assert arena.recaptcha_tokens[token].site_key == arena.site_key
    cached = SiteCache(browser.settings.cache_path).load(arena.url, warn=pytest.fail)
    assert cached is not None and cached.site_key == arena.site_key


@pytest.mark.browser
async def test_stale_action_ids_are_rediscovered(browser: Browser, arena: FakeArena) -> None:
    before = (await browser.bootstrap()).action_ids
    arena.redeploy()
    actions = await browser.rediscover_actions()
    for name in facts.UPLOAD_ACTIONS:
        assert actions[name] == arena.action_ids[name] != before[name]
    cached = SiteCache(browser.settings.cache_path).load(arena.url, warn=pytest.fail)
    assert cached is not None
    assert cached.action_ids["generateUploadUrl"] == arena.action_ids["generateUploadUrl"]


@pytest.mark.browser
async def test_models_come_from_the_catalog_when_the_page_has_none(tmp_path: Path) -> None:
    async with FakeArena(embed_models=False) as arena:
        instance = Browser(_settings(tmp_path, arena))
        try:
            state = await instance.bootstrap()
        finally:
            await instance.close()
    assert arena.count(facts.MODEL_CATALOG) == 1
    assert {row["id"] for row in state.models} == {m.id for m in arena.models}


@pytest.mark.browser
async def test_challenge_that_does_not_clear_in_time_is_blocked_exit_5(
    tmp_path: Path, arena: FakeArena
) -> None:
    instance = Browser(_settings(tmp_path, arena), challenge_timeout=0.2)
    try:
        with pytest.raises(Blocked, match="did not clear") as caught:
            await instance.bootstrap()
        assert caught.value.exit_code == 5
        assert caught.value.kind == "cloudflare"
    finally:
        await instance.close()


@pytest.mark.browser
async def test_missing_browser_fails_bootstrap_with_exit_9(
    tmp_path: Path, arena: FakeArena
) -> None:
    settings = _settings(tmp_path, arena, browser_executable_path=str(tmp_path / "no-chrome"))
    with pytest.raises(BrowserUnavailable) as caught:
        await Browser(settings).bootstrap()
    assert caught.value.exit_code == 9


@pytest.mark.browser
async def test_corrupt_cache_is_rebuilt_with_one_warning(
    tmp_path: Path, arena: FakeArena, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, arena)
    settings.state_dir.mkdir(parents=True)
    settings.cache_path.write_bytes(b"\x00garbage")
    caplog.set_level(logging.INFO, logger="lmarena")
    instance = Browser(settings)
    try:
        await instance.bootstrap()
    finally:
        await instance.close()
    assert len([line for line in notices(caplog) if "site cache" in line]) == 1
    assert orjson.loads(settings.cache_path.read_bytes())["state"]["base_url"] == arena.url


@pytest.mark.browser
async def test_cached_state_is_answered_without_launching(tmp_path: Path, arena: FakeArena) -> None:
    settings = _settings(tmp_path, arena)
    first = Browser(settings)
    try:
        state = await first.bootstrap()
    finally:
        await first.close()
    second = Browser(settings)
    assert second.cached_state() == state
    assert not second.running
    assert chromium_pids(settings.profile_dir) == []


# --- sign-in --------------------------------------------------------------------------------------


@pytest.mark.browser
async def test_login_waits_for_the_user_and_keeps_split_auth_cookies(
    browser: Browser, arena: FakeArena
) -> None:
    login = asyncio.create_task(browser.login(timeout=40))
    deadline = time.monotonic() + 20
    while True:
        tab = browser.tab
        if tab is not None and not login.done():
            with_form = await tab.evaluate("!!document.querySelector('#login-form')")
            if with_form is True:
                break
        assert time.monotonic() < deadline, "the sign-in page never showed"
        await asyncio.sleep(0.2)
    assert not login.done()  # it waits for the user
    email = await tab.select("input[name=email]")
    await email.send_keys("user@example.com")
    password = await tab.select("input[name=password]")
    await password.send_keys("arena-test")
    await (await tab.select("button[type=submit]")).click()
    state = await asyncio.wait_for(login, 30)
    session = state.auth_session()
    assert session is not None and session.signed_in
    chunks = [name for name in state.cookies if name.startswith(facts.AUTH_COOKIE + ".")]
    assert len(chunks) >= 2 and facts.AUTH_COOKIE not in state.cookies
    cached = SiteCache(browser.settings.cache_path).load(arena.url, warn=pytest.fail)
    assert cached is not None and cached.auth_cookie() == state.auth_cookie()
    token = await browser.mint_token()
    assert token in arena.recaptcha_tokens


# --- minting side by side -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _slow_mints(tmp_path: Path, seconds: float) -> AsyncIterator[tuple[FakeArena, Browser]]:
    """A fake whose reCAPTCHA takes ``seconds`` to mint, and a browser that loaded it."""
    async with FakeArena(recaptcha_delay=0.05, mint_delay=seconds) as arena:
        instance = Browser(_settings(tmp_path, arena))
        try:
            await instance.bootstrap()
            yield arena, instance
        finally:
            await instance.close()


@pytest.mark.browser
async def test_tokens_for_requests_at_once_are_minted_side_by_side(tmp_path: Path) -> None:
    async with _slow_mints(tmp_path, 1.0) as (arena, instance):
        tokens = await asyncio.wait_for(
            asyncio.gather(instance.mint_token(), instance.mint_token("chat_retry")), 20
        )
    assert len(set(tokens)) == 2 and all(token in arena.recaptcha_tokens for token in tokens)
    (_, first_end), (second_start, _) = sorted(arena.mint_spans)
    assert second_start < first_end  # the second began before the first was done


@pytest.mark.browser
async def test_a_reload_waits_for_the_token_being_minted(tmp_path: Path) -> None:
    async with _slow_mints(tmp_path, 1.5) as (arena, instance):
        minting = asyncio.create_task(instance.mint_token())
        while arena.count(facts_fake.MINT_ENDPOINT) == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        await asyncio.wait_for(instance.refresh_session(), 20)
        token = await asyncio.wait_for(minting, 20)
    assert token in arena.recaptcha_tokens  # not thrown away by a reload under it
    ((_, minted),) = arena.mint_spans
    reload = [r for r in arena.received if r.method == "GET" and r.path == facts.CHAT_PAGE][-1]
    assert reload.time >= minted


# --- lifecycle ------------------------------------------------------------------------------------


@pytest.mark.browser
async def test_killed_chromium_fails_the_running_call_and_is_relaunched_next(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="lmarena")
    in_page: list[str] = []
    both_in_page = asyncio.Event()

    async def counted(page: Any, site_key: str, action: str) -> str:
        in_page.append(action)
        if len(in_page) == 2:
            both_in_page.set()
        return await recaptcha_mod.mint(page, site_key, action)

    monkeypatch.setattr(session_mod, "mint", counted)
    async with FakeArena(recaptcha_delay=4) as arena:
        instance = Browser(_settings(tmp_path, arena))
        try:
            await instance.bootstrap()
            first_pid = instance.pid
            assert first_pid is not None
            minted_before = len(arena.recaptcha_tokens)
            # Two calls in flight (tokens are minted side by side), both waiting for grecaptcha.
            running = [asyncio.create_task(instance.mint_token()) for _ in range(2)]
            await asyncio.wait_for(both_in_page.wait(), 20)
            os.killpg(first_pid, signal.SIGKILL)
            for call in running:
                with pytest.raises(BrowserUnavailable, match="exited"):
                    await call
            # They failed on the death, not on a wait's end: no token was minted for them.
            assert len(arena.recaptcha_tokens) == minted_before
            token = await asyncio.wait_for(instance.mint_token(), 30)  # the next one relaunches
            assert token in arena.recaptcha_tokens
            assert instance.pid not in (None, first_pid)
            assert any("starting it again" in line for line in notices(caplog))
            # The relaunched browser got the cookies back: no second sign-up or challenge.
            assert arena.count(facts.SIGN_UP) == 1
            assert arena.challenges_passed == 1
        finally:
            await instance.close()
        assert await _wait_no_chromium(instance.settings.profile_dir) == []


@pytest.mark.browser
async def test_second_process_on_one_profile_uses_a_copy_and_says_so(
    tmp_path: Path,
    arena: FakeArena,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(profile_mod, "PROFILE_WAIT", 0.5)
    caplog.set_level(logging.INFO, logger="lmarena")
    settings = _settings(tmp_path, arena)
    first = Browser(settings)
    second = Browser(settings)
    before = set(_profile_copies())
    try:
        await first.bootstrap()
        caplog.clear()  # only what the second browser says
        state = await second.bootstrap()
        lines = notices(caplog)
        assert state.auth_cookie() is not None
        assert any("temporary copy" in line for line in lines)
        assert len(lines) == 1
        copies = set(_profile_copies()) - before
        assert len(copies) == 1
        assert chromium_pids(next(iter(copies)) / "profile")
    finally:
        await second.close()
        await first.close()
    for copy in copies:
        assert not copy.exists()


@pytest.mark.browser
async def test_close_leaves_no_chromium_process(browser: Browser, arena: FakeArena) -> None:
    await browser.bootstrap()
    assert chromium_pids(browser.settings.profile_dir)
    await browser.close()
    assert await _wait_no_chromium(browser.settings.profile_dir) == []


_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from lmarena_cli.browser.session import Browser
    from lmarena_cli.settings import Settings

    state_dir, base_url, mode = sys.argv[1:4]

    async def main():
        browser = Browser(Settings(state_dir=Path(state_dir), base_url=base_url,
                                   browser_headless=True, timeout=30.0))
        await browser.bootstrap()
        print("ready", browser.pid, flush=True)
        if mode != "wait":
            sys.stdin.readline()  # the test has seen this Chromium running: go on
        if mode == "raise":
            raise RuntimeError("boom")
        if mode == "wait":
            await asyncio.sleep(60)

    asyncio.run(main())
    """
)


@pytest.mark.browser
@pytest.mark.parametrize(
    ("mode", "send", "expected_status"),
    [
        ("exit", None, 0),
        ("raise", None, 1),
        ("wait", signal.SIGINT, -signal.SIGINT),
        ("wait", signal.SIGTERM, -signal.SIGTERM),
        ("wait", signal.SIGKILL, -signal.SIGKILL),
    ],
    ids=["normal-exit", "exception", "sigint", "sigterm", "sigkill"],
)
async def test_no_chromium_outlives_the_program(
    tmp_path: Path,
    arena: FakeArena,
    mode: str,
    send: signal.Signals | None,
    expected_status: int,
) -> None:
    state_dir = tmp_path / "proc-state"
    profile = state_dir / "browser-profile"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SCRIPT,
        str(state_dir),
        arena.url,
        mode,
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line.startswith(b"ready"), line
    assert chromium_pids(profile), "the script's Chromium should be running"
    if send is not None:
        proc.send_signal(send)
    else:
        proc.stdin.write(b"go\n")  # exit, or raise, now that its Chromium was seen
        await proc.stdin.drain()
    proc.stdin.close()
    await asyncio.wait_for(proc.wait(), 30)
    stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    if send is signal.SIGINT:
        assert "KeyboardInterrupt" in stderr
    assert proc.returncode == expected_status, stderr
    assert await _wait_no_chromium(profile) == []

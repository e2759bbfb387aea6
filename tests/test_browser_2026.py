"""The real browser against the site as of Sep-Oct 2026 (protocol §14), through a real Chromium:
the Terms of Use given once per account, the catalog when pages carry no model list, the bare
auth cookie, the site's clock, and `lmarena ask` from a fresh state directory end to end."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import pytest

from lmarena_cli.browser import account
from lmarena_cli.browser.discover import catalog_models
from lmarena_cli.browser.page import PageReply
from lmarena_cli.browser.session import Browser
from lmarena_cli.errors import ErrorKind, ProtocolError
from lmarena_cli.settings import Settings
from lmarena_cli.site import facts
from lmarena_cli.state.cache import SiteCache, SiteState
from tests.fake_arena import FakeArena
from tests.helpers.clients import settings_for
from tests.helpers.command import lmarena_command

CONSENTED = "accepted the site's Terms of Use for this account"


def _settings(tmp_path: Path, arena: FakeArena, **changes: object) -> Settings:
    return settings_for(arena.url, tmp_path / "state", **{"timeout": 30.0, **changes})


def _requests(arena: FakeArena, method: str, path: str) -> int:
    return sum(1 for r in arena.received if r.method == method and r.path == path)


def _notices(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("lmarena")]


async def _bootstrap_once(settings: Settings) -> SiteState:
    browser = Browser(settings)
    try:
        return await browser.bootstrap()
    finally:
        await browser.close()


# --- the Terms of Use -----------------------------------------------------------------------------


@pytest.mark.browser
async def test_a_fresh_profile_gives_consent_once_and_a_warm_run_does_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lmarena")
    async with FakeArena(tou_required=True, recaptcha_delay=0.05) as arena:
        settings = _settings(tmp_path, arena)
        browser = Browser(settings)
        try:
            state = await browser.bootstrap()
        finally:
            await browser.close()
        session = state.auth_session()
        assert session is not None and session.user_id is not None
        assert _requests(arena, "GET", facts.ME) == 1
        assert _requests(arena, "POST", facts.TOU_CONSENT) == 1
        assert set(arena.tou_consents) == {session.user_id}
        assert state.tou_consent_user == session.user_id
        assert _notices(caplog).count(CONSENTED) == 1
        cached = SiteCache(settings.cache_path).load(arena.url, warn=pytest.fail)
        assert cached is not None and cached.tou_consent_user == session.user_id

        caplog.clear()
        warm = Browser(settings)
        try:
            again = await warm.bootstrap()
            await warm.refresh_session()
        finally:
            await warm.close()
        assert again.auth_session() == session
        assert again.tou_consent_user == session.user_id
        assert _requests(arena, "GET", facts.ME) == 1  # neither read again...
        assert _requests(arena, "POST", facts.TOU_CONSENT) == 1  # ...nor given again
        assert CONSENTED not in _notices(caplog)


@pytest.mark.browser
@pytest.mark.parametrize("way", ["action", "button"])
async def test_without_the_consent_endpoint_the_action_or_the_agree_button_gives_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, way: str
) -> None:
    # An endpoint the site no longer has answers its soft-404 page (200, HTML).
    monkeypatch.setattr(facts, "TOU_CONSENT", "/api/me/consent-moved-away")
    if way == "button":
        monkeypatch.setattr(facts, "TOU_CONSENT_ACTION", "actionTheSiteNeverHad")
    caplog.set_level(logging.INFO, logger="lmarena")
    async with FakeArena(tou_required=True, soft_404=True, recaptcha_delay=0.05) as arena:
        state = await _bootstrap_once(_settings(tmp_path, arena))
        moved = [r.status for r in arena.received if r.path == "/api/me/consent-moved-away"]
        actions = [r for r in arena.received if "next-action" in r.headers]
        agreed = _requests(arena, "POST", "/api/me/update-tou-consent")
    session = state.auth_session()
    assert session is not None
    assert moved == [200]
    assert set(arena.tou_consents) == {session.user_id}
    assert state.tou_consent_user == session.user_id
    assert _notices(caplog).count(CONSENTED) == 1
    if way == "action":
        assert [r.headers["next-action"] for r in actions] == [arena.action_ids["updateTouConsent"]]
        assert agreed == 0
    else:
        assert actions == [] and agreed == 1  # what the dialog's button sent


@pytest.mark.browser
async def test_consent_that_cannot_be_given_is_a_notice_and_the_bootstrap_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(facts, "TOU_CONSENT", "/api/me/consent-moved-away")
    monkeypatch.setattr(facts, "TOU_CONSENT_ACTION", "actionTheSiteNeverHad")
    monkeypatch.setattr(account, "AGREE_BUTTONS", ("a button the site never had",))
    caplog.set_level(logging.INFO, logger="lmarena")
    async with FakeArena(tou_required=True, soft_404=True, recaptcha_delay=0.05) as arena:
        state = await _bootstrap_once(_settings(tmp_path, arena))
    assert state.site_key and state.models  # the rest of the bootstrap went on
    assert state.tou_consent_user is None and arena.tou_consents == {}
    [notice] = [n for n in _notices(caplog) if "Terms of Use" in n]
    assert notice.startswith("could not accept the site's Terms of Use for this account (")
    assert "POST /api/me/consent-moved-away answered HTTP 200: an HTML page" in notice
    assert "no id for the server action actionTheSiteNeverHad" in notice
    assert 'no "Agree" button' in notice
    assert "`lmarena login`" in notice


@pytest.mark.browser
async def test_an_account_that_already_agreed_is_not_asked_again(tmp_path: Path) -> None:
    # Without the gate the fake's users agreed when they were created: /api/me says so.
    async with FakeArena(recaptcha_delay=0.05) as arena:
        state = await _bootstrap_once(_settings(tmp_path, arena))
        assert _requests(arena, "GET", facts.ME) == 1
        assert _requests(arena, "POST", facts.TOU_CONSENT) == 0
        assert state.tou_consent_user is not None


@pytest.mark.browser
async def test_signing_in_checks_the_new_account_and_keeps_a_bare_auth_cookie(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lmarena")
    async with FakeArena(tou_required=True, bare_auth_cookie=True, recaptcha_delay=0.05) as arena:
        browser = Browser(_settings(tmp_path, arena))
        try:
            anonymous = await browser.bootstrap()
            assert facts.AUTH_COOKIE in anonymous.cookies
            assert not [n for n in anonymous.cookies if n.startswith(facts.AUTH_COOKIE + ".")]
            login = asyncio.create_task(browser.login(timeout=40))
            tab = None
            deadline = time.monotonic() + 20
            while True:
                tab = browser.tab
                form = "!!document.querySelector('#login-form')"
                if tab is not None and not login.done() and await tab.evaluate(form) is True:
                    break
                assert not login.done(), login.exception()
                assert time.monotonic() < deadline, "the sign-in page never showed"
                await asyncio.sleep(0.2)
            await (await tab.select("input[name=email]")).send_keys("user@example.com")
            await (await tab.select("input[name=password]")).send_keys("arena-test")
            await (await tab.select("button[type=submit]")).click()
            signed_in = await asyncio.wait_for(login, 30)
            token = await browser.mint_token()
        finally:
            await browser.close()
    session = signed_in.auth_session()
    assert session is not None and session.signed_in
    first = anonymous.auth_session()
    assert first is not None and session.user_id != first.user_id
    # One cookie, never chunks, and the signed-in user is the one that agreed now.
    assert facts.AUTH_COOKIE in signed_in.cookies
    assert not [n for n in signed_in.cookies if n.startswith(facts.AUTH_COOKIE + ".")]
    assert signed_in.tou_consent_user == session.user_id
    assert set(arena.tou_consents) == {first.user_id, session.user_id}
    assert _requests(arena, "POST", facts.TOU_CONSENT) == 2
    assert _notices(caplog).count(CONSENTED) == 2
    assert arena.recaptcha_tokens[token].action == facts.ACTION_CHAT_SUBMIT


# --- the model list -------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("in_page", ["undefined", "absent"])
async def test_pages_without_a_model_list_fall_back_to_the_catalog_without_an_origin(
    tmp_path: Path, in_page: str
) -> None:
    async with FakeArena(models_in_page=in_page, catalog_2026=True, recaptcha_delay=0.05) as arena:
        state = await _bootstrap_once(_settings(tmp_path, arena))
        catalog = [r for r in arena.received if r.path == facts.MODEL_CATALOG]
    assert state.models_source == "catalog"
    ids = {row["id"] for row in state.models}
    assert ids and ids <= {m.id for m in arena.models}
    assert [r.status for r in catalog] == [200]
    assert "origin" not in catalog[0].headers  # the 2026 catalog refuses requests with one


@pytest.mark.browser
async def test_a_page_that_embeds_the_list_is_the_source(tmp_path: Path) -> None:
    async with FakeArena(recaptcha_delay=0.05) as arena:
        state = await _bootstrap_once(_settings(tmp_path, arena))
        assert arena.count(facts.MODEL_CATALOG) == 0
    assert state.models_source == "page"


def test_a_refusing_catalog_says_what_was_expected_and_what_came() -> None:
    refused = PageReply(
        403, '{"error":"Cross-origin catalog requests are not permitted"}', "application/json"
    )
    with pytest.raises(ProtocolError) as caught:
        catalog_models(refused, "its model list is '$undefined'")
    message = str(caught.value)
    assert caught.value.kind == ErrorKind.NO_MODELS
    assert "'$undefined'" in message and facts.MODEL_CATALOG in message
    assert "HTTP 403" in message and "JSON catalog" in message
    assert "Cross-origin catalog requests are not permitted" in message
    assert "Origin header" in message

    soft_404 = PageReply(200, "<html><title>Not found</title></html>", "text/html")
    with pytest.raises(ProtocolError, match=r"HTML page titled 'Not found' \(text/html\)"):
        catalog_models(soft_404, "it has no model list")


# --- the site's clock -----------------------------------------------------------------------------


@pytest.mark.browser
async def test_the_sites_clock_offset_is_learned_at_bootstrap_and_on_a_reload(
    tmp_path: Path,
) -> None:
    async with FakeArena(clock_skew=3600, recaptcha_delay=0.05) as arena:
        browser = Browser(_settings(tmp_path, arena))
        try:
            cold = await browser.bootstrap()
            assert abs(cold.clock_offset - 3600) < 1.5
            arena.clock_skew = -90  # the site's clock moved (or ours did)
            reloaded = await browser.refresh_session()
        finally:
            await browser.close()
    assert abs(reloaded.clock_offset + 90) < 1.5
    cached = SiteCache(browser.settings.cache_path).load(browser.base_url, warn=pytest.fail)
    assert cached is not None and abs(cached.clock_offset + 90) < 1.5


# --- the whole command ----------------------------------------------------------------------------


async def _ask(arena: FakeArena, state: Path, *args: str) -> tuple[int, str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LM_ARENA_") and k not in ("DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update(
        LM_ARENA_BASE_URL=arena.url,
        LM_ARENA_STATE_DIR=str(state),
        LM_ARENA_BROWSER_HEADLESS="1",
        LM_ARENA_TIMEOUT="20",
        LM_ARENA_KEEP_ALIVE="0",  # in-process: the bootstrap's notices are this command's
    )
    if os.environ.get("LM_ARENA_BROWSER_EXECUTABLE_PATH"):
        env["LM_ARENA_BROWSER_EXECUTABLE_PATH"] = os.environ["LM_ARENA_BROWSER_EXECUTABLE_PATH"]
    process = await asyncio.create_subprocess_exec(
        *lmarena_command("ask", *args),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode(), err.decode()


@pytest.mark.browser
@pytest.mark.timeout(240)
async def test_ask_answers_from_a_fresh_state_directory_on_the_site_of_october_2026(
    tmp_path: Path,
) -> None:
    # The gate is on, as on the site: an anonymous user of a fresh state directory may battle.
    # The site's clock is an hour ahead of ours: ids minted from our clock would be "spoofed".
    async with FakeArena.as_of_2026_10(clock_skew=3600, recaptcha_delay=0.05) as arena:
        state = tmp_path / "fresh-state"
        code, out, err = await _ask(arena, state, "--battle", "hello there")
        assert code == 0, err
        assert "Echo (turn 1): hello there" in out.splitlines()
        assert "Echo B (turn 1): hello there" in out.splitlines()
        assert CONSENTED in err
        code, out, err = await _ask(arena, state, "-c", "and again")
        assert code == 0, err
        assert "Echo (turn 2): and again" in out.splitlines()
        assert CONSENTED not in err
        assert _requests(arena, "POST", facts.TOU_CONSENT) == 1
        assert _requests(arena, "GET", facts.ME) == 1
        assert len(arena.tou_consents) == 1
        # Neither turn was refused as "spoofed" and retried: the ids came from the site's clock.
        assert [r.status for r in arena.stream_requests()] == [200, 200]

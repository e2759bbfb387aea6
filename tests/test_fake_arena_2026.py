"""Tests of the fake arena's Sep-Oct 2026 switches (protocol doc §14): plain aiohttp clients against
the real fake on loopback, the browser stand-in, and one real Chromium for the Terms-of-Use dialog.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import secrets
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.fake_arena import MODELS_2026, FakeArena, Fault
from tests.fake_arena.auth import decode_cookie_value
from tests.fake_arena.models import MODELS_2026_10, VIDEO_ONLY, WEBDEV_ONLY
from tests.fakes import HttpBrowser
from tests.helpers.arena_command import fake_arena_command
from tests.helpers.chromium import chromium
from tests.helpers.clients import settings_for
from tests.helpers.http_visitor import UA, HttpVisitor
from tests.helpers.processes import pids_with

GEMINI = "019a98f7-afcd-779f-8dcb-856cc3b3f078"
CREATE = "/nextjs-api/stream/create-evaluation"
POST_TO = "/nextjs-api/stream/post-to-evaluation/"
ME = "/api/me"
CONSENT = "/api/me/update-tou-consent"
SPOOFED = {"error": "Evaluation session ID seems spoofed, offset too big"}
USER_NOT_FOUND = {"message": "User not found"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

pytestmark = pytest.mark.timeout(60)


def uuid7(at: float | None = None) -> str:
    """A UUIDv7 minted at Unix time ``at`` (default: now)."""
    ms = int((time.time() if at is None else at) * 1000)
    value = (ms << 80) | (0x7 << 76) | (secrets.randbits(12) << 64) | (0b10 << 62)
    value |= secrets.randbits(62)
    return str(uuid.UUID(int=value))


def echo_text(raw: bytes) -> str:
    out = []
    for line in raw.decode().splitlines():
        if line.startswith("a0:"):
            out.append(orjson.loads(line[3:]))
    return "".join(out)


def flight(html: str) -> str:
    """The RSC flight text of a page (its ``self.__next_f.push([1, "..."])`` strings joined)."""
    return "".join(
        json.loads(m) for m in re.findall(r'self\.__next_f\.push\(\[1,("(?:[^"\\]|\\.)*")', html)
    )


class Visitor(HttpVisitor):
    """What the site's JavaScript would do in a browser, over plain HTTP."""

    async def enter(self, *, sign_in: bool = False) -> Visitor:
        body = {"ray": "x", "ua": UA, "webdriver": False, "cookies": True}
        await self.expect("POST", "/cdn-cgi/challenge-platform/verify", 200, json=body)
        if sign_in:
            creds = {"email": "user@example.com", "password": "arena-test"}
            await self.expect("POST", "/nextjs-api/sign-in/email", 200, json=creds)
        else:
            pid = {"recaptchaToken": "", "provisionalUserId": str(uuid.uuid4())}
            await self.expect("POST", "/nextjs-api/sign-up", 200, json=pid)
        return self

    async def expect(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        async with self.http.request(method, self.arena.url + path, **kwargs) as r:
            raw = await r.read()
            assert r.status == status, (path, r.status, raw[:300])
            return orjson.loads(raw) if r.content_type == "application/json" else raw.decode()

    async def user_id(self) -> str:
        return str((await self.expect("GET", ME, 200))["user"]["id"])

    async def body(self, *, at: float | None = None, **fields: Any) -> dict[str, Any]:
        mint = {"key": self.arena.site_key, "action": "chat_submit", "kind": "v3"}
        token = (await self.expect("POST", "/recaptcha/enterprise/mint", 200, json=mint))["token"]
        body: dict[str, Any] = {
            "id": uuid7(at),
            "mode": "battle",
            "userMessageId": uuid7(at),
            "modelAMessageId": uuid7(at),
            "modelBMessageId": uuid7(at),
            "userMessage": {"content": "hello", "experimental_attachments": [], "metadata": {}},
            "modality": "chat",
            "recaptchaV3Token": token,
        }
        body.update(fields)
        return body

    async def send(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        async with self.http.post(self.arena.url + path, data=orjson.dumps(body)) as r:
            return r.status, await r.read()


@pytest.fixture
async def site() -> AsyncIterator[FakeArena]:
    async with FakeArena.as_of_2026_10(recaptcha_delay=0.05) as fake:
        yield fake


@pytest.fixture
async def visitor(site: FakeArena) -> AsyncIterator[Visitor]:
    v = Visitor(site)
    await v.enter()
    yield v
    await v.close()


async def _visit(arena: FakeArena, *, sign_in: bool = False) -> Visitor:
    return await Visitor(arena).enter(sign_in=sign_in)


# --------------------------------------------------------------------------------------------------
# The preset
# --------------------------------------------------------------------------------------------------


def test_the_preset_turns_every_switch_on_and_takes_overrides() -> None:
    arena = FakeArena.as_of_2026_10()
    assert arena.tou_required and arena.catalog_2026 and arena.bare_auth_cookie
    assert arena.soft_404 and arena.login_gate
    assert arena.models_in_page == "undefined"
    assert arena.stream_2026_10 and arena.models_2026_10 and arena.turbopack  # protocol §15
    assert [m.id for m in arena.models] == [m.id for m in MODELS_2026_10]
    assert [m.id for m in FakeArena(catalog_2026=True).models] == [m.id for m in MODELS_2026]
    assert not FakeArena.as_of_2026_10(tou_required=False, clock_skew=60).tou_required
    assert FakeArena.as_of_2026_10(clock_skew=60).clock_skew == 60
    classic = FakeArena()
    assert not (classic.tou_required or classic.catalog_2026 or classic.soft_404)
    assert (classic.clock_skew, classic.id_tolerance, classic.models_in_page) == (
        0.0,
        300.0,
        "embedded",
    )
    with pytest.raises(ValueError, match="models_in_page"):
        FakeArena(models_in_page="lazy")


async def test_the_preset_keeps_anonymous_users_out_of_direct_chats(visitor: Visitor) -> None:
    status, raw = await visitor.send(
        CREATE, await visitor.body(mode="direct-battle", modelAId=GEMINI)
    )
    assert status == 401 and orjson.loads(raw)["error"] == "LOGIN_GATE"


# --------------------------------------------------------------------------------------------------
# Terms of Use
# --------------------------------------------------------------------------------------------------


async def test_account_endpoints_say_user_not_found_without_a_session(site: FakeArena) -> None:
    v = Visitor(site)
    try:
        body = {"ray": "x", "ua": UA, "webdriver": False, "cookies": True}
        await v.expect("POST", "/cdn-cgi/challenge-platform/verify", 200, json=body)
        for method, path in [
            ("GET", ME),
            ("POST", CONSENT),
            ("GET", "/api/billing/balance"),
            ("GET", "/api/me/pulse"),
        ]:
            assert await v.expect(method, path, 401, json={}) == USER_NOT_FOUND
    finally:
        await v.close()
    assert not site.tou_consents


@pytest.mark.parametrize("sign_in", [False, True], ids=["anonymous", "signed-in"])
async def test_consent_starts_null_and_the_endpoint_sets_it_once(
    site: FakeArena, sign_in: bool
) -> None:
    v = await _visit(site, sign_in=sign_in)
    try:
        me = (await v.expect("GET", ME, 200))["user"]
        assert me["touConsentTimestamp"] is None
        assert me["isAnonymous"] is (not sign_in)
        assert me["email"] == ("user@example.com" if sign_in else None)
        first = await v.expect("POST", CONSENT, 200, json={})
        assert first["success"] is True
        stamp = (await v.expect("GET", ME, 200))["user"]["touConsentTimestamp"]
        assert ISO.match(stamp) and stamp == first["touConsentTimestamp"]
        await asyncio.sleep(0.01)
        await v.expect("POST", CONSENT, 200, json={})  # idempotent: the first time stays
        assert (await v.expect("GET", ME, 200))["user"]["touConsentTimestamp"] == stamp
        assert site.tou_consents.keys() == {me["id"]}
    finally:
        await v.close()


async def test_without_the_switch_every_user_has_consented() -> None:
    async with FakeArena(recaptcha_delay=0.05) as arena:
        v = await _visit(arena)
        try:
            assert ISO.match((await v.expect("GET", ME, 200))["user"]["touConsentTimestamp"])
            assert 'id="tou-dialog"' not in await v.expect("GET", "/", 200)
        finally:
            await v.close()


async def test_the_server_action_gives_consent_and_its_id_rotates(visitor: Visitor) -> None:
    site = visitor.arena
    action = site.action_ids["updateTouConsent"]
    page = await visitor.expect("GET", "/", 200)
    chunk = re.search(r'src="/_next/(static/chunks/app/page-[0-9a-f]+\.js)"', page)
    assert chunk is not None
    assert f'"{action}"' in await visitor.expect("GET", "/_next/" + chunk.group(1), 200)

    site.redeploy()
    headers = {"Next-Action": action, "Content-Type": "text/plain;charset=UTF-8"}
    assert await visitor.expect("POST", "/", 404, data="[]", headers=headers)
    assert (await visitor.expect("GET", ME, 200))["user"]["touConsentTimestamp"] is None

    headers["Next-Action"] = site.action_ids["updateTouConsent"]
    flight_reply = await visitor.expect("POST", "/", 200, data="[]", headers=headers)
    result = orjson.loads(flight_reply.split("\n1:", 1)[1])
    assert result["success"] is True and ISO.match(result["data"]["touConsentTimestamp"])
    assert (await visitor.expect("GET", ME, 200))["user"]["touConsentTimestamp"]


async def test_the_page_shows_the_dialog_until_the_user_agrees(visitor: Visitor) -> None:
    page = await visitor.expect("GET", "/", 200)
    assert 'id="tou-dialog"' in page and ">Agree</button>" in page and CONSENT in page
    await visitor.expect("POST", CONSENT, 200, json={})
    assert 'id="tou-dialog"' not in await visitor.expect("GET", "/", 200)


async def _held(v: Visitor, path: str, body: dict[str, Any]) -> None:
    """The send starts (200, stream headers) and then stays silent; the client gives up."""
    async with v.http.post(v.arena.url + path, data=orjson.dumps(body)) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(r.content.read(1), 0.8)


async def test_a_send_is_held_until_consent_then_answered(visitor: Visitor) -> None:
    site = visitor.arena
    body = await visitor.body()
    await _held(visitor, CREATE, body)
    held = site.held_sends()
    assert [(r.path, r.status, r.held) for r in held] == [(CREATE, 200, True)]
    assert body["id"] not in site.sessions  # nothing was created, no id burned

    await visitor.expect("POST", CONSENT, 200, json={})
    body["recaptchaV3Token"] = (await visitor.body())["recaptchaV3Token"]  # tokens are single-use
    status, raw = await visitor.send(CREATE, body)
    assert status == 200 and echo_text(raw) == "Echo (turn 1): hello"
    assert body["id"] in site.sessions
    assert len(site.held_sends()) == 1


async def test_a_follow_up_is_held_when_consent_is_missing() -> None:
    async with FakeArena(recaptcha_delay=0.05) as arena:
        v = await _visit(arena)
        try:
            first = await v.body()
            assert (await v.send(CREATE, first))[0] == 200
            arena.tou_required = True  # this user has not agreed: the next turn is held
            follow_up = await v.body()
            del follow_up["id"], follow_up["mode"]
            await _held(v, POST_TO + first["id"], follow_up)
            assert [r.path for r in arena.held_sends()] == [POST_TO + first["id"]]
            assert arena.sessions[first["id"]].turns == 1
            await v.expect("POST", CONSENT, 200, json={})
            # The same ids again (a held send burns none), with a fresh token.
            follow_up["recaptchaV3Token"] = (await v.body())["recaptchaV3Token"]
            status, raw = await v.send(POST_TO + first["id"], follow_up)
            assert status == 200 and echo_text(raw) == "Echo (turn 2): hello"
        finally:
            await v.close()


# --------------------------------------------------------------------------------------------------
# The clock
# --------------------------------------------------------------------------------------------------


def _date_of(headers: Any) -> float:
    return email.utils.parsedate_to_datetime(headers["Date"]).timestamp()


async def test_every_response_carries_the_fake_clock() -> None:
    async with FakeArena(clock_skew=3600, recaptcha_delay=0.05) as arena:
        v = Visitor(arena)
        try:
            async with v.http.get(arena.url + "/") as r:  # the challenge
                assert r.status == 403 and abs(_date_of(r.headers) - time.time() - 3600) < 3
            await v.enter()
            for path in ("/", ME, "/nextjs-api/model-catalog", "/no/such/page"):
                async with v.http.get(arena.url + path) as r:
                    assert abs(_date_of(r.headers) - time.time() - 3600) < 3, path
            body = await v.body(at=time.time() + 3600)
            async with v.http.post(arena.url + CREATE, data=orjson.dumps(body)) as r:
                assert r.status == 200 and abs(_date_of(r.headers) - time.time() - 3600) < 3
                await r.read()
        finally:
            await v.close()


async def test_ids_far_from_the_fake_clock_are_refused_as_spoofed() -> None:
    async with FakeArena(clock_skew=3600, recaptcha_delay=0.05) as arena:
        v = await _visit(arena)
        try:
            # Ids from our clock are an hour behind the site's: spoofed, whichever id it is.
            for field in ("id", "userMessageId", "modelAMessageId"):
                body = await v.body(at=time.time() + 3600, **{field: uuid7()})
                status, raw = await v.send(CREATE, body)
                assert (status, orjson.loads(raw)) == (400, SPOOFED), field
            # Ids from the site's clock (as its Date header tells) are fine.
            good = await v.body(at=time.time() + 3600)
            assert (await v.send(CREATE, good))[0] == 200
            follow_up = await v.body()
            del follow_up["id"], follow_up["mode"]
            status, raw = await v.send(POST_TO + good["id"], follow_up)
            assert (status, orjson.loads(raw)) == (400, SPOOFED)
            arena.id_tolerance = 7200
            assert (await v.send(POST_TO + good["id"], await _follow_up(v)))[0] == 200
        finally:
            await v.close()


async def _follow_up(v: Visitor) -> dict[str, Any]:
    body = await v.body()
    del body["id"], body["mode"]
    return body


async def test_the_default_tolerance_is_five_minutes_and_old_ids_stay_malformed() -> None:
    async with FakeArena(recaptcha_delay=0.05) as arena:
        v = await _visit(arena)
        try:
            status, raw = await v.send(CREATE, await v.body(at=time.time() - 310))
            assert (status, orjson.loads(raw)) == (400, SPOOFED)
            status, raw = await v.send(CREATE, await v.body(at=time.time() + 310))
            assert (status, orjson.loads(raw)) == (400, SPOOFED)
            status, raw = await v.send(CREATE, await v.body(at=time.time() - 3 * 86400))
            assert status == 400 and b"expected a UUIDv7" in raw
            assert (await v.send(CREATE, await v.body(at=time.time() - 200)))[0] == 200
        finally:
            await v.close()


# --------------------------------------------------------------------------------------------------
# The model list
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("in_page", "expected"),
    [("embedded", list), ("undefined", "$undefined"), ("absent", None)],
)
async def test_what_anonymous_pages_carry_and_signed_in_pages_keep(
    in_page: str, expected: Any
) -> None:
    async with FakeArena(models_in_page=in_page, recaptcha_delay=0.05) as arena:
        anonymous, signed_in = await _visit(arena), await _visit(arena, sign_in=True)
        try:
            props = _props(await anonymous.expect("GET", "/", 200))
            if expected is None:
                assert "initialModels" not in props
            elif expected is list:
                assert len(props["initialModels"]) == len(arena.models)
            else:
                assert props["initialModels"] == expected
                assert '"initialModels":"$undefined"' in flight(
                    await anonymous.expect("GET", "/text/direct", 200)
                )
            # Clients regex on the first key of the props: the list's key comes first when present.
            assert next(iter(props)) == ("initialModelAId" if expected is None else "initialModels")
            rows = _props(await signed_in.expect("GET", "/", 200))["initialModels"]
            assert [r["id"] for r in rows] == [m.id for m in arena.models]
        finally:
            await anonymous.close()
            await signed_in.close()


def _props(html: str) -> dict[str, Any]:
    for row in flight(html).split("\n"):
        value = orjson.loads(row.partition(":")[2]) if row.startswith("6:") else None
        if isinstance(value, list):
            props = value[3]
            assert isinstance(props, dict)
            return props
    raise AssertionError("no props row in the page")


async def test_the_2026_catalog_groups_by_arena_and_refuses_an_origin(visitor: Visitor) -> None:
    site = visitor.arena
    catalog = await visitor.expect("GET", "/nextjs-api/model-catalog", 200)
    assert list(catalog) == ["arenas"]
    arenas = {a["arena"]: a for a in catalog["arenas"]}
    assert {"text", "code", "text-to-image", "text-to-video", "search"} <= set(arenas)
    assert all(a["complete"] is True for a in catalog["arenas"])

    def ids(arena: str) -> list[str]:
        return [m["id"] for m in arenas[arena]["models"] if isinstance(m, dict)]

    strings = [m for a in catalog["arenas"] for m in a["models"] if isinstance(m, str)]
    assert len(strings) >= 2
    assert GEMINI in ids("text") and GEMINI in ids("code")  # one model, several arenas
    assert WEBDEV_ONLY.id in ids("code") and WEBDEV_ONLY.id not in ids("text")
    assert VIDEO_ONLY.id in ids("text-to-video") and VIDEO_ONLY.id not in ids("text")
    assert {m.id for m in site.models} >= {WEBDEV_ONLY.id, VIDEO_ONLY.id}

    refused = await visitor.expect(
        "GET", "/nextjs-api/model-catalog", 403, headers={"Origin": site.url}
    )
    assert refused == {"error": "Cross-origin catalog requests are not permitted"}


async def test_the_classic_catalog_is_unchanged() -> None:
    async with FakeArena(recaptcha_delay=0.05) as arena:
        v = await _visit(arena)
        try:
            headers = {"Origin": arena.url}
            catalog = await v.expect("GET", "/nextjs-api/model-catalog", 200, headers=headers)
            assert isinstance(catalog, list) and catalog[0]["arena"] == "text"
            assert all(isinstance(m, dict) for a in catalog for m in a["models"])
        finally:
            await v.close()


# --------------------------------------------------------------------------------------------------
# Statuses, soft 404s, the cookie, account state
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "needle", "content_type"),
    [
        (Fault.cloudflare_burst(), 429, b"<title>Just a moment...</title>", "text/html"),
        (Fault.prompt_failed(), 429, b'{"error":"prompt failed"}', "application/json"),
        (Fault.user_not_found(), 401, b'{"message":"User not found"}', "application/json"),
        (Fault.models_not_found(), 404, b"Models not found for modality chat", "text/plain"),
        (
            Fault.models_not_found("image"),
            404,
            b"Models not found for modality image",
            "text/plain",
        ),
        (Fault.not_allowed(), 403, b'{"error":"Not allowed"}', "application/json"),
    ],
    ids=[
        "cloudflare",
        "prompt-failed",
        "user-not-found",
        "models-chat",
        "models-image",
        "not-allowed",
    ],
)
async def test_statuses_on_demand_one_per_send(
    fault: Fault, status: int, needle: bytes, content_type: str
) -> None:
    async with FakeArena(recaptcha_delay=0.05) as arena:
        v = await _visit(arena)
        try:
            arena.enqueue(fault)
            async with v.http.post(arena.url + CREATE, data=orjson.dumps(await v.body())) as r:
                raw = await r.read()
                assert r.status == status and needle in raw
                assert r.content_type == content_type
                if fault.kind == "cloudflare":
                    assert r.headers["cf-mitigated"] == "challenge"
            assert (await v.send(CREATE, await v.body()))[0] == 200  # the next send is fine
        finally:
            await v.close()


async def test_unknown_paths_answer_a_soft_404(visitor: Visitor) -> None:
    for path in ("/no/such/page", "/nextjs-api/nope", "/api/me/nothing"):
        async with visitor.http.get(visitor.arena.url + path) as r:
            assert r.status == 200 and r.content_type == "text/html", path
            assert "404: This page could not be found." in await r.text()
    # Real not-founds of known routes stay 404.
    await visitor.expect("GET", f"/api/evaluation/{uuid7()}", 404)
    async with FakeArena(recaptcha_delay=0.05) as classic:
        v = await _visit(classic)
        try:
            await v.expect("GET", "/no/such/page", 404)
        finally:
            await v.close()


@pytest.mark.parametrize("sign_in", [False, True], ids=["anonymous", "signed-in"])
async def test_the_auth_cookie_can_be_one_bare_cookie(site: FakeArena, sign_in: bool) -> None:
    v = await _visit(site, sign_in=sign_in)
    try:
        auth = {k: val for k, val in v.cookies().items() if k.startswith("arena-auth-prod-v1")}
        assert list(auth) == ["arena-auth-prod-v1"]
        value = auth["arena-auth-prod-v1"]
        assert len("arena-auth-prod-v1=" + value) < 4096  # a browser keeps it
        session = decode_cookie_value(value)
        assert session is not None and session["user"]["is_anonymous"] is (not sign_in)
        assert (await v.expect("GET", ME, 200))["user"]["isAnonymous"] is (not sign_in)
        site.expire_auth()
        await v.expect("GET", "/", 200)  # a page load rotates the session: still one cookie
        rotated = {k: val for k, val in v.cookies().items() if k.startswith("arena-auth-prod-v1")}
        assert list(rotated) == ["arena-auth-prod-v1"] and rotated != auth
    finally:
        await v.close()


async def test_balance_and_pulse(visitor: Visitor) -> None:
    site = visitor.arena
    site.credits_remaining, site.daily_free_credits, site.pulse = 7.5, 10.0, 42
    balance = await visitor.expect("GET", "/api/billing/balance", 200)
    assert balance == {"creditsRemaining": 7.5, "dailyFreeCredits": 10.0}
    assert await visitor.expect("GET", "/api/me/pulse", 200) == {"pulse": 42}


# --------------------------------------------------------------------------------------------------
# The browser stand-in on such a site
# --------------------------------------------------------------------------------------------------


async def test_the_stand_in_accepts_the_terms_once_per_user(tmp_path: Path) -> None:
    async with FakeArena.as_of_2026_10(clock_skew=900, recaptcha_delay=0.05) as arena:
        settings = settings_for(arena.url, tmp_path / "state")
        async with HttpBrowser(settings) as cold:
            state = await cold.bootstrap()
        assert (cold.counts.tou_checks, cold.counts.tou_consents) == (1, 1)
        session = state.auth_session()
        assert session is not None and session.user_id is not None
        assert state.tou_consent_user == session.user_id
        assert set(arena.tou_consents) == {session.user_id}
        assert list(k for k in state.cookies if k.startswith("arena-auth")) == [
            "arena-auth-prod-v1"
        ]
        assert state.models_source == "catalog" and state.models
        catalog = [r for r in arena.received if r.path == "/nextjs-api/model-catalog"]
        assert catalog and all("origin" not in r.headers for r in catalog)
        assert abs(state.clock_offset - 900) < 3

        async with HttpBrowser(settings) as warm:  # the same cache file: a warm run
            again = await warm.bootstrap()
        assert (warm.counts.tou_checks, warm.counts.tou_consents) == (0, 0)
        assert again.tou_consent_user == session.user_id
        assert [r.path for r in arena.received if r.path.startswith(ME)] == [ME, CONSENT]
        assert not arena.held_sends()


async def test_the_stand_in_on_the_classic_site_reads_models_from_the_page(tmp_path: Path) -> None:
    async with FakeArena(recaptcha_delay=0.05) as arena:
        async with HttpBrowser(settings_for(arena.url, tmp_path / "state")) as browser:
            state = await browser.bootstrap()
        assert state.models_source == "page"
        assert (browser.counts.tou_checks, browser.counts.tou_consents) == (1, 0)
        assert state.tou_consent_user is not None and abs(state.clock_offset) < 3


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------


def test_the_command_serves_the_2026_site_with_a_skewed_clock() -> None:
    with fake_arena_command("--site=2026-10", "--clock-skew=120") as url:

        async def probe() -> None:
            async with aiohttp.ClientSession(headers={"User-Agent": UA}) as http:
                verify = {"ray": "x", "ua": UA, "webdriver": False}
                async with http.post(url + "/cdn-cgi/challenge-platform/verify", json=verify) as r:
                    clearance = r.cookies["cf_clearance"].value
                cookies = {"cf_clearance": clearance}
                async with http.get(url + "/no/such/page", cookies=cookies) as r:
                    assert r.status == 200 and "could not be found" in await r.text()
                    assert abs(_date_of(r.headers) - time.time() - 120) < 3
                async with http.get(url + "/nextjs-api/model-catalog", cookies=cookies) as r:
                    assert "arenas" in await r.json()

        asyncio.run(probe())


# --------------------------------------------------------------------------------------------------
# Real Chromium: the dialog's "Agree" button
# --------------------------------------------------------------------------------------------------


async def _wait_for(tab: Any, expression: str, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = await tab.evaluate(expression)
        if value and not hasattr(value, "exception"):
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {expression}")


@pytest.mark.browser
@pytest.mark.timeout(120)
async def test_the_agree_button_in_chromium_gives_consent(site: FakeArena) -> None:
    import nodriver

    with tempfile.TemporaryDirectory(prefix="fake-arena-2026-") as profile:
        browser = await nodriver.start(
            browser_executable_path=chromium(),
            headless=True,
            sandbox=False,
            browser_args=[
                "--no-first-run",
                "--disable-gpu",
                "--disable-sync",
                f"--user-agent={UA}",
            ],
            user_data_dir=profile,
        )
        try:
            tab = await browser.get(site.url + "/")
            await _wait_for(tab, "document.title === 'LMArena'")
            await _wait_for(tab, "!!document.getElementById('tou-dialog')")
            assert not site.tou_consents
            button = await tab.select("#tou-agree")
            await button.mouse_click()
            await _wait_for(tab, "document.getElementById('tou-dialog').hidden === true")
            assert len(site.tou_consents) == 1
            user = await tab.evaluate("document.getElementById('app').dataset.user || ''")
            consented = next(iter(site.tou_consents))
            assert user == ""  # the first visit rendered before the sign-up (no cookie yet)
            await tab.get(site.url + "/")
            await _wait_for(tab, "document.title === 'LMArena'")
            assert await tab.evaluate("!document.getElementById('tou-dialog')")
            assert await tab.evaluate("document.getElementById('app').dataset.user") == consented
        finally:
            browser.stop()
            for _ in range(100):
                if not pids_with(profile):
                    break
                await asyncio.sleep(0.1)
            assert not pids_with(profile), "chromium processes left behind"

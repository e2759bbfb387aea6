"""The real client against variants of the site that the protocol document allows but our fake
does not produce by default: other fakes of arena.ai (and the real site) may do them.

Client -> FakeArena, with the fake's own switches or small subclasses defined here (each named
for the variant it produces). The wire variants of the stream share one client on the browser's
stand-in (:class:`tests.fakes.HttpBrowser`); the variants of what the browser meets (the page, its
scripts, the sign-up, the challenge) each take a real Chromium and are marked ``browser``.
"""

from __future__ import annotations

import email.utils
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from lmarena_cli import Client
from lmarena_cli.browser import session as session_mod
from lmarena_cli.browser.recaptcha import mint as recaptcha_mint
from lmarena_cli.browser.session import Browser
from lmarena_cli.cli.advice import say as cli_words
from lmarena_cli.errors import ConfigError, IncompleteAnswer, RateLimited, SignInRequired
from tests.fake_arena import FakeArena, Fault
from tests.fake_arena import auth as fake_auth
from tests.fake_arena.facts import CREATE_EVALUATION
from tests.fake_arena.responses import json_response
from tests.fakes import HttpBrowser
from tests.helpers.clients import settings_for

pytestmark = [pytest.mark.asyncio(loop_scope="module")]


# --- a fake whose stream answers can be given as raw bytes ----------------------------------------


class RawStreamArena(FakeArena):
    """Answers the next stream requests with exact bytes and headers (``raw`` queue), to produce
    framings the fake never writes: other Content-Types, ``data:`` prefixes, odd line codes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.raw: deque[tuple[dict[str, str], bytes]] = deque()

    async def _stream(self, request: web.Request, item: Any, *args: Any) -> web.StreamResponse:
        if not self.raw:
            return await super()._stream(request, item, *args)
        headers, body = self.raw.popleft()
        resp = web.StreamResponse(status=200, headers=headers)
        await resp.prepare(request)
        for i in range(0, len(body), 5):  # small pieces, cut anywhere
            await resp.write(body[i : i + 5])
        await resp.write_eof()
        return resp


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def raw_arena() -> AsyncIterator[RawStreamArena]:
    fake = RawStreamArena()
    async with fake:
        yield fake


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(
    raw_arena: RawStreamArena, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Client]:
    settings = settings_for(raw_arena.url, tmp_path_factory.mktemp("raw"))
    async with HttpBrowser(settings) as browser, Client(settings, browser=browser) as shared:
        yield shared


@pytest.fixture(autouse=True)
def fresh_script(request: pytest.FixtureRequest) -> None:
    if "raw_arena" in request.fixturenames:
        arena = request.getfixturevalue("raw_arena")
        arena.queue.clear()
        arena.raw.clear()


async def ask(client: Client, prompt: str = "hi", model: str = "gemini-3-pro") -> Any:
    chat = await client.chats.create(model=model)
    return await chat.send(prompt, stream=False)


@pytest.mark.parametrize(
    "headers, body",
    [
        (
            {"Content-Type": "text/plain; charset=utf-8"},
            b'a0:"Hel"\na0:"lo"\nad:{"finishReason":"stop"}\n',
        ),
        (
            {"Content-Type": "text/event-stream"},
            b'data: a0:"Hel"\n\ndata: a0:"lo"\n\ndata: ad:{"finishReason":"stop"}\n\n',
        ),
        ({}, b'a0:"Hel"\r\na0:"lo"\r\nad:{"finishReason":"stop"}'),
        (
            {"Content-Type": "application/octet-stream"},
            b'af:{"messageId":"m1"}\na2:[{"type":"heartbeat"}]\na0:"Hel"\na0:"lo"\n'
            b'ae:{"finishReason":"stop","usage":{"promptTokens":1},"isContinued":false}\n'
            b'ad:{"finishReason":"stop"}\n',
        ),
    ],
    ids=["text-plain", "sse-data-prefix", "no-content-type-crlf-no-final-newline", "af-ae-lines"],
)
async def test_any_framing_of_the_stream_gives_the_answer(
    client: Client, raw_arena: RawStreamArena, headers: dict[str, str], body: bytes
) -> None:
    raw_arena.raw.append((headers, body))
    reply = await ask(client)
    assert reply.text == "Hello"
    assert reply.finish_reason == "stop"
    assert reply.usage is None  # ad without usage: no usage, not an error


async def test_a_finish_line_missing_for_side_b_still_gives_both_answers(
    client: Client, raw_arena: RawStreamArena
) -> None:
    raw_arena.raw.append(
        ({"Content-Type": "text/plain"}, b'a0:"left"\nb0:"right"\nad:{"finishReason":"stop"}\n')
    )
    chat = await client.chats.create(model="gemini-3-pro", versus="claude-opus-4-5")
    reply = await chat.send("both", stream=False)
    assert reply.b is not None
    assert (reply.a.text, reply.b.text) == ("left", "right")


async def test_heartbeats_and_a_finish_line_without_content_are_an_empty_answer(
    client: Client, raw_arena: RawStreamArena
) -> None:
    empty = b'a2:[{"type":"heartbeat"}]\na2:[{"type":"heartbeat"}]\nad:{"finishReason":"stop"}\n'
    raw_arena.raw.extend([({"Content-Type": "text/plain"}, empty)] * 2)
    before = len(raw_arena.stream_requests())
    with pytest.raises(IncompleteAnswer, match="empty"):
        await ask(client)
    # Retried once with fresh ids (protocol §2.3), then reported, never returned as "".
    assert len(raw_arena.stream_requests()) - before == 2


async def test_a_401_in_another_shape_refreshes_the_sign_in_once(
    client: Client, raw_arena: RawStreamArena
) -> None:
    raw_arena.enqueue(Fault("http", 401, b"Unauthorized", "text/plain"))
    assert (await ask(client, "again")).text.endswith("again")
    raw_arena.enqueue(*[Fault("http", 401, b'{"message":"JWT expired"}')] * 2)
    with pytest.raises(SignInRequired, match="the sign-in has expired") as caught:
        await ask(client)
    assert "run `lmarena login` to sign in again" in cli_words(caught.value)


async def test_a_429_with_an_http_date_retry_after_says_how_long(
    client: Client, raw_arena: RawStreamArena
) -> None:
    # Longer than LM_ARENA_MAX_WAIT, so not waited out.
    when = email.utils.formatdate(time.time() + 600, usegmt=True)
    raw_arena.enqueue(Fault("http", 429, b"Too many requests", "text/plain", {"Retry-After": when}))
    with pytest.raises(RateLimited) as caught:
        await ask(client)
    assert caught.value.retry_after is not None and 595 <= caught.value.retry_after <= 601
    # Remembered for every later send (tests/test_pacing.py); this module's tests send on.
    assert client.pacing.penalty() is not None
    client.pacing.forget()


async def test_an_auth_cookie_expiring_mid_session_is_renewed_by_a_page_load(
    client: Client, raw_arena: RawStreamArena
) -> None:
    await ask(client, "before")
    browser = client.browser
    assert isinstance(browser, HttpBrowser)
    refreshes, seen = browser.counts.refreshes, len(raw_arena.received)
    raw_arena.expire_auth()
    assert (await ask(client, "after expiry")).text.endswith("after expiry")
    assert browser.counts.refreshes - refreshes == 1
    # The send refused for its expired cookie, the page load that renewed it, the send again.
    after = [r for r in raw_arena.received[seen:] if r.path in ("/", CREATE_EVALUATION)]
    assert [(r.method, r.path) for r in after] == [
        ("POST", CREATE_EVALUATION),
        ("GET", "/"),
        ("POST", CREATE_EVALUATION),
    ]
    assert after[0].headers["cookie"] != after[2].headers["cookie"]  # a renewed auth cookie


async def test_a_rotated_site_key_is_picked_up_after_one_recaptcha_refusal(
    client: Client, raw_arena: RawStreamArena
) -> None:
    await ask(client, "warm")
    old = raw_arena.site_key
    raw_arena.site_key = "6LrotatedROTATEDrotatedROTATEDrotated0001"
    try:
        assert (await ask(client, "new key")).text.endswith("new key")
    finally:
        raw_arena.site_key = old
        await client.bootstrap(refresh=True)


async def test_a_server_action_reply_with_the_value_named_by_line_0_uploads(
    client: Client, raw_arena: RawStreamArena, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.images import png

    original = RawStreamArena._server_action

    async def renumbered(self: Any, request: web.Request, action_id: str) -> web.StreamResponse:
        # Same value, moved to row 2 and named by line 0 (`"a":"$@2"`); row 1 is something else.
        resp = await original(self, request, action_id)
        assert isinstance(resp, web.Response) and resp.text is not None
        value = next(x[2:] for x in resp.text.splitlines() if x.startswith("1:"))
        text = f'0:{{"a":"$@2","f":"","b":"b1"}}\n1:"$Sreact.suspense"\n2:{value}\n'
        return web.Response(text=text, content_type="text/x-component")

    monkeypatch.setattr(RawStreamArena, "_server_action", renumbered)
    chat = await client.chats.create(model="gemini-3-pro")
    reply = await chat.send("look", images=[png(4, 4)], stream=False)
    assert reply.text.endswith("look")
    sent = raw_arena.stream_requests()[-1].json["userMessage"]["experimental_attachments"]
    assert len(sent) == 1 and sent[0]["url"].startswith(raw_arena.url)


# --- site variants, one browser each ------------------------------------------------------------


class KeyInBundleOnlyArena(FakeArena):
    """The page loads reCAPTCHA without ``?render=<key>``; the key is only in the bundle's
    ``grecaptcha.enterprise.execute("<key>")``, and the model list only in the catalog."""

    async def _page(self, request: web.Request) -> web.Response:
        resp = await super()._page(request)
        assert resp.text is not None
        resp.text = resp.text.replace(f"enterprise.js?render={self.site_key}", "enterprise.js")
        return resp

    async def _recaptcha_js(self, request: web.Request) -> web.Response:
        request = request.clone(rel_url=f"/recaptcha/enterprise.js?render={self.site_key}")
        return await super()._recaptcha_js(request)


@pytest.mark.browser
async def test_site_key_in_the_bundle_only_and_models_in_the_catalog_only(
    tmp_path: Path,
) -> None:
    async with KeyInBundleOnlyArena(embed_models=False, recaptcha_delay=3.0) as arena:
        html_key_free = True
        async with Client(settings_for(arena.url, tmp_path)) as client:
            assert isinstance(client.browser, Browser)
            page = client.browser.html  # what the browser saw
            html_key_free = f"render={arena.site_key}" not in page
            models = await client.list_models()
            assert "gemini-3-pro" in {m.name for m in models}
            # The reCAPTCHA script appears only after 3 s: the first send waits for it.
            assert (await ask(client, "keyed")).text.endswith("keyed")
        assert html_key_free
        assert arena.recaptcha_log[-1] == ("chat_submit", "ok")


class ReadyNeverCallsBackArena(FakeArena):
    """``grecaptcha.enterprise.ready`` never calls back (§4.4 warns it can hang)."""

    async def _recaptcha_js(self, request: web.Request) -> web.Response:
        resp = await super()._recaptcha_js(request)
        assert resp.text is not None
        resp.text = resp.text.replace(
            "ready: function (cb) { setTimeout(cb, 0); }", "ready: function (cb) { }"
        )
        return resp


@pytest.mark.browser
async def test_a_ready_that_never_calls_back_costs_one_wait_not_one_per_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits_for_ready: list[bool] = []  # per mint: does the page wait on ready() first?

    async def spied(page: Any, site_key: str, action: str) -> str:
        waits_for_ready.append(not page.recaptcha_ready)
        return await recaptcha_mint(page, site_key, action)

    monkeypatch.setattr(session_mod, "mint", spied)
    async with ReadyNeverCallsBackArena() as arena:
        async with Client(settings_for(arena.url, tmp_path)) as client:
            first = await ask(client, "one")
            loads = [r for r in arena.received if r.method == "GET" and r.path == "/"]
            chat = await client.chats.create(model="gemini-3-pro")
            second = await chat.send("two", stream=False)
            assert [r for r in arena.received if r.method == "GET" and r.path == "/"] == loads
        assert first.text.endswith("one") and second.text.endswith("two")
        # One token per message, on the same page: only the first waited on ready().
        assert waits_for_ready == [True, False]


class SessionInBodySignUpArena(FakeArena):
    """The sign-up answers with the Supabase session JSON in its body and sets no cookie
    (§5.3: "some responses instead return the Supabase session JSON in the body"); the page's
    own script ignores the body, so no auth cookie ever appears by itself."""

    async def _sign_up(self, request: web.Request) -> web.Response:
        resp = await super()._sign_up(request)
        if resp.status != 200:
            return resp
        cookies = {m.key: m.value for m in resp.cookies.values()}
        value, _ = fake_auth.joined_cookie(cookies)
        session = fake_auth.decode_cookie_value(value or "")
        return json_response({"success": True, "data": {"session": session}})


@pytest.mark.browser
async def test_a_sign_up_that_answers_with_the_session_json_still_signs_in(
    tmp_path: Path,
) -> None:
    async with SessionInBodySignUpArena() as arena:
        async with Client(settings_for(arena.url, tmp_path)) as client:
            state = await client.bootstrap()
            session = state.auth_session()
            assert session is not None and session.is_anonymous is True
            assert (await ask(client, "signed up")).text.endswith("signed up")
        # The page's own sign-up, then ours (again with a fresh id once the page's was used).
        assert arena.count("/nextjs-api/sign-up") >= 2


@pytest.mark.browser
async def test_an_interactive_turnstile_box_is_clicked_and_passed(tmp_path: Path) -> None:
    async with (
        FakeArena(turnstile=True) as arena,
        Client(settings_for(arena.url, tmp_path)) as client,
    ):
        chat = await client.chats.create(model="gemini-3-pro")
        reply = await chat.send("past the box", stream=False)
    assert reply.text == "Echo (turn 1): past the box"
    assert arena.challenges_passed == 1


@pytest.mark.browser
async def test_the_legacy_origin_fails_fast_naming_the_new_one(tmp_path: Path) -> None:
    async with FakeArena(lmarena_redirect=True) as arena:
        assert arena.legacy_url is not None
        with pytest.raises(ConfigError, match="LM_ARENA_BASE_URL") as caught:
            async with Client(settings_for(arena.legacy_url, tmp_path)) as client:
                await client.list_models(refresh=True)
        assert arena.url in str(caught.value)
        # At once: on the page the redirect led to, before any challenge, sign-up or request.
        assert arena.challenges_passed == 0
        assert [(r.method, r.path) for r in arena.received if r.path != "/favicon.ico"] == [
            ("GET", "/")
        ]


async def test_image_capability_objects_count_as_taking_images() -> None:
    from lmarena_cli.site.models import model_from_row

    def row(image: Any) -> dict[str, Any]:
        caps = {"inputCapabilities": {"text": True, "image": image}}
        return {
            "id": "019a98f7-afcd-779f-8dcb-856cc3b3f078",
            "publicName": "m",
            "capabilities": caps,
        }

    taking = [model_from_row(row(v)) for v in (True, {}, {"requiresUpload": False})]
    assert all(m is not None and m.takes_images for m in taking)
    refusing = [model_from_row(row(v)) for v in (False, None)]
    assert all(m is not None and not m.takes_images for m in refusing)
    assert taking[1] is not None and orjson.dumps(taking[1].to_json())

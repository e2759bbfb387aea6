"""The site as of Sep-Oct 2026 (protocol §14.3, §14.4, §14.6): clock-checked ids, the grouped
model catalog, and the new statuses, each with its exit code and ``serve`` HTTP status.

Pure tests of the site layer first (ids, classification, the catalog), then the same behaviours
end to end against the fake arena: through the library (on the browser's stand-in), the CLI
(in process, and one real subprocess) and ``lmarena serve`` (the official ``openai`` client).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from aiohttp import web
from typer.testing import CliRunner

from lmarena_cli import errors
from lmarena_cli.cli import app as cli
from lmarena_cli.cli.advice import say as cli_words
from lmarena_cli.client.client import Client
from lmarena_cli.client.session import site_session as site_session_module
from lmarena_cli.client.transport.http import SiteHttp
from lmarena_cli.errors import ErrorKind, ExitStatus
from lmarena_cli.server.app import make_app
from lmarena_cli.server.run import start, warm_up
from lmarena_cli.site.bodies import MessageIds
from lmarena_cli.site.classify import error_from_page, error_from_response, looks_like_page
from lmarena_cli.site.ids import SiteClock, offset_from_date, uuid7, uuid7_timestamp_ms
from lmarena_cli.site.models import models_from_catalog, resolve_model, usable_models
from lmarena_cli.site.pages import models_from_html
from lmarena_cli.state.cache import SiteState
from tests.fake_arena import FakeArena, Fault, Reply
from tests.fake_arena.era2026 import soft_404_page
from tests.fake_arena.facts import SPOOFED_ID_BODY
from tests.fakes import HttpBrowser
from tests.helpers.arena_host import ArenaHost
from tests.helpers.clients import settings_for

CHAT_MODEL = "gemini-3-pro"
CREATE = "/nextjs-api/stream/create-evaluation"
HOUR = 3600.0
WEBDEV_ONLY = "webdev-agent-x"
VIDEO_ONLY = "veo-4-preview"
CHALLENGE_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body>'
    '<div id="challenge-error-text">Enable JavaScript and cookies to continue</div></body></html>'
)


def spoofed() -> Fault:
    return Fault("http", 400, orjson.dumps(SPOOFED_ID_BODY))


def soft_page() -> Fault:
    """create-evaluation answered 200 with the site's HTML "not found" page (a soft 404)."""
    return Fault("http", 200, soft_404_page().encode(), "text/html; charset=utf-8")


# --------------------------------------------------------------------------------------------------
# ids from the site's clock (pure)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [3 * HOUR, -3 * HOUR, 0.0])
def test_ids_are_minted_from_the_corrected_clock(offset: float) -> None:
    clock = SiteClock(offset)
    stamp = uuid7_timestamp_ms(uuid7(clock))
    assert stamp is not None
    assert abs(stamp / 1000 - (time.time() + offset)) < 2
    ids = MessageIds.fresh(clock)
    stamps = [uuid7_timestamp_ms(i) for i in (ids.user, ids.model_a, ids.model_b)]
    assert all(s is not None and abs(s / 1000 - (time.time() + offset)) < 2 for s in stamps)
    assert len({ids.user, ids.model_a, ids.model_b}) == 3


def test_two_clocks_keep_their_own_offsets_and_the_default_is_uncorrected() -> None:
    ahead, behind = SiteClock(2 * HOUR), SiteClock(-2 * HOUR)
    a, b = uuid7_timestamp_ms(uuid7(ahead)), uuid7_timestamp_ms(uuid7(behind))
    plain = uuid7_timestamp_ms(uuid7())
    assert a is not None and b is not None and plain is not None
    assert abs((a - b) / 1000 - 4 * HOUR) < 2
    assert abs(plain / 1000 - time.time()) < 2


def test_a_clock_set_back_mints_ids_from_the_site_time_at_once() -> None:
    clock = SiteClock(0.0)
    before = uuid7_timestamp_ms(uuid7(clock))
    clock.offset = -HOUR  # the site turned out to be an hour behind us
    after = uuid7_timestamp_ms(uuid7(clock))
    assert before is not None and after is not None
    assert abs((before - after) / 1000 - HOUR) < 2


def test_the_offset_is_read_from_a_date_header() -> None:
    now = 1_800_000_000.0
    header = email.utils.formatdate(now + 5400, usegmt=True)
    offset = offset_from_date(header, now=now)
    assert offset is not None and abs(offset - 5400) <= 1
    assert offset_from_date(None) is None
    assert offset_from_date("not a date") is None
    assert offset_from_date("") is None


# --------------------------------------------------------------------------------------------------
# classification of the new statuses (pure)
# --------------------------------------------------------------------------------------------------


def classify(
    status: int, body: str | dict[str, Any], headers: dict[str, str] | None = None
) -> errors.LmArenaError:
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    return error_from_response(status, text, headers or {})


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (CHALLENGE_PAGE, {"cf-mitigated": "challenge"}),
        (CHALLENGE_PAGE, {}),
        ("", {"CF-Mitigated": "Challenge"}),
    ],
    ids=["page-and-header", "page-only", "header-only"],
)
def test_a_429_challenge_is_a_challenge_not_a_rate_limit(
    body: str, headers: dict[str, str]
) -> None:
    error = classify(429, body, headers)
    assert isinstance(error, errors.Blocked) and error.kind == ErrorKind.CLOUDFLARE
    assert error.exit_code == ExitStatus.BLOCKED
    assert "<" not in str(error)


def test_cloudflares_own_rate_limit_page_stays_a_rate_limit() -> None:
    page = "<html><head><title>Access denied</title></head><body>You are being rate limited</body>"
    error = classify(429, page, {"Retry-After": "60"})
    assert isinstance(error, errors.RateLimited) and error.retry_after == 60


def test_a_429_prompt_failed_is_a_refused_prompt_that_may_be_too_long() -> None:
    error = classify(429, {"error": "prompt failed"})
    assert isinstance(error, errors.ContentRejected)
    assert error.kind == ErrorKind.PROMPT_REFUSED
    assert error.exit_code == 7 and error.http_status == 400
    assert "refused the prompt" in error.message and "too long" in error.message
    assert "rate" not in error.message


def test_user_not_found_is_sign_in_required() -> None:
    error = classify(401, {"message": "User not found"})
    assert isinstance(error, errors.SignInRequired) and error.kind == ErrorKind.USER_NOT_FOUND
    assert error.exit_code == 4 and "lmarena login" in cli_words(error)


def test_models_not_found_is_a_usage_error_of_its_own() -> None:
    error = classify(404, "Models not found for modality chat")
    assert isinstance(error, errors.ModelNotOffered) and isinstance(error, errors.UsageError)
    assert error.kind == ErrorKind.MODEL_NOT_OFFERED
    assert error.exit_code == 2 and error.http_status == 404


def test_not_allowed_is_a_usage_error_with_403_and_route_not_allowed_stays_a_protocol_change() -> (
    None
):
    error = classify(403, {"error": "Not allowed"})
    assert isinstance(error, errors.NotAllowed) and error.kind == ErrorKind.NOT_ALLOWED
    assert error.exit_code == 2 and error.http_status == 403
    assert "Not allowed" in error.message
    route = classify(403, {"error": "Route not allowed"})
    assert isinstance(route, errors.ProtocolError) and route.kind == ErrorKind.FORBIDDEN


def test_spoofed_ids_and_a_battle_turn_have_their_kinds() -> None:
    error = classify(400, SPOOFED_ID_BODY)
    assert error.kind == ErrorKind.SPOOFED_ID and "clock" in error.message
    turn = classify(
        400,
        {
            "error": "Bad next turn request in Battles in Direct mode. DIRECT was requested, "
            "but expected a BATTLE turn"
        },
    )
    assert turn.kind == ErrorKind.BATTLE_TURN


def test_a_page_where_json_was_expected_names_the_url() -> None:
    url = "https://arena.ai/nextjs-api/stream/create-evaluation"
    error = error_from_page(url, soft_404_page(), {}, expected="the answer stream")
    assert isinstance(error, errors.ProtocolError) and error.kind == ErrorKind.NOT_JSON
    assert url in error.message and "the answer stream" in error.message
    assert "This page could not be found" in error.message and "<" not in error.message
    challenge = error_from_page(url, CHALLENGE_PAGE, {}, expected="JSON")
    assert challenge.kind == ErrorKind.CLOUDFLARE


@pytest.mark.parametrize(
    ("content_type", "head", "page"),
    [
        ("text/html; charset=utf-8", "", True),
        ("text/plain", "<!DOCTYPE html><html>", True),
        ("text/plain; charset=utf-8", 'a0:"Hi"', False),
        ("text/x-component", '0:{"a":1}', False),
        (None, "", False),
    ],
)
def test_looks_like_page(content_type: str | None, head: str, page: bool) -> None:
    assert looks_like_page(content_type, head) is page


# --------------------------------------------------------------------------------------------------
# the model list (pure)
# --------------------------------------------------------------------------------------------------

TEXT_ID = "019a98f7-afcd-779f-8dcb-856cc3b3f078"
CODE_ID = "019b0000-0000-7000-8000-000000000001"
VIDEO_ID = "019b0000-0000-7000-8000-000000000002"
BOTH_ID = "019b0000-0000-7000-8000-000000000003"
TEXT = {
    "id": TEXT_ID,
    "publicName": "gemini-3-pro",
    "capabilities": {"outputCapabilities": {"text": True}},
}
#: Says it writes text, but the catalog lists it in Code Arena only.
CODE = {
    "id": CODE_ID,
    "publicName": "coder-x",
    "capabilities": {"outputCapabilities": {"text": True, "web": True}},
}
VIDEO = {"id": VIDEO_ID, "publicName": "veo-x", "capabilities": {}}
BOTH = {
    "id": BOTH_ID,
    "publicName": "claude-opus-4-5",
    "capabilities": {"outputCapabilities": {"text": True, "web": True}},
}
GROUPED = {
    "arenas": [
        {"arena": "text", "complete": True, "models": [TEXT, "gemini-3-pro", BOTH, 17, None]},
        {"arena": "code", "complete": True, "models": [CODE, BOTH, {"id": 5}]},
        {"arena": "text-to-video", "complete": False, "models": [VIDEO, "veo-x"]},
        {"arena": "search", "complete": True, "models": [TEXT]},
        "junk",
        {"arena": "document", "models": "not a list"},
    ]
}


def test_the_grouped_catalog_gives_one_row_per_model_and_skips_what_is_no_model() -> None:
    models = models_from_catalog(GROUPED)
    assert [m.id for m in models] == [TEXT_ID, BOTH_ID, CODE_ID, VIDEO_ID]
    by_id = {m.id: m for m in models}
    assert by_id[TEXT_ID].arenas == ("text", "search")
    assert by_id[BOTH_ID].arenas == ("text", "code")
    assert by_id[BOTH_ID].raw["arenas"] == ["text", "code"]  # kept in the cached row too


def test_webdev_only_and_video_only_models_are_never_offered_for_chat() -> None:
    usable = usable_models(models_from_catalog(GROUPED))
    chats = [m.name for m in usable if m.chats]
    assert chats == ["gemini-3-pro", "claude-opus-4-5"]
    assert len(chats) == len(set(chats))


def test_a_name_with_a_webdev_row_and_a_chat_row_resolves_to_the_chat_row() -> None:
    newer_webdev = {
        **CODE,
        "publicName": "gemini-3-pro",
        "id": "019c0000-0000-7000-8000-0000000000ff",
    }
    catalog = {
        "arenas": [
            {"arena": "text", "models": [TEXT]},
            {"arena": "webdev", "models": [newer_webdev]},
        ]
    }
    usable = usable_models(models_from_catalog(catalog))
    assert resolve_model("gemini-3-pro", usable).id == TEXT_ID


@pytest.mark.parametrize(
    "data",
    [[TEXT, CODE], {"models": [TEXT, CODE]}, [{"arena": "text", "models": [TEXT, CODE]}]],
    ids=["flat-list", "models-object", "bare-arena-list"],
)
def test_the_older_catalog_shapes_still_read(data: Any) -> None:
    assert [m.id for m in models_from_catalog(data)] == [TEXT_ID, CODE_ID]


@pytest.mark.parametrize("data", [{"arenas": "junk"}, "a string", 42, None])
def test_a_catalog_that_is_no_list_is_a_protocol_error_not_a_crash(data: Any) -> None:
    with pytest.raises(errors.ProtocolError, match="expected the model catalog"):
        models_from_catalog(data)


def flight_page(props: str) -> str:
    row = f'4:["$","$L3",null,{props}]\n'
    return f"<script>self.__next_f.push([1,{orjson.dumps(row).decode()}])</script>"


def test_a_page_with_undefined_or_no_models_gives_no_list() -> None:
    assert (
        models_from_html(flight_page('{"initialModels":"$undefined","initialModelAId":null}'))
        is None
    )
    assert models_from_html(flight_page('{"initialModelAId":null}')) is None
    found = models_from_html(flight_page('{"initialModels":[' + orjson.dumps(TEXT).decode() + "]}"))
    assert found is not None and [m.id for m in found] == [TEXT_ID]


# --------------------------------------------------------------------------------------------------
# SiteHttp against a tiny server: the clock, pages where JSON or a stream was expected
# --------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def tiny_site(skew: float, page: str) -> AsyncIterator[str]:
    """A site whose clock is ``skew`` s ahead and that answers every request with ``page``."""

    async def answer(request: web.Request) -> web.Response:
        date = email.utils.formatdate(time.time() + skew, usegmt=True)
        return web.Response(text=page, content_type="text/html", headers={"Date": date})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def bare_state(url: str) -> SiteState:
    return SiteState(base_url=url, user_agent="Mozilla/5.0", action_ids={"getSignedUrl": "ab" * 21})


async def test_site_http_learns_the_clock_and_refuses_pages_for_streams_and_actions(
    tmp_path: Path,
) -> None:
    async with tiny_site(-2 * HOUR, soft_404_page()) as url:
        state = bare_state(url)
        http = SiteHttp(settings_for(url, tmp_path / "state"), lambda: state)
        try:
            offset = await http.learn_clock(state)
            assert abs(offset + 2 * HOUR) <= 1.5
            assert state.clock_offset == offset and http.clock.offset == offset
            with pytest.raises(errors.ProtocolError) as stream:
                await http.post_stream(state, CREATE, referer="/", body={}, wait=5, timeout=5)
            assert stream.value.kind == ErrorKind.NOT_JSON and url + CREATE in str(stream.value)
            with pytest.raises(errors.ProtocolError) as action:
                await http.server_action(state, "getSignedUrl", [])
            assert action.value.kind == ErrorKind.NOT_JSON
            assert "a server action's reply" in str(action.value)
        finally:
            await http.close()


# --------------------------------------------------------------------------------------------------
# the library, end to end on the browser's stand-in
# --------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def library(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[FakeArena, Client]]:
    """A fake of the site as of Oct 2026 (anonymous direct chats allowed), and a bootstrapped
    Client of it on the browser's stand-in."""
    options = {"login_gate": False, "recaptcha_delay": 0.05, **options}
    async with FakeArena.as_of_2026_10(**options) as arena:
        settings = settings_for(arena.url, tmp_path / "state", timeout=10.0)
        browser = HttpBrowser(settings)
        client = Client(settings, browser=browser)
        try:
            await client.bootstrap()
            yield arena, client
        finally:
            await client.close()
            await browser.close()


def stand_in(client: Client) -> HttpBrowser:
    assert isinstance(client.browser, HttpBrowser)
    return client.browser


async def statuses(arena: FakeArena) -> list[int | None]:
    """The statuses of the sends so far (a streamed answer's is logged once its handler ends)."""
    for _ in range(100):
        found = [r.status for r in arena.stream_requests()]
        if None not in found:
            break
        await asyncio.sleep(0.02)
    return found


def near_the_fakes_clock(arena: FakeArena, body: dict[str, Any]) -> bool:
    stamps = [uuid7_timestamp_ms(body[k]) for k in ("userMessageId", "modelAMessageId")]
    return all(s is not None and abs(s / 1000 - arena.now()) < 60 for s in stamps)


@pytest.mark.parametrize("skew", [3 * HOUR, -3 * HOUR], ids=["site-ahead", "site-behind"])
async def test_a_skewed_clock_does_not_matter_to_a_conversation(
    tmp_path: Path, skew: float
) -> None:
    async with library(tmp_path, clock_skew=skew) as (arena, client):
        chat = await client.chats.create(model=CHAT_MODEL)
        first = await chat.send("hello", stream=False)
        second = await chat.send("again", stream=False)
        assert first.text == "Echo (turn 1): hello"
        assert second.text == "Echo (turn 2): again"
        assert await statuses(arena) == [200, 200]
        sends = arena.stream_requests()
        assert all(near_the_fakes_clock(arena, r.json) for r in sends)


async def test_a_clock_that_jumps_after_bootstrap_is_relearned_and_the_send_retried_once(
    tmp_path: Path,
) -> None:
    async with library(tmp_path) as (arena, client):
        arena.clock_skew = 2 * HOUR  # our clock (as the site sees it) fell two hours behind
        chat = await client.chats.create(model=CHAT_MODEL)
        reply = await chat.send("hello", stream=False)
        assert reply.text == "Echo (turn 1): hello"
        assert await statuses(arena) == [400, 200]
        sends = arena.stream_requests()
        assert near_the_fakes_clock(arena, sends[1].json)
        assert sends[0].json["userMessageId"] != sends[1].json["userMessageId"]
        first, second = arena.received.index(sends[0]), arena.received.index(sends[1])
        between = [r.path for r in arena.received[first + 1 : second]]
        assert "/api/me" in between  # the re-learn: one request that reads the site's Date
        assert client.state is not None and abs(client.state.clock_offset - 2 * HOUR) < 3


async def test_ids_refused_twice_say_how_far_the_local_clock_is_off(tmp_path: Path) -> None:
    # A tolerance below the Date header's precision: even corrected ids are refused.
    async with library(tmp_path, id_tolerance=0.001) as (arena, client):
        arena.clock_skew = -HOUR
        chat = await client.chats.create(model=CHAT_MODEL)
        with pytest.raises(errors.UpstreamError) as caught:
            await chat.send("hello", stream=False)
        error = caught.value
        assert error.kind == ErrorKind.SPOOFED_ID
        assert "off by 3600 s" in error.message and "ahead of the site's" in error.message
        assert "refuses ids" in error.message
        assert await statuses(arena) == [400, 400]


@pytest.mark.parametrize(
    ("faults", "cls", "kind", "sends", "words"),
    [
        # aiohttp, the refresh, aiohttp again, then the page (LM_ARENA_TRANSPORT=auto): all refused
        ([Fault.cloudflare_burst()] * 3, errors.Blocked, "cloudflare", 3, ["Cloudflare", "429"]),
        ([Fault.prompt_failed()], errors.ContentRejected, "prompt_refused", 1, ["too long"]),
        ([Fault.user_not_found()], errors.SignInRequired, "user_not_found", 1, ["lmarena login"]),
        (
            [Fault.models_not_found()],
            errors.ModelNotOffered,
            "model_not_offered",
            1,
            [CHAT_MODEL, "'chat'"],
        ),
        ([Fault.not_allowed()], errors.NotAllowed, "not_allowed", 1, ["Not allowed"]),
        ([soft_page()], errors.ProtocolError, "not_json", 1, [CREATE, "could not be found"]),
    ],
    ids=[
        "challenge-429",
        "prompt-failed",
        "user-not-found",
        "models-not-found",
        "not-allowed",
        "page",
    ],
)
async def test_each_status_raises_its_error_with_the_retries_it_deserves(
    tmp_path: Path,
    faults: list[Fault],
    cls: type[errors.LmArenaError],
    kind: str,
    sends: int,
    words: list[str],
) -> None:
    async with library(tmp_path) as (arena, client):
        arena.enqueue(*faults, Reply(text="never sent"))
        chat = await client.chats.create(model=CHAT_MODEL)
        with pytest.raises(cls) as caught:
            await chat.send("hello", stream=False)
        assert caught.value.kind == kind
        for word in words:
            assert word in cli_words(caught.value)
        assert len(arena.stream_requests()) == sends


async def test_a_429_challenge_is_refreshed_in_the_browser_and_retried_once(tmp_path: Path) -> None:
    async with library(tmp_path) as (arena, client):
        arena.enqueue(Fault.cloudflare_burst(), Reply(text="after the check"))
        refreshes = stand_in(client).counts.refreshes
        reply = await (await client.chats.create(model=CHAT_MODEL)).send("hello", stream=False)
        assert reply.text == "after the check"
        assert stand_in(client).counts.refreshes == refreshes + 1
        assert await statuses(arena) == [429, 200]


async def test_no_first_answer_says_what_may_be_missing(tmp_path: Path) -> None:
    async with library(tmp_path) as (arena, client):
        for fault in (Fault.hang(seconds=10), Fault.hang_before_headers(seconds=10)):
            arena.enqueue(fault)
            chat = await client.chats.create(model=CHAT_MODEL)
            with pytest.raises(errors.TimedOut) as caught:
                await chat.send("hello", stream=False, timeout=1)
            message = caught.value.message
            assert message.startswith(("the site sent nothing for 1 s", "the site did not start"))
            assert "first answer" in message
            assert "Terms of Use" in message and caught.value.advice == errors.Advice.CHECK_ACCOUNT
            assert cli_words(caught.value).endswith(
                ": `lmarena doctor` checks the account, the session and a send step by step"
            )


async def test_the_2026_catalog_lists_no_webdev_or_video_model_and_each_name_once(
    tmp_path: Path,
) -> None:
    async with library(tmp_path) as (_arena, client):
        names = [m.name for m in await client.list_models()]
        assert CHAT_MODEL in names and len(names) == len(set(names))
        assert WEBDEV_ONLY not in names and VIDEO_ONLY not in names
        assert client.state is not None and client.state.models_source == "catalog"
        with pytest.raises(errors.UsageError, match="video or WebDev"):
            await client.chats.create(model=WEBDEV_ONLY)


# --------------------------------------------------------------------------------------------------
# the CLI
# --------------------------------------------------------------------------------------------------


class ArenaThread(ArenaHost):
    """One 2026-10 fake arena on a host loop, shared by the CLI tests of this module."""

    def __init__(self, **options: Any) -> None:
        super().__init__()
        options = {"login_gate": False, "recaptcha_delay": 0.05, **options}
        self.arena = self.serve(FakeArena.as_of_2026_10(**options))


@pytest.fixture(scope="module")
def cli_site() -> Iterator[ArenaThread]:
    site = ArenaThread()
    yield site
    site.close()


@pytest.fixture
def cli_env(
    cli_site: ArenaThread, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> FakeArena:
    """The CLI in this process talks to the module's fake through the browser's stand-in."""
    arena = cli_site.arena
    arena.queue.clear()
    arena.clock_skew = 0.0
    monkeypatch.setenv("LM_ARENA_BASE_URL", arena.url)
    monkeypatch.setenv("LM_ARENA_TIMEOUT", "10")
    monkeypatch.setattr(site_session_module, "Browser", HttpBrowser)
    return arena


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.app, list(args), prog_name="lmarena")
    return result.exit_code, result.stdout, result.stderr


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("lmarena: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("faults", "code", "words"),
    [
        ([Fault.cloudflare_burst()] * 3, 5, ["Cloudflare"]),
        ([Fault.prompt_failed()], 7, ["refused the prompt", "too long"]),
        ([Fault.user_not_found()], 4, ["lmarena login"]),
        ([Fault.models_not_found()], 2, [CHAT_MODEL, "chat"]),
        ([Fault.not_allowed()], 2, ["Not allowed"]),
        ([soft_page()], 3, [CREATE]),
        ([spoofed()] * 2, 3, ["clock"]),
    ],
    ids=[
        "challenge-429-5",
        "prompt-failed-7",
        "user-not-found-4",
        "models-not-found-2",
        "not-allowed-2",
        "page-3",
        "spoofed-twice-3",
    ],
)
def test_ask_exits_with_the_documented_code_for_each_status(
    cli_env: FakeArena, faults: list[Fault], code: int, words: list[str]
) -> None:
    cli_env.enqueue(*faults, Reply(text="never sent"))
    exit_code, out, err = invoke("ask", "--no-stdin", "-m", CHAT_MODEL, "hi")
    assert exit_code == code, err
    assert out == ""
    line = one_error_line(err)
    for word in words:
        assert word in line


@pytest.mark.parametrize("skew", [2 * HOUR, -2 * HOUR], ids=["site-ahead", "site-behind"])
def test_ask_answers_whatever_the_sites_clock_says(cli_env: FakeArena, skew: float) -> None:
    cli_env.clock_skew = skew
    exit_code, out, err = invoke("ask", "--no-stdin", "-m", CHAT_MODEL, "hi")
    assert exit_code == 0, err
    assert out == "Echo (turn 1): hi\n"


def test_models_and_dash_m_never_offer_webdev_or_video_models(cli_env: FakeArena) -> None:
    exit_code, out, err = invoke("models", "--refresh")
    assert exit_code == 0, err
    names = out.splitlines()
    assert CHAT_MODEL in names and len(names) == len(set(names))
    assert WEBDEV_ONLY not in names and VIDEO_ONLY not in names
    exit_code, out, err = invoke("ask", "--no-stdin", "-m", WEBDEV_ONLY, "hi")
    assert exit_code == 2 and out == ""
    assert "video or WebDev" in one_error_line(err)


#: ``lmarena`` in a real process, with the browser's stand-in in place of Chromium.
STAND_IN_MAIN = (
    "import sys; from lmarena_cli.client.session import site_session; "
    "from tests.fakes import HttpBrowser; "
    "site_session.Browser = HttpBrowser; from lmarena_cli.cli.app import main; "
    "sys.argv[0] = 'lmarena'; main()"
)


def test_a_real_process_exits_7_for_a_refused_prompt_and_0_with_a_skewed_clock(
    cli_env: FakeArena, isolated_dirs: Path
) -> None:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", STAND_IN_MAIN, *args],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    cli_env.enqueue(Fault.prompt_failed())
    refused = run("ask", "-m", CHAT_MODEL, "a very long prompt")
    assert refused.returncode == 7, refused.stderr
    assert refused.stdout == ""
    assert "too long" in one_error_line(refused.stderr)

    cli_env.clock_skew = -3 * HOUR
    fine = run("ask", "-q", "-m", CHAT_MODEL, "hi")
    assert fine.returncode == 0, fine.stderr
    assert fine.stdout == "Echo (turn 1): hi\n"
    assert fine.stderr == ""


# --------------------------------------------------------------------------------------------------
# lmarena serve, with the official openai client
# --------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(
    tmp_path: Path, **options: Any
) -> AsyncIterator[tuple[FakeArena, openai.AsyncOpenAI]]:
    async with library(tmp_path, **options) as (arena, client):
        app = make_app(client, client.settings, access_log=lambda line: None)
        running = await start(app, "127.0.0.1", 0)
        sdk = openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key="unused", max_retries=0)
        try:
            await warm_up(app)
            yield arena, sdk
        finally:
            await sdk.close()
            await running.runner.cleanup()


def ask(sdk: openai.AsyncOpenAI, model: str = CHAT_MODEL) -> Any:
    return sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


SERVE_CASES = [
    ([Fault.cloudflare_burst()] * 3, openai.InternalServerError, 503, "cloudflare"),
    ([Fault.prompt_failed()], openai.BadRequestError, 400, "prompt_refused"),
    ([Fault.user_not_found()], openai.InternalServerError, 503, "user_not_found"),
    ([Fault.models_not_found()], openai.NotFoundError, 404, "model_not_offered"),
    ([Fault.not_allowed()], openai.PermissionDeniedError, 403, "not_allowed"),
    ([soft_page()], openai.InternalServerError, 502, "not_json"),
    ([spoofed()] * 2, openai.InternalServerError, 502, "spoofed_id"),
]


async def test_serve_answers_each_status_with_its_http_status_and_code(tmp_path: Path) -> None:
    async with serving(tmp_path) as (arena, sdk):
        for faults, exception, status, code in SERVE_CASES:
            arena.queue.clear()
            arena.enqueue(*faults)
            with pytest.raises(exception) as caught:
                await ask(sdk)
            assert caught.value.status_code == status, code
            body = caught.value.body
            assert isinstance(body, dict) and body.get("code") == code, body
        arena.queue.clear()
        arena.clock_skew = 3 * HOUR
        reply = await ask(sdk)
        assert reply.choices[0].message.content == "Echo (turn 1): hi"
        listed = [m.id async for m in sdk.models.list()]
        assert CHAT_MODEL in listed and len(listed) == len(set(listed))
        assert WEBDEV_ONLY not in listed and VIDEO_ONLY not in listed

"""The library end to end: Client -> the browser's stand-in -> the fake arena, every failure mapped.

Each test gets a fresh fake arena and a Client on :class:`tests.fakes.HttpBrowser` (the browser's
part over plain HTTP, no Chromium); it scripts the fake's next answers and asserts both what the
caller gets and what the site received, down to the page reloads between attempts. The last
section takes the whole path once through a real Chromium (marked ``browser``).
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from lmarena_cli import Client
from lmarena_cli.cli.advice import say as cli_words
from lmarena_cli.errors import (
    Blocked,
    ContentRejected,
    IncompleteAnswer,
    InputError,
    ProtocolError,
    RateLimited,
    SignInRequired,
    TimedOut,
    UpstreamError,
    UpstreamUnavailable,
)
from lmarena_cli.site.ids import is_uuid7
from tests.fake_arena import FakeArena, Fault, Reply
from tests.fakes import HttpBrowser
from tests.helpers.clients import ClientFactory, settings_for
from tests.helpers.images import png
from tests.helpers.servers import loopback_server


def stand_in(client: Client) -> HttpBrowser:
    browser = client.browser
    assert isinstance(browser, HttpBrowser)
    return browser


def streams(arena: FakeArena) -> list[Any]:
    return arena.stream_requests()


def action_calls(arena: FakeArena, name: str) -> int:
    wanted = arena.action_ids[name]
    return sum(1 for r in arena.received if r.headers.get("next-action") == wanted)


def trail(arena: FakeArena, since: int) -> list[str]:
    """What reached the fake after ``arena.received[since]``, in order: "page" for a load of the
    chat page (a bootstrap or a reload), "stream" for an attempt at sending the message."""
    kinds = []
    for request in arena.received[since:]:
        if request.method == "GET" and request.path == "/":
            kinds.append("page")
        elif request.path.startswith("/nextjs-api/stream/"):
            kinds.append("stream")
    return kinds


# --- the happy paths ------------------------------------------------------------------------------


async def test_first_turn_creates_an_evaluation_like_the_site(
    client: Client, arena: FakeArena
) -> None:
    before = len(streams(arena))
    chat = await client.chats.create(model="gemini-3-pro")
    reply = await chat.send("hello there", stream=False)

    assert reply.text == "Echo (turn 1): hello there"
    assert reply.finish_reason == "stop"
    assert reply.model == "gemini-3-pro"
    assert chat.id == reply.evaluation_session_id
    sent = streams(arena)[before:]
    assert [r.path for r in sent] == ["/nextjs-api/stream/create-evaluation"]
    body = sent[0].json
    assert body["mode"] == "direct-battle" and body["modality"] == "chat"
    assert body["id"] == reply.evaluation_session_id
    assert all(is_uuid7(body[k]) for k in ("id", "userMessageId", "modelAMessageId"))
    assert body["userMessage"] == {
        "content": "hello there",
        "experimental_attachments": [],
        "metadata": {},
    }
    assert body["recaptchaV3Token"]
    assert "HeadlessChrome" not in sent[0].headers["user-agent"]


async def test_follow_up_sends_only_the_new_message_and_the_site_keeps_history(
    client: Client, arena: FakeArena
) -> None:
    chat = await client.chats.create(model="claude-opus-4-5")
    first = await chat.send("one", stream=False)
    before = len(streams(arena))
    second = await chat.send("two", stream=False)

    assert second.text == "Echo (turn 2): two"
    assert second.evaluation_session_id == first.evaluation_session_id
    request = streams(arena)[before]
    assert request.path == f"/nextjs-api/stream/post-to-evaluation/{first.evaluation_session_id}"
    assert request.json["userMessage"]["content"] == "two"
    assert request.json["recaptchaV3Token"] != streams(arena)[before - 1].json["recaptchaV3Token"]


async def test_a_new_client_resumes_a_conversation_by_its_id(
    client: Client, arena: FakeArena, client_factory: ClientFactory
) -> None:
    chat = await client.chats.create(model="gemini-3-pro")
    first = await chat.send("remember me", stream=False)

    async with client_factory() as other:
        resumed = await other.chats.resume(first.evaluation_session_id)
        reply = await resumed.send("still there?", stream=False)

    assert reply.text == "Echo (turn 2): still there?"
    assert reply.model == "gemini-3-pro"  # from the conversation store


async def test_streaming_yields_deltas_that_add_up_to_the_reply(client: Client) -> None:
    chat = await client.chats.create(model="gemini-3-pro")
    stream = await chat.send("stream this please", stream=True)
    deltas = [delta async for delta in stream]

    assert len(deltas) > 1
    assert "".join(deltas) == stream.reply.text == "Echo (turn 1): stream this please"
    assert stream.reply.timings["first_token"] is not None


async def test_read_reply_reads_a_stream_to_its_end_and_frees_the_conversation(
    client: Client, arena: FakeArena
) -> None:
    chat = await client.chats.create(model="gemini-3-pro")
    stream = await chat.send("read it all", stream=True)
    reply = await stream.read_reply()

    assert reply is stream.reply
    assert reply.text == "Echo (turn 1): read it all" and reply.finish_reason == "stop"
    assert await stream.read_reply() is reply  # nothing left: the same reply, no new request
    arena.enqueue(Fault.cut(after_text="Half"))
    failing = await chat.send("cut me", stream=True)
    with pytest.raises(IncompleteAnswer) as caught:
        await failing.read_reply()
    assert caught.value.partial == "Half"
    # Both streams let the conversation go: the next turn is sent at once.
    assert (await chat.send("again", stream=False)).text == "Echo (turn 3): again"


async def test_closing_a_finished_stream_again_leaves_the_next_turn_its_lock(
    client: Client, arena: FakeArena
) -> None:
    chat = await client.chats.create(model="gemini-3-pro")
    first = await chat.send("one", stream=True)
    await first.read_reply()  # read to the end: the stream closed itself
    arena.enqueue(Reply(text=["slow ", "answer"], delay_first=0.3))
    second = await chat.send("two", stream=True)  # holds the conversation until it ends
    await first.aclose()  # a caller's second close (serve closes in a finally)
    third = asyncio.ensure_future(chat.send("three", stream=False))
    done, _ = await asyncio.wait({third}, timeout=0.1)
    assert not done  # still waiting for the second turn: its lock was not let go
    assert (await second.read_reply()).text == "slow answer"
    assert (await third).text == "Echo (turn 3): three"


async def test_non_ascii_text_survives_chunks_split_inside_characters(
    client: Client, arena: FakeArena
) -> None:
    text = "Grüße 🌍 — 你好, ça va? " * 5
    arena.enqueue(Reply(text=text))
    chat = await client.chats.create(model="gemini-3-pro")
    before = arena.characters_split
    assert (await chat.send("unicode", stream=False)).text == text
    # The answer really left in writes that end inside characters: at least one in each of
    # its four text lines (each has non-ASCII text; the fake cuts its first such character).
    assert arena.characters_split - before >= 4


async def test_reasoning_models_give_their_thinking_apart_from_the_answer(
    client: Client,
) -> None:
    chat = await client.chats.create(model="claude-opus-4-5-thinking-32k")
    stream = await chat.send("think first", stream=True)
    kinds = [type(event).__name__ async for event in stream.events()]

    assert stream.reply.reasoning
    assert stream.reply.text.endswith("think first")
    assert kinds.index("ReasoningDelta") < kinds.index("TextDelta")


async def test_image_generation_models_answer_with_image_urls(
    client: Client, arena: FakeArena
) -> None:
    before = len(streams(arena))
    chat = await client.chats.create(model="gemini-3-pro-image-preview")
    reply = await chat.send("a red square", stream=False)

    assert streams(arena)[before].json["modality"] == "image"
    assert reply.images and reply.images[0].startswith("http")
    assert (await client.download(reply.images[0])).startswith(b"\x89PNG")


async def test_search_models_carry_citations(client: Client, arena: FakeArena) -> None:
    before = len(streams(arena))
    chat = await client.chats.create(model="gemini-3-pro-grounding")
    reply = await chat.send("news about pythons", stream=False)

    assert streams(arena)[before].json["modality"] == "search"
    assert reply.citations and all(c["url"].startswith("http") for c in reply.citations)


async def test_side_by_side_returns_both_answers(client: Client, arena: FakeArena) -> None:
    before = len(streams(arena))
    chat = await client.chats.create(model="gemini-3-pro", versus="claude-opus-4-5")
    reply = await chat.send("compare yourselves", stream=False)

    body = streams(arena)[before].json
    assert body["mode"] == "side-by-side"
    assert body["modelBId"] and body["modelBMessageId"]
    assert reply.b is not None
    assert (reply.a.model, reply.b.model) == ("gemini-3-pro", "claude-opus-4-5")
    assert reply.a.text and reply.b.text
    assert [a["side"] for a in reply.to_dict()["answers"]] == ["a", "b"]


async def test_a_battle_sends_no_model_and_reveals_the_models_when_the_site_does(
    client: Client, arena: FakeArena
) -> None:
    before = len(streams(arena))
    chat = await client.chats.create(battle=True)
    reply = await chat.send("who are you two?", stream=False)

    body = streams(arena)[before].json
    assert body["mode"] == "battle"
    assert "modelAId" not in body and "modelBId" not in body
    assert reply.a.text and reply.b is not None and reply.b.text
    session = arena.sessions[reply.evaluation_session_id]
    assert reply.a.model_id == session.model_a
    assert reply.b.model_id == session.model_b
    assert reply.a.model and reply.b.model


# --- images ---------------------------------------------------------------------------------------


@pytest.fixture
async def image_url() -> AsyncIterator[str]:
    """A loopback web server with one PNG on it."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=png(3, 3, (0, 0, 255)), content_type="image/png")

    async with loopback_server({"/blue.png": handler}) as url:
        yield url + "/blue.png"


@pytest.mark.parametrize("kind", ["bytes", "data_uri", "path", "file_object"])
async def test_every_local_image_kind_is_uploaded_and_attached(
    client: Client, arena: FakeArena, tmp_path: Path, kind: str
) -> None:
    picture = png(4, 4, (10, 20, 30 + len(kind)))  # distinct bytes per case: no upload reuse
    source: Any = {
        "bytes": picture,
        "data_uri": "data:image/png;base64," + base64.b64encode(picture).decode(),
        "path": tmp_path / "pic.png",
        "file_object": io.BytesIO(picture),
    }[kind]
    (tmp_path / "pic.png").write_bytes(picture)
    before = len(streams(arena))
    chat = await client.chats.create(model="gemini-3-pro")
    reply = await chat.send("what is this?", images=[source], stream=False)

    assert reply.text.endswith("what is this?")
    attachments = streams(arena)[before].json["userMessage"]["experimental_attachments"]
    assert len(attachments) == 1
    assert attachments[0]["contentType"] == "image/png"
    stored = arena.sessions[reply.evaluation_session_id].messages[0].attachments
    assert stored and stored[0]["url"] == attachments[0]["url"]


async def test_an_image_url_is_fetched_when_private_addresses_are_allowed(
    client: Client, arena: FakeArena, image_url: str
) -> None:
    allowing = Client(client.settings.replace(allow_private_urls=True), browser=client.browser)
    try:
        chat = await allowing.chats.create(model="gemini-3-pro")
        before = len(streams(arena))
        await chat.send("and this?", images=[image_url], stream=False)
    finally:
        await allowing.close()
    attachments = streams(arena)[before].json["userMessage"]["experimental_attachments"]
    assert attachments[0]["contentType"] == "image/png"


async def test_an_image_url_on_loopback_is_refused_by_default(
    client: Client, arena: FakeArena, image_url: str
) -> None:
    before = len(arena.received)
    chat = await client.chats.create(model="gemini-3-pro")
    with pytest.raises(InputError, match="loopback"):
        await chat.send("and this?", images=[image_url], stream=False)
    assert len(arena.received) == before


async def test_the_same_image_is_uploaded_once_while_its_link_is_valid(
    client: Client, arena: FakeArena
) -> None:
    picture = png(5, 5, (1, 2, 3))
    uploads_before = action_calls(arena, "generateUploadUrl")
    chat = await client.chats.create(model="gemini-3-pro")
    await chat.send("first look", images=[picture], stream=False)
    await chat.send("second look", images=[picture], stream=False)
    assert action_calls(arena, "generateUploadUrl") - uploads_before == 1


async def test_an_upload_refused_by_cloudflare_refreshes_the_clearance_once(
    client: Client, arena: FakeArena
) -> None:
    arena.clearances.clear()  # every clearance goes stale, as when Cloudflare rotates them
    chat = await client.chats.create(model="gemini-3-pro")
    reply = await chat.send("after the gate", images=[png(7, 7)], stream=False)
    assert reply.text.endswith("after the gate")
    assert len(arena.clearances) == 1  # the browser earned a new one
    assert stand_in(client).counts.refreshes == 1
    assert stand_in(client).counts.challenges == 2  # the first visit's, and the new one


async def test_images_to_a_model_that_takes_none_fail_before_any_request(
    client: Client, arena: FakeArena
) -> None:
    before = len(arena.received)
    chat = await client.chats.create(model="llama-3.3-70b-instruct")
    with pytest.raises(InputError, match="does not take images"):
        await chat.send("see", images=[png()], stream=False)
    assert len(arena.received) == before


async def test_a_stale_upload_action_is_rediscovered_once(client: Client, arena: FakeArena) -> None:
    arena.redeploy()
    chat = await client.chats.create(model="gemini-3-pro")
    reply = await chat.send("after a deploy", images=[png(6, 6)], stream=False)
    assert reply.text.endswith("after a deploy")
    assert stand_in(client).counts.rediscoveries == 1
    assert client.state is not None
    assert client.state.action_ids["generateUploadUrl"] == arena.action_ids["generateUploadUrl"]


# --- failures -------------------------------------------------------------------------------------


async def send(client: Client, prompt: str = "hi", **kwargs: Any) -> Any:
    chat = await client.chats.create(model="gemini-3-pro")
    return await chat.send(prompt, stream=False, **kwargs)


async def test_a_recaptcha_rejection_is_retried_exactly_once_with_a_fresh_token(
    client: Client, arena: FakeArena
) -> None:
    arena.enqueue(Fault.recaptcha(), Fault.recaptcha())
    before, received = len(streams(arena)), len(arena.received)
    tokens = stand_in(client).counts.tokens
    with pytest.raises(Blocked, match="reCAPTCHA") as caught:
        await send(client)
    sent = streams(arena)[before:]
    assert len(sent) == 2
    # The page is reloaded before the one retry (the site key may have rotated), never again.
    assert trail(arena, received) == ["stream", "page", "stream"]
    assert stand_in(client).counts.refreshes == 1
    assert stand_in(client).counts.tokens - tokens == 2
    assert sent[0].json["recaptchaV3Token"] != sent[1].json["recaptchaV3Token"]
    assert sent[0].json["userMessageId"] != sent[1].json["userMessageId"]
    assert caught.value.exit_code == 5


async def test_one_recaptcha_rejection_then_success_answers(
    client: Client, arena: FakeArena
) -> None:
    arena.enqueue(Fault.recaptcha())
    received = len(arena.received)
    assert (await send(client, "retry me")).text.endswith("retry me")
    assert trail(arena, received) == ["stream", "page", "stream"]
    assert arena.recaptcha_log[-2:] == [("chat_submit", "ok"), ("chat_submit", "ok")]


async def test_a_cloudflare_page_refreshes_the_clearance_once_then_goes_on(
    client: Client, arena: FakeArena
) -> None:
    arena.enqueue(Fault.cloudflare())
    before, received = len(streams(arena)), len(arena.received)
    assert (await send(client, "past the gate")).text.endswith("past the gate")
    assert len(streams(arena)) - before == 2
    assert trail(arena, received) == ["stream", "page", "stream"]
    assert stand_in(client).counts.refreshes == 1


async def test_cloudflare_twice_is_blocked(client: Client, arena: FakeArena) -> None:
    # After the refresh, LM_ARENA_TRANSPORT=auto tries the page once (tests/test_transport.py).
    arena.enqueue(Fault.cloudflare(), Fault.cloudflare(), Fault.cloudflare())
    received = len(arena.received)
    with pytest.raises(Blocked):
        await send(client)
    assert trail(arena, received) == ["stream", "page", "stream", "stream"]
    assert "sec-ch-ua" in arena.stream_requests()[-1].headers  # the last one came from the page


async def test_an_expired_sign_in_is_refreshed_once(client: Client, arena: FakeArena) -> None:
    arena.enqueue(Fault.expired_auth())
    received = len(arena.received)
    assert (await send(client, "still signed in")).text.endswith("still signed in")
    assert trail(arena, received) == ["stream", "page", "stream"]
    assert stand_in(client).counts.refreshes == 1


async def test_the_login_gate_asks_the_user_to_sign_in(client: Client, arena: FakeArena) -> None:
    arena.login_gate = True
    before = len(streams(arena))
    with pytest.raises(SignInRequired, match="signed-in account") as caught:
        await send(client)
    assert "run `lmarena login`" in cli_words(caught.value)
    assert len(streams(arena)) - before == 1
    assert caught.value.exit_code == 4


async def test_the_login_gate_leaves_battles_open(client: Client, arena: FakeArena) -> None:
    arena.login_gate = True
    chat = await client.chats.create(battle=True)
    reply = await chat.send("anyone?", stream=False)
    assert reply.b is not None
    assert reply.a.text == "Echo (turn 1): anyone?"
    assert reply.b.text == "Echo B (turn 1): anyone?"


async def test_rate_limits_raise_with_retry_after_and_are_not_retried_unasked(
    client: Client, arena: FakeArena
) -> None:
    arena.enqueue(Fault.rate_limit(retry_after=600))  # longer than LM_ARENA_MAX_WAIT
    before = len(streams(arena))
    with pytest.raises(RateLimited) as caught:
        await send(client)
    assert caught.value.retry_after == 600
    assert caught.value.exit_code == 6
    assert len(streams(arena)) - before == 1


async def test_rate_limits_are_waited_out_when_the_caller_allows_it(
    client: Client, arena: FakeArena
) -> None:
    arena.enqueue(Fault.rate_limit(retry_after=1))
    received = len(arena.received)
    reply = await send(client, "patient", rate_limit_wait=5)
    assert reply.text.endswith("patient")
    assert trail(arena, received) == ["stream", "stream"]  # waited, not reloaded


async def test_a_wait_longer_than_the_caller_allows_is_not_waited(
    client: Client, arena: FakeArena
) -> None:
    arena.enqueue(Fault.rate_limit(retry_after=600))
    received = len(arena.received)
    with pytest.raises(RateLimited):
        await send(client, rate_limit_wait=5)
    assert trail(arena, received) == ["stream"]


@pytest.mark.parametrize("fault", [Fault.moderation(), Fault.invalid_content()])
async def test_moderation_rejects_without_retrying(
    client: Client, arena: FakeArena, fault: Fault
) -> None:
    arena.enqueue(fault)
    before = len(streams(arena))
    with pytest.raises(ContentRejected) as caught:
        await send(client)
    assert caught.value.exit_code == 7
    assert len(streams(arena)) - before == 1


async def test_a_schema_error_names_the_field_the_site_wants(
    client: Client, arena: FakeArena
) -> None:
    arena.enqueue(Fault.schema_error())
    received = len(arena.received)
    with pytest.raises(ProtocolError, match="userMessage"):
        await send(client)
    assert trail(arena, received) == ["stream"]


async def test_server_errors_are_retried_with_fresh_ids(client: Client, arena: FakeArena) -> None:
    arena.enqueue(Fault.server_error(500), Fault.server_error(502))
    before, received = len(streams(arena)), len(arena.received)
    assert (await send(client, "eventually")).text.endswith("eventually")
    sent = streams(arena)[before:]
    assert len(sent) == 3
    assert trail(arena, received) == ["stream"] * 3  # backed off, no reload
    assert len({r.json["id"] for r in sent}) == 3
    assert len({r.json["userMessageId"] for r in sent}) == 3


async def test_an_empty_stream_is_retried_once_then_fails(client: Client, arena: FakeArena) -> None:
    arena.enqueue(Fault.empty())
    assert (await send(client, "second try")).text.endswith("second try")

    arena.enqueue(Fault.empty(), Fault.empty())
    before, received = len(streams(arena)), len(arena.received)
    with pytest.raises(IncompleteAnswer, match="empty"):
        await send(client)
    assert len(streams(arena)) - before == 2
    assert trail(arena, received) == ["stream", "stream"]


async def test_a_stream_cut_after_text_is_not_retried_and_keeps_the_text(
    client: Client, arena: FakeArena
) -> None:
    arena.enqueue(Fault.cut(after_text="Half an ans"))
    before = len(streams(arena))
    with pytest.raises(IncompleteAnswer, match="cut off") as caught:
        await send(client)
    assert caught.value.partial == "Half an ans"
    assert len(streams(arena)) - before == 1


@pytest.mark.parametrize(
    "fault, error, words",
    [
        (Fault.a3("internal server error"), UpstreamError, "internal server error"),
        (Fault.arena_error(), UpstreamError, "hasArenaError"),
        (Fault.a3("Resource exhausted. Please try again later."), RateLimited, "exhausted"),
        (
            Fault.a3("Your request was blocked by our content moderation system."),
            ContentRejected,
            "moderation",
        ),
    ],
)
async def test_failures_inside_the_stream_raise_by_their_meaning_with_the_sites_words(
    client: Client, arena: FakeArena, fault: Fault, error: type[Exception], words: str
) -> None:
    arena.enqueue(fault)
    before = len(streams(arena))
    with pytest.raises(error, match=words):
        await send(client)
    assert len(streams(arena)) - before == 1  # none of these is retried unasked


async def test_no_first_token_in_time_is_a_timeout(client: Client, arena: FakeArena) -> None:
    arena.enqueue(Fault.hang(seconds=5))
    before = len(streams(arena))
    with pytest.raises(TimedOut) as caught:
        await send(client, timeout=1)
    assert caught.value.exit_code == 8
    assert len(streams(arena)) - before == 1


async def test_a_site_that_takes_the_request_and_never_answers_times_out(
    client: Client, arena: FakeArena
) -> None:
    arena.enqueue(Fault.hang_before_headers(seconds=5))
    with pytest.raises(TimedOut, match="did not start answering") as caught:
        await send(client, timeout=1)
    assert caught.value.exit_code == 8


async def test_a_download_that_never_answers_times_out_and_a_closed_port_is_unavailable(
    client: Client,
) -> None:
    async def never(request: web.Request) -> web.Response:
        await asyncio.sleep(3)  # longer than the 1 s allowed
        return web.Response()

    impatient = Client(client.settings.replace(timeout=1), browser=client.browser)
    try:
        async with loopback_server({"/slow.png": never}) as url:
            with pytest.raises(TimedOut, match="no answer within 1 s"):
                await impatient.download(url + "/slow.png")
        # Now nothing listens on that port.
        with pytest.raises(UpstreamUnavailable, match="failed: Client"):
            await impatient.download(url + "/slow.png")
    finally:
        await impatient.close()


async def test_silence_between_chunks_is_an_idle_timeout_that_keeps_the_text(
    client: Client, arena: FakeArena
) -> None:
    impatient = Client(client.settings.replace(idle_timeout=0.5), browser=client.browser)
    arena.enqueue(Reply(text=["first part ", "late part"], delay_between=2, heartbeats=0))
    try:
        with pytest.raises(TimedOut, match="between two parts") as caught:
            await send(impatient)
    finally:
        await impatient.close()
    assert caught.value.partial.startswith("first part")


# --- the whole path through a real Chromium -------------------------------------------------------


@pytest.mark.browser
async def test_the_whole_path_through_a_real_chromium(arena: FakeArena, tmp_path: Path) -> None:
    """Bootstrap (challenge, sign-up), tokens, a reload before a reCAPTCHA retry and a stale
    action rediscovered, with the real browser instead of the stand-in."""
    async with Client(settings_for(arena.url, tmp_path / "chromium")) as client:
        assert arena.challenges_passed == 1
        assert arena.count("/nextjs-api/sign-up") >= 1
        reply = await send(client, "through chromium")
        assert reply.text == "Echo (turn 1): through chromium"
        assert "HeadlessChrome" not in streams(arena)[-1].headers["user-agent"]

        arena.enqueue(Fault.recaptcha())
        received = len(arena.received)
        assert (await send(client, "retry me")).text.endswith("retry me")
        assert trail(arena, received) == ["stream", "page", "stream"]

        arena.redeploy()
        chat = await client.chats.create(model="gemini-3-pro")
        reply = await chat.send("after a deploy", images=[png(6, 6)], stream=False)
        assert reply.text.endswith("after a deploy")
        state = client.browser.cached_state()
        assert state is not None
        assert state.action_ids["generateUploadUrl"] == arena.action_ids["generateUploadUrl"]


async def test_closing_a_client_closes_its_conversation_store(
    client_factory: ClientFactory,
) -> None:
    # A program that makes a client per job must not keep a descriptor of the store per client.
    client = client_factory()
    chat = await client.chats.create(model="gemini-3-pro")
    await chat.send("remember me", stream=False)
    store = client.settings.store_path

    def open_on_store() -> int:
        fds = Path("/proc/self/fd")
        return sum(1 for fd in fds.iterdir() if os.path.realpath(fd).startswith(str(store)))

    assert open_on_store() > 0
    await client.close()
    assert open_on_store() == 0

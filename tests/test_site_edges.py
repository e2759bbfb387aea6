"""The site's edges of Aug-Oct 2026 (protocol §15): the login gate by its field, a conversation the
site recycled, the stream's new lines, the model list's new rows, and a Turbopack build.

The fake plays each (``FakeArena.as_of_2026_10``, ``--site 2026-10``); its own tests come first,
then pure tests of the site layer, then what a user sees through the library, the CLI and
``lmarena serve`` on the browser's stand-in.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from typer.testing import CliRunner

from lmarena_cli import errors
from lmarena_cli.cli import app as cli
from lmarena_cli.cli.advice import say as cli_words
from lmarena_cli.client.client import Client
from lmarena_cli.client.session import site_session as site_session_module
from lmarena_cli.errors import Advice, ErrorKind, ExitStatus
from lmarena_cli.server.app import make_app
from lmarena_cli.server.run import start, warm_up
from lmarena_cli.site.classify import error_from_response
from lmarena_cli.site.events import ImageOutput, MessageStart, RoutedModel, TextDelta
from lmarena_cli.site.models import models_from_rows, usable_models
from lmarena_cli.site.pages import find_actions, models_from_html
from lmarena_cli.site.stream import StreamParser
from lmarena_cli.state.links import ConversationLinks
from tests.fake_arena import FakeArena, Fault, Reply
from tests.fake_arena.deploy import Deploy
from tests.fake_arena.pages import app_page
from tests.fake_arena.turbopack import chunk_js
from tests.fakes import HttpBrowser
from tests.helpers.arena_host import ArenaHost
from tests.helpers.clients import settings_for

CHAT_MODEL = "gemini-3-pro"
CREATE = "/nextjs-api/stream/create-evaluation"
POST_TO = "/nextjs-api/stream/post-to-evaluation/"
ORPHANS = ("orphan-provider-x", "orphan-organization-x")
QUIET_SEARCH = "quiet-search-x"


# --------------------------------------------------------------------------------------------------
# the fake plays §15
# --------------------------------------------------------------------------------------------------


UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36"


def send_body(arena: FakeArena, cookies: dict[str, str], prompt: str) -> dict[str, Any]:
    """A create-evaluation body as the site's page sends it (ids from the fake's clock)."""
    from lmarena_cli.site.ids import SiteClock, uuid7

    clock = SiteClock(arena.clock_skew)
    model = arena.model(CHAT_MODEL)
    assert model is not None
    return {
        "id": uuid7(clock),
        "mode": "direct-battle",
        "modelAId": model.id,
        "userMessageId": uuid7(clock),
        "modelAMessageId": uuid7(clock),
        "modelBMessageId": uuid7(clock),
        "userMessage": {"content": prompt, "experimental_attachments": [], "metadata": {}},
        "modality": "chat",
        "recaptchaV3Token": arena.mint_token(cookies, UA),
    }


async def test_the_fake_of_2026_10_plays_the_new_stream_models_and_build() -> None:
    async with FakeArena.as_of_2026_10(login_gate=False, tou_required=False) as arena:
        assert arena.stream_2026_10 and arena.models_2026_10 and arena.turbopack
        cookies = {**arena.issue_clearance(UA), **arena.auth_cookies(arena.create_user())}
        async with aiohttp.ClientSession(headers={"User-Agent": UA}, cookies=cookies) as http:
            js = [
                await (await http.get(f"{arena.url}/_next/{path}")).text()
                for _, path in arena.deploy.chunks.values()
            ]
            body = send_body(arena, cookies, "hi")
            async with http.post(arena.url + CREATE, data=orjson.dumps(body)) as answer:
                assert answer.status == 200
                assert answer.headers["Content-Type"] == "text/event-stream"
                first = (await answer.content.readline()).decode()
            assert first == f'af:{{"messageId":"{body["modelAMessageId"]}"}}\n'
            arena.recycle(body["id"])
            follow = {**send_body(arena, cookies, "again"), "id": body["id"]}
            follow.pop("mode")
            gone = await http.post(arena.url + POST_TO + body["id"], data=orjson.dumps(follow))
            assert gone.status == 404
        assert all("createServerReference" not in text for text in js)
        assert all(text.startswith("(globalThis.TURBOPACK") for text in js)
        names = {m.public_name: m for m in arena.models}
        assert names["orphan-provider-x"].to_wire()["provider"] is None
        assert names["orphan-organization-x"].to_wire()["organization"] is None
        assert not names[QUIET_SEARCH].searches
    page_html = app_page(
        Deploy(),
        site_key="k",
        props={"initialModels": [{"id": "x", "publicName": "x"}], "initialModelAId": "x"},
        user_id=None,
        id_only_models=[{"id": "x"}, {"id": "y"}],
    )
    assert page_html.count("initialModels") == 2


# --------------------------------------------------------------------------------------------------
# the site layer (pure)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("words", ["User not found", "Unauthorized", "Please sign in"])
def test_a_401_with_the_login_gates_code_is_the_login_gate_whatever_it_says(words: str) -> None:
    body = orjson.dumps({"code": "LOGIN_GATE", "message": words}).decode()
    error = error_from_response(401, body, {})
    assert isinstance(error, errors.SignInRequired)
    assert error.kind == ErrorKind.LOGIN_GATE
    assert error.exit_code == ExitStatus.SIGN_IN and error.advice == Advice.SIGN_IN_WINDOW
    assert "lmarena login" in cli_words(error) and "lmarena login" not in str(error)
    plain = error_from_response(401, '{"message":"User not found"}', {})
    assert plain.kind == ErrorKind.USER_NOT_FOUND


def test_the_new_stream_lines_become_typed_events_split_anywhere() -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    body = (
        'af:{"messageId":"m-a"}\nbf:{"messageId":"m-b"}\n'
        'a2:[{"type":"routed_model","organization":"openai"}]\n'
        f'ak:{{"mimeType":"image/png","data":"{png}"}}\n'
        f'a2:[{{"type":"image","mimeType":"image/webp","data":"{png}"}}]\n'
        'data: a0:"hi"\n'
    ).encode()
    for size in (1, 3, len(body)):
        parser = StreamParser()
        events = []
        for i in range(0, len(body), size):
            events += parser.feed(body[i : i + size])
        events += parser.close()
        assert events == [
            MessageStart("a", "m-a"),
            MessageStart("b", "m-b"),
            RoutedModel("a", "openai", {"type": "routed_model", "organization": "openai"}),
            ImageOutput("a", f"data:image/png;base64,{png}", "image/png"),
            ImageOutput("a", f"data:image/webp;base64,{png}", "image/webp"),
            TextDelta("a", "hi"),
        ]


def row(name: str, **fields: Any) -> dict[str, Any]:
    return {"id": f"id-{name}", "publicName": name, "organization": "o", "provider": "p", **fields}


def test_the_model_rows_of_2026_10_read_as_the_sites_own_picker_reads_them() -> None:
    rows = [
        row("plain", capabilities={"inputCapabilities": {"text": True, "file": True}}),
        row("no-provider", provider=None),
        row("no-organization", organization=None),
        {"id": "id-bare", "publicName": "bare"},  # neither key: an older shape, kept
        row(
            "search-off",
            capabilities={"outputCapabilities": {"text": True, "search": {"enabled": False}}},
        ),
        row(
            "search-on",
            capabilities={"outputCapabilities": {"text": True, "search": {"enabled": True}}},
        ),
    ]
    usable = {m.name: m for m in usable_models(models_from_rows(rows))}
    assert set(usable) == {"plain", "bare", "search-off", "search-on"}
    assert usable["plain"].takes_files and usable["plain"].to_json()["takes_files"] is True
    assert not usable["bare"].takes_files
    assert str(usable["search-off"].modality) == "chat" and not usable["search-off"].searches
    assert str(usable["search-on"].modality) == "search"


def test_the_initial_models_array_with_the_most_named_rows_wins() -> None:
    named = [row("alpha"), row("beta")]
    page = app_page(
        Deploy(),
        site_key="k",
        props={"initialModels": named, "initialModelAId": "id-alpha"},
        user_id=None,
        id_only_models=[{"id": "id-alpha"}, {"id": "id-beta"}, {"id": "id-gamma"}],
    )
    found = models_from_html(page)
    assert found is not None and [m.name for m in found] == ["alpha", "beta"]


def test_a_turbopack_build_gives_its_action_ids_by_the_fallbacks() -> None:
    deploy = Deploy()
    found: dict[str, str] = {}
    for role in deploy.chunks:
        text = chunk_js(deploy, role, "key")
        assert "createServerReference" not in text
        found.update(find_actions(text))
    assert found == deploy.action_ids


# --------------------------------------------------------------------------------------------------
# the library, end to end on the browser's stand-in
# --------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def library(
    tmp_path: Path, *, record: bool = True, **options: Any
) -> AsyncIterator[tuple[FakeArena, Client]]:
    options = {"login_gate": False, "recaptcha_delay": 0.05, **options}
    async with FakeArena.as_of_2026_10(**options) as arena:
        settings = settings_for(arena.url, tmp_path / "state", timeout=10.0)
        browser = HttpBrowser(settings)
        client = Client(settings, browser=browser, record=record)
        try:
            await client.bootstrap()
            yield arena, client
        finally:
            await client.close()
            await browser.close()


async def test_a_recycled_conversation_goes_on_in_a_new_one_with_its_transcript_folded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with library(tmp_path) as (arena, client):
        chat = await client.chats.create(model=CHAT_MODEL, system="Be terse.")
        first = await chat.send("first question")
        old = first.evaluation_session_id
        arena.recycle(old)
        sends = len(arena.stream_requests())
        with caplog.at_level(logging.WARNING, logger="lmarena"):
            reply = await chat.send("second question")
        said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(old in s and "recycled" in s and "new conversation" in s for s in said)
        assert reply.evaluation_session_id != old and chat.id == reply.evaluation_session_id
        # one 404, then one send of the user's turn: never a loop
        requests = arena.stream_requests()[sends:]
        assert [r.path for r in requests] == [POST_TO + old, CREATE] and requests[0].status == 404
        prompt = requests[1].json["userMessage"]["content"]
        assert prompt.startswith("[System]\nBe terse.\n\n[User]\nfirst question\n\n[Assistant]\n")
        assert prompt.endswith("[User]\nsecond question")
        stored = client.store.get(reply.evaluation_session_id)
        assert stored is not None and [t["role"] for t in stored.transcript] == [
            "system", "user", "assistant", "user", "assistant",
        ]  # fmt: skip
        links = ConversationLinks(client.settings.store_path)
        assert links.successor(old) == reply.evaluation_session_id
        links.close()
        # --resume of the old id goes on where the conversation went, with no new 404
        again = await client.chats.resume(old)
        assert again.id == reply.evaluation_session_id
        third = await again.send("third")
        assert third.evaluation_session_id == reply.evaluation_session_id


async def test_routed_organization_message_ids_and_inline_images_reach_the_reply(
    tmp_path: Path,
) -> None:
    async with library(tmp_path) as (arena, client):
        arena.enqueue(Reply(text="routed answer", routed_organization="openai"))
        chat = await client.chats.create(model=CHAT_MODEL)
        reply = await chat.send("hello")
        assert reply.text == "routed answer"
        assert reply.a.routed_organization == "openai"
        assert reply.to_dict()["routed_organization"] == "openai"
        sent = arena.stream_requests()[-1].json
        assert reply.a.message_id == sent["modelAMessageId"]
        for how in ("ak", "a2"):
            arena.enqueue(Reply(inline_images=how))
            image_chat = await client.chats.create(model="gemini-3-pro-image-preview")
            pictured = await image_chat.send("a cat")
            assert len(pictured.images) == 1 and pictured.images[0].startswith("data:image/png")
            data = await client.download(pictured.images[0])
            assert data.startswith(b"\x89PNG")


async def test_image_uploads_work_on_a_turbopack_build(tmp_path: Path) -> None:
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    async with library(tmp_path) as (arena, client):
        assert client.state is not None
        assert client.state.action_ids["generateUploadUrl"] == arena.action_ids["generateUploadUrl"]
        chat = await client.chats.create(model=CHAT_MODEL)
        reply = await chat.send("what is this?", images=[png])
        assert reply.text.startswith("Echo (turn 1)")
        attachments = arena.stream_requests()[-1].json["userMessage"]["experimental_attachments"]
        assert len(attachments) == 1


# --------------------------------------------------------------------------------------------------
# the CLI
# --------------------------------------------------------------------------------------------------


class ArenaThread(ArenaHost):
    def __init__(self) -> None:
        super().__init__()
        self.arena = self.serve(FakeArena.as_of_2026_10(login_gate=False, recaptcha_delay=0.05))


@pytest.fixture(scope="module")
def cli_site() -> Iterator[ArenaThread]:
    site = ArenaThread()
    yield site
    site.close()


@pytest.fixture
def cli_env(
    cli_site: ArenaThread, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> FakeArena:
    arena = cli_site.arena
    arena.queue.clear()
    monkeypatch.setenv("LM_ARENA_BASE_URL", arena.url)
    monkeypatch.setenv("LM_ARENA_TIMEOUT", "10")
    monkeypatch.setattr(site_session_module, "Browser", HttpBrowser)
    return arena


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.app, list(args), prog_name="lmarena")
    return result.exit_code, result.stdout, result.stderr


def test_ask_c_says_the_conversation_was_recycled_and_goes_on_in_a_new_one(
    cli_env: FakeArena,
) -> None:
    code, out, err = invoke("ask", "-m", CHAT_MODEL, "--no-stdin", "remember 42")
    assert code == 0, err
    old = next(line.split()[-1] for line in err.splitlines() if line.startswith("conversation:"))
    cli_env.recycle(old)
    code, out, err = invoke("ask", "-c", "--no-stdin", "what number?")
    assert code == 0, err
    assert "recycled" in err and old in err
    new = next(line.split()[-1] for line in err.splitlines() if line.startswith("conversation:"))
    assert new != old
    assert "[User]\nremember 42" in out and out.rstrip().endswith("[User]\nwhat number?")
    code, out, err = invoke("history", "show", new)
    assert code == 0 and f"continues: {old}" in err
    code, out, _ = invoke("history", "show", old, "--json")
    assert code == 0 and orjson.loads(out)["continued_in"] == new


def test_ask_json_shows_the_routed_organization(cli_env: FakeArena) -> None:
    cli_env.enqueue(Reply(text="from the router", routed_organization="anthropic"))
    code, out, err = invoke("ask", "-m", CHAT_MODEL, "--no-stdin", "--json", "hi")
    assert code == 0, err
    data = orjson.loads(out)
    assert data["text"] == "from the router" and data["routed_organization"] == "anthropic"


def test_an_inline_image_is_saved_to_a_file_like_a_linked_one(
    cli_env: FakeArena, tmp_path: Path
) -> None:
    cli_env.enqueue(Reply(inline_images="ak"))
    target = tmp_path / "cat.png"
    code, out, err = invoke(
        "ask", "-m", "gemini-3-pro-image-preview", "--no-stdin", "-o", str(target), "a cat"
    )
    assert code == 0 and out == "", err
    assert target.read_bytes().startswith(b"\x89PNG") and f"saved {target}" in err


def test_models_json_keeps_takes_files_and_drops_the_rows_the_site_hides(
    cli_env: FakeArena,
) -> None:
    code, out, err = invoke("models", "--json")
    assert code == 0, err
    listed = {m["name"]: m for m in orjson.loads(out)}
    assert listed[CHAT_MODEL]["takes_files"] is True
    assert not any(name in listed for name in ORPHANS)
    assert listed[QUIET_SEARCH]["modality"] == "chat" and listed[QUIET_SEARCH]["searches"] is False


def test_a_login_gate_named_only_by_its_code_exits_4(cli_env: FakeArena) -> None:
    cli_env.enqueue(Fault.login_gate_coded())
    code, out, err = invoke("ask", "-m", CHAT_MODEL, "--no-stdin", "hi")
    assert code == ExitStatus.SIGN_IN and out == ""
    assert "signed-in account" in err and "lmarena login" in err


# --------------------------------------------------------------------------------------------------
# lmarena serve, with the official openai client
# --------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(tmp_path: Path) -> AsyncIterator[tuple[FakeArena, Client, openai.AsyncOpenAI]]:
    async with library(tmp_path, record=False) as (arena, client):
        app = make_app(client, client.settings, access_log=lambda line: None)
        running = await start(app, "127.0.0.1", 0)
        sdk = openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key="unused", max_retries=0)
        try:
            await warm_up(app)
            yield arena, client, sdk
        finally:
            await sdk.close()
            await running.runner.cleanup()


async def test_serve_goes_on_in_a_new_conversation_when_the_site_recycled_one(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path) as (arena, client, sdk):
        history: list[Any] = [{"role": "user", "content": "remember 42"}]
        first = await sdk.chat.completions.create(model=CHAT_MODEL, messages=history)
        old = first.model_extra["conversation_id"] if first.model_extra else None
        assert old is not None
        history.append({"role": "assistant", "content": first.choices[0].message.content})
        history.append({"role": "user", "content": "what number?"})
        arena.recycle(old)
        sends = len(arena.stream_requests())
        second = await sdk.chat.completions.create(model=CHAT_MODEL, messages=history)
        new = second.model_extra["conversation_id"] if second.model_extra else None
        assert new is not None and new != old
        requests = arena.stream_requests()[sends:]
        assert [r.path for r in requests] == [POST_TO + old, CREATE] and requests[0].status == 404
        prompt = requests[1].json["userMessage"]["content"]
        assert prompt.startswith("[User]\nremember 42\n\n[Assistant]\n")
        assert prompt.endswith("[User]\nwhat number?")
        assert second.choices[0].message.content == f"Echo (turn 1): {prompt}"
        links = ConversationLinks(client.settings.store_path)
        assert links.successor(old) == new
        links.close()
        # the client's next turn, with the whole history, continues the new conversation
        history.append({"role": "assistant", "content": second.choices[0].message.content})
        history.append({"role": "user", "content": "and again?"})
        third = await sdk.chat.completions.create(model=CHAT_MODEL, messages=history)
        assert third.model_extra is not None and third.model_extra["conversation_id"] == new
        assert arena.stream_requests()[-1].path == POST_TO + new


async def test_a_404_for_a_conversation_without_a_stored_transcript_stands(tmp_path: Path) -> None:
    async with library(tmp_path) as (arena, client):
        chat = await client.chats.resume("01a20f67-4b3a-7387-86aa-024879b6718c", model=CHAT_MODEL)
        with pytest.raises(errors.ConversationNotFound) as caught:
            await chat.send("hello?")
        assert caught.value.exit_code == ExitStatus.USAGE
        assert [r.path for r in arena.stream_requests()] == [
            POST_TO + "01a20f67-4b3a-7387-86aa-024879b6718c"
        ]


def test_when_no_way_finds_the_action_ids_the_error_says_what_was_tried() -> None:
    from lmarena_cli.browser.discover import missing_upload_actions

    error = missing_upload_actions({"getProxyImage": "40" * 21})
    assert error is not None and error.exit_code == ExitStatus.UPSTREAM
    assert "generateUploadUrl" in str(error) and "getSignedUrl" in str(error)
    assert "createServerReference" in str(error) and "Turbopack fallbacks" in str(error)
    assert find_actions('let x=1;e.s(["generateUploadUrl",()=>x]);') == {}


def test_chat_says_the_conversation_was_recycled_and_goes_on_in_a_new_one(
    cli_env: FakeArena,
) -> None:
    gone = Fault("http", 404, orjson.dumps({"error": "Evaluation session not found"}))
    cli_env.enqueue(Reply(), gone)  # the first turn answers; the follow-up finds it recycled
    result = CliRunner().invoke(
        cli.app, ["chat", "-m", CHAT_MODEL], input="one\ntwo\n", prog_name="lmarena"
    )
    assert result.exit_code == 0, result.stderr
    ids = [
        line.split()[-1] for line in result.stderr.splitlines() if line.startswith("conversation:")
    ]
    assert len(set(ids)) == 2 and "recycled" in result.stderr
    assert "Echo (turn 1): one" in result.stdout
    assert "[User]\none\n\n[Assistant]\nEcho (turn 1): one\n\n[User]\ntwo" in result.stdout

"""Tests of the fake arena itself: real HTTP on loopback, and a real Chromium through nodriver."""

from __future__ import annotations

import ast
import asyncio
import codecs
import re
import secrets
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.fake_arena import (
    CHALLENGE_ENDPOINT,
    DEFAULT_MODELS,
    LOGIN_GATE_BODY,
    FakeArena,
    Fault,
    Reply,
)
from tests.fake_arena.auth import decode_cookie_value
from tests.helpers.arena_command import fake_arena_command
from tests.helpers.chromium import chromium
from tests.helpers.http_visitor import UA, HttpVisitor
from tests.helpers.processes import pids_with

GEMINI = "019a98f7-afcd-779f-8dcb-856cc3b3f078"
CLAUDE = "019ab4c2-5e61-7a3c-9b0e-2f6d81c4a901"
THINKING = "019ab4c2-9d10-7e44-8f3a-6c1be2d90a77"
IMAGE_MODEL = "019a5e21-7c8d-79ea-8b0c-1d2e3f405162"
SEARCH_MODEL = "019a9b00-1a2b-7c3d-9e4f-5a6b7c8d9e0f"
TEXT_ONLY = "dcbd7897-5a37-4a34-93f1-76a24c7bb028"
STEALTH = "019ac7e8-0f1e-7d2c-8b3a-495867a8b9c0"
CREATE = "/nextjs-api/stream/create-evaluation"
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)

pytestmark = pytest.mark.timeout(60)


def uuid7(ms: int | None = None) -> str:
    """A UUIDv7 as clients build it (protocol doc §10)."""
    ms = int(time.time() * 1000) if ms is None else ms
    value = (ms << 80) | (0x7 << 76) | (secrets.randbits(12) << 64) | (0b10 << 62)
    value |= secrets.randbits(62)
    return str(uuid.UUID(int=value))


def parse_stream(raw: bytes) -> list[tuple[str, Any]]:
    """``[("a0", "Hel"), ...]`` from a stream body."""
    out = []
    for text in raw.decode().split("\n"):
        if text:
            prefix, _, payload = text.partition(":")
            out.append((prefix, orjson.loads(payload)))
    return out


def text_of(lines: list[tuple[str, Any]], code: str = "a0") -> str:
    return "".join(v for p, v in lines if p == code)


class Browserless(HttpVisitor):
    """Does over HTTP what the site's JavaScript would do in a browser."""

    async def pass_challenge(self) -> None:
        body = {"ray": "x", "ua": self.ua, "webdriver": False, "cookies": True}
        async with self.http.post(self.arena.url + CHALLENGE_ENDPOINT, json=body) as r:
            assert r.status == 200, await r.text()

    async def sign_up(self) -> None:
        body = orjson.dumps({"recaptchaToken": "", "provisionalUserId": str(uuid.uuid4())})
        async with self.http.post(
            self.arena.url + "/nextjs-api/sign-up",
            data=body,
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        ) as r:
            assert r.status == 200, await r.text()

    async def sign_in(self) -> None:
        async with self.http.post(
            self.arena.url + "/nextjs-api/sign-in/email",
            json={"email": "user@example.com", "password": "arena-test"},
        ) as r:
            assert r.status == 200, await r.text()

    async def token(self, action: str = "chat_submit", key: str | None = None) -> str:
        body = {"key": key or self.arena.site_key, "action": action, "kind": "v3"}
        async with self.http.post(self.arena.url + "/recaptcha/enterprise/mint", json=body) as r:
            return str((await r.json())["token"])

    async def send(
        self, path: str, body: dict[str, Any], method: str = "POST"
    ) -> tuple[int, bytes, list[bytes], aiohttp.ClientResponse]:
        async with self.http.request(
            method,
            self.arena.url + path,
            data=orjson.dumps(body),
            headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": self.arena.url},
        ) as r:
            chunks = [c async for c in r.content.iter_any()]
            return r.status, b"".join(chunks), chunks, r

    async def body(self, **fields: Any) -> dict[str, Any]:
        prompt = fields.pop("prompt", "hello")
        body: dict[str, Any] = {
            "id": uuid7(),
            "mode": "direct-battle",
            "modelAId": GEMINI,
            "userMessageId": uuid7(),
            "modelAMessageId": uuid7(),
            "modelBMessageId": uuid7(),
            "userMessage": {"content": prompt, "experimental_attachments": [], "metadata": {}},
            "modality": "chat",
            "recaptchaV3Token": await self.token(),
        }
        body.update(fields)
        return {k: v for k, v in body.items() if v is not ...}


@pytest.fixture
async def arena() -> AsyncIterator[FakeArena]:
    async with FakeArena(recaptcha_delay=0.05) as fake:
        yield fake


@pytest.fixture
async def client(arena: FakeArena) -> AsyncIterator[Browserless]:
    c = Browserless(arena)
    await c.pass_challenge()
    await c.sign_up()
    yield c
    await c.close()


# --------------------------------------------------------------------------------------------------
# Cloudflare gate
# --------------------------------------------------------------------------------------------------


async def test_everything_is_behind_the_challenge_without_clearance(arena: FakeArena) -> None:
    async with aiohttp.ClientSession(headers={"User-Agent": UA}) as http:
        for method, path in [
            ("GET", "/"),
            ("GET", "/text/direct"),
            ("GET", "/nextjs-api/model-catalog"),
            ("POST", CREATE),
            ("POST", "/nextjs-api/sign-up"),
        ]:
            async with http.request(method, arena.url + path, data=b"{}") as r:
                html = await r.text()
                assert r.status == 403, path
                assert "<title>Just a moment...</title>" in html
                assert "Enable JavaScript and cookies to continue" in html
                assert CHALLENGE_ENDPOINT in html
    assert arena.challenges_served == 5
    assert arena.challenges_passed == 0


async def test_clearance_is_bound_to_the_user_agent_that_earned_it(arena: FakeArena) -> None:
    c = Browserless(arena)
    try:
        await c.pass_challenge()
        assert arena.challenges_passed == 1
        set_cookie = [r for r in arena.received if r.path == CHALLENGE_ENDPOINT]
        assert set_cookie
        assert {"cf_clearance", "__cf_bm", "_cfuvid"} <= set(c.cookies())
        async with c.http.get(arena.url + "/") as r:
            assert r.status == 200
        async with c.http.get(arena.url + "/", headers={"User-Agent": UA + " Other"}) as r:
            assert r.status == 403
            assert "Just a moment..." in await r.text()
    finally:
        await c.close()


async def test_clearance_cookie_is_httponly(arena: FakeArena) -> None:
    async with aiohttp.ClientSession(headers={"User-Agent": UA}) as http:
        body = {"ua": UA, "webdriver": False}
        async with http.post(arena.url + CHALLENGE_ENDPOINT, json=body) as r:
            cookie = r.cookies["cf_clearance"]
            assert cookie["httponly"] is True
            assert cookie["path"] == "/"


@pytest.mark.parametrize(
    ("ua", "reported_ua", "webdriver"),
    [
        (UA.replace("Chrome/", "HeadlessChrome/"), None, False),
        (UA, None, True),
        (UA, "Mozilla/5.0 something else", False),
    ],
)
async def test_challenge_refuses_headless_and_automation(
    arena: FakeArena, ua: str, reported_ua: str | None, webdriver: bool
) -> None:
    async with aiohttp.ClientSession(headers={"User-Agent": ua}) as http:
        body = {"ua": reported_ua or ua, "webdriver": webdriver}
        async with http.post(arena.url + CHALLENGE_ENDPOINT, json=body) as r:
            assert r.status == 403
            assert "cf_clearance" not in r.cookies
    assert arena.challenges_passed == 0


async def test_challenge_can_be_switched_off() -> None:
    async with (
        FakeArena(challenge=False) as arena,
        aiohttp.ClientSession() as http,
        http.get(arena.url + "/") as r,
    ):
        assert r.status == 200


# --------------------------------------------------------------------------------------------------
# Pages, chunks, catalog
# --------------------------------------------------------------------------------------------------


async def _page(c: Browserless, path: str = "/") -> str:
    async with c.http.get(c.arena.url + path) as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        return await r.text()


async def test_page_embeds_escaped_models_site_key_and_ui(client: Browserless) -> None:
    for path in ("/", "/?mode=direct", "/text/direct"):
        html = await _page(client, path)
        # LMArenaBridge's recipe: regex on the raw HTML, then unescape the JS string.
        m = re.search(r'\{\\"initialModels\\":(\[.*?\]),\\"initialModel[A-Z]Id', html)
        assert m, path
        models = orjson.loads(codecs.decode(m.group(1), "unicode_escape"))
        assert models == [model.to_wire() for model in DEFAULT_MODELS]
        assert '\\"initialModelAId\\":\\"' + GEMINI in html
        key = re.search(r"recaptcha/(?:enterprise|api)\.js\?render=([0-9A-Za-z_-]+)", html)
        assert key and key.group(1) == client.arena.site_key
        assert '<textarea name="message" placeholder="Ask anything…"' in html
        assert 'aria-label="Send message"' in html
        assert "Accept Cookies" in html
        assert "self.__next_f.push([1," in html


async def test_page_model_a_query_and_rotated_site_key(client: Browserless) -> None:
    client.arena.site_key = "6LeNEWKEYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    html = await _page(client, "/text/direct?model_a=claude-opus-4-5")
    assert "render=6LeNEWKEYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" in html
    assert '\\"initialModelAId\\":\\"' + CLAUDE in html


async def _evaluation_chunks(c: Browserless) -> list[str]:
    html = await _page(c)
    row = re.search(r'I\[\d+,(\[[^\]]*\]),\\"Evaluation\\"\]', html)
    assert row, "Evaluation flight row missing"
    flat = orjson.loads(codecs.decode(row.group(1), "unicode_escape"))
    pairs = list(zip(flat[::2], flat[1::2], strict=True))
    assert all(chunk_id.isdigit() and path.startswith("static/chunks/") for chunk_id, path in pairs)
    return [path for _, path in pairs]


ACTION_RE = re.compile(
    r"\(0,[a-zA-Z_$][\w$]*\.createServerReference\)\([\"']([\w\d]*?)[\"'],[a-zA-Z_$][\w$]*"
    r"\.callServer,void 0,[a-zA-Z_$][\w$]*\.findSourceMapURL,[\"'](\w+)[\"']\)"
)


async def _discover_actions(c: Browserless) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in await _evaluation_chunks(c):
        async with c.http.get(f"{c.arena.url}/_next/{path}") as r:
            assert r.status == 200
            found.update({name: aid for aid, name in ACTION_RE.findall(await r.text())})
    return found


async def test_action_ids_are_in_the_evaluation_chunks(client: Browserless) -> None:
    found = await _discover_actions(client)
    ids = client.arena.action_ids
    assert found["generateUploadUrl"] == ids["generateUploadUrl"]
    assert found["getSignedUrl"] == ids["getSignedUrl"]
    assert all(len(v) == 42 and re.fullmatch(r"[0-9a-f]+", v) for v in ids.values())
    async with client.http.get(client.arena.url + "/_next/static/chunks/nope-123.js") as r:
        assert r.status == 404


async def test_redeploy_changes_chunks_and_action_ids(client: Browserless) -> None:
    old_paths = await _evaluation_chunks(client)
    old = client.arena.action_ids
    client.arena.redeploy()
    assert client.arena.action_ids["getSignedUrl"] != old["getSignedUrl"]
    async with client.http.get(f"{client.arena.url}/_next/{old_paths[-1]}") as r:
        assert r.status == 404
    assert (await _discover_actions(client))["getSignedUrl"] == client.arena.action_ids[
        "getSignedUrl"
    ]
    status, text = await _action(client, old["getSignedUrl"], ["x"])
    assert (status, text) == (404, "Server action not found.")


async def test_model_catalog_and_unembedded_pages() -> None:
    async with FakeArena(embed_models=False) as arena:
        c = Browserless(arena)
        try:
            await c.pass_challenge()
            html = await _page(c)
            assert "initialModels" not in html
            async with c.http.get(arena.url + "/nextjs-api/model-catalog") as r:
                assert r.status == 200
                catalog = await r.json()
        finally:
            await c.close()
    assert len(catalog) == 6
    assert {"arena", "complete", "models"} <= set(catalog[0])
    rows = {m["id"]: m for arena_ in catalog for m in arena_["models"]}
    assert rows[GEMINI]["rank"] == 1 and "arenas" in rows[GEMINI]
    assert "organization" not in rows[STEALTH]


def test_default_models_cover_the_documented_shapes() -> None:
    wire = [m.to_wire() for m in DEFAULT_MODELS]
    names = [w["publicName"] for w in wire]
    assert len(names) != len(set(names))  # a shared publicName
    assert any("thinking" in n for n in names)
    assert any(w["capabilities"]["outputCapabilities"].get("image") for w in wire)
    assert any(w["capabilities"]["outputCapabilities"].get("search") for w in wire)
    assert any(not w["capabilities"]["inputCapabilities"].get("image") for w in wire)
    assert any(w["userSelectable"] is False for w in wire)
    assert any("organization" not in w for w in wire)
    assert {uuid.UUID(w["id"]).version for w in wire} == {4, 7}


# --------------------------------------------------------------------------------------------------
# Independence from the product
# --------------------------------------------------------------------------------------------------

FAKE_PACKAGE = Path(__file__).resolve().parent / "fake_arena"
IMPORTERS = ("import_module", "__import__")


def product_imports(source: str) -> list[int]:
    """Lines of ``source`` that import ``lmarena_cli``: statements, or a dynamic import by name."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in IMPORTERS:
                names = [str(a.value) for a in node.args if isinstance(a, ast.Constant)]
        # names are only set for statements and calls: the isinstance just narrows for `lineno`
        found = any(str(name).split(".")[0] == "lmarena_cli" for name in names)
        if found and isinstance(node, ast.stmt | ast.expr):
            lines.append(node.lineno)
    return sorted(lines)


def test_product_imports_finds_every_way_of_importing_the_product() -> None:
    source = (
        "import os\nimport lmarena_cli.site.facts\nfrom lmarena_cli import errors\n"
        "from .facts import SITE_KEY\nimport importlib\nimportlib.import_module('lmarena_cli')\n"
        "__import__('lmarena_cli.settings')\nimport lmarena_client\n"
    )
    assert product_imports(source) == [2, 3, 6, 7]


def test_the_fake_never_imports_the_product() -> None:
    """The fake keeps its own copy of the site's facts (``facts.py``): were it to import the
    product, a wrong fact there would be served by the fake too and no test would notice."""
    modules = sorted(FAKE_PACKAGE.rglob("*.py"))
    assert FAKE_PACKAGE / "facts.py" in modules and len(modules) > 10
    found = {
        str(path.relative_to(FAKE_PACKAGE)): lines
        for path in modules
        if (lines := product_imports(path.read_text(encoding="utf-8")))
    }
    assert found == {}


# --------------------------------------------------------------------------------------------------
# Auth
# --------------------------------------------------------------------------------------------------


async def test_sign_up_sets_anonymous_supabase_cookie(arena: FakeArena) -> None:
    c = Browserless(arena)
    try:
        await c.pass_challenge()
        pid = str(uuid.uuid4())
        body = orjson.dumps({"recaptchaToken": "", "provisionalUserId": pid})
        async with c.http.post(arena.url + "/nextjs-api/sign-up", data=body) as r:
            assert r.status == 200
        value = c.cookies()["arena-auth-prod-v1"]
        assert value.startswith("base64-")
        session = decode_cookie_value(value)
        assert session is not None
        assert session["user"]["is_anonymous"] is True
        assert session["expires_at"] > time.time() + 3000
        assert session["access_token"].count(".") == 2 and session["refresh_token"]
        async with c.http.post(arena.url + "/nextjs-api/sign-up", data=body) as r:
            assert r.status == 400
            assert "User already exists" in await r.text()
    finally:
        await c.close()


async def test_sign_in_sets_a_split_cookie_accepted_joined_or_chunked(arena: FakeArena) -> None:
    c = Browserless(arena)
    try:
        await c.pass_challenge()
        html = await _page(c, "/login")
        assert 'type="email"' in html and 'type="password"' in html and 'type="submit"' in html
        async with c.http.post(
            arena.url + "/nextjs-api/sign-in/email",
            json={"email": "user@example.com", "password": "x"},
        ) as r:
            assert r.status == 400
        await c.sign_in()
        cookies = c.cookies()
        assert "arena-auth-prod-v1" not in cookies
        assert cookies["arena-auth-prod-v1.0"].startswith("base64-")
        assert not cookies["arena-auth-prod-v1.1"].startswith("base64-")
        joined = cookies["arena-auth-prod-v1.0"] + cookies["arena-auth-prod-v1.1"]
        session = decode_cookie_value(joined)
        assert session is not None and session["user"]["is_anonymous"] is False
        assert len(orjson.dumps(session)) > 4096
        async with c.http.get(arena.url + "/api/me") as r:
            assert (await r.json())["user"]["email"] == "user@example.com"
        # The joined single cookie works as well.
        bare = {"cf_clearance": cookies["cf_clearance"], "arena-auth-prod-v1": joined}
        async with (
            aiohttp.ClientSession(headers={"User-Agent": UA}, cookies=bare) as other,
            other.get(arena.url + "/api/me") as r,
        ):
            assert r.status == 200
    finally:
        await c.close()


async def test_expired_token_is_401_and_a_page_load_refreshes_it(client: Browserless) -> None:
    arena = client.arena
    arena.expire_auth()
    status, raw, _, _ = await client.send(CREATE, await client.body())
    assert status == 401 and b"auth token has expired" in raw
    old = client.cookies()["arena-auth-prod-v1"]
    async with client.http.get(arena.url + "/") as r:
        assert "arena-auth-prod-v1" in r.cookies
    assert client.cookies()["arena-auth-prod-v1"] != old
    status, _, _, _ = await client.send(CREATE, await client.body())
    assert status == 200


async def test_page_refresh_keeps_the_chunked_layout(client: Browserless) -> None:
    await client.sign_in()
    client.arena.expire_auth()
    async with client.http.get(client.arena.url + "/c/" + uuid7()) as r:
        assert {"arena-auth-prod-v1.0", "arena-auth-prod-v1.1"} <= set(r.cookies)
    status, _, _, _ = await client.send(CREATE, await client.body())
    assert status == 200


async def test_login_gate_blocks_anonymous_direct_but_not_battle(client: Browserless) -> None:
    client.arena.login_gate = True
    status, raw, _, _ = await client.send(CREATE, await client.body())
    assert status == 401 and orjson.loads(raw) == LOGIN_GATE_BODY
    side = await client.body(mode="side-by-side", modelBId=CLAUDE)
    assert (await client.send(CREATE, side))[0] == 401
    battle = await client.body(mode="battle", modelAId=...)
    status, raw, _, _ = await client.send(CREATE, battle)
    assert status == 200
    assert text_of(parse_stream(raw), "b0").startswith("Echo B (turn 1)")
    await client.sign_in()
    assert (await client.send(CREATE, await client.body()))[0] == 200


# --------------------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------------------


async def test_create_evaluation_streams_in_awkward_chunks(client: Browserless) -> None:
    prompt = "héllo wörld 🌍 ünïcode"
    body = await client.body(prompt=prompt)
    status, raw, chunks, resp = await client.send(CREATE, body)
    assert status == 200
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["x-vercel-ai-data-stream"] == "v1"
    lines = parse_stream(raw)
    assert lines[0] == ("a2", [{"type": "heartbeat"}])
    assert text_of(lines) == f"Echo (turn 1): {prompt}"
    assert lines[-1][0] == "ad" and lines[-1][1]["finishReason"] == "stop"
    assert lines[-1][1]["usage"]["promptTokens"] > 0
    assert len([p for p, _ in lines if p == "a0"]) > 1
    assert "🌍".encode() in raw  # raw UTF-8, not \u escapes
    split_chars = 0
    for chunk in chunks:
        try:
            chunk.decode()
        except UnicodeDecodeError:
            split_chars += 1
    assert split_chars >= 1
    assert any(not chunk.endswith(b"\n") for chunk in chunks)
    session = client.arena.sessions[body["id"]]
    assert [m.role for m in session.messages] == ["user", "assistant"]
    assert session.messages[1].content == f"Echo (turn 1): {prompt}"
    assert session.messages[1].status == "success"
    # The fake counts its writes that end inside a character (tests of the product read it).
    assert client.arena.characters_split >= 1
    before = client.arena.characters_split
    client.arena.enqueue(Reply(text="plain ascii"))
    assert (await client.send(CREATE, await client.body(prompt="ascii")))[0] == 200
    assert client.arena.characters_split == before


async def test_application_json_body_is_accepted(client: Browserless) -> None:
    body = await client.body()
    async with client.http.post(client.arena.url + CREATE, json=body) as r:
        assert r.status == 200
        assert text_of(parse_stream(await r.read())) == "Echo (turn 1): hello"


async def test_follow_up_and_retry_use_server_side_history(client: Browserless) -> None:
    first = await client.body(prompt="one")
    assert (await client.send(CREATE, first))[0] == 200
    sid = first["id"]
    follow = await client.body(prompt="two", mode=..., id=sid)
    status, raw, _, _ = await client.send(f"/nextjs-api/stream/post-to-evaluation/{sid}", follow)
    assert status == 200
    assert text_of(parse_stream(raw)) == "Echo (turn 2): two"
    session = client.arena.sessions[sid]
    assert len(session.messages) == 4
    assert session.messages[2].parent_ids == [first["modelAMessageId"]]
    mid = follow["modelAMessageId"]
    retry_path = f"/nextjs-api/stream/retry-evaluation-session-message/{sid}/messages/{mid}"
    status, raw, _, _ = await client.send(
        retry_path, {"recaptchaV3Token": await client.token()}, "PUT"
    )
    assert status == 200
    assert text_of(parse_stream(raw)) == "Echo (turn 2, retry 1): two"
    assert session.messages[3].content == "Echo (turn 2, retry 1): two"
    status, raw, _, _ = await client.send(retry_path, {}, "PUT")
    assert (status, orjson.loads(raw)) == (403, {"error": "recaptcha validation failed"})
    unknown = f"/nextjs-api/stream/retry-evaluation-session-message/{sid}/messages/{uuid7()}"
    assert (await client.send(unknown, {"recaptchaV3Token": await client.token()}, "PUT"))[0] == 404
    assert len(client.arena.stream_requests()) == 5
    assert client.arena.count("/nextjs-api/stream/post-to-evaluation") == 1


async def test_side_by_side_interleaves_and_battle_hides_then_reveals(client: Browserless) -> None:
    body = await client.body(mode="side-by-side", modelBId=CLAUDE, prompt="hi")
    status, raw, _, _ = await client.send(CREATE, body)
    lines = parse_stream(raw)
    prefixes = [p for p, _ in lines if p in ("a0", "b0")]
    assert prefixes[:2] == ["a0", "b0"]
    assert text_of(lines, "b0") == "Echo B (turn 1): hi"
    assert [p for p, _ in lines][-2:] == ["ad", "bd"]
    battle = await client.body(mode="battle", modelAId=...)
    status, raw, _, _ = await client.send(CREATE, battle)
    assert status == 200
    session = client.arena.sessions[battle["id"]]
    assert session.model_b is not None and session.model_a != session.model_b
    html = await _page(client, "/c/" + battle["id"])
    assert '\\"initialModelAId\\":\\"' + session.model_a in html
    assert '\\"initialModelBId\\":\\"' + session.model_b in html


async def test_reasoning_image_and_search_models(client: Browserless) -> None:
    status, raw, _, _ = await client.send(CREATE, await client.body(modelAId=THINKING))
    lines = parse_stream(raw)
    assert text_of(lines, "ag").startswith("Thinking about turn 1")
    assert [p for p, _ in lines].index("ag") < [p for p, _ in lines].index("a0")

    status, raw, _, _ = await client.send(
        CREATE, await client.body(modelAId=IMAGE_MODEL, modality="image")
    )
    lines = parse_stream(raw)
    images = [v[0] for p, v in lines if p == "a2" and v[0]["type"] == "image"]
    assert images and images[0]["mimeType"] == "image/png" and not text_of(lines)
    async with aiohttp.ClientSession() as plain, plain.get(images[0]["image"]) as r:
        assert r.status == 200 and (await r.read()).startswith(b"\x89PNG")

    status, raw, _, _ = await client.send(
        CREATE, await client.body(modelAId=SEARCH_MODEL, modality="search")
    )
    assert status == 200
    lines = parse_stream(raw)
    call = next(v for p, v in lines if p == "ac")
    sources = orjson.loads(call["argsTextDelta"])["source"]
    assert sources[0]["url"].startswith("https://") and sources[0]["title"]
    assert text_of(lines).startswith("Echo (turn 1)")


async def test_scripted_reply(client: Browserless) -> None:
    client.arena.enqueue(
        Reply(
            text=["Hel", "lo ", "🌍"],
            reasoning="hmm",
            usage={"promptTokens": 3, "completionTokens": 2},
            heartbeats=2,
            finish_reason="length",
        )
    )
    status, raw, _, _ = await client.send(CREATE, await client.body())
    lines = parse_stream(raw)
    assert [v for p, v in lines if p == "a0"] == ["Hel", "lo ", "🌍"]
    assert text_of(lines, "ag") == "hmm"
    assert sum(1 for p, _ in lines if p == "a2") == 2
    assert lines[-1] == (
        "ad",
        {"finishReason": "length", "usage": {"promptTokens": 3, "completionTokens": 2}},
    )
    # Queue drained: the next one is the default echo.
    status, raw, _, _ = await client.send(CREATE, await client.body(prompt="x"))
    assert status == 200
    assert text_of(parse_stream(raw)) == "Echo (turn 1): x"


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


LEGACY_ERROR = (
    b'{"success":false,"error":{"issues":[{"code":"invalid_type","expected":"object",'
    b'"received":"undefined","path":["userMessage"],"message":"Required"}],"name":"ZodError"}}'
)


async def test_legacy_messages_body_gets_the_exact_zod_error(client: Browserless) -> None:
    body = await client.body(userMessage=...)
    body["messages"] = [{"id": body["userMessageId"], "role": "user", "content": "hi"}]
    status, raw, _, _ = await client.send(CREATE, body)
    assert (status, raw) == (400, LEGACY_ERROR)


@pytest.mark.parametrize(
    ("override", "status", "needle"),
    [
        ({"userMessage": {"content": 5}}, 400, b'"path":["userMessage","content"]'),
        ({"modality": "poetry"}, 400, b'"path":["modality"]'),
        ({"userMessageId": ...}, 400, b'"path":["userMessageId"]'),
        ({"userMessageId": str(uuid.uuid4())}, 400, b"UUIDv7"),
        ({"modelAMessageId": uuid7(ms=int(time.time() * 1000) - 3 * 86_400_000)}, 400, b"UUIDv7"),
        ({"modelAId": str(uuid.uuid4())}, 400, b"not found"),
        ({"modelAId": STEALTH}, 400, b"not available for user selection"),
        ({"mode": "direct"}, 400, b"direct-battle"),
        ({"mode": "battle"}, 400, b"must not be sent in battle mode"),
        ({"mode": "side-by-side"}, 400, b'"path":["modelBId"]'),
        (
            {"mode": "side-by-side", "modelBId": CLAUDE, "modelBMessageId": ...},
            400,
            b"modelBMessageId",
        ),
        ({"modelAId": IMAGE_MODEL}, 400, b"does not support modality chat"),
        ({"recaptchaV3Token": ...}, 403, b'{"error":"recaptcha validation failed"}'),
        ({"recaptchaV3Token": ""}, 403, b"recaptcha validation failed"),
        ({"recaptchaV3Token": "03AFcWeA" + "x" * 1500}, 403, b"recaptcha validation failed"),
        (
            {"recaptchaV3Token": None, "recaptchaV2Token": "nope"},
            403,
            b"recaptcha validation failed",
        ),
    ],
)
async def test_create_evaluation_validation(
    client: Browserless, override: dict[str, Any], status: int, needle: bytes
) -> None:
    body = await client.body(**override)
    got, raw, _, _ = await client.send(CREATE, body)
    assert got == status, raw
    assert needle in raw
    assert body["id"] not in client.arena.sessions


async def test_duplicate_ids_and_reused_tokens(client: Browserless) -> None:
    body = await client.body()
    assert (await client.send(CREATE, body))[0] == 200
    again = dict(body, recaptchaV3Token=await client.token(), id=uuid7())
    status, raw, _, _ = await client.send(CREATE, again)
    assert (status, orjson.loads(raw)) == (400, {"error": "duplicate ids"})
    same = uuid7()
    dup = await client.body(userMessageId=same, modelAMessageId=same)
    assert (await client.send(CREATE, dup))[1] == b'{"error":"duplicate ids"}'
    reused = await client.body(recaptchaV3Token=body["recaptchaV3Token"])
    assert (await client.send(CREATE, reused))[0] == 403


async def test_recaptcha_rejection_does_not_burn_ids(client: Browserless) -> None:
    body = await client.body(recaptchaV3Token=None)
    assert (await client.send(CREATE, body))[0] == 403
    body["recaptchaV3Token"] = await client.token()  # the site re-sends the identical body
    assert (await client.send(CREATE, body))[0] == 200


async def test_recaptcha_tokens_expire_and_are_bound(client: Browserless) -> None:
    arena = client.arena
    arena.token_ttl = -1  # every token is older than its lifetime: expired as it is minted
    body = await client.body()
    assert (await client.send(CREATE, body))[0] == 403
    arena.token_ttl = 120
    other = Browserless(arena)
    try:
        await other.pass_challenge()
        foreign = await client.body(recaptchaV3Token=await other.token())
        assert (await client.send(CREATE, foreign))[0] == 403
    finally:
        await other.close()
    stale_key = await client.body(recaptchaV3Token=await client.token(key="6LeOLDKEY"))
    assert (await client.send(CREATE, stale_key))[0] == 403
    assert [reason for _, reason in arena.recaptcha_log] == ["expired", "foreign", "wrong site key"]


async def test_v2_escalation_token_is_accepted(client: Browserless) -> None:
    arena = client.arena
    mint = {"key": arena.v2_site_key, "action": "", "kind": "v2"}
    async with client.http.post(arena.url + "/recaptcha/enterprise/mint", json=mint) as r:
        v2 = (await r.json())["token"]
    body = await client.body(recaptchaV3Token=None, recaptchaV2Token=v2)
    assert (await client.send(CREATE, body))[0] == 200
    # A v3 token is no v2 token.
    body = await client.body(recaptchaV3Token=None, recaptchaV2Token=await client.token())
    assert (await client.send(CREATE, body))[0] == 403


async def test_session_ownership_and_unknown_session(client: Browserless) -> None:
    body = await client.body()
    assert (await client.send(CREATE, body))[0] == 200
    intruder = Browserless(client.arena)
    try:
        await intruder.pass_challenge()
        await intruder.sign_up()
        follow = await intruder.body(mode=..., id=body["id"])
        path = f"/nextjs-api/stream/post-to-evaluation/{body['id']}"
        status, raw, _, _ = await intruder.send(path, follow)
        user_id = next(
            iter(u for u in client.arena.users if u != client.arena.sessions[body["id"]].owner)
        )
        assert status == 401
        assert orjson.loads(raw) == {
            "error": f"User {user_id} does not have access to evaluation session {body['id']}"
        }
        missing = uuid7()
        status, _, _, _ = await intruder.send(
            f"/nextjs-api/stream/post-to-evaluation/{missing}",
            await intruder.body(mode=..., id=missing),
        )
        assert status == 404
    finally:
        await intruder.close()


async def test_legacy_api_path_is_not_allowed(client: Browserless) -> None:
    status, raw, _, _ = await client.send("/api/stream/create-evaluation", await client.body())
    assert (status, raw) == (403, b'{"error":"Route not allowed"}')


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "needle", "header"),
    [
        (Fault.rate_limit(), 429, b"Too many requests, please try again later.", None),
        (Fault.rate_limit(retry_after=7), 429, b"Too many requests", ("Retry-After", "7")),
        (Fault.moderation(), 422, b"Request rejected: Content violates our terms of use", None),
        (Fault.invalid_content(), 400, b'{"error":"Invalid content"}', None),
        (Fault.server_error(), 500, b"Failed to create session", None),
        (Fault.server_error(502), 502, b"502", None),
        (Fault.cloudflare(), 403, b"<title>Just a moment...</title>", None),
        (Fault.recaptcha(), 403, b'{"error":"recaptcha validation failed"}', None),
        (Fault.expired_auth(), 401, b"auth token has expired", None),
        (Fault.login_gate(), 401, b"LOGIN_GATE", None),
    ],
)
async def test_http_faults(
    client: Browserless, fault: Fault, status: int, needle: bytes, header: tuple[str, str] | None
) -> None:
    client.arena.enqueue(fault)
    body = await client.body()
    got, raw, _, resp = await client.send(CREATE, body)
    assert got == status and needle in raw
    if header:
        assert resp.headers[header[0]] == header[1]
    else:
        assert "Retry-After" not in resp.headers
    if fault.kind == "moderation":
        assert body["id"].encode() in raw
    # Ids of an accepted-then-failed request are burned: a retry needs fresh ones.
    again = dict(body, recaptchaV3Token=await client.token())
    assert (await client.send(CREATE, again))[1] == b'{"error":"duplicate ids"}'


async def test_stream_faults(client: Browserless) -> None:
    arena = client.arena
    arena.enqueue(Fault.empty(heartbeats=2), Fault.arena_error(), Fault.a3("too many requests"))
    lines = parse_stream((await client.send(CREATE, await client.body()))[1])
    assert lines == [("a2", [{"type": "heartbeat"}])] * 2
    lines = parse_stream((await client.send(CREATE, await client.body()))[1])
    assert lines == [("a0", "hasArenaError")]
    lines = parse_stream((await client.send(CREATE, await client.body()))[1])
    assert lines == [("a3", "too many requests"), ("ad", {"finishReason": "error"})]


async def test_cut_stream_drops_the_connection(client: Browserless) -> None:
    client.arena.enqueue(Fault.cut(after_text="Partial ánswer"))
    body = await client.body()
    got: list[bytes] = []
    with pytest.raises(aiohttp.ClientPayloadError):
        async with client.http.post(client.arena.url + CREATE, data=orjson.dumps(body)) as r:
            assert r.status == 200
            async for chunk in r.content.iter_any():
                got.append(chunk)
    assert text_of(parse_stream(b"".join(got))) == "Partial ánswer"
    assert client.arena.sessions[body["id"]].messages[1].status == "error"
    # The server is fine afterwards.
    assert (await client.send(CREATE, await client.body()))[0] == 200


async def test_slow_first_token_slow_chunks_and_hang(client: Browserless) -> None:
    arena = client.arena
    arena.enqueue(Fault.slow_first_token(0.6), Fault.slow_chunks(0.1), Fault.hang())
    started = time.monotonic()
    async with client.http.post(arena.url + CREATE, data=orjson.dumps(await client.body())) as r:
        first = await r.content.readline()
        assert first == b'a2:[{"type":"heartbeat"}]\n'
        second = await r.content.readline()
        assert second.startswith(b'a0:"') and time.monotonic() - started >= 0.6
        await r.read()
    started = time.monotonic()
    status, raw, _, _ = await client.send(CREATE, await client.body())
    assert status == 200
    assert time.monotonic() - started >= 0.4 and text_of(parse_stream(raw)).startswith("Echo")
    timeout = aiohttp.ClientTimeout(sock_read=0.5)
    with pytest.raises(asyncio.TimeoutError):
        async with client.http.post(
            arena.url + CREATE, data=orjson.dumps(await client.body()), timeout=timeout
        ) as r:
            assert r.status == 200
            await r.read()
    # A hung handler notices the client left; the fake keeps serving.
    assert (await client.send(CREATE, await client.body()))[0] == 200


async def test_client_disconnect_mid_stream_is_quiet(
    client: Browserless, caplog: pytest.LogCaptureFixture
) -> None:
    client.arena.enqueue(Reply(text=["a"] * 50, delay_between=0.02))
    body = await client.body()
    async with client.http.post(client.arena.url + CREATE, data=orjson.dumps(body)) as r:
        await r.content.readline()
    # The fake notices its reader went away (it marks the answer so), then serves on.
    session = client.arena.sessions[body["id"]]
    deadline = time.monotonic() + 10
    while session.messages[-1].status != "error":
        assert time.monotonic() < deadline, "the fake never noticed the client leave"
        await asyncio.sleep(0.02)
    assert (await client.send(CREATE, await client.body()))[0] == 200
    assert not [rec for rec in caplog.records if rec.levelname in ("ERROR", "CRITICAL")]


# --------------------------------------------------------------------------------------------------
# Server actions and uploads
# --------------------------------------------------------------------------------------------------


async def _action(
    c: Browserless, action_id: str, args: list[Any], page: str = "/"
) -> tuple[int, str]:
    async with c.http.post(
        c.arena.url + page,
        data=orjson.dumps(args),
        headers={
            "Next-Action": action_id,
            "Accept": "text/x-component",
            "Content-Type": "text/plain;charset=UTF-8",
        },
    ) as r:
        return r.status, await r.text()


def _line1(text: str) -> Any:
    assert text.startswith('0:{"a":"$@1","f":"","b":"')
    return orjson.loads(next(line for line in text.splitlines() if line.startswith("1:"))[2:])


async def _upload(c: Browserless, data: bytes = PNG_1PX) -> tuple[str, str]:
    ids = c.arena.action_ids
    status, text = await _action(
        c, ids["generateUploadUrl"], ["cat.png", "image/png"], "/?mode=direct"
    )
    assert status == 200
    result = _line1(text)
    assert result["success"] is True
    upload_url, key = result["data"]["uploadUrl"], result["data"]["key"]
    assert re.search(r"X-Amz-Date=\d{8}T\d{6}Z", upload_url) and "X-Amz-Expires=" in upload_url
    async with (
        aiohttp.ClientSession() as plain,  # no cookies needed, as with R2
        plain.put(upload_url, data=data, headers={"Content-Type": "image/png"}) as r,
    ):
        assert r.status == 200
    status, text = await _action(c, ids["getSignedUrl"], [key], "/text/direct")
    return key, _line1(text)["data"]["url"]


async def test_upload_flow_and_attachment(client: Browserless) -> None:
    key, url = await _upload(client)
    async with aiohttp.ClientSession() as plain, plain.get(url) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "image/png"
        assert await r.read() == PNG_1PX
    att = {"name": key, "contentType": "image/png", "url": url}
    body = await client.body(
        prompt="what is this?",
        userMessage={"content": "what is this?", "experimental_attachments": [att], "metadata": {}},
    )
    assert (await client.send(CREATE, body))[0] == 200
    assert client.arena.sessions[body["id"]].messages[0].attachments == [att]
    text_only = await client.body(
        modelAId=TEXT_ONLY,
        userMessage={"content": "x", "experimental_attachments": [att], "metadata": {}},
    )
    status, raw, _, _ = await client.send(CREATE, text_only)
    assert status == 400 and b"does not accept image input" in raw
    forged = dict(att, url=url.replace("X-Amz-Signature=", "X-Amz-Signature=00"))
    bad = await client.body(userMessage={"content": "x", "experimental_attachments": [forged]})
    assert (await client.send(CREATE, bad))[0] == 400


async def test_upload_limits_and_signatures(client: Browserless) -> None:
    arena = client.arena
    arena.max_upload_bytes = 1000
    status, text = await _action(
        client, arena.action_ids["generateUploadUrl"], ["a.png", "image/png"]
    )
    url = _line1(text)["data"]["uploadUrl"]
    async with aiohttp.ClientSession() as plain:
        async with plain.put(url, data=b"x" * 1001) as r:
            assert r.status == 413
        async with plain.put(url.replace("X-Amz-Signature=", "X-Amz-Signature=ab")) as r:
            assert r.status == 403 and "SignatureDoesNotMatch" in await r.text()
        async with plain.get(url) as r:  # a PUT signature does not allow GET
            assert r.status == 403
    status, text = await _action(client, arena.action_ids["getSignedUrl"], ["no/such/key"])
    assert _line1(text) == {"success": False, "error": "File not found"}
    status, text = await _action(
        client, arena.action_ids["generateUploadUrl"], ["a.exe", "application/x-foo"]
    )
    assert status == 200
    assert _line1(text)["success"] is False
    assert (await _action(client, "40" + "0" * 40, []))[0] == 404


async def test_expired_presigned_url_is_refused(client: Browserless) -> None:
    client.arena.upload_url_ttl = -1  # expired as it is signed
    status, text = await _action(
        client, client.arena.action_ids["generateUploadUrl"], ["a.png", "image/png"]
    )
    assert status == 200
    async with (
        aiohttp.ClientSession() as plain,
        plain.put(_line1(text)["data"]["uploadUrl"], data=b"x") as r,
    ):
        assert r.status == 403 and "AccessDenied" in await r.text()


# --------------------------------------------------------------------------------------------------
# Demo entry point and legacy host
# --------------------------------------------------------------------------------------------------


async def test_legacy_host_redirects() -> None:
    async with FakeArena(lmarena_redirect=True) as arena, aiohttp.ClientSession() as http:
        assert arena.legacy_url
        async with http.get(arena.legacy_url + "/c/abc?x=1", allow_redirects=False) as r:
            assert r.status == 301
            assert r.headers["Location"] == arena.url + "/c/abc?x=1"


def test_module_runs_prints_url_and_stops_cleanly() -> None:
    with fake_arena_command("--login-gate") as url:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "/", timeout=5)  # the Cloudflare gate, by default
        refused.value.close()
        assert refused.value.code == 403


def test_module_browser_only_refuses_requests_without_a_browsers_headers() -> None:
    with fake_arena_command("--no-challenge", "--browser-only") as url:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "/", timeout=5)
        refused.value.close()
        assert refused.value.code == 403
        assert refused.value.headers["cf-mitigated"] == "challenge"
        hints = {"Sec-CH-UA": '"Chromium";v="156"', "Sec-Fetch-Mode": "navigate"}
        with urllib.request.urlopen(urllib.request.Request(url + "/", headers=hints)) as page:
            assert page.status == 200


# --------------------------------------------------------------------------------------------------
# Real Chromium
# --------------------------------------------------------------------------------------------------

BROWSER_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
]


async def _launch(profile: str, user_agent: str | None) -> Any:
    import nodriver

    args = list(BROWSER_ARGS)
    if user_agent:
        args.append(f"--user-agent={user_agent}")
    return await nodriver.start(
        browser_executable_path=chromium(),
        headless=True,
        sandbox=False,
        browser_args=args,
        user_data_dir=profile,
    )


async def _stop(browser: Any, profile: str) -> None:
    browser.stop()
    for _ in range(100):
        if not pids_with(profile):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"chromium processes left behind: {pids_with(profile)}")


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
async def test_real_chromium_passes_challenge_signs_up_and_mints_tokens(arena: FakeArena) -> None:
    import nodriver

    with tempfile.TemporaryDirectory(prefix="fake-arena-profile-") as profile:
        # 1. Headless Chromium's own User-Agent says "HeadlessChrome": it never gets through.
        browser = await _launch(profile, None)
        try:
            tab = await browser.get(arena.url + "/")
            default_ua = await tab.evaluate("navigator.userAgent")
            assert "HeadlessChrome" in default_ua
            await _wait_for(tab, "!document.getElementById('challenge-error-text').hidden")
            assert await tab.evaluate("document.title") == "Just a moment..."
        finally:
            await _stop(browser, profile)
        assert arena.challenges_passed == 0

    with tempfile.TemporaryDirectory(prefix="fake-arena-profile-") as profile:
        # 2. With a normal Chrome User-Agent it passes, signs up and mints tokens.
        ua = default_ua.replace("HeadlessChrome", "Chrome")
        browser = await _launch(profile, ua)
        try:
            tab = await browser.get(arena.url + "/")
            await _wait_for(tab, "document.title === 'LMArena'")
            assert arena.challenges_passed == 1
            await _wait_for(tab, "document.cookie.includes('arena-auth-prod-v1')")
            assert await tab.evaluate("localStorage.getItem('provisional_user_id')")
            await _wait_for(tab, "!!(window.grecaptcha && grecaptcha.enterprise)")
            key = arena.site_key
            token = await tab.evaluate(
                f"grecaptcha.enterprise.execute('{key}', {{action: 'chat_submit'}})",
                await_promise=True,
            )
            assert isinstance(token, str) and len(token) > 1500
            wrong = await tab.evaluate(
                "grecaptcha.enterprise.execute('6LeWRONGKEY', {action: 'chat_submit'})",
                await_promise=True,
            )
            assert isinstance(wrong, nodriver.cdp.runtime.ExceptionDetails)
            assert "Invalid site key" in (wrong.exception.description or "")
            cookies = {c.name: c.value for c in await browser.cookies.get_all()}
            assert {"cf_clearance", "arena-auth-prod-v1", "provisional_user_id"} <= set(cookies)

            # 3. The browser's cookies + UA + token work from aiohttp.
            body: dict[str, Any] = {
                "id": uuid7(),
                "mode": "direct-battle",
                "modelAId": CLAUDE,
                "userMessageId": uuid7(),
                "modelAMessageId": uuid7(),
                "modelBMessageId": uuid7(),
                "userMessage": {
                    "content": "from the browser",
                    "experimental_attachments": [],
                    "metadata": {},
                },
                "modality": "chat",
                "recaptchaV3Token": token,
            }
            async with (
                aiohttp.ClientSession(headers={"User-Agent": ua}, cookies=cookies) as http,
                http.post(arena.url + CREATE, data=orjson.dumps(body)) as r,
            ):
                raw = await r.read()
                assert r.status == 200, raw
            assert text_of(parse_stream(raw)) == "Echo (turn 1): from the browser"

            # 4. The page's own chat box works too (follow-up in the same conversation).
            await tab.get(arena.url + "/c/" + body["id"])
            await _wait_for(tab, "!!(window.grecaptcha && grecaptcha.enterprise)")
            await tab.evaluate(
                "document.querySelector('textarea[name=message]').value = 'typed';"
                "document.querySelector('button[aria-label=\"Send message\"]').click()"
            )
            answer = await _wait_for(
                tab, "(document.querySelector('.answer')||{}).textContent || ''"
            )
            for _ in range(50):
                if "Echo (turn 2): typed" in answer:
                    break
                await asyncio.sleep(0.1)
                answer = await tab.evaluate("document.querySelector('.answer').textContent")
            assert answer == "Echo (turn 2): typed"
        finally:
            await _stop(browser, profile)


async def test_a_rate_limited_model_row_carries_rate_limited_until(arena: FakeArena) -> None:
    """Protocol §15.3: a per-account, per-model cooldown is a row's ``rateLimitedUntil``."""
    arena.rate_limit_model("gemini-3-pro", "2026-12-06T04:00:00.000Z")
    c = Browserless(arena)
    try:
        await c.pass_challenge()
        async with c.http.get(arena.url + "/nextjs-api/model-catalog") as r:
            catalog = await r.json()
    finally:
        await c.close()
    rows = {m["id"]: m for arena_ in catalog for m in arena_["models"]}
    assert rows[GEMINI]["rateLimitedUntil"] == "2026-12-06T04:00:00.000Z"
    assert all("rateLimitedUntil" not in m for i, m in rows.items() if i != GEMINI)


def test_a_rate_limit_fault_may_carry_ratelimit_reset() -> None:
    """Protocol §15.3: the site's 429 names its end as absolute Unix seconds."""
    fault = Fault.rate_limit(retry_after=1200, reset=1796526850.7)
    assert fault.status == 429
    assert fault.headers == {"Retry-After": "1200", "RateLimit-Reset": "1796526850"}

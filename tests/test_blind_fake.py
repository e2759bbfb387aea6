"""The real `lmarena` (subprocesses, a real headless Chromium) against tests/blind_fake.py, a fake
of arena.ai written blind from the protocol document by someone who did not read the product.
Its deliberate protocol choices are listed at the top of tests/blind_fake.py."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.blind_fake import UUID7
from tests.helpers.images import png

if TYPE_CHECKING:  # openai is imported where used, at run time
    from openai.types.chat import ChatCompletionMessageParam

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parent.parent


def _lmarena_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("lmarena")
    return (
        [str(exe)]
        if exe.exists()
        else [sys.executable, "-c", "from lmarena_cli.cli.app import main; main()"]
    )


class Fake:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.blind_fake", "--port", "0", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def _post(self, path: str, data: dict[str, Any] | None = None) -> Any:
        req = urllib.request.Request(
            self.url + path, data=json.dumps(data or {}).encode(), method="POST"
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def reset(self, **faults: Any) -> None:
        self._post("/__fake/reset")
        if faults:
            self._post("/__fake/config", faults)

    def config(self, **faults: Any) -> None:
        self._post("/__fake/config", faults)

    def log(self, kind: str | None = None) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/__fake/log", timeout=10) as r:
            entries: list[dict[str, Any]] = json.load(r)
        return [e for e in entries if kind is None or e["kind"] == kind]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def fake_server() -> Iterator[Fake]:
    fake = Fake()
    yield fake
    fake.stop()


@pytest.fixture
def fake(fake_server: Fake) -> Fake:
    fake_server.reset()
    return fake_server


@pytest.fixture
def env(fake_server: Fake, tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        LM_ARENA_BASE_URL=fake_server.url,
        LM_ARENA_STATE_DIR=str(tmp_path / "state"),
        LM_ARENA_BROWSER_HEADLESS="1",
        NO_COLOR="1",
    )
    return e


def run(
    env: dict[str, str],
    *args: str,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_lmarena_cmd(), *args],
        env=env,
        input=stdin,
        text=True,
        capture_output=True,
        timeout=timeout,
        cwd=cwd,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def ok(p: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert p.returncode == 0, f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


CHAT_MODELS = {
    "gemini-3-pro",
    "claude-opus-4-5",
    "deepthink-r2",
    "gpt-image-2",
    "sonar-pro-search",
    "riftrunner",
}


# ------------------------------------------------------------------------------------ models
def test_models_from_flight_split_across_two_pushes(fake: Fake, env: dict[str, str]) -> None:
    names = ok(run(env, "models")).stdout.split()
    assert set(names) >= CHAT_MODELS
    assert "retired-model-0" not in names  # userSelectable:false
    assert names.count("gemini-3-pro") == 1  # two rows share the publicName
    rows = json.loads(ok(run(env, "models", "--json")).stdout)
    by = {r["name"]: r for r in rows}
    assert by["gemini-3-pro"]["id"] == "019b2c41-7a10-7c3e-9d2a-4be1f0c3a001"  # the newer (v7) row
    assert by["gpt-image-2"]["outputs_images"] and by["gpt-image-2"]["modality"] == "image"
    assert by["sonar-pro-search"]["searches"] and by["claude-opus-4-5"]["takes_images"]
    assert not by["riftrunner"]["organization"]
    for r in rows:
        assert {
            "name",
            "id",
            "organization",
            "modality",
            "takes_images",
            "outputs_images",
            "searches",
            "user_selectable",
            "rank",
            "capabilities",
        } <= set(r)


def test_models_from_catalog_only(tmp_path: Path, env: dict[str, str]) -> None:
    other = Fake("--no-embed")
    try:
        e = dict(env, LM_ARENA_BASE_URL=other.url)
        names = ok(run(e, "models")).stdout.split()
        assert set(names) >= CHAT_MODELS and names.count("gemini-3-pro") == 1
        assert "[riftrunner] turn 1: hi" in ok(run(e, "ask", "-m", "riftrunner", "hi")).stdout
    finally:
        other.stop()


def test_video_only_model_not_offered_for_chat(fake: Fake, env: dict[str, str]) -> None:
    assert "veo-4" not in ok(run(env, "models")).stdout.split()
    p = run(env, "ask", "-m", "veo-4", "hi")
    assert p.returncode == 2, p.stderr
    assert not fake.log("create")


# ------------------------------------------------------------------------------------ ask
def test_ask_stdin_then_continue_then_resume(fake: Fake, env: dict[str, str]) -> None:
    p = ok(run(env, "ask", "-m", "claude-opus-4-5", stdin="hi\n"))
    assert p.stdout == "[claude-opus-4-5] turn 1: hi — ok ✓\n"
    sid = p.stderr.split("conversation: ")[1].split()[0]
    assert UUID7.match(sid)
    p = ok(run(env, "ask", "-c", "and again?"))
    assert "turn 2 (previous: hi): and again?" in p.stdout
    p = ok(run(env, "ask", "--resume", sid, "third"))
    assert "[claude-opus-4-5] turn 3 (previous: and again?): third" in p.stdout
    create, *posts = fake.log("create") + fake.log("post")
    assert create["body"]["mode"] == "direct-battle" and create["body"]["id"] == sid
    assert [e["path"].rsplit("/", 1)[1] for e in posts] == [sid, sid]
    ids = [e["body"][f] for e in [create, *posts] for f in ("userMessageId", "modelAMessageId")]
    assert len(set(ids)) == len(ids) and all(UUID7.match(i) for i in ids)
    assert all(e["has_token"] and e["status"] == 200 for e in [create, *posts])


def test_ask_json_reasoning_and_search_citations(fake: Fake, env: dict[str, str]) -> None:
    r = json.loads(ok(run(env, "ask", "-m", "deepthink-r2", "--json", "-q", "think")).stdout)
    assert r["text"] == "[deepthink-r2] turn 1: think — ok ✓"
    assert "Let me think" in r["reasoning"] and "the user wrote" in r["reasoning"]
    assert r["finish_reason"] == "stop" and r["usage"]["completionTokens"] == 7
    assert UUID7.match(r["evaluation_session_id"]) and r["model"] == "deepthink-r2"
    r = json.loads(ok(run(env, "ask", "-m", "sonar-pro-search", "--json", "-q", "look")).stdout)
    assert r["citations"] and r["citations"][0]["url"] == "https://example.org/blind"


def test_ask_with_image_upload_and_stale_action_ids(
    fake: Fake, env: dict[str, str], tmp_path: Path
) -> None:
    img = tmp_path / "small.png"
    img.write_bytes(png(5, 3, (1, 2, 3)))
    p = ok(run(env, "ask", "-m", "claude-opus-4-5", "--image", str(img), "what is this"))
    assert "[saw 1 image(s): 5x3]: what is this" in p.stdout
    fake.config(deploy=True)  # new build: the cached action ids are stale now
    p = ok(run(env, "ask", "-m", "claude-opus-4-5", "--image", str(img), "again"))
    assert "[saw 1 image(s): 5x3]: again" in p.stdout
    names = [e["name"] for e in fake.log("action")]
    assert names[:2] == ["generateUploadUrl", "getSignedUrl"] and names.count("getSignedUrl") >= 2


def test_image_generation_saved_with_o(fake: Fake, env: dict[str, str], tmp_path: Path) -> None:
    p = ok(
        run(env, "ask", "-m", "gpt-image-2", "-o", str(tmp_path / "cat.png"), "a cat", cwd=tmp_path)
    )
    one, two = (tmp_path / "cat-1.png").read_bytes(), (tmp_path / "cat-2.png").read_bytes()
    assert one == png(8, 8, (200, 30, 30)) and two == png(4, 4, (10, 200, 10))
    assert fake.log("create")[0]["body"]["modality"] == "image"
    assert "http" not in p.stdout


def test_chat_piped(fake: Fake, env: dict[str, str]) -> None:
    p = ok(run(env, "chat", "-m", "claude-opus-4-5", stdin="hello\nwhat did I just say?\n"))
    assert "[claude-opus-4-5] turn 1: hello" in p.stdout
    assert "turn 2 (previous: hello): what did I just say?" in p.stdout


# ------------------------------------------------------------------------------------ faults
def test_rate_limit_exits_6_without_hammering(fake: Fake, env: dict[str, str]) -> None:
    fake.reset(rate_limit=10, retry_after=3600)
    p = run(env, "ask", "hi")
    assert p.returncode == 6, p.stderr
    assert "3600" in p.stderr and p.stdout == ""
    assert [e["status"] for e in fake.log("create")] == [429]


def test_recaptcha_rejected_twice_exits_5(fake: Fake, env: dict[str, str]) -> None:
    fake.reset(recaptcha_reject=10)
    p = run(env, "ask", "hi")
    assert p.returncode == 5, p.stderr
    calls = fake.log("create")
    assert [e["status"] for e in calls] == [403, 403]  # one retry, never more
    assert calls[0]["body"]["id"] != calls[1]["body"]["id"]  # fresh ids on the retry


def test_recaptcha_rejected_once_is_retried(fake: Fake, env: dict[str, str]) -> None:
    fake.reset(recaptcha_reject=1)
    assert "turn 1: hi" in ok(run(env, "ask", "hi")).stdout
    assert [e["status"] for e in fake.log("create")] == [403, 200]


def test_login_gate_exits_4_but_battle_works(fake: Fake, env: dict[str, str]) -> None:
    fake.reset(login_gate=True)
    p = run(env, "ask", "-m", "claude-opus-4-5", "hi")
    assert p.returncode == 4, p.stderr
    assert "login" in p.stderr
    p = ok(run(env, "ask", "--battle", "hi"))
    assert "=== model A" in p.stdout and "=== model B" in p.stdout


def test_stream_cut_keeps_partial_and_exits_3(fake: Fake, env: dict[str, str]) -> None:
    fake.reset(stream_fault=["cut"])
    p = run(env, "ask", "hi")
    assert p.returncode == 3, p.stderr
    assert p.stdout == "Partial answer, then\n"


def test_moderation_exits_7(fake: Fake, env: dict[str, str]) -> None:
    p = run(env, "ask", "tell me about forbidden-topic")
    assert p.returncode == 7, p.stderr
    assert p.stdout == ""
    error = p.stderr.strip().splitlines()[-1]
    assert error.startswith("lmarena: ") and "violates our terms of use" in error, p.stderr
    assert [e["status"] for e in fake.log("create")] == [422]  # refused content: never resent


# ------------------------------------------------------------------------------------ serve
class Serve:
    """`lmarena serve` on a free port, and an `openai` client for it."""

    def __init__(self, env: dict[str, str]) -> None:
        import socket

        from openai import OpenAI

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [*_lmarena_cmd(), "serve", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if json.load(r).get("ready"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise AssertionError("lmarena serve never became ready")
            time.sleep(0.3)
        self.client = OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0
        )

    def stop(self) -> int | None:
        self.proc.terminate()
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def _image_message(text: str, w: int, h: int) -> list[ChatCompletionMessageParam]:
    encoded = base64.b64encode(png(w, h, (9, 9, 9))).decode()
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + encoded}},
            ],
        }
    ]


@pytest.mark.timeout(120)
def test_serve_with_openai_package(fake: Fake, env: dict[str, str]) -> None:
    import openai

    serve = Serve(env)
    c = serve.client
    try:
        assert {m.id for m in c.models.list().data} >= CHAT_MODELS

        r = c.chat.completions.create(
            model="claude-opus-4-5", messages=[{"role": "user", "content": "hello"}]
        )
        first = r.choices[0].message.content
        assert first == "[claude-opus-4-5] turn 1: hello — ok ✓"
        r = c.chat.completions.create(
            model="claude-opus-4-5",
            messages=[
                {"role": "user", "content": "hello"},
                {"role": "assistant", "content": first},
                {"role": "user", "content": "second"},
            ],
        )
        assert "turn 2 (previous: hello): second" in (r.choices[0].message.content or "")

        chunks = list(
            c.chat.completions.create(
                model="deepthink-r2",
                messages=[{"role": "user", "content": "stream me"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        assert text == "[deepthink-r2] turn 1: stream me — ok ✓"
        assert any(ch.usage and ch.usage.completion_tokens == 8 for ch in chunks)

        # the clearance and the sign-in go stale while serve runs
        fake.config(cf_reset=True, expire_auth=True)
        r = c.chat.completions.create(
            model="gemini-3-pro", messages=[{"role": "user", "content": "later"}]
        )
        assert "[gemini-3-pro] turn 1: later" in (r.choices[0].message.content or "")
        fake.config(deploy=True)  # and the action ids
        r = c.chat.completions.create(model="claude-opus-4-5", messages=_image_message("img", 6, 2))
        assert "[saw 1 image(s): 6x2]: img" in (r.choices[0].message.content or "")

        imgs = c.images.generate(model="gpt-image-2", prompt="a cat")
        assert imgs.data is not None and len(imgs.data) == 2

        fake.reset(rate_limit=5, retry_after=42)
        with pytest.raises(openai.RateLimitError) as err:
            c.chat.completions.create(
                model="gemini-3-pro", messages=[{"role": "user", "content": "x"}]
            )
        assert err.value.response.headers.get("retry-after") == "42"
        # The wait is remembered: the next request is refused at once, without reaching the site.
        with pytest.raises(openai.RateLimitError) as again:
            c.chat.completions.create(
                model="gemini-3-pro", messages=[{"role": "user", "content": "y"}]
            )
        assert "not sending" in str(again.value)
        (Path(env["LM_ARENA_STATE_DIR"]) / "penalties.json").unlink()  # as a user may, at a risk
        fake.reset(login_gate=True)
        with pytest.raises(openai.APIStatusError) as err2:
            c.chat.completions.create(
                model="gemini-3-pro", messages=[{"role": "user", "content": "x"}]
            )
        # The login gate is SignInRequired: 503, with its kind as OpenAI's error code.
        assert err2.value.status_code == 503
        assert err2.value.code == "login_gate"
    finally:
        assert serve.stop() == 0


@pytest.mark.timeout(90)
def test_serve_image_after_cloudflare_clearance_expired(fake: Fake, env: dict[str, str]) -> None:
    serve = Serve(env)
    try:
        c = serve.client
        c.chat.completions.create(
            model="claude-opus-4-5", messages=[{"role": "user", "content": "warm"}]
        )
        fake.config(cf_reset=True)
        r = c.chat.completions.create(model="claude-opus-4-5", messages=_image_message("img", 3, 7))
        assert "[saw 1 image(s): 3x7]: img" in (r.choices[0].message.content or "")
    finally:
        serve.stop()

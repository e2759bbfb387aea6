"""``lmarena history export``: a stored conversation as markdown, JSON, or a request body of the
OpenAI or Anthropic API that replays it.

Conversations are made by real ``lmarena ask`` subprocesses on the browser's stand-in against the
fake arena; ``history export`` runs as a real ``lmarena`` subprocess. The request bodies are read
by the ``openai`` and ``anthropic`` packages' own types, and sent to ``lmarena serve`` by their
clients, which must continue the stored conversation.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from lmarena_cli.client.client import Client
from lmarena_cli.server.app import make_app
from lmarena_cli.server.run import start, warm_up
from lmarena_cli.settings import Settings
from lmarena_cli.state.store import ConversationStore
from tests.fake_arena import FakeArena
from tests.helpers.command import run_lmarena
from tests.helpers.images import png
from tests.helpers.standin_cli import StandInCli, conversation

pytestmark = pytest.mark.timeout(90)

MODEL = "gemini-3-pro"
OTHER = "claude-opus-4-5"
IMAGE_MODEL = "gemini-3-pro-image-preview"
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path) -> StandInCli:
    return StandInCli(arena.url, tmp_path / "cli-state", model=MODEL)


def export(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LM_ARENA_STATE_DIR": str(state), "LM_ARENA_MODEL": MODEL}
    return run_lmarena("history", "export", *args, env=env)


async def ask(cli: StandInCli, *args: str, stdin: str = "") -> str:
    done = await cli("ask", *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return conversation(done.stderr)


def without_stamps(text: str) -> str:
    return STAMP.sub("T", text)


@contextlib.asynccontextmanager
async def serving(arena: FakeArena, state: Path) -> AsyncIterator[str]:
    """``lmarena serve`` on the store the commands wrote (its origin, no ``/v1``)."""
    from tests.fakes import HttpBrowser

    settings = Settings(base_url=arena.url, state_dir=state, browser_headless=True)
    browser = HttpBrowser(settings)
    client = Client(settings, browser=browser, record=False)
    running = await start(make_app(client, settings), "127.0.0.1", 0)
    try:
        await warm_up(running.runner.app)
        yield running.url
    finally:
        await running.runner.cleanup()
        await client.close()
        await browser.close()


async def pictured(cli: StandInCli, tmp_path: Path) -> tuple[str, Path]:
    """Two turns: a system prompt, an image file and an inline image, then a follow-up."""
    picture = tmp_path / "dot.png"
    picture.write_bytes(png())
    inline = "data:image/png;base64," + base64.b64encode(png(rgb=(1, 2, 3))).decode()
    first = ("--image", str(picture), "--image", inline, "what is this?")
    a = await ask(cli, "--no-stdin", "-s", "Be terse.", *first)
    await ask(cli, "--no-stdin", "--resume", a, "and then?")
    return a, picture


FIRST_ANSWER = "Echo (turn 1): [System]\nBe terse.\n\n[User]\nwhat is this?"


async def test_markdown_has_a_heading_per_turn_the_model_and_links_to_the_images(
    cli: StandInCli, tmp_path: Path
) -> None:
    a, picture = await pictured(cli, tmp_path)
    done = export(cli.state, a)
    assert (done.returncode, done.stderr) == (0, "")
    assert without_stamps(done.stdout) == (
        "# what is this?\n\n"
        f"- conversation: `{a}`\n"
        f"- models: {MODEL}\n"
        "- mode: direct\n"
        "- created: T; updated: T\n\n"
        "## System\n\nBe terse.\n\n"
        "## Turn 1\n\n### User\n\nwhat is this?\n\n"
        f"![image 1](<{picture}>)\n\n"
        "*(image 2: given as bytes or inline data; not kept)*\n\n"
        f"### {MODEL}\n\n{FIRST_ANSWER}\n\n"
        "## Turn 2\n\n### User\n\nand then?\n\n"
        f"### {MODEL}\n\nEcho (turn 2): and then?\n"
    )
    assert export(cli.state, a, "--format", "md").stdout == done.stdout


async def test_markdown_of_side_by_side_gives_both_answers_and_saved_images(
    cli: StandInCli, tmp_path: Path
) -> None:
    both = await ask(cli, "--no-stdin", "--vs", OTHER, "both of you")
    done = export(cli.state, both)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("## Turn 1\n", 1)[1] == (
        "\n### User\n\nboth of you\n\n"
        f"### A: {MODEL}\n\nEcho (turn 1): both of you\n\n"
        f"### B: {OTHER}\n\nEcho B (turn 1): both of you\n"
    )
    assert f"- models: {MODEL}, {OTHER}\n- mode: side-by-side\n" in done.stdout

    target = tmp_path / "cat.png"
    drawn = await ask(cli, "--no-stdin", "-m", IMAGE_MODEL, "-o", str(target), "a cat")
    assert target.read_bytes().startswith(b"\x89PNG")
    shown = export(cli.state, drawn)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.endswith(f"### {IMAGE_MODEL}\n\n![generated image 1](<{target}>)\n")


async def test_json_is_the_record_history_show_json_prints(cli: StandInCli, tmp_path: Path) -> None:
    a, picture = await pictured(cli, tmp_path)
    done = export(cli.state, a, "-f", "json")
    assert (done.returncode, done.stderr) == (0, "")
    shown = run_lmarena(
        "history", "show", a, "--json", env={**os.environ, "LM_ARENA_STATE_DIR": str(cli.state)}
    )
    assert done.stdout == shown.stdout
    record = orjson.loads(done.stdout)
    assert record["id"] == a and record["turns"] == 2 and record["models"] == [MODEL]
    assert [m["role"] for m in record["transcript"]] == [
        "system", "user", "assistant", "user", "assistant"
    ]  # fmt: skip
    assert record["exchanges"][0] == {
        "turn": 1,
        "images": [str(picture), None],
        "answers": [{"side": "a", "model": MODEL, "text": FIRST_ANSWER, "images": []}],
        "saved": [],
    }
    assert record["exchanges"][1]["turn"] == 2


async def test_openai_export_is_a_chat_completions_body_that_serve_continues(
    cli: StandInCli, arena: FakeArena, tmp_path: Path
) -> None:
    import openai
    from openai.types.chat import ChatCompletionMessageParam
    from pydantic import TypeAdapter

    a, picture = await pictured(cli, tmp_path)
    done = export(cli.state, a, "-f", "openai")
    assert done.returncode == 0
    # The inline image was not kept: the body leaves it out, and says so.
    assert done.stderr == (
        "lmarena: left out of the body: turn 1, image 2 (given as bytes or inline data)\n"
    )
    body = orjson.loads(done.stdout)
    assert body["model"] == MODEL
    # The openai package's own types take it (they raise on a wrong role, part or field).
    TypeAdapter(list[ChatCompletionMessageParam]).validate_python(body["messages"], strict=True)
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    assert messages[0]["content"] == "Be terse."
    assert messages[1]["content"] == [
        {"type": "text", "text": "what is this?"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(png()).decode()},
        },
    ]
    assert messages[2]["content"] == FIRST_ANSWER
    # The file is gone: the body leaves it out too, and names it.
    picture.unlink()
    gone = export(cli.state, a, "-f", "openai")
    assert orjson.loads(gone.stdout)["messages"][1]["content"] == [
        {"type": "text", "text": "what is this?"}
    ]
    assert f"lmarena: left out of the body: turn 1, image 1 ({picture} is not readable)\n" in (
        gone.stderr
    )
    before = len(arena.stream_requests())
    async with serving(arena, cli.state) as url:
        api = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        answer = await api.chat.completions.create(
            model=body["model"],
            messages=[*body["messages"], {"role": "user", "content": "and now?"}],
        )
        await api.close()
    # serve recognised the history: the same conversation on the site, its third turn.
    assert answer.choices[0].message.content == "Echo (turn 3): and now?"
    sent = arena.stream_requests()[before:]
    assert len(sent) == 1 and a in sent[0].path


async def test_anthropic_export_is_a_messages_body_that_serve_continues(
    cli: StandInCli, arena: FakeArena, tmp_path: Path
) -> None:
    import anthropic
    from pydantic import TypeAdapter

    a, _ = await pictured(cli, tmp_path)
    done = export(cli.state, a, "-f", "anthropic")
    assert done.returncode == 0, done.stderr
    body = orjson.loads(done.stdout)
    assert list(body) == ["model", "max_tokens", "system", "messages"]
    assert (body["model"], body["max_tokens"], body["system"]) == (MODEL, 4096, "Be terse.")
    adapter = TypeAdapter(list[anthropic.types.MessageParam])
    adapter.validate_python(body["messages"], strict=True)
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    image = messages[0]["content"][1]
    assert image == {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": "image/png",
            "data": base64.b64encode(png()).decode(),
        },
    }
    before = len(arena.stream_requests())
    async with serving(arena, cli.state) as url:
        sdk = anthropic.AsyncAnthropic(base_url=url, api_key="unused", max_retries=0)
        answer = await sdk.messages.create(
            model=body["model"],
            max_tokens=body["max_tokens"],
            system=body["system"],
            messages=[*body["messages"], {"role": "user", "content": "and now?"}],
        )
        await sdk.close()
    assert [block.text for block in answer.content if block.type == "text"] == [
        "Echo (turn 3): and now?"
    ]
    sent = arena.stream_requests()[before:]
    assert len(sent) == 1 and a in sent[0].path


async def test_o_writes_the_export_to_a_file_and_nothing_to_stdout(
    cli: StandInCli, tmp_path: Path
) -> None:
    a = await ask(cli, "--no-stdin", "otters")
    target = tmp_path / "out" / "otters.md"
    done = export(cli.state, a, "-o", str(target))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert target.read_text() == export(cli.state, a).stdout
    assert [p.name for p in target.parent.iterdir()] == ["otters.md"]  # no temporary left
    folder = export(cli.state, a, "-o", str(tmp_path / "out"))
    assert (folder.returncode, folder.stdout) == (2, "")
    assert folder.stderr.startswith(f"lmarena: cannot write {tmp_path / 'out'}: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["01990000-0000-7000-8000-000000000000"], "no conversation 01990000-0000-7000-8000-"
         "000000000000 in this tool's history; `lmarena history` lists them"),
        ([], "name one conversation ID to export, or --all (not both)"),
        (["--all", "01990000-0000-7000-8000-000000000001"],
         "name one conversation ID to export, or --all (not both)"),
        (["--all", "-f", "md"], "--all exports JSON lines (one record per line): no --format"),
    ],
)  # fmt: skip
def test_bad_export_requests_exit_2_naming_the_problem(
    tmp_path: Path, args: list[str], message: str
) -> None:
    with ConversationStore(tmp_path / "conversations.sqlite3") as store:
        store.record("01990000-0000-7000-8000-000000000001", model=MODEL, mode="direct")
    done = export(tmp_path, *args)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"lmarena: {message}\n")


def test_an_unknown_format_is_a_usage_error_without_a_traceback(tmp_path: Path) -> None:
    done = export(tmp_path, "x", "-f", "pdf")
    assert (done.returncode, done.stdout) == (2, "")
    assert "'pdf' is not one of" in done.stderr and "Traceback" not in done.stderr


# --- while other runs write -----------------------------------------------------------------------

HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("UPDATE conversations SET title = 'uncommitted'")
db.execute("DELETE FROM turn_exchanges")
print("holding", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
print("committed", flush=True)
"""

WRITER = """
import sys, time
from pathlib import Path
from lmarena_cli.state.exchanges import TurnExchanges
from lmarena_cli.state.store import ConversationStore
store = ConversationStore(Path(sys.argv[1]))
exchanges = TurnExchanges(Path(sys.argv[1]))
print("writing", flush=True)
n = 0
while True:
    n += 1
    cid = f"0199ffff-0000-7000-8000-{n:012d}"
    store.record(cid, model="m", mode="direct-battle",
                 messages=[{"role": "user", "content": f"prompt {n}"},
                           {"role": "assistant", "content": "answer " * 200}])
    exchanges.add(cid, 1, {"images": [], "answers": [], "saved": []})
    time.sleep(0.005)  # a busy writer, not one that starves the readers of CPU
"""


def seed(path: Path, count: int) -> None:
    from lmarena_cli.state.exchanges import TurnExchanges

    exchanges = TurnExchanges(path)
    with ConversationStore(path) as store:
        for n in range(count):
            cid = f"01990000-0000-7000-8000-{n:012d}"
            store.record(
                cid,
                model=MODEL,
                mode="direct-battle",
                messages=[
                    {"role": "user", "content": f"seed {n}"},
                    {"role": "assistant", "content": f"answer {n}"},
                ],
            )
            answer = {"side": "a", "model": MODEL, "text": f"answer {n}", "images": []}
            exchanges.add(cid, 1, {"images": [], "answers": [answer], "saved": []})
    exchanges.close()


def lines(stdout: str) -> list[dict[str, Any]]:
    assert stdout.endswith("\n")
    return [orjson.loads(line) for line in stdout.splitlines()]


def test_export_all_reads_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite3"
    seed(path, 3)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == "holding\n"
        # The lock is held until we say so: a reader that waited for it would never return.
        done = export(tmp_path, "--all")
        assert (done.returncode, done.stderr) == (0, "")
        records = lines(done.stdout)
        assert [r["title"] for r in records] == ["seed 2", "seed 1", "seed 0"]
        assert [r["exchanges"][0]["answers"][0]["text"] for r in records] == [
            "answer 2", "answer 1", "answer 0"
        ]  # fmt: skip
        one = export(tmp_path, "01990000-0000-7000-8000-000000000001", "-f", "json")
        assert one.returncode == 0 and orjson.loads(one.stdout) == records[1]
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "committed\n"
    finally:
        holder.kill()
        holder.communicate(timeout=10)  # reaps it and closes its pipes
    after = lines(export(tmp_path, "--all").stdout)
    assert {r["title"] for r in after} == {"uncommitted"}
    assert all(r["exchanges"] == [] for r in after)


def test_export_all_works_while_other_processes_keep_writing(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite3"
    seed(path, 3)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
        counts = []
        for _ in range(3):
            done = export(tmp_path, "--all")
            assert (done.returncode, done.stderr) == (0, "")
            records = lines(done.stdout)
            assert all(r["transcript"][0]["role"] == "user" for r in records)
            seeded = [r for r in records if r["id"].startswith("01990000-")]
            assert len(seeded) == 3 and all(len(r["exchanges"]) == 1 for r in seeded)
            counts.append(len(records))
            time.sleep(0.05)
        assert all(writer.poll() is None for writer in writers)  # still writing throughout
    finally:
        for writer in writers:
            writer.kill()
            writer.communicate(timeout=10)
    assert counts[-1] > counts[0]
    with ConversationStore(path) as store:
        assert len(lines(export(tmp_path, "--all").stdout)) == len(store.recent())


def test_export_all_of_no_store_prints_nothing_and_creates_nothing(tmp_path: Path) -> None:
    state = tmp_path / "fresh"
    done = export(state, "--all")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not state.exists()


def test_history_rm_forgets_the_turns_details_too(tmp_path: Path) -> None:
    from lmarena_cli.state.exchanges import TurnExchanges

    path = tmp_path / "conversations.sqlite3"
    seed(path, 2)
    gone = run_lmarena(
        "history", "rm", "01990000-0000-7000-8000-000000000000",
        env={**os.environ, "LM_ARENA_STATE_DIR": str(tmp_path)},
    )  # fmt: skip
    assert gone.returncode == 0, gone.stderr
    exchanges = TurnExchanges(path, read_only=True)
    try:
        assert list(exchanges.every()) == ["01990000-0000-7000-8000-000000000001"]
    finally:
        exchanges.close()

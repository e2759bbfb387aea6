"""``lmarena history``: what this tool started, read from the store while other runs write to it.

Conversations are made by real ``lmarena ask`` subprocesses on the browser's stand-in against the
fake arena; ``history`` runs as a real ``lmarena`` subprocess too (stdout, stderr, exit codes,
pipes). The store's concurrency is tested with writer processes holding and taking its lock.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from lmarena_cli.state.store import ConversationStore
from tests.fake_arena import FakeArena
from tests.helpers.command import run_lmarena
from tests.helpers.standin_cli import StandInCli, conversation

pytestmark = pytest.mark.timeout(90)

MODEL = "gemini-3-pro"
OTHER = "claude-opus-4-5"
COLUMNS = ("id", "models", "mode", "turns", "age", "title")


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path) -> StandInCli:
    return StandInCli(arena.url, tmp_path / "cli-state", model=MODEL)


def history(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return run_lmarena("history", *args, env={**os.environ, "LM_ARENA_STATE_DIR": str(state)})


def rows(stdout: str) -> list[dict[str, str]]:
    lines = stdout.splitlines()
    assert all(line.count("\t") == len(COLUMNS) - 1 for line in lines), stdout
    return [dict(zip(COLUMNS, line.split("\t"), strict=True)) for line in lines]


async def two_conversations(cli: StandInCli) -> tuple[str, str]:
    """A (2 turns, used last) and B (1 turn, another model)."""
    first = await cli("ask", "--no-stdin", "first question\nsecond line")
    assert first.returncode == 0, first.stderr
    a = conversation(first.stderr)
    other = await cli("ask", "--no-stdin", "-m", OTHER, "about otters")
    assert other.returncode == 0, other.stderr
    again = await cli("ask", "--no-stdin", "--resume", a, "follow-up")
    assert again.returncode == 0, again.stderr
    return a, conversation(other.stderr)


async def test_history_lists_conversations_most_recently_used_first_one_tab_separated_line_each(
    cli: StandInCli,
) -> None:
    a, b = await two_conversations(cli)
    done = history(cli.state)
    assert (done.returncode, done.stderr) == (0, "")
    listed = rows(done.stdout)
    assert [row["id"] for row in listed] == [a, b]
    assert listed[0] | {"age": ""} == {
        "id": a,
        "models": MODEL,
        "mode": "direct",
        "turns": "2",
        "age": "",
        "title": "first question",
    }
    assert listed[1]["models"] == OTHER and listed[1]["turns"] == "1"
    assert listed[1]["title"] == "about otters"
    assert all(re.fullmatch(r"\d+[smhdwy]", row["age"]) for row in listed)
    limited = history(cli.state, "-n", "1")
    assert limited.returncode == 0 and [row["id"] for row in rows(limited.stdout)] == [a]


async def test_history_output_goes_through_grep_and_cut(cli: StandInCli) -> None:
    _, b = await two_conversations(cli)
    done = await cli.shell("lmarena history | grep otters | cut -f1,4")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{b}\t1\n", "")


async def test_history_json_is_one_array_with_the_same_facts(cli: StandInCli) -> None:
    a, b = await two_conversations(cli)
    done = history(cli.state, "--json")
    assert done.returncode == 0, done.stderr
    data = orjson.loads(done.stdout)
    assert [item["id"] for item in data] == [a, b]
    assert {k: v for k, v in data[0].items() if not k.endswith("_at")} == {
        "id": a,
        "models": [MODEL],
        "mode": "direct",
        "turns": 2,
        "title": "first question",
    }
    for field in ("created_at", "updated_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data[0][field])
    assert "transcript" not in data[0]
    assert orjson.loads(history(cli.state, "--json", "-n", "0").stdout) == []


async def test_history_show_prints_the_transcript_and_json_gives_the_record(
    cli: StandInCli,
) -> None:
    a, _ = await two_conversations(cli)
    done = history(cli.state, "show", a)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "[User]\nfirst question\nsecond line\n\n"
        "[Assistant]\nEcho (turn 1): first question\nsecond line\n\n"
        "[User]\nfollow-up\n\n"
        "[Assistant]\nEcho (turn 2): follow-up\n"
    )
    assert done.stderr.startswith(f"conversation: {a} ({MODEL}, direct, 2 turns, ")
    assert history(cli.state, "show", "-q", a).stderr == ""
    record = orjson.loads(history(cli.state, "show", a, "--json").stdout)
    assert record["id"] == a and record["turns"] == 2
    assert record["transcript"][2] == {"role": "user", "content": "follow-up"}
    assert len(record["transcript"]) == 4


async def test_history_rm_forgets_here_only_and_says_the_site_keeps_it(
    cli: StandInCli, arena: FakeArena
) -> None:
    a, b = await two_conversations(cli)
    requests_before = len(arena.received)
    done = history(cli.state, "rm", b)
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == (
        f"forgot {b} here; arena.ai keeps the conversation (delete it in the site's own history)\n"
    )
    assert [row["id"] for row in rows(history(cli.state).stdout)] == [a]
    assert len(arena.received) == requests_before  # nothing was asked of the site
    assert b in arena.sessions
    # It can still be continued by id: the site has it.
    resumed = await cli("ask", "--no-stdin", "--resume", b, "still there?")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "Echo (turn 2): still there?\n"


@pytest.mark.parametrize("command", [["show"], ["show", "--json"], ["rm"]])
async def test_an_unknown_id_exits_2_saying_so(cli: StandInCli, command: list[str]) -> None:
    a, _ = await two_conversations(cli)
    missing = "01990000-0000-7000-8000-000000000000"
    done = history(cli.state, *command, missing)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"lmarena: no conversation {missing} in this tool's history; `lmarena history` lists them\n"
    )
    assert rows(history(cli.state).stdout)[0]["id"] == a


def test_rm_of_a_known_and_an_unknown_id_forgets_the_known_one_and_exits_2(
    tmp_path: Path,
) -> None:
    with ConversationStore(tmp_path / "conversations.sqlite3") as store:
        for n in (1, 2):
            store.record(f"0199000{n}-0000-7000-8000-000000000000", model=MODEL, mode="direct")
    done = history(tmp_path, "rm", "01990001-0000-7000-8000-000000000000", "nope")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "forgot 01990001-0000-7000-8000-000000000000 here; arena.ai keeps the conversation "
        "(delete it in the site's own history)",
        "lmarena: no conversation nope in this tool's history; `lmarena history` lists them",
    ]
    listed = rows(history(tmp_path).stdout)
    assert [row["id"] for row in listed] == ["01990002-0000-7000-8000-000000000000"]


def test_without_a_store_history_prints_nothing_and_creates_nothing(tmp_path: Path) -> None:
    state = tmp_path / "fresh"
    done = history(state)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert orjson.loads(history(state, "--json").stdout) == []
    assert history(state, "show", "x").returncode == 2
    assert not state.exists()


def test_a_damaged_store_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "conversations.sqlite3").write_bytes(b"not a database" * 100)
    done = history(tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert len(done.stderr.splitlines()) == 1
    assert "is damaged" in done.stderr and "Traceback" not in done.stderr


# --- while other runs write -----------------------------------------------------------------------

HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("UPDATE conversations SET title = 'uncommitted'")
db.execute("INSERT INTO conversations (id, model, mode, title, created_at, updated_at, touched,"
           " transcript, turns, transcript_hash) SELECT 'half-written', model, mode, title,"
           " created_at, updated_at, 999, transcript, turns, transcript_hash FROM conversations"
           " LIMIT 1")
print("holding", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
print("committed", flush=True)
"""

WRITER = """
import sys, time
from pathlib import Path
from lmarena_cli.state.store import ConversationStore
store = ConversationStore(Path(sys.argv[1]))
print("writing", flush=True)
n = 0
while True:
    n += 1
    store.record(f"0199ffff-0000-7000-8000-{n:012d}", model="m", mode="direct-battle",
                 messages=[{"role": "user", "content": f"prompt {n}"},
                           {"role": "assistant", "content": "answer " * 200}])
    time.sleep(0.005)  # a busy writer, not one that starves the readers of CPU
"""


def seed(path: Path, count: int) -> None:
    with ConversationStore(path) as store:
        for n in range(count):
            store.record(
                f"01990000-0000-7000-8000-{n:012d}",
                model=MODEL,
                mode="direct-battle",
                messages=[{"role": "user", "content": f"seed {n}"}],
            )


def test_history_reads_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
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
        done = history(tmp_path)
        assert (done.returncode, done.stderr) == (0, "")
        listed = rows(done.stdout)
        assert [row["title"] for row in listed] == ["seed 2", "seed 1", "seed 0"]
        shown = history(tmp_path, "show", "01990000-0000-7000-8000-000000000001")
        assert (shown.returncode, shown.stdout) == (0, "[User]\nseed 1\n")
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "committed\n"
    finally:
        holder.kill()
        holder.communicate(timeout=10)  # reaps it and closes its pipes
    after = rows(history(tmp_path).stdout)
    assert after[0]["id"] == "half-written"
    assert {row["title"] for row in after} == {"uncommitted"}


def test_history_and_rm_work_while_other_processes_keep_writing(tmp_path: Path) -> None:
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
        for n in range(3):
            listed = history(tmp_path, "--json")
            assert (listed.returncode, listed.stderr) == (0, "")
            counts.append(len(orjson.loads(listed.stdout)))
            text = history(tmp_path)
            assert text.returncode == 0 and all(
                line.count("\t") == 5 for line in text.stdout.splitlines()
            )
            gone = history(tmp_path, "rm", f"01990000-0000-7000-8000-{n:012d}")
            assert gone.returncode == 0, gone.stderr
            time.sleep(0.05)
        assert all(writer.poll() is None for writer in writers)  # still writing throughout
    finally:
        for writer in writers:
            writer.kill()
            writer.communicate(timeout=10)
    # The writers got on; nothing they wrote was lost; what was forgotten stays forgotten.
    assert counts[-1] > counts[0]
    final = orjson.loads(history(tmp_path, "--json").stdout)
    ids = {item["id"] for item in final}
    assert not any(i.startswith("01990000-") for i in ids)
    with ConversationStore(path) as store:
        assert len(store.recent()) == len(final)

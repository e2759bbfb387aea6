"""The conversation store: records, ordering, transcript matching, and many writers at once."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmarena_cli.errors import StoreError
from lmarena_cli.state.store import ConversationStore
from lmarena_cli.state.transcripts import make_title

ROOT = Path(__file__).resolve().parent.parent
SID_A = "019a0000-0000-7000-8000-00000000000a"
SID_B = "019a0000-0000-7000-8000-00000000000b"
SID_C = "019a0000-0000-7000-8000-00000000000c"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "lmarena" / "conversations.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[ConversationStore]:
    with ConversationStore(path) as opened:
        yield opened


def exchange(prompt: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def test_new_store_file_is_private_and_in_wal_mode(store: ConversationStore, path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2  # answer_id, head_hash


def test_recorded_conversation_reads_back(store: ConversationStore) -> None:
    store.record(
        SID_A,
        model="gemini-3-pro",
        mode="direct-battle",
        messages=exchange("explain this diff\n--- a/x\n+++ b/x", "It renames x."),
    )
    found = store.get(SID_A)
    assert found is not None
    assert (found.id, found.model, found.mode, found.model_b) == (
        SID_A,
        "gemini-3-pro",
        "direct-battle",
        None,
    )
    assert found.title == "explain this diff"
    assert found.transcript == exchange("explain this diff\n--- a/x\n+++ b/x", "It renames x.")
    assert found.created_at == found.updated_at
    assert len(found.transcript) == 2


def test_recording_again_appends_turns_and_keeps_title_and_creation(
    store: ConversationStore,
) -> None:
    store.record(SID_A, model="m", mode="side-by-side", model_b="n", messages=exchange("hi", "a"))
    first = store.get(SID_A)
    time.sleep(0.01)
    store.record(SID_A, model="m", mode="side-by-side", model_b="n", messages=exchange("more", "b"))
    again = store.get(SID_A)
    assert first is not None and again is not None
    assert again.transcript == exchange("hi", "a") + exchange("more", "b")
    assert again.title == "hi"
    assert again.created_at == first.created_at
    assert again.updated_at > first.updated_at
    assert again.model_b == "n"


def test_battle_models_stay_unknown_until_given(store: ConversationStore) -> None:
    store.record(SID_A, model=None, mode="battle", messages=exchange("hi", "a"))
    found = store.get(SID_A)
    assert found is not None and found.model is None
    store.record(SID_A, model="revealed-model", mode="battle", messages=None)
    store.record(SID_A, model=None, mode="battle", messages=exchange("again", "b"))
    found = store.get(SID_A)
    assert found is not None and found.model == "revealed-model" and len(found.transcript) == 4


def test_unknown_conversation_is_none(store: ConversationStore) -> None:
    assert store.get(SID_C) is None
    assert store.latest() is None


def test_latest_is_the_most_recently_updated_not_created(store: ConversationStore) -> None:
    store.record(SID_A, model="m", mode="direct-battle", messages=exchange("a", "1"))
    store.record(SID_B, model="m", mode="direct-battle", messages=exchange("b", "2"))
    latest = store.latest()
    assert latest is not None and latest.id == SID_B
    store.record(SID_A, model="m", mode="direct-battle", messages=exchange("a again", "3"))
    latest = store.latest()
    assert latest is not None and latest.id == SID_A
    assert latest.transcript == exchange("a", "1") + exchange("a again", "3")
    assert store.get(SID_B) is not None


def test_title_is_the_first_nonblank_line_cut_short() -> None:
    assert make_title("\n\n  hello   world  \nsecond") == "hello world"
    long = make_title("x" * 200)
    assert len(long) == 80 and long.endswith("…")


def test_explicit_title_wins(store: ConversationStore) -> None:
    store.record(SID_A, model="m", mode="battle", title="Nightly report", messages=None)
    found = store.get(SID_A)
    assert found is not None and found.title == "Nightly report" and found.transcript == []


# --- transcript matching (what `serve` uses) ------------------------------------------------------


def test_full_history_finds_the_conversation_it_continues(store: ConversationStore) -> None:
    store.record(SID_A, model="m", mode="direct-battle", messages=exchange("hi", "Hello!"))
    found = store.find_by_transcript([*exchange("hi", "Hello!"), {"role": "user", "content": "?"}])
    assert found is not None and found.id == SID_A


def test_longest_stored_history_wins(store: ConversationStore) -> None:
    store.record(SID_A, model="m", mode="direct-battle", messages=exchange("hi", "Hello!"))
    store.record(
        SID_B,
        model="m",
        mode="direct-battle",
        messages=exchange("hi", "Hello!") + exchange("and?", "And so on."),
    )
    store.record(SID_C, model="m", mode="direct-battle", messages=exchange("hi", "Hello!"))
    longer = [
        *exchange("hi", "Hello!"),
        *exchange("and?", "And so on."),
        {"role": "user", "content": "x"},
    ]
    found = store.find_by_transcript(longer)
    assert found is not None and found.id == SID_B
    # Two user messages at the end: the history before the first of them also counts.
    found = store.find_by_transcript(
        [
            *exchange("hi", "Hello!"),
            {"role": "user", "content": "p1"},
            {"role": "user", "content": "p2"},
        ]
    )
    assert found is not None and found.id == SID_C  # equal length: the most recent one


def test_history_that_differs_anywhere_matches_nothing(store: ConversationStore) -> None:
    store.record(SID_A, model="m", mode="direct-battle", messages=exchange("hi", "Hello!"))
    assert (
        store.find_by_transcript([*exchange("hi", "Hello?"), {"role": "user", "content": "x"}])
        is None
    )
    assert store.find_by_transcript([{"role": "user", "content": "hi"}]) is None
    assert store.find_by_transcript(exchange("hi", "Hello!")) is None  # no new user turn
    assert store.find_by_transcript([]) is None


def test_system_message_is_part_of_the_history(store: ConversationStore) -> None:
    system = {"role": "system", "content": "Answer in French."}
    store.record(
        SID_A, model="m", mode="direct-battle", messages=[system, *exchange("hi", "Salut")]
    )
    follow_up = {"role": "user", "content": "more"}
    found = store.find_by_transcript([system, *exchange("hi", "Salut"), follow_up])
    assert found is not None and found.id == SID_A
    assert store.find_by_transcript([*exchange("hi", "Salut"), follow_up]) is None
    developer = {"role": "developer", "content": "Answer in French."}
    found = store.find_by_transcript([developer, *exchange("hi", "Salut"), follow_up])
    assert found is not None and found.id == SID_A


def test_openai_content_parts_match_their_text(store: ConversationStore) -> None:
    store.record(
        SID_A, model="m", mode="direct-battle", messages=exchange("what is this?", "A cat.")
    )
    parts = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    found = store.find_by_transcript(
        [
            {"role": "user", "content": parts},
            {"role": "assistant", "content": "A cat.\n"},
            {"role": "user", "content": "and now?"},
        ]
    )
    assert found is not None and found.id == SID_A


# --- failures and concurrency ---------------------------------------------------------------------


def test_corrupt_file_names_itself_and_says_how_to_recover(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    with pytest.raises(StoreError) as caught:
        ConversationStore(path)
    message = str(caught.value)
    assert str(path) in message
    assert "move it away" in message
    assert caught.value.exit_code == 1
    assert caught.value.kind == "store_corrupt"


def test_store_from_a_newer_version_is_refused(path: Path) -> None:
    ConversationStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer lmarena"):
        ConversationStore(path)


async def test_store_can_be_used_from_worker_threads(store: ConversationStore) -> None:
    sids = [f"019a0000-0000-7000-8000-{n:012d}" for n in range(8)]
    await asyncio.gather(
        *(
            asyncio.to_thread(store.record, sid, model="m", mode="direct-battle", messages=None)
            for sid in sids
        )
    )
    found = await asyncio.gather(*(asyncio.to_thread(store.get, sid) for sid in sids))
    assert [c.id if c is not None else None for c in found] == sids


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from lmarena_cli.state.store import ConversationStore

    path, start, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    start.with_name(f"ready-{n}").touch()  # started and imported: waiting for the go
    while not start.exists():
        time.sleep(0.005)
    sid = f"019a0000-0000-7000-8000-{n:012d}"
    with ConversationStore(path) as store:
        store.record(sid, model=f"model-{n}", mode="direct-battle",
                     messages=[{"role": "user", "content": f"prompt {n}"},
                               {"role": "assistant", "content": f"answer {n}"}])
        for turn in range(3):
            store.record(sid, model=f"model-{n}", mode="direct-battle",
                         messages=[{"role": "user", "content": f"more {n}.{turn}"},
                                   {"role": "assistant", "content": "ok"}])
    """
)


def test_twenty_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "conversations.sqlite3"  # all of them race to create it
    start = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(start), str(n)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )
        for n in range(20)
    ]
    # Every interpreter has started and says so; then all are released together.
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{n}").exists() for n in range(20)):
        assert time.monotonic() < deadline, "the writers did not start"
        assert all(w.poll() is None for w in writers), "a writer ended before the go"
        time.sleep(0.01)
    start.touch()
    failures = []
    for writer in writers:
        _, stderr = writer.communicate(timeout=90)
        if writer.returncode != 0:
            failures.append(stderr.decode())
    assert failures == []
    with ConversationStore(path) as store:
        found = [store.get(f"019a0000-0000-7000-8000-{n:012d}") for n in range(20)]
        conversations = [c for c in found if c is not None]
        assert len(conversations) == 20
        assert all(len(c.transcript) == 8 for c in conversations)
        assert sorted(str(c.model) for c in conversations) == sorted(
            f"model-{n}" for n in range(20)
        )
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 20
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


#: A process that keeps the store open (as a kept server does) and writes when told.
HOLDER = """
import sys
from pathlib import Path
from lmarena_cli.state.store import ConversationStore
from lmarena_cli.state.turn_notes import TurnNotes

path = Path(sys.argv[1])
store = ConversationStore(path)
for line in sys.stdin:
    word = line.strip()
    if word == "notes":
        TurnNotes(path)  # a second table of the same file, opened beside the store
    else:
        store.record(word, model="m", mode="direct", messages=[{"role": "user", "content": word}])
    print("done", flush=True)
"""


def test_a_second_table_of_the_file_beside_an_open_store_loses_no_commit(path: Path) -> None:
    # The writer keeps its connection open (as a kept server does); another process opens the
    # store and closes it; the writer's commits after that must still be seen by everyone.
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:

        def tell(word: str) -> None:
            assert writer.stdin is not None and writer.stdout is not None
            writer.stdin.write(word + "\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "done"

        try:
            tell("01a00000-0000-7000-8000-000000000001")
            tell("notes")
            with ConversationStore(path) as other:  # opened and closed by another process
                assert other.get("01a00000-0000-7000-8000-000000000001") is not None
            tell("01a00000-0000-7000-8000-000000000002")
        finally:
            writer.kill()  # as a SIGKILLed kept server: what it committed must be on disk
            writer.wait(timeout=10)
    with ConversationStore(path) as after:
        assert after.get("01a00000-0000-7000-8000-000000000001") is not None
        assert after.get("01a00000-0000-7000-8000-000000000002") is not None

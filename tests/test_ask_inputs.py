"""``lmarena ask --schema`` and ``ask -a/--attach``: what a user sees on stdout, stderr and in the
exit status, and what the model was sent.

The CLI runs as a real subprocess on the browser's stand-in against the fake arena, which echoes
the prompt (``Echo (turn N): <prompt>``) unless told what to answer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lmarena_cli.client.content.structured import OutputFormat, instruction
from tests.fake_arena import FakeArena, Reply
from tests.helpers.command import run_lmarena
from tests.helpers.pdfs import encrypt_pdf, make_pdf
from tests.helpers.standin_cli import StandInCli, conversation

pytestmark = pytest.mark.timeout(90)

MODEL = "gemini-3-pro"
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path) -> StandInCli:
    return StandInCli(arena.url, tmp_path / "cli-state", model=MODEL)


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "person.json"
    path.write_text(json.dumps(PERSON, indent=2))
    return path


def sent_prompts(arena: FakeArena) -> list[str]:
    """The user prompts the fake arena was sent, oldest first."""
    return [str(r.json["userMessage"]["content"]) for r in arena.stream_requests()]


# --- --schema ------------------------------------------------------------------------------------


async def test_schema_prints_the_answers_json_on_one_line(
    cli: StandInCli, arena: FakeArena, schema_file: Path
) -> None:
    arena.enqueue(Reply(text='Sure! Here it is:\n```json\n{"name": "Ada",\n "age": 36}\n```\n'))
    done = await cli("ask", "--no-stdin", "--schema", str(schema_file), "invent a person")
    assert (done.returncode, done.stdout) == (0, '{"name":"Ada","age":36}\n')
    assert conversation(done.stderr)
    fmt = OutputFormat("json_schema", PERSON)
    assert sent_prompts(arena) == [f"invent a person\n\n{instruction(fmt)}"]


async def test_schema_inline_json_pipes_into_a_script(cli: StandInCli, arena: FakeArena) -> None:
    arena.enqueue(Reply(text='{"name": "Grace", "age": 85}'))
    schema = json.dumps(PERSON)
    done = await cli.shell(
        f"lmarena ask -q --no-stdin --schema '{schema}' 'a person' "
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"name\"])'"
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "Grace\n", "")


async def test_a_mismatch_exits_11_naming_it_and_keeps_the_models_text(
    cli: StandInCli, arena: FakeArena, schema_file: Path
) -> None:
    answer = 'Here you go:\n{"name": "Ada", "age": "thirty-six"}'
    arena.enqueue(Reply(text=answer))
    done = await cli("ask", "--no-stdin", "--schema", str(schema_file), "invent a person")
    assert (done.returncode, done.stdout) == (11, "")
    lines = done.stderr.splitlines()
    assert lines[0] == (
        "lmarena: the answer did not match the schema: $.age: 'thirty-six' is not of type 'integer'"
    )
    assert lines[1:4] == ["lmarena: the model's answer was:", *answer.splitlines()]
    # And the answer is in the history, as always.
    env = {**os.environ, "LM_ARENA_STATE_DIR": str(cli.state)}
    shown = run_lmarena("history", "show", conversation(done.stderr), env=env)
    assert shown.stdout.endswith(f"[Assistant]\n{answer}\n")


async def test_an_answer_without_json_exits_11_and_says_so(
    cli: StandInCli, arena: FakeArena, schema_file: Path
) -> None:
    arena.enqueue(Reply(text="I'd rather not."))
    done = await cli.shell(f"lmarena ask -q --no-stdin --schema {schema_file} x; echo rc=$?")
    assert done.stdout == "rc=11\n"
    assert done.stderr == (
        "lmarena: the answer did not match the schema: no JSON value in the answer\n"
        "lmarena: the model's answer was:\nI'd rather not.\n"
    )


async def test_schema_with_json_puts_the_parsed_value_in_the_object(
    cli: StandInCli, arena: FakeArena, schema_file: Path
) -> None:
    arena.enqueue(Reply(text='{"name": "Ada", "age": 36}'))
    done = await cli("ask", "--no-stdin", "--json", "--schema", str(schema_file), "a person")
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert data["parsed"] == {"name": "Ada", "age": 36}
    assert data["mismatch"] is None
    assert data["text"] == '{"name": "Ada", "age": 36}'
    arena.enqueue(Reply(text='{"name": "Ada"}'))
    failed = await cli("ask", "--no-stdin", "--json", "--schema", str(schema_file), "again")
    assert failed.returncode == 11
    data = json.loads(failed.stdout)
    assert (data["text"], data["parsed"]) == ('{"name": "Ada"}', {"name": "Ada"})
    assert data["mismatch"] == "$: 'age' is a required property"
    assert failed.stderr.splitlines()[0] == (
        "lmarena: the answer did not match the schema: $: 'age' is a required property"
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("missing.json", "lmarena: cannot read the schema missing.json: No such file or directory"),
        ("{not json", "lmarena: --schema is not a JSON Schema: Expecting property name"),
        ('{"type": "int"}', "lmarena: the schema is not a valid JSON Schema: $.type: 'int' is not"),
    ],
)
async def test_a_bad_schema_exits_2_before_anything_is_sent(
    cli: StandInCli, arena: FakeArena, value: str, words: str
) -> None:
    done = await cli("ask", "--no-stdin", "--schema", value, "x")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(words)
    assert arena.stream_requests() == []


@pytest.mark.parametrize("other", [["-x"], ["--jsonl"], ["--vs", "claude-opus-4-5"], ["--battle"]])
async def test_schema_with_another_output_form_is_a_usage_error(
    cli: StandInCli, other: list[str]
) -> None:
    done = await cli("ask", "--no-stdin", "--schema", "{}", *other, "x")
    assert done.returncode == 2
    assert "--schema prints one answer's JSON" in done.stderr


# --- -a/--attach ---------------------------------------------------------------------------------


async def test_attached_files_come_before_the_prompt_with_their_names(
    cli: StandInCli, arena: FakeArena, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("buy milk\n")
    (tmp_path / "report.pdf").write_bytes(make_pdf(["Revenue grew by 12 percent."]))
    done = await cli.shell(
        f"cd {tmp_path} && echo 'from stdin' | "
        "lmarena ask -q -a notes.txt --attach report.pdf 'summarise'"
    )
    assert done.returncode == 0, done.stderr
    sent = (
        "[File: notes.txt]\nbuy milk\n[End of file: notes.txt]\n\n"
        "[File: report.pdf]\nRevenue grew by 12 percent.\n[End of file: report.pdf]\n\n"
        "from stdin\n\nsummarise"
    )
    assert sent_prompts(arena) == [sent]
    assert done.stdout == f"Echo (turn 1): {sent}\n"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("missing.txt", None, "lmarena: cannot read missing.txt: No such file or directory"),
        ("cat.png", b"\x89PNG\r\n\x1a\n\x00\x00", "lmarena: cat.png is not a text file or a PDF"),
        ("locked.pdf", b"locked", "lmarena: locked.pdf is an encrypted PDF"),
    ],
)
async def test_a_file_that_cannot_be_attached_exits_2_before_anything_starts(
    cli: StandInCli, arena: FakeArena, tmp_path: Path, name: str, data: bytes | None, message: str
) -> None:
    if data == b"locked":
        data = encrypt_pdf(make_pdf(["secret"]), "pw")
    if data is not None:
        (tmp_path / name).write_bytes(data)
    done = await cli.shell(f"cd {tmp_path} && lmarena ask --no-stdin -a {name} 'read this'")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(message)
    assert len(done.stderr.splitlines()) == 1
    assert arena.count("/") == 0  # not even a page load: nothing started


async def test_attached_files_count_against_the_prompt_budget(
    cli: StandInCli, arena: FakeArena, tmp_path: Path
) -> None:
    big = tmp_path / "big.txt"
    big.write_text("x" * 48_000)
    done = await cli("ask", "--no-stdin", "-a", str(big), "what is this?")
    assert done.returncode == 2
    assert "over the limit of 48,000 (LM_ARENA_MAX_PROMPT_CHARS); nothing was sent" in done.stderr
    assert arena.stream_requests() == []


async def test_attach_and_schema_together(
    cli: StandInCli, arena: FakeArena, tmp_path: Path, schema_file: Path
) -> None:
    (tmp_path / "cv.txt").write_text("Ada Lovelace, born 1815\n")
    arena.enqueue(Reply(text='{"name": "Ada Lovelace", "age": 36}'))
    done = await cli(
        "ask", "--no-stdin", "-a", str(tmp_path / "cv.txt"), "--schema", str(schema_file), "who?"
    )
    assert (done.returncode, done.stdout) == (0, '{"name":"Ada Lovelace","age":36}\n')
    prompt = sent_prompts(arena)[0]
    assert prompt.startswith(
        "[File: cv.txt]\nAda Lovelace, born 1815\n[End of file: cv.txt]\n\nwho?"
    )
    assert prompt.endswith(json.dumps(PERSON, separators=(",", ":")))


def test_help_shows_schema_attach_and_exit_11() -> None:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
    shown = run_lmarena("ask", "--help", env=env)
    assert "--schema" in shown.stdout and "--attach" in shown.stdout and "-a" in shown.stdout
    top = run_lmarena("--help", env=env)
    assert "11 the answer did not match the schema" in " ".join(top.stdout.split())

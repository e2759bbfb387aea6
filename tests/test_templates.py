"""Templates: ``ask -t``/``chat -t`` with ``-p``, ``ask --save``, ``lmarena templates [show]``.

Three places hold templates: lmarena's own folder (``$XDG_CONFIG_HOME/lmarena/templates``),
llm's (``$LLM_USER_PATH/templates``, else ``$XDG_CONFIG_HOME/io.datasette.llm/templates``) and
Fabric's patterns (``~/.config/fabric/patterns/NAME/system.md``). Each test gets its own of all
three (conftest isolates ``XDG_CONFIG_HOME``; ``HOME`` is the test's here). The CLI runs as a real
subprocess on the browser's stand-in; what the fake arena received is what the model was sent.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.fake_arena import DEFAULT_MODELS, FakeArena, Reply
from tests.helpers.command import run_lmarena
from tests.helpers.standin_cli import StandInCli, conversation
from tests.test_completions import complete_bash

pytestmark = pytest.mark.timeout(90)

MODEL = "gemini-3-pro"
OTHER = "claude-opus-4-5"
IDS = {model.public_name: model.id for model in DEFAULT_MODELS}
SUMMARY = """\
description: Summarise in a few words
system: You summarise.
prompt: |
  Summarise in $words words, in $1:

  $input
defaults:
  words: 10
"""


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The three places, created empty, with HOME and llm's folder the test's own."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LLM_USER_PATH", raising=False)
    places = {
        "lmarena": tmp_path / "config" / "lmarena" / "templates",
        "llm": tmp_path / "config" / "io.datasette.llm" / "templates",
        "fabric": tmp_path / "home" / ".config" / "fabric" / "patterns",
    }
    for path in places.values():
        path.mkdir(parents=True)
    return places


@pytest.fixture
def cli(arena: FakeArena, tmp_path: Path, dirs: dict[str, Path]) -> StandInCli:
    config = tmp_path / "config" / "lmarena" / "config.toml"
    config.write_text('[roles.terse]\nsystem = "Be terse."\n')
    return StandInCli(arena.url, tmp_path / "cli-state", config=config, model=MODEL)


def sent(arena: FakeArena) -> list[str]:
    return [str(r.json["userMessage"]["content"]) for r in arena.stream_requests()]


def fabric_pattern(dirs: dict[str, Path], name: str, system: str, user: str | None = None) -> None:
    folder = dirs["fabric"] / name
    folder.mkdir()
    (folder / "system.md").write_text(system)
    if user is not None:
        (folder / "user.md").write_text(user)


def templates(*args: str) -> tuple[int, str, str]:
    done = run_lmarena("templates", *args)
    return done.returncode, done.stdout, done.stderr


# --- using a template -----------------------------------------------------------------------------


async def test_a_template_fills_input_and_parameters_and_gives_its_system_prompt(
    cli: StandInCli, arena: FakeArena, dirs: dict[str, Path]
) -> None:
    (dirs["lmarena"] / "summary.yaml").write_text(SUMMARY)
    done = await cli("ask", "-t", "summary", "-p", "1", "French", "be kind", stdin="the text\n")
    assert done.returncode == 0, done.stderr
    prompt = "Summarise in 10 words, in French:\n\nthe text\n\nbe kind"
    assert sent(arena) == [f"[System]\nYou summarise.\n\n[User]\n{prompt}"]
    assert done.stdout == f"Echo (turn 1): [System]\nYou summarise.\n\n[User]\n{prompt}\n"
    assert conversation(done.stderr)
    # -p wins over the template's defaults; $$ is one dollar.
    (dirs["lmarena"] / "price.toml").write_text('prompt = "Costs $$$n, say $word"\n')
    done = await cli("ask", "--no-stdin", "-t", "price", "-p", "n", "5", "-p", "word", "hi")
    assert done.returncode == 0, done.stderr
    assert sent(arena)[-1] == "Costs $5, say hi"


async def test_a_prompt_without_input_comes_first_and_needs_no_input(
    cli: StandInCli, arena: FakeArena, dirs: dict[str, Path]
) -> None:
    (dirs["lmarena"] / "joke.toml").write_text(
        f'prompt = "Tell a joke about $topic."\nmodel = "{OTHER}"\n\n[defaults]\ntopic = "cats"\n'
    )
    done = await cli("ask", "--no-stdin", "-t", "joke")
    assert done.returncode == 0, done.stderr
    done = await cli("ask", "-t", "joke", "-p", "topic", "dogs", "short please", stdin="ctx")
    assert done.returncode == 0, done.stderr
    assert sent(arena) == [
        "Tell a joke about cats.",
        "Tell a joke about dogs.\n\nctx\n\nshort please",
    ]
    assert [r.json["modelAId"] for r in arena.stream_requests()] == [IDS[OTHER], IDS[OTHER]]
    # -m wins over the template's model, silently.
    done = await cli("ask", "--no-stdin", "-t", "joke", "-m", MODEL)
    assert done.returncode == 0, done.stderr
    assert arena.stream_requests()[-1].json["modelAId"] == IDS[MODEL]
    assert "template" not in done.stderr


async def test_a_fabric_pattern_is_the_system_prompt_and_its_user_md_comes_first(
    cli: StandInCli, arena: FakeArena, dirs: dict[str, Path]
) -> None:
    fabric_pattern(dirs, "extract_wisdom", "# IDENTITY\n\nYou extract wisdom. Costs $5.\n")
    fabric_pattern(dirs, "with_user", "Be a critic.\n", user="Review this:\n")
    done = await cli.shell("printf 'an article\\n' | lmarena ask -t extract_wisdom")
    assert done.returncode == 0, done.stderr
    done = await cli("ask", "-t", "with_user", stdin="a poem")
    assert done.returncode == 0, done.stderr
    assert sent(arena) == [
        "[System]\n# IDENTITY\n\nYou extract wisdom. Costs $5.\n\n[User]\nan article",
        "[System]\nBe a critic.\n\n[User]\nReview this:\n\na poem",
    ]


async def test_llms_templates_are_read_where_llm_keeps_them(
    cli: StandInCli,
    arena: FakeArena,
    dirs: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (dirs["llm"] / "fr.yaml").write_text(
        "system: Answer in $lang.\nprompt: 'Q: $input'\ndefaults:\n  lang: French\n"
        "options:\n  temperature: 0.2\n"
    )
    done = await cli("ask", "-t", "fr", "hi")
    assert done.returncode == 0, done.stderr
    assert sent(arena) == ["[System]\nAnswer in French.\n\n[User]\nQ: hi"]
    assert "ignored: temperature" in done.stderr
    # LLM_USER_PATH moves llm's folder, as it does for llm; a plain string is a prompt.
    other = tmp_path / "llm-user"
    (other / "templates").mkdir(parents=True)
    (other / "templates" / "short.yaml").write_text("'In one line: $input'\n")
    monkeypatch.setenv("LLM_USER_PATH", str(other))
    done = await cli("ask", "-t", "short", "why?")
    assert done.returncode == 0, done.stderr
    assert sent(arena)[-1] == "In one line: why?"
    done = await cli("ask", "-t", "fr", "hi")
    assert (done.returncode, done.stdout) == (2, "")
    assert "unknown template 'fr'" in done.stderr


async def test_a_templates_schema_and_extract_shape_what_is_printed(
    cli: StandInCli, arena: FakeArena, dirs: dict[str, Path]
) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    (dirs["llm"] / "num.yaml").write_text(f"schema_object: {json.dumps(schema)}\n")
    (dirs["lmarena"] / "sh.yaml").write_text("system: Shell only.\nextract: true\n")
    arena.enqueue(Reply(text='Here:\n```json\n{"n": 3}\n```\n'))
    done = await cli("ask", "--no-stdin", "-t", "num", "a number")
    assert (done.returncode, done.stdout) == (0, '{"n":3}\n')
    arena.enqueue(Reply(text="Run:\n```sh\nls -l\n```\nDone."))
    done = await cli("ask", "--no-stdin", "-t", "sh", "list files")
    assert (done.returncode, done.stdout) == (0, "ls -l\n")
    # The command line's choice of output wins: --json prints the reply, not the code block.
    arena.enqueue(Reply(text="Run:\n```sh\nls -l\n```\n"))
    done = await cli("ask", "--no-stdin", "--json", "-t", "sh", "list files")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["text"] == "Run:\n```sh\nls -l\n```\n"


@pytest.mark.parametrize(
    ("options", "by"),
    [(["-s", "Mine."], "-s/--system"), (["--role", "terse"], "the role 'terse'")],
)
async def test_the_command_lines_system_prompt_wins_saying_so_on_one_line(
    cli: StandInCli, arena: FakeArena, dirs: dict[str, Path], options: list[str], by: str
) -> None:
    (dirs["lmarena"] / "summary.yaml").write_text(SUMMARY)
    done = await cli("ask", "--no-stdin", "-t", "summary", "-p", "1", "English", *options, "x")
    assert done.returncode == 0, done.stderr
    system = "Mine." if options[0] == "-s" else "Be terse."
    assert sent(arena) == [f"[System]\n{system}\n\n[User]\nSummarise in 10 words, in English:\n\nx"]
    notes = [line for line in done.stderr.splitlines() if "template" in line]
    assert notes == [
        f"lmarena: {by} given: the template 'summary''s system prompt is not used "
        "(the command line wins)"
    ]


async def test_a_continued_conversation_ignores_the_templates_system_prompt_saying_so(
    cli: StandInCli, arena: FakeArena, dirs: dict[str, Path]
) -> None:
    (dirs["lmarena"] / "t.yaml").write_text("system: Be brief.\nprompt: 'Q: $input'\n")
    first = await cli("ask", "--no-stdin", "one")
    done = await cli("ask", "--no-stdin", "-c", "-t", "t", "two")
    assert done.returncode == 0, done.stderr
    assert "the template 't''s system prompt ignored: a continued conversation" in done.stderr
    assert sent(arena)[-1] == "Q: two"
    assert conversation(done.stderr) == conversation(first.stderr)
    done = await cli("ask", "--retry", "-t", "t")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "lmarena: --retry sends no new prompt: it takes no -t/--template\n"
    assert len(arena.stream_requests()) == 2


async def test_chat_sends_each_line_through_the_template(
    cli: StandInCli, arena: FakeArena, dirs: dict[str, Path]
) -> None:
    (dirs["lmarena"] / "tr.yaml").write_text(
        f"system: You translate.\nprompt: 'To $lang: $input'\nmodel: {OTHER}\n"
    )
    done = await cli("chat", "-t", "tr", "-p", "lang", "German", stdin="hello\n/id\nbye\n")
    assert done.returncode == 0, done.stderr
    assert sent(arena) == ["[System]\nYou translate.\n\n[User]\nTo German: hello", "To German: bye"]
    assert arena.stream_requests()[0].json["modelAId"] == IDS[OTHER]


# --- bad templates and bad use --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.yaml", "system: x\ntemprature: 1\n", "a.yaml:2: unknown key 'temprature'"),
        ("b.yaml", "system: x\nprompt: [oops\n", "b.yaml:3: not valid YAML"),
        ("c.toml", 'system = "x"\nprompt = \n', "c.toml: not valid TOML: Invalid value (at line 2"),
        ("d.yaml", "system: x\nextract: sometimes\n", "d.yaml:2: extract must be true or false"),
        ("e.yaml", "- a list\n", "e.yaml:1: a template is a mapping of keys"),
        ("f.yaml", "system: |\n  Hi.\n  Be $mood.\n", "f.yaml:3: the template 'f' needs the "),
        ("g.toml", 'prompt = "x"\n[schema]\ntype = 5\n', "g.toml:2: "),
    ],
)
async def test_a_bad_template_exits_2_naming_its_file_and_line(
    cli: StandInCli, arena: FakeArena, dirs: dict[str, Path], name: str, text: str, message: str
) -> None:
    (dirs["lmarena"] / name).write_text(text)
    done = await cli("ask", "-t", name.split(".")[0], "hi", stdin="never read")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"lmarena: {dirs['lmarena'] / name}")
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert arena.stream_requests() == []


async def test_a_missing_parameter_and_llm_features_lmarena_lacks_exit_2(
    cli: StandInCli, arena: FakeArena, dirs: dict[str, Path]
) -> None:
    (dirs["lmarena"] / "summary.yaml").write_text(SUMMARY)
    (dirs["llm"] / "tools.yaml").write_text("system: x\ntools:\n- llm_time\n")
    done = await cli("ask", "--no-stdin", "-t", "summary", "x")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"lmarena: {dirs['lmarena'] / 'summary.yaml'}:4: the template 'summary' needs the "
        "parameter $1: give -p 1 VALUE\n"
    )
    done = await cli("ask", "--no-stdin", "-t", "tools", "x")
    assert (done.returncode, done.stdout) == (2, "")
    assert f"{dirs['llm'] / 'tools.yaml'}:2: tools is an llm feature" in done.stderr
    done = await cli("ask", "--no-stdin", "-t", "nope", "x")
    assert done.returncode == 2 and "unknown template 'nope'" in done.stderr
    done = await cli("ask", "--no-stdin", "-p", "a", "b", "x")
    assert done.returncode == 2
    assert done.stderr == "lmarena: -p/--param gives a template's parameters: use it with -t NAME\n"
    assert arena.stream_requests() == []


# --- --save ---------------------------------------------------------------------------------------


async def test_save_writes_the_command_line_as_a_template_that_then_works(
    cli: StandInCli, arena: FakeArena, dirs: dict[str, Path]
) -> None:
    system = "Be brief.\nReally."
    done = await cli(
        "ask", "--save", "tr", "-s", system, "-m", OTHER, "-p", "lang", "French",
        "To $lang: $input",
        stdin="never read",
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "")
    path = dirs["lmarena"] / "tr.yaml"
    assert done.stderr == f"saved the template 'tr' in {path}\n"
    assert path.read_text() == (
        "system: |-\n  Be brief.\n  Really.\n"
        "prompt: 'To $lang: $input'\n"
        f"model: {OTHER}\n"
        "defaults:\n  lang: French\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(os.listdir(dirs["lmarena"])) == ["tr.yaml"]  # no temporary file left
    assert arena.stream_requests() == []
    done = await cli("ask", "-t", "tr", stdin="bonjour")
    assert done.returncode == 0, done.stderr
    assert sent(arena) == ["[System]\nBe brief.\nReally.\n\n[User]\nTo French: bonjour"]
    assert arena.stream_requests()[0].json["modelAId"] == IDS[OTHER]
    code, listed, _ = templates()
    assert (code, listed) == (0, "tr\tlmarena\tBe brief.\n")


async def test_save_keeps_a_role_and_a_schema_and_refuses_what_belongs_to_one_run(
    cli: StandInCli, dirs: dict[str, Path]
) -> None:
    done = await cli("ask", "--save", "js", "--role", "terse", "-x", "--no-stdin")
    assert done.returncode == 0, done.stderr
    assert (dirs["lmarena"] / "js.yaml").read_text() == "system: Be terse.\nextract: true\n"
    schema = '{"type": "object"}'
    done = await cli("ask", "--save", "js", "--schema", schema, "--no-stdin")
    assert done.returncode == 0, done.stderr
    assert (dirs["lmarena"] / "js.yaml").read_text() == "schema:\n  type: object\n"
    for options in (["-c"], ["--battle"], ["-t", "js"], ["-a", "x.txt"]):
        done = await cli("ask", "--save", "other", *options, "-s", "x", "--no-stdin")
        assert (done.returncode, done.stdout) == (2, "")
        assert "--save keeps a prompt and its options as a template: not with" in done.stderr
    done = await cli("ask", "--save", "../up", "-s", "x", "--no-stdin")
    assert done.returncode == 2 and "a template's name is letters" in done.stderr
    done = await cli("ask", "--save", "empty", "--no-stdin")
    assert done.returncode == 2 and "nothing to save" in done.stderr
    assert sorted(os.listdir(dirs["lmarena"])) == ["js.yaml"]


# --- lmarena templates ----------------------------------------------------------------------------


def test_templates_lists_each_name_once_with_its_source_and_what_it_hides(
    dirs: dict[str, Path],
) -> None:
    (dirs["lmarena"] / "summary.yaml").write_text(SUMMARY)
    (dirs["lmarena"] / "broken.toml").write_text("system = \n")
    (dirs["llm"] / "summary.yaml").write_text("system: llm's\n")
    (dirs["llm"] / "fr.yaml").write_text("system: |\n  Answer in French.\n  Always.\n")
    (dirs["llm"] / "notes.txt").write_text("not a template\n")
    fabric_pattern(dirs, "summary", "# IDENTITY\n\nFabric's.\n")
    fabric_pattern(dirs, "extract_wisdom", "# IDENTITY and PURPOSE\n\nYou extract wisdom.\n")
    (dirs["fabric"] / "no_system").mkdir()
    code, out, err = templates()
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[1:] == [
        "extract_wisdom\tfabric\tYou extract wisdom.",
        "fr\tllm\tAnswer in French.",
        "summary\tlmarena (hides llm, fabric)\tSummarise in a few words",
    ]
    assert lines[0].startswith(f"broken\tlmarena\t(cannot be used: {dirs['lmarena']}/broken.toml")


def test_templates_show_prints_the_file_and_says_where_it_is(dirs: dict[str, Path]) -> None:
    (dirs["lmarena"] / "summary.yaml").write_text(SUMMARY)
    fabric_pattern(dirs, "critic", "Be a critic.\n", user="Review this:\n")
    code, out, err = templates("show", "summary")
    assert (code, out) == (0, SUMMARY)
    assert err == f"summary: lmarena, {dirs['lmarena'] / 'summary.yaml'}\n"
    code, out, _ = templates("show", "critic")
    assert (code, out) == (
        0,
        f"Be a critic.\n\n==> {dirs['fabric']}/critic/user.md <==\nReview this:\n",
    )
    (dirs["llm"] / "bad.yaml").write_text("system: [x\n")
    code, out, err = templates("show", "bad")
    assert (code, out) == (0, "system: [x\n")
    assert err == f"bad: llm, {dirs['llm'] / 'bad.yaml'}\n"
    code, out, err = templates("show", "nope")
    assert (code, out) == (2, "")
    assert err.startswith("lmarena: unknown template 'nope' (looked in ")


def test_no_templates_lists_nothing() -> None:
    assert templates() == (0, "", "")


# --- help and completion --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_help_shows_the_template_options(command: str) -> None:
    done = run_lmarena(command, "--help", env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0
    assert "-t, --template NAME" in done.stdout and "-p, --param NAME VALUE" in done.stdout
    assert ("--save NAME" in done.stdout) == (command == "ask")


def test_template_completes_from_every_place_offline(tmp_path: Path, dirs: dict[str, Path]) -> None:
    (dirs["lmarena"] / "summary.yaml").write_text(SUMMARY)
    (dirs["llm"] / "sum_llm.yaml").write_text("system: x\n")
    fabric_pattern(dirs, "summarize", "x")
    done = complete_bash("lmarena ask -t sum", tmp_path)
    assert (done.returncode, done.stdout.split()) == (0, ["sum_llm", "summarize", "summary"])
    assert complete_bash("lmarena chat --template summa", tmp_path).stdout.split() == [
        "summarize",
        "summary",
    ]
    assert not (tmp_path / "browser-profile").exists()

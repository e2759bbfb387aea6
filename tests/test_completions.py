"""Shell completions: the committed scripts match the app, and `-m` completes from the cache only.

Completing never starts the browser and never prints a traceback into the user's shell: with no
cache it completes nothing, silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from lmarena_cli.settings import Settings
from lmarena_cli.state.cache import SiteCache, SiteState
from tests.helpers.command import run_lmarena

REPO = Path(__file__).resolve().parents[1]
FILES = {
    "bash": REPO / "completions" / "lmarena.bash",
    "zsh": REPO / "completions" / "_lmarena",
    "fish": REPO / "completions" / "lmarena.fish",
}
BASE_URL = "http://127.0.0.1:9"  # never contacted: completion is offline


def completion_source(shell: str) -> str:
    """What the app itself says the completion script of ``shell`` is."""
    done = run_lmarena(env={**os.environ, "_LMARENA_COMPLETE": f"source_{shell}"})
    assert done.returncode == 0, done.stderr
    return done.stdout.lstrip("\n").rstrip("\n") + "\n"


@pytest.mark.parametrize("shell", sorted(FILES))
def test_committed_completion_script_matches_the_app(shell: str) -> None:
    committed = FILES[shell].read_text()
    assert committed == completion_source(shell), (
        f"{FILES[shell].relative_to(REPO)} is out of date: run scripts/gen-completions"
    )


def test_gen_completions_check_passes_on_the_committed_files() -> None:
    done = subprocess.run(
        [str(REPO / "scripts" / "gen-completions"), "--check"],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_zsh_script_starts_with_compdef() -> None:
    # compinit only picks up a completion file whose first line is `#compdef`.
    assert FILES["zsh"].read_text().splitlines()[0] == "#compdef lmarena"


def write_cache(state_dir: Path, names: list[str]) -> None:
    rows = [
        {
            "id": f"0199{n:04d}-0000-7000-8000-000000000000",
            "publicName": name,
            "name": name,
            "organization": "example",
            "provider": "example",
            "userSelectable": True,
            "capabilities": {
                "inputCapabilities": {"text": True},
                "outputCapabilities": {"text": True},
            },
            "rank": n + 1,
        }
        for n, name in enumerate(names)
    ]
    state = SiteState(base_url=BASE_URL, user_agent="Mozilla/5.0", models=rows)
    SiteCache(Settings(state_dir=state_dir).cache_path).save(state)


def complete_bash(words: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    """What bash's completion function asks the program for ``words``, like the shell does."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LM_ARENA_")},
        "_LMARENA_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
        "LM_ARENA_STATE_DIR": str(state_dir),
        "LM_ARENA_BASE_URL": BASE_URL,
        # Were a browser started, this would fail loudly; completion must never get there.
        "LM_ARENA_BROWSER_EXECUTABLE_PATH": "/nonexistent",
    }
    return run_lmarena(env=env, python_options=("-X", "importtime"))


def imported(stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines."""
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if "|" in line}


def test_model_option_completes_cached_names_without_the_http_or_browser_stack(
    tmp_path: Path,
) -> None:
    write_cache(tmp_path, ["gemini-3-pro", "claude-opus-4-5", "claude-sonnet-4-5"])
    done = complete_bash("lmarena ask -m cla", tmp_path)
    assert done.returncode == 0
    assert done.stdout.split() == ["claude-opus-4-5", "claude-sonnet-4-5"]
    modules = imported(done.stderr)
    assert "lmarena_cli.site.models" in modules
    assert not modules & {
        "aiohttp",
        "nodriver",
        "lmarena_cli.client.client",
        "lmarena_cli.browser.session",
        "lmarena_cli.server.app",
    }
    assert not (tmp_path / "browser-profile").exists()


def test_model_option_completes_nothing_silently_without_a_cache(tmp_path: Path) -> None:
    done = complete_bash("lmarena ask -m cla", tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == ""
    lines = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    assert lines == []


def test_model_option_ignores_a_corrupt_cache_silently(tmp_path: Path) -> None:
    (tmp_path / "site-cache.json").write_bytes(orjson.dumps({"format": "?"}) + b"garbage")
    done = complete_bash("lmarena chat -m ", tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == ""
    assert [ln for ln in done.stderr.splitlines() if not ln.startswith("import time:")] == []


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_completes_commands_and_models_in_a_real_bash(tmp_path: Path) -> None:
    write_cache(tmp_path, ["gemini-3-pro", "claude-opus-4-5"])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # The script runs `lmarena` by name, as an installed console script would be.
    (bin_dir / "lmarena").write_text(f'#!/bin/sh\nexec {sys.executable} -m lmarena_cli "$@"\n')
    (bin_dir / "lmarena").chmod(0o755)
    script = (
        f"source {FILES['bash']}\n"
        'show() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=();'
        " _lmarena_completion lmarena; printf '%s\\n' \"${COMPREPLY[@]}\" | sort; echo --; }\n"
        "show lmarena mo\n"
        "show lmarena ask -m gem\n"
        "show lmarena ask --no-s\n"
        "show lmarena ask --sch\n"
        "show lmarena ask --att\n"
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("LM_ARENA_")},
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "LM_ARENA_STATE_DIR": str(tmp_path),
            "LM_ARENA_BASE_URL": BASE_URL,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    blocks = [block.split() for block in done.stdout.split("--\n")][:5]
    assert blocks[0] == ["models"]
    assert blocks[1] == ["gemini-3-pro"]
    assert "--no-stdin" in blocks[2] and "--no-stream" in blocks[2]
    assert (blocks[3], blocks[4]) == (["--schema"], ["--attach"])
    assert done.stderr == ""

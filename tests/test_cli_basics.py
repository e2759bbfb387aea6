"""The command's face before anything touches the network: --help, --version, bad settings."""

from __future__ import annotations

import os
import subprocess
import sys

from lmarena_cli import __version__


def lmarena(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lmarena_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_version_prints_the_package_version() -> None:
    done = lmarena("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"lmarena {__version__}"


def test_help_lists_every_command_and_the_exit_codes() -> None:
    done = lmarena("--help")
    assert done.returncode == 0
    for command in ("models", "ask", "chat", "login", "serve"):
        assert command in done.stdout
    assert "130 interrupted" in done.stdout


def test_help_does_not_import_the_browser_or_http_stack() -> None:
    code = (
        "import sys\n"
        "from lmarena_cli.cli.app import app\n"
        "try:\n    app(['--help'], prog_name='lmarena')\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('nodriver', 'aiohttp') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in done.stderr


def test_an_invalid_boolean_variable_exits_2_naming_it() -> None:
    done = lmarena("models", env={"LM_ARENA_BROWSER_INCOGNITO": "perhaps"})
    assert done.returncode == 2
    assert "LM_ARENA_BROWSER_INCOGNITO" in done.stderr
    assert "Traceback" not in done.stderr


def test_ask_with_no_prompt_and_nothing_piped_prints_usage_and_exits_2() -> None:
    done = lmarena("ask", "--no-stdin")
    assert done.returncode == 2
    assert "usage: lmarena ask" in done.stderr
    assert done.stdout == ""


def test_an_unknown_command_is_a_usage_error() -> None:
    done = lmarena("akс")
    assert done.returncode == 2
    assert "No such command" in done.stderr

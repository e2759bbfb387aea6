"""The command's face before anything touches the network: --help, --version, bad settings."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lmarena_cli import __version__
from lmarena_cli.cli import models as cli_models
from lmarena_cli.cli.app import app
from lmarena_cli.cli.notices import shown_on
from lmarena_cli.cli.terminal import Terminal
from tests.helpers.command import run_lmarena


def lmarena(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_lmarena(*args, env={**os.environ, **(env or {})})


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


def test_an_image_file_that_cannot_be_read_exits_2_before_any_browser_starts(
    tmp_path: Path,
) -> None:
    # No browser could start and no site answers: only a check made first can say this.
    nowhere = {
        "LM_ARENA_BROWSER_EXECUTABLE_PATH": str(tmp_path / "no-chromium"),
        "LM_ARENA_BASE_URL": "http://127.0.0.1:9",
        "LM_ARENA_KEEP_ALIVE": "0",
    }
    missing = tmp_path / "cat.png"
    done = lmarena("ask", "--no-stdin", "--image", str(missing), "what is it?", env=nowhere)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"lmarena: cannot read {missing}: No such file or directory\n"
    folder = lmarena("ask", "--no-stdin", "--image", str(tmp_path), "what is it?", env=nowhere)
    assert folder.returncode == 2
    assert folder.stderr == f"lmarena: cannot read {tmp_path}: Is a directory\n"


def test_an_unknown_command_is_a_usage_error() -> None:
    done = lmarena("akс")
    assert done.returncode == 2
    assert "No such command" in done.stderr


# --- the library's notices on stderr --------------------------------------------------------------


class NoisyClient:
    """A stand-in for the client that logs one notice, as the library does, and knows no models."""

    async def list_models(self, *, refresh: bool = False) -> list[Any]:
        logging.getLogger("lmarena.client").info("a notice from the library")
        return []

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(("flags", "shown"), [((), True), (("-q",), False)])
def test_library_notices_reach_stderr_unless_quiet_and_leave_no_handler(
    monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...], shown: bool
) -> None:
    monkeypatch.setattr(cli_models, "make_client", lambda settings, **_: NoisyClient())
    logger = logging.getLogger("lmarena")
    before = (list(logger.handlers), logger.level)
    for _ in range(2):  # a second run in the same process must not print the notice twice
        result = CliRunner().invoke(app, ["models", "--refresh", *flags], prog_name="lmarena")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""
        assert result.stderr == ("a notice from the library\n" if shown else "")
    assert (logger.handlers, logger.level) == before


def test_notices_go_through_the_terminal_by_level() -> None:
    logger = logging.getLogger("lmarena.test")
    quiet = Terminal(stdin=None, stdout=io.StringIO(), stderr=io.StringIO(), quiet=True)
    with shown_on(quiet):
        logger.info("hidden by -q")
        logger.warning("always shown")
    loud = Terminal(stdin=None, stdout=io.StringIO(), stderr=io.StringIO(), quiet=True)
    with shown_on(loud, note=loud.err):  # `lmarena login`: the browser's notices despite -q
        logger.info("shown with -q")
    logger.info("after the block")
    assert quiet.stderr.getvalue() == "always shown\n"  # type: ignore[attr-defined]
    assert loud.stderr.getvalue() == "shown with -q\n"  # type: ignore[attr-defined]

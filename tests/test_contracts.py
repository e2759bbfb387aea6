"""The typed contracts users script against: exit statuses in `--help` and the README."""

from __future__ import annotations

import os
import re
from pathlib import Path

from lmarena_cli.errors import ExitStatus, LmArenaError
from tests.helpers.command import run_lmarena

README = Path(__file__).resolve().parent.parent / "README.md"


def _help_text() -> str:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    done = run_lmarena("--help", env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    # Rich draws boxes and wraps lines; compare the words only.
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", done.stdout).split())


def test_help_lists_every_exit_status_with_its_meaning() -> None:
    text = _help_text()
    expected = ", ".join(f"{status.value} {status.meaning}" for status in ExitStatus)
    assert f"Exit codes: {expected}." in text


def test_readme_exit_code_table_has_exactly_the_exit_statuses() -> None:
    section = README.read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    codes = [int(code) for code in re.findall(r"^\| (\d+) \|", section, re.M)]
    assert codes == [status.value for status in ExitStatus]


def test_every_error_class_exits_with_a_documented_status() -> None:
    def tree(cls: type[LmArenaError]) -> list[type[LmArenaError]]:
        return [cls, *(sub for child in cls.__subclasses__() for sub in tree(child))]

    for cls in tree(LmArenaError):
        assert isinstance(cls.exit_code, ExitStatus), cls
        assert cls.exit_code not in (ExitStatus.OK, ExitStatus.INTERRUPTED), cls

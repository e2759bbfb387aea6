"""Running `lmarena` as a real subprocess: only that shows real pipes, TTYs and exit codes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence

#: The command line of ``lmarena`` from this checkout, in the tests' interpreter.
LMARENA: list[str] = [sys.executable, "-m", "lmarena_cli"]


def lmarena_command(*args: str, python_options: Sequence[str] = ()) -> list[str]:
    """``python [python_options] -m lmarena_cli args...``."""
    return [sys.executable, *python_options, *LMARENA[1:], *args]


def run_lmarena(
    *args: str,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 60,
    python_options: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``lmarena args...`` to the end; text output captured, never an inherited stdin.

    ``env`` is the whole environment (default: the test's own, already isolated by conftest);
    ``input`` is written to stdin, which is otherwise ``/dev/null`` so nothing can hang on it.
    """
    return subprocess.run(
        lmarena_command(*args, python_options=python_options),
        env=None if env is None else dict(env),
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


__all__ = ["LMARENA", "lmarena_command", "run_lmarena"]

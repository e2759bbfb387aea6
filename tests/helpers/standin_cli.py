"""``lmarena`` as a real subprocess on the browser's stand-in, against a fake arena.

The subprocess swaps the client factory of the CLI's modules for one that uses
:class:`tests.fakes.HttpBrowser`, then runs the real entry point: stdout, stderr, exit codes,
pipes and the config file are the real ones. Calls run in a thread, so the fake arena (served by
the test's event loop) answers meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

#: The repository, for the subprocess to import ``tests.fakes``.
ROOT = str(Path(__file__).resolve().parents[2])

RUNNER = """
import sys
from lmarena_cli.cli import ask, chat, runtime
from lmarena_cli.client.client import Client
from tests.fakes import HttpBrowser

def make_client(settings):
    # Closed with the client: no "Unclosed client session" on stderr.
    return Client(settings, browser=HttpBrowser(settings), owns_browser=True)

for module in (ask, chat, runtime):
    module.make_client = make_client
from lmarena_cli.cli.app import main
sys.argv = ["lmarena", *sys.argv[1:]]
main()
"""


class StandInCli:
    """``await cli("ask", "--no-stdin", "hi")`` runs ``lmarena ask --no-stdin hi``."""

    def __init__(self, url: str, state: Path, *, config: Path | None = None, model: str) -> None:
        self.url, self.state, self.config, self.model = url, state, config, model

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "LM_ARENA_BASE_URL": self.url,
            "LM_ARENA_STATE_DIR": str(self.state),
            "LM_ARENA_MODEL": self.model,
            "PYTHONPATH": ROOT,
        }
        if self.config is not None:
            env["LM_ARENA_CONFIG"] = str(self.config)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-c", RUNNER, *args]

    async def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        def run() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                self.command(*args),
                input=stdin,
                capture_output=True,
                text=True,
                env=self.env(),
                timeout=40,
            )

        return await asyncio.to_thread(run)

    async def shell(self, pipeline: str) -> subprocess.CompletedProcess[str]:
        """Run a ``sh -c`` pipeline in which ``lmarena`` is this stand-in command."""
        runner = " ".join(f"'{part}'" for part in (sys.executable, "-c", RUNNER))
        script = f'lmarena() {{ {runner} "$@"; }}\n{pipeline}'

        def run() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["sh", "-c", script],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=self.env(),
                timeout=40,
            )

        return await asyncio.to_thread(run)


def conversation(stderr: str) -> str:
    """The id of the last ``conversation: ID`` line on stderr."""
    lines = [line for line in stderr.splitlines() if line.startswith("conversation: ")]
    assert lines, stderr
    return lines[-1].removeprefix("conversation: ").split()[0]


__all__ = ["ROOT", "RUNNER", "StandInCli", "conversation"]

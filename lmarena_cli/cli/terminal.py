"""The streams the CLI talks to, and what they are (terminal or pipe, colour or not).

One ``Terminal`` object holds stdin, stdout and stderr and the facts derived from them, so that the
rest of the CLI never looks at ``sys`` directly and tests can hand it other streams.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (ValueError, OSError):  # a closed stream
        return False


@dataclass
class Terminal:
    """stdin, stdout and stderr of one command, and what they are (terminal, colour, quiet)."""

    stdin: IO[str] | None = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    quiet: bool = False
    no_color: bool = False

    @property
    def stdin_is_tty(self) -> bool:
        """True when stdin is an open terminal (then nothing is read from it as a prompt)."""
        return _isatty(self.stdin)

    @property
    def stderr_is_tty(self) -> bool:
        """True when stderr is an open terminal (spinners and colour may show)."""
        return _isatty(self.stderr)

    @property
    def stdout_is_tty(self) -> bool:
        """True when stdout is an open terminal (answers may then be rendered as markdown)."""
        return _isatty(self.stdout)

    @property
    def stdout_color(self) -> bool:
        """Colour in answers rendered on a terminal: never with NO_COLOR, TERM=dumb, --no-color."""
        if self.no_color or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
            return False
        return self.stdout_is_tty

    @property
    def color(self) -> bool:
        """Colour only on a terminal, and never with NO_COLOR, TERM=dumb or --no-color."""
        if self.no_color or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
            return False
        return self.stderr_is_tty

    def out(self, text: str) -> None:
        """Answer text to stdout, flushed at once so a pipe sees each chunk as it comes."""
        self.stdout.write(text)
        self.stdout.flush()

    def info(self, message: str) -> None:
        """Progress and notes on stderr; hidden by -q."""
        if not self.quiet:
            self.err(message)

    def err(self, message: str) -> None:
        """Errors on stderr, always."""
        self.stderr.write(message + "\n")
        self.stderr.flush()

    def style(self, text: str, code: str) -> str:
        """``text`` in the SGR style ``code`` when colour is on, else as it is."""
        return f"\033[{code}m{text}\033[0m" if self.color else text

    @contextlib.contextmanager
    def spinner(self, label: str) -> Iterator[Spinner]:
        """A spinner on stderr while something slow happens, only on a terminal."""
        spin = Spinner(self, label)
        spin.start()
        try:
            yield spin
        finally:
            spin.stop()


class Spinner:
    """A spinner on stderr, drawn by a task on the running loop after a short delay."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, terminal: Terminal, label: str) -> None:
        self._terminal = terminal
        self._label = label
        self._task: asyncio.Task[None] | None = None
        self._shown = False

    def start(self) -> None:
        """Start spinning, only on a terminal, without -q or TERM=dumb, and in a running loop."""
        term = self._terminal
        if term.quiet or not term.stderr_is_tty or os.environ.get("TERM") == "dumb":
            return
        import asyncio  # here, not at the top: `--help` and completion never need it

        with contextlib.suppress(RuntimeError):  # no running loop: no spinner
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        import asyncio

        frame = 0
        await asyncio.sleep(0.3)  # fast steps do not flash a spinner
        while True:
            self._shown = True
            symbol = (
                self.FRAMES[frame % len(self.FRAMES)]
                if self._terminal.color
                else "-\\|/"[frame % 4]
            )
            self._terminal.stderr.write(f"\r{symbol} {self._label}")
            self._terminal.stderr.flush()
            frame += 1
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        """Remove the spinner; call before the first byte of the answer is printed."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._shown:
            self._terminal.stderr.write("\r\033[K")
            self._terminal.stderr.flush()
            self._shown = False

"""Running a command with its stdout on a real terminal (a pty), and what that terminal shows.

:func:`run_on_terminal` gives the command a pseudo-terminal as stdout (and as stdin, for
``lmarena chat``), stderr as a pipe, and returns the bytes the terminal received. :func:`screen`
replays those bytes the way a terminal would for what rich's ``Live`` sends (carriage return,
newline, erase line, cursor up; colours and other sequences have no effect on the text), so a
test can assert the text left on screen once the redraws are over.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ESC = b"\x1b"
_CSI = re.compile(rb"\x1b\[([0-9;?]*)([A-Za-z])")
_OSC = re.compile(rb"\x1b\].*?(?:\x1b\\|\x07)")


@dataclass
class TerminalRun:
    out: bytes  # what the terminal received on stdout (the pty turns \n into \r\n)
    err: str
    code: int


def run_on_terminal(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    stdin_tty: bool = False,
    typed: bytes = b"",
    columns: int = 80,
    rows: int = 24,
    timeout: float = 40,
) -> TerminalRun:
    """Run ``command`` with stdout on a new pty of ``columns`` x ``rows``; with ``stdin_tty``,
    stdin too (echo off), and ``typed`` is written to it as a user would type it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    if stdin_tty:
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen(
        list(command),
        stdin=slave if stdin_tty else subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=dict(env),
        start_new_session=True,
    )
    os.close(slave)
    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    out = b""
    deadline = time.monotonic() + timeout
    try:
        if typed:
            os.write(master, typed)
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer of the terminal has closed it
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        reader.join(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
    return TerminalRun(out, b"".join(err).decode(errors="replace"), code)


def screen(data: bytes) -> list[str]:
    """The lines a terminal shows after ``data`` (trailing spaces and empty last lines dropped)."""
    data = _OSC.sub(b"", data)
    lines: list[str] = [""]
    row, col = 0, 0
    pos = 0
    text = data.decode(errors="replace")
    csi = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
    while pos < len(text):
        match = csi.match(text, pos)
        if match:
            params, kind = match.groups()
            if kind == "A":
                row = max(0, row - int(params or 1))
            elif kind == "K" and params == "2":
                lines[row] = ""
            pos = match.end()
            continue
        char = text[pos]
        pos += 1
        if char == "\r":
            col = 0
        elif char == "\n":
            row += 1
            if row == len(lines):
                lines.append("")
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + char + line[col + 1 :]
            col += 1
    shown = [line.rstrip() for line in lines]
    while shown and not shown[-1]:
        shown.pop()
    return shown


def sgr_codes(data: bytes) -> set[int]:
    """Every SGR parameter (``ESC [ ... m``) in ``data``."""
    codes: set[int] = set()
    for params, kind in _CSI.findall(data):
        if kind == b"m":
            codes.update(int(p) for p in params.split(b";") if p.isdigit())
    return codes


#: SGR parameters that set a colour (foreground, background, 256-colour and true colour).
COLOUR_CODES = set(range(30, 50)) | set(range(90, 108))


__all__ = ["COLOUR_CODES", "ESC", "TerminalRun", "run_on_terminal", "screen", "sgr_codes"]

"""Finding the processes a test started (a Chromium, a server), to check none is left behind."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def pids_with(marker: str | os.PathLike[str]) -> list[int]:
    """Live processes, other than this one, whose command line contains ``marker``.

    Tests pass something only their own processes carry: a state directory, a profile
    (``--user-data-dir=<profile>``). Zombies are left out: they have exited, whoever reaps them.
    """
    wanted = os.fsencode(marker)
    pids = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue  # it ended while we looked
        if wanted in cmdline and "State:\tZ" not in status:
            pids.append(int(entry.name))
    return pids


def cmdline(pid: int) -> bytes:
    """The command line of ``pid`` (NUL-separated; empty once it is gone)."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def chromium_with(marker: str | os.PathLike[str]) -> list[int]:
    """Live Chromium processes (the browser and its helpers) whose command line contains
    ``marker`` (a state directory, a profile)."""
    return [pid for pid in pids_with(marker) if b"chrom" in cmdline(pid).lower()]


def chromium_browsers(marker: str | os.PathLike[str]) -> int:
    """How many Chromium browsers (not their renderers or other helpers) ``marker`` names."""
    return sum(1 for pid in chromium_with(marker) if b"--type=" not in cmdline(pid))


__all__ = ["chromium_browsers", "chromium_with", "cmdline", "pids_with"]

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


__all__ = ["pids_with"]

"""``python -m tests.fake_arena`` as a real process, for the tests of its command line."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The first line the command prints (flushed), with the URL it serves.
LISTENING = re.compile(r"fake arena listening on (http://127\.0\.0\.1:\d+)\n")


@contextlib.contextmanager
def fake_arena_command(*args: str) -> Iterator[str]:
    """Run ``python -m tests.fake_arena --port=0 *args`` and yield the URL of its first line.

    On leaving the block normally it gets SIGTERM and must exit 0 without a traceback (asserted);
    in any case it is gone afterwards.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_arena", "--port=0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        listening = LISTENING.fullmatch(first)
        assert listening, first
        yield listening.group(1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaps it and closes its pipes


__all__ = ["fake_arena_command"]

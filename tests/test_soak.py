"""A short soak (bench/soak.py, 100 requests): nothing lost, through real processes.

The kept server (a real headless Chromium) and `lmarena serve` answer a mix of commands and chat
completions while the fake injects faults, and the kept server is SIGKILLed twice mid-answer.
The full run (1,000 requests) is a benchmark: bench/results/soak.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parent.parent


def test_a_hundred_requests_with_faults_and_kills_lose_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/soak.py", "--requests", "100", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = orjson.loads((tmp_path / "soak.json").read_bytes())
    assert data["requests"] == 100
    assert data["kept_server_kills"] == 2
    assert (data["hung"], data["http_500"], data["undocumented"]) == (0, 0, [])
    assert data["missing_from_store"] == [] and data["leftover_processes"] == []
    answered = sum(counts.get("answered", 0) for counts in data["by_kind"].values())
    assert answered >= 80, data["by_kind"]  # faults are 8% of sends; most requests answer
    assert set(data["by_kind"]) >= {"ask", "ask -c", "serve", "serve stream"}

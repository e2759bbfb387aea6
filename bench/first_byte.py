"""The first byte of a direct answer through the kept server: what the battle hold costs.

A kept server on the project's fake arena; each run is a real ``lmarena ask`` process whose
answer the fake streams for about 3 s (ten text lines 0.3 s apart, no heartbeat, so that the
fake's first byte of body is the answer's first text). The figure is the time from the fake's
first byte of body (taken as the fake writes it, in this process) to the first byte on ``ask``'s
stdout (read by this process: one clock), for

* a new chat's first turn (never held, protocol §15.1): target under 50 ms;
* the same chat's second turn (``ask -c``), held up to ``LM_ARENA_BATTLE_HOLD`` (default 1 s)
  unless a ``b`` line or A's finish ends it first;

each also as a ratio to a lone round trip to the fake (a small GET, median of 20).

By default the command and its kept server run on the browser's stand-in
(``tests.helpers.stand_in_lmarena``: the real command and kept server, no Chromium, which plays
no part once the request is sent); ``--chromium`` runs the installed ``lmarena`` with a real
headless Chromium instead. Run from the repository root::

    .venv/bin/python bench/first_byte.py [-n 5] [--chromium]

Writes ``bench/results/first_byte.json`` (one entry per way of running).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lmarena_cli.settings import Settings  # noqa: E402
from tests.fake_arena import FakeArena, Reply  # noqa: E402
from tests.fake_arena import streams as fake_streams  # noqa: E402

TARGET_S = 0.050
#: The answer: ten lines 0.3 s apart (about 3 s of streaming).
PARTS = [f"part {i} " for i in range(10)]
GAP = 0.3


class FirstWrites:
    """When the fake wrote each answer's first byte of body (``time.perf_counter``)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        original = fake_streams.StreamWriter._write
        times = self.times

        async def write(writer: fake_streams.StreamWriter, data: bytes) -> None:
            if writer.bytes_written == 0 and data:
                times.append(time.perf_counter())
            await original(writer, data)

        fake_streams.StreamWriter._write = write  # type: ignore[method-assign]


def command(chromium: bool) -> list[str]:
    if chromium:
        return [str(Path(sys.executable).with_name("lmarena"))]
    return [sys.executable, "-m", "tests.helpers.stand_in_lmarena"]


def environment(url: str, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LM_ARENA_", "LMARENA_"))}
    env.update(
        LM_ARENA_BASE_URL=url,
        LM_ARENA_STATE_DIR=str(state),
        LM_ARENA_KEEP_ALIVE="600",
        LM_ARENA_BROWSER_HEADLESS="1",
        XDG_CONFIG_HOME=str(state.parent / "config"),
        PYTHONPATH=str(ROOT),
    )
    return env


async def ask(cmd: list[str], env: dict[str, str], *args: str) -> tuple[float | None, bytes]:
    """Run ``lmarena ask ARGS``: the perf_counter time of stdout's first byte, and stdout."""
    process = await asyncio.create_subprocess_exec(
        *cmd,
        "ask",
        "--no-stdin",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None
    first = await process.stdout.read(1)
    at = time.perf_counter() if first else None
    out, err = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"ask {args} failed ({process.returncode}): {err.decode()[-2000:]}")
    return at, first + out


async def round_trip(url: str) -> float:
    """The median of 20 small GETs to the fake (one connection, as a client keeps it)."""
    times = []
    async with aiohttp.ClientSession() as http:
        for _ in range(21):
            began = time.perf_counter()
            async with http.get(f"{url}/nextjs-api/model-catalog") as response:
                await response.read()
            times.append(time.perf_counter() - began)
    return statistics.median(times[1:])


def summary(values: list[float], trip: float) -> dict[str, Any]:
    median = statistics.median(values)
    return {
        "median_ms": round(median * 1000, 1),
        "min_ms": round(min(values) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
        "ratio_to_round_trip": round(median / trip, 1),
        "runs": len(values),
    }


async def turn(
    arena: FakeArena, writes: FirstWrites, cmd: list[str], env: dict[str, str], *args: str
) -> float:
    arena.enqueue(Reply(text=list(PARTS), delay_between=GAP, heartbeats=0))
    before = len(writes.times)
    at, out = await ask(cmd, env, *args)
    if at is None or not out.startswith(b"part 0"):
        raise SystemExit(f"unexpected answer: {out[:200]!r}")
    fake_first = writes.times[before]
    return at - fake_first


async def bench(runs: int, chromium: bool, tmp: Path) -> dict[str, Any]:
    writes = FirstWrites()
    cmd = command(chromium)
    async with FakeArena() as arena:
        trip = await round_trip(arena.url)
        env = environment(arena.url, tmp / "state")
        await ask(cmd, env, "warm up")  # starts the kept server
        first, second = [], []
        try:
            for n in range(runs):
                first.append(await turn(arena, writes, cmd, env, f"new chat {n}"))
                second.append(await turn(arena, writes, cmd, env, "-c", f"second turn {n}"))
        finally:
            process = await asyncio.create_subprocess_exec(
                *cmd, "server", "stop", env=env, stdout=asyncio.subprocess.DEVNULL, cwd=ROOT
            )
            await process.wait()
    return {
        "round_trip_ms": round(trip * 1000, 2),
        "first_turn": summary(first, trip),
        "second_turn_held": summary(second, trip),
        "battle_hold_s": Settings().battle_hold,
        "answer_stream_s": round(GAP * (len(PARTS) + 1), 1),
        "target_ms": TARGET_S * 1000,
        "first_turn_within_target": statistics.median(first) < TARGET_S,
        "browser": "chromium" if chromium else "stand-in (HttpBrowser)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--chromium", action="store_true", help="a real Chromium, not the stand-in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lmarena-first-byte-") as tmp:
        results = asyncio.run(bench(args.runs, args.chromium, Path(tmp)))
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    results["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    a, b = results["first_turn"], results["second_turn_held"]
    print(f"lone round trip to the fake      {results['round_trip_ms']:.2f} ms")
    print(
        f"first turn (not held)            {a['median_ms']:.1f} ms median "
        f"({a['min_ms']:.1f}-{a['max_ms']:.1f}), {a['ratio_to_round_trip']}x the round trip"
    )
    print(
        f"second turn (held <= {results['battle_hold_s']:g} s)       {b['median_ms']:.1f} ms "
        f"median ({b['min_ms']:.1f}-{b['max_ms']:.1f}), {b['ratio_to_round_trip']}x"
    )
    # One entry per way of running (stand-in, chromium): a run replaces its own only.
    out = ROOT / "bench" / "results" / "first_byte.json"
    kept = orjson.loads(out.read_bytes()) if out.exists() else {}
    kept = kept if isinstance(kept, dict) and "first_turn" not in kept else {}
    kept["chromium" if args.chromium else "stand-in"] = results
    out.write_bytes(orjson.dumps(kept, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""`lmarena serve` against the library it wraps, on the fake arena: medians of N runs.

One fake arena, one Client (one real Chromium) and one in-process server on loopback::

    python bench/serve.py [--runs 15]

Measured, each N times, interleaved so drift touches all alike:

1. ``library``: a short exchange through ``chat.send(..., stream=False)`` on a new chat;
2. ``serve``: the same through the server with the official ``openai`` AsyncOpenAI client
   (``chat.completions.create``, no stream); serve / library is the server's overhead;
3. ``serve first chunk``: time to the first content chunk of a streamed request (and, beside it,
   the library's time to its first text delta);
4. ``8 concurrent``: eight streamed requests at once, each answered over ~0.5 s by the fake,
   wall time against one such request alone.

``--mint-delay SECONDS`` makes each reCAPTCHA ``execute`` of the fake take that long (Google's
takes a few hundred milliseconds; the fake's default is instant), which shows what the tokens of
requests at once cost: each request mints its own but the first, which takes the one minted ahead.

Then memory: this process's RSS (the server runs in it) before and after, and Chromium's (all
processes whose command line names the benchmark's state directory). Writes
``bench/results/serve.json``.
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openai
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lmarena_cli.browser.options import find_browser  # noqa: E402
from lmarena_cli.client.client import Client  # noqa: E402
from lmarena_cli.server.app import make_app  # noqa: E402
from lmarena_cli.server.run import start, warm_up  # noqa: E402
from lmarena_cli.settings import Settings  # noqa: E402
from tests.fake_arena import FakeArena, Reply  # noqa: E402

MODEL = "gemini-3-pro"
PROMPT = "Say hello in five words."
#: The slow reply of the concurrency test: 10 deltas, 50 ms apart, so ~0.5 s per answer.
SLOW_DELTAS = [f"word{n} " for n in range(10)]
SLOW_GAP = 0.05
CONCURRENT = 8


# --------------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------------


def _status_kib(pid: str, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (0 when the process is gone or has none)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _pss_kib(pid: str) -> int:
    """Proportional set size: shared pages split among sharers, so a sum does not double-count."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def self_rss_mib() -> float:
    return _status_kib("self", "VmRSS") / 1024


def chromium_memory(marker: str) -> dict[str, float | int]:
    """Chromium's processes (their cmdline names ``marker``, the state dir): count, RSS and PSS.

    RSS counts pages shared among the processes once per process (an upper bound); PSS splits
    them. Chromium's two crashpad handlers (~8 MiB) do not name the state dir and are left out.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or entry.name == str(os.getpid()):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            pids.append(entry.name)
    return {
        "processes": len(pids),
        "rss_sum_mib": round(sum(_status_kib(p, "VmRSS") for p in pids) / 1024, 1),
        "pss_sum_mib": round(sum(_pss_kib(p) for p in pids) / 1024, 1),
    }


# --------------------------------------------------------------------------------------------------
# The measurements
# --------------------------------------------------------------------------------------------------


async def library_exchange(client: Client) -> float:
    started = time.perf_counter()
    chat = await client.chats.create(model=MODEL)
    reply = await chat.send(PROMPT, stream=False)
    elapsed = time.perf_counter() - started
    assert reply.text, "the library answered with no text"
    return elapsed


async def library_first_delta(client: Client) -> float:
    started = time.perf_counter()
    chat = await client.chats.create(model=MODEL)
    stream = await chat.send(PROMPT, stream=True)
    first: float | None = None
    try:
        async for delta in stream:
            if first is None and delta:
                first = time.perf_counter() - started
    finally:
        await stream.aclose()
    assert first is not None, "the library's stream carried no text"
    return first


async def serve_exchange(sdk: openai.AsyncOpenAI) -> float:
    started = time.perf_counter()
    done = await sdk.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": PROMPT}]
    )
    elapsed = time.perf_counter() - started
    assert done.choices[0].message.content, "the server answered with no content"
    return elapsed


async def serve_stream(sdk: openai.AsyncOpenAI) -> tuple[float, float]:
    """(seconds to the first content chunk, seconds to the end of the stream)."""
    started = time.perf_counter()
    stream = await sdk.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    first: float | None = None
    async for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    assert first is not None, "the server's stream carried no content"
    return first, total


async def first_chunk(sdk: openai.AsyncOpenAI) -> float:
    first, _ = await serve_stream(sdk)
    return first


async def concurrent_streams(arena: FakeArena, sdk: openai.AsyncOpenAI, n: int) -> float:
    """Wall time for ``n`` streamed requests at once, each answered slowly by the fake."""
    arena.enqueue(*(Reply(text=SLOW_DELTAS, delay_between=SLOW_GAP) for _ in range(n)))
    started = time.perf_counter()
    results = await asyncio.gather(*(serve_stream(sdk) for _ in range(n)))
    elapsed = time.perf_counter() - started
    assert len(results) == n
    return elapsed


def summary(times: list[float]) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(times), 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
        "runs": len(times),
    }


async def measure(runs: int, state_dir: Path, mint_delay: float = 0.0) -> dict[str, Any]:
    memory: dict[str, Any] = {"bench_process_rss_mib_at_start": round(self_rss_mib(), 1)}
    timed: dict[str, list[float]] = {
        name: []
        for name in (
            "library_exchange",
            "serve_exchange",
            "library_first_delta",
            "serve_first_chunk",
            "one_slow_stream",
            "eight_slow_streams",
        )
    }
    async with FakeArena(recaptcha_delay=0.05, mint_delay=mint_delay) as arena:
        settings = Settings(base_url=arena.url, state_dir=state_dir, browser_headless=True)
        client = Client(settings, record=False)  # the server records exchanges itself
        app = make_app(client, settings)
        running = await start(app, "127.0.0.1", 0)
        sdk = openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key="unused", max_retries=0)
        try:
            await warm_up(app)
            steps: list[tuple[str, Callable[[], Awaitable[float]]]] = [
                ("library_exchange", lambda: library_exchange(client)),
                ("serve_exchange", lambda: serve_exchange(sdk)),
                ("library_first_delta", lambda: library_first_delta(client)),
                ("serve_first_chunk", lambda: first_chunk(sdk)),
                ("one_slow_stream", lambda: concurrent_streams(arena, sdk, 1)),
                ("eight_slow_streams", lambda: concurrent_streams(arena, sdk, CONCURRENT)),
            ]
            for _, step in steps:  # one untimed round: first connections, first tokens
                await step()
            memory["bench_process_rss_mib_before_runs"] = round(self_rss_mib(), 1)
            memory["chromium_before_runs"] = chromium_memory(str(state_dir))
            for _ in range(runs):
                for name, step in steps:
                    timed[name].append(await step())
            memory["bench_process_rss_mib_after_runs"] = round(self_rss_mib(), 1)
            memory["chromium_after_runs"] = chromium_memory(str(state_dir))
        finally:
            await sdk.close()
            await running.runner.cleanup()
            await client.close()
    results = {name: summary(times) for name, times in timed.items()}
    ratios = {
        "serve_over_library_exchange": _ratio(timed["serve_exchange"], timed["library_exchange"]),
        "serve_over_library_first_text": _ratio(
            timed["serve_first_chunk"], timed["library_first_delta"]
        ),
        "eight_concurrent_over_one": _ratio(timed["eight_slow_streams"], timed["one_slow_stream"]),
    }
    return {"results": results, "ratios_of_medians": ratios, "memory": memory}


def _ratio(numerator: list[float], denominator: list[float]) -> float:
    return round(statistics.median(numerator) / statistics.median(denominator), 3)


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------

LABELS = {
    "library_exchange": "library chat.send(stream=False)",
    "serve_exchange": "serve + openai, no stream",
    "library_first_delta": "library stream, first delta",
    "serve_first_chunk": "serve + openai stream, 1st chunk",
    "one_slow_stream": "1 stream of a ~0.5 s reply",
    "eight_slow_streams": f"{CONCURRENT} such streams at once",
}


def print_table(report: dict[str, Any]) -> None:
    results = report["results"]
    print(f"{'measurement':<34} {'median':>9} {'min':>9} {'max':>9}")
    for name, label in LABELS.items():
        row = results[name]
        print(
            f"{label:<34} {row['median_s'] * 1000:7.1f}ms {row['min_s'] * 1000:7.1f}ms "
            f"{row['max_s'] * 1000:7.1f}ms"
        )
    ratios = report["ratios_of_medians"]
    print(
        f"ratios of medians: serve/library {ratios['serve_over_library_exchange']:.2f}, "
        f"first text serve/library {ratios['serve_over_library_first_text']:.2f}, "
        f"{CONCURRENT} concurrent/1 {ratios['eight_concurrent_over_one']:.2f}"
    )
    memory = report["memory"]
    before, after = memory["chromium_before_runs"], memory["chromium_after_runs"]
    print(
        "bench process RSS (server in-process): "
        f"start {memory['bench_process_rss_mib_at_start']:.0f} MiB, "
        f"before runs {memory['bench_process_rss_mib_before_runs']:.0f} MiB, "
        f"after {memory['bench_process_rss_mib_after_runs']:.0f} MiB"
    )
    print(
        f"Chromium ({after['processes']} processes) RSS sum {before['rss_sum_mib']:.0f} -> "
        f"{after['rss_sum_mib']:.0f} MiB, PSS sum {before['pss_sum_mib']:.0f} -> "
        f"{after['pss_sum_mib']:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=15)
    parser.add_argument(
        "--mint-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="how long each reCAPTCHA execute of the fake takes (default 0)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lmarena-bench-serve-") as tmp:
        report = asyncio.run(measure(args.runs, Path(tmp) / "state", args.mint_delay))
    report.update(
        runs=args.runs,
        model=MODEL,
        slow_reply=f"{len(SLOW_DELTAS)} deltas, {SLOW_GAP * 1000:.0f} ms apart",
        mint_delay_s=args.mint_delay,
        wall_s=round(time.perf_counter() - started, 1),
        browser=find_browser(Settings()),
        python=platform.python_version(),
        openai=openai.__version__,
        machine=f"{platform.machine()}, {os.cpu_count()} CPUs",
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    print_table(report)
    out = ROOT / "bench" / "results" / "serve.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {out.relative_to(ROOT)} (whole run {report['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()

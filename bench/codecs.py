"""What the API shapes cost: one 2,000-delta streamed answer through each endpoint of `serve`.

One fake arena, one Client (on the browser's stand-in, so no Chromium competes for the CPU) and
one in-process server on loopback::

    python bench/codecs.py [--runs 9]

Measured, each ``--runs`` times, interleaved so drift touches all alike, with the same raw
aiohttp reader for every endpoint (no SDK parses the events, so what differs is the server):

1. CPU time of this process (fake, server and reader) for one streamed answer of 2,000 deltas
   through ``/v1/chat/completions``, the same with a tool declared (the call scanner reads every
   delta), ``/v1/responses`` and ``/v1/messages``; each as a ratio to chat completions;
2. first text: seconds from the fake writing the first text line (``Hello``, which cannot start
   an envelope) to its arrival at the client, without and with tools; the difference is what
   tool mode holds it back.

Writes ``bench/results/codecs.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lmarena_cli.client.client import Client  # noqa: E402
from lmarena_cli.server.app import make_app  # noqa: E402
from lmarena_cli.server.run import start, warm_up  # noqa: E402
from lmarena_cli.settings import Settings  # noqa: E402
from tests.fake_arena import FakeArena, Reply  # noqa: E402
from tests.fake_arena.streams import StreamWriter  # noqa: E402
from tests.fakes import HttpBrowser  # noqa: E402

MODEL = "gemini-3-pro"
DELTAS = 2000
FIRST_DELAY = 0.2
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def bodies(prompt: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each endpoint's streamed request for ``prompt``."""
    user = [{"role": "user", "content": prompt}]
    return {
        "chat": ("/v1/chat/completions", {"model": MODEL, "messages": user, "stream": True}),
        "chat+tools": (
            "/v1/chat/completions",
            {"model": MODEL, "messages": user, "stream": True, "tools": [TOOL]},
        ),
        "responses": ("/v1/responses", {"model": MODEL, "input": prompt, "stream": True}),
        "messages": (
            "/v1/messages",
            {"model": MODEL, "max_tokens": 100_000, "messages": user, "stream": True},
        ),
    }


async def stream(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> tuple[float | None, int]:
    """Read a streamed answer whole: (when its first text arrived, bytes read)."""
    first: float | None = None
    size = 0
    async with http.post(url, data=orjson.dumps(body)) as response:
        assert response.status == 200, await response.text()
        async for line in response.content:
            size += len(line)
            if first is None and _has_text(line):
                first = time.perf_counter()
    return first, size


#: When the fake wrote a line holding the first text of a first-text run (perf_counter).
FAKE_WROTE: list[float] = []


def watch_the_fakes_writes() -> None:
    """Note when the fake writes the line ``a0:"Hello"``: the first text of a first-text run."""
    original = StreamWriter._write

    async def write(self: StreamWriter, data: bytes) -> None:
        if b'a0:"Hello"' in data:  # noted as it is handed to the transport, not after the yield
            FAKE_WROTE.append(time.perf_counter())
        await original(self, data)

    StreamWriter._write = write  # type: ignore[method-assign]


def _has_text(line: bytes) -> bool:
    """A line carrying answer text in any of the three shapes."""
    return (
        (
            b'"content":"' in line and b'"content":""' not in line  # chat chunk
        )
        or b'"delta":"' in line
        or b'"text_delta"' in line
    )


async def main(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeArena(recaptcha_delay=0.0) as arena:
            settings = Settings(base_url=arena.url, state_dir=Path(tmp), browser_headless=True)
            browser = HttpBrowser(settings)
            client = Client(settings, browser=browser, record=False)
            app = make_app(client, settings)
            running = await start(app, "127.0.0.1", 0)
            try:
                await warm_up(app)
                async with aiohttp.ClientSession() as http:
                    return await measure(arena, http, running.url, runs)
            finally:
                await running.runner.cleanup()
                await client.close()
                await browser.close()


async def measure(arena: FakeArena, http: aiohttp.ClientSession, url: str, runs: int) -> Any:
    deltas = [f"w{n} " for n in range(DELTAS)]
    cpu: dict[str, list[float]] = {name: [] for name in bodies("x")}
    first: dict[str, list[float]] = {"plain": [], "tools": []}
    sizes: dict[str, int] = {}

    async def timed(name: str, run: int) -> None:
        path, body = bodies(f"bench {name} {run}")[name]
        arena.enqueue(Reply(text=deltas, heartbeats=0))
        before = time.process_time()
        _, sizes[name] = await stream(http, url + path, body)
        cpu[name].append(time.process_time() - before)

    async def first_text(mode: str, run: int) -> None:
        path, body = bodies(f"first {mode} {run}")["chat" if mode == "plain" else "chat+tools"]
        arena.enqueue(Reply(text=["Hello", " there."], delay_first=FIRST_DELAY, heartbeats=0))
        FAKE_WROTE.clear()
        arrived, _ = await stream(http, url + path, body)
        assert arrived is not None and len(FAKE_WROTE) == 1
        first[mode].append(arrived - FAKE_WROTE[0])

    steps: list[Callable[[], Awaitable[None]]] = []
    for run in range(runs + 1):  # run 0 warms up and is dropped
        for name in cpu:
            steps.append(lambda n=name, r=run: timed(n, r))  # type: ignore[misc]
        for mode in first:
            steps.append(lambda m=mode, r=run: first_text(m, r))  # type: ignore[misc]
    for step in steps:
        await step()
    for values in (*cpu.values(), *first.values()):
        del values[0]
    chat = statistics.median(cpu["chat"])
    return {
        "deltas": DELTAS,
        "runs": runs,
        "cpu_seconds_median": {name: statistics.median(v) for name, v in cpu.items()},
        "cpu_ratio_to_chat": {name: statistics.median(v) / chat for name, v in cpu.items()},
        "bytes": sizes,
        "first_text_after_the_fake_wrote_it_seconds_median": {
            mode: statistics.median(v) for mode, v in first.items()
        },
        "tool_mode_first_text_delay_ms": (
            statistics.median(first["tools"]) - statistics.median(first["plain"])
        )
        * 1000,
    }


def report(results: dict[str, Any]) -> None:
    runs = results["runs"]
    print(f"{DELTAS}-delta streamed answer, medians of {runs} runs (CPU of this process)")
    for name, seconds in results["cpu_seconds_median"].items():
        ratio = results["cpu_ratio_to_chat"][name]
        size = results["bytes"][name]
        print(f"  {name:<11} {seconds * 1000:7.1f} ms CPU  x{ratio:.2f} of chat  {size:>8} bytes")
    key = "first_text_after_the_fake_wrote_it_seconds_median"
    plain, tools = (results[key][m] for m in ("plain", "tools"))
    extra = results["tool_mode_first_text_delay_ms"]
    print(
        f"first text at the client after the fake wrote it: plain {plain * 1000:.2f} ms, "
        f"tool mode {tools * 1000:.2f} ms ({extra:+.2f} ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    watch_the_fakes_writes()
    results = asyncio.run(main(args.runs))
    results["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
    report(results)
    out = ROOT / "bench" / "results" / "codecs.json"
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"written to {out.relative_to(ROOT)}")

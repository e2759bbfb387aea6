"""The two transports side by side on the fake arena: first byte and throughput of a 1 MiB answer.

One fake arena, one real Chromium, one Client; each run sends the same request through aiohttp
(``SiteHttp.post_stream``) and through the page (``PageTransport.post_stream``), interleaved so
that drift touches both alike, and reads the answer to its end as a send does
(``AnswerBody.read``)::

    python bench/transport.py [--runs 9] [--size 1048576]

The fake's answer is the site's line stream (``a0:"..."`` lines of about 1 KiB of words, some of
them not ASCII), written in 16 KiB writes as fast as the socket takes them, so that what is
measured is the transport:

* ``first byte``: from the call to the first bytes of the body in Python;
* ``throughput``: the answer's bytes over the whole request (call to last byte).

Targets (issue 11): the page's first byte within 50 ms of aiohttp's; its throughput at least
half of aiohttp's.

Two bounds on the page, measured in the same run, show how far the page can go on this machine
whatever the transport does:

* ``in-page fetch alone``: the page's own ``fetch`` of the same answer, its body read in the page
  and handed to nobody (one ``Runtime.evaluate`` that returns only the byte count): the browser's
  network stack with nothing to carry the bytes to Python;
* ``DevTools channel``: one ``Runtime.evaluate`` returning a 1 MiB ASCII string by value: how fast
  the browser hands text to Python over CDP at all, before any fetch.

Writes ``bench/results/transport.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lmarena_cli.browser.cdp import command, js  # noqa: E402
from lmarena_cli.browser.options import find_browser  # noqa: E402
from lmarena_cli.browser.session import Browser  # noqa: E402
from lmarena_cli.client.client import Client  # noqa: E402
from lmarena_cli.client.transport.base import Transport  # noqa: E402
from lmarena_cli.settings import Settings  # noqa: E402
from lmarena_cli.state.cache import SiteState  # noqa: E402
from tests.fake_arena import FakeArena  # noqa: E402

PATH = "/nextjs-api/stream/bench"
WRITE = 16384


def answer(size: int) -> bytes:
    """``size`` bytes of answer lines (made once per size: the fake only writes them)."""
    if size not in _ANSWERS:
        words = ["the", "answer", "streams", "from", "the", "page,", "café", "—", "naïve"]
        lines: list[bytes] = []
        total = 0
        while True:
            text = " ".join(words[(len(lines) + i) % len(words)] for i in range(150))
            line = b"a0:" + orjson.dumps(text) + b"\n"
            if total + len(line) + 8 > size:
                break
            lines.append(line)
            total += len(line)
        lines.append(b'a0:"' + b"x" * (size - total - 6) + b'"\n')  # exactly ``size``
        _ANSWERS[size] = b"".join(lines)
    return _ANSWERS[size]


_ANSWERS: dict[int, bytes] = {}


class BenchArena(FakeArena):
    """The fake arena with one more stream endpoint: ``size`` bytes of answer lines, at once."""

    size = 1 << 20

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_post(PATH, self._bench)

    async def _bench(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        body = answer(self.size)
        for start in range(0, len(body), WRITE):
            await response.write(body[start : start + WRITE])
        await response.write_eof()
        return response


async def one(transport: Transport, state: SiteState) -> tuple[float, float, int]:
    """(first byte s, throughput MiB/s, bytes) of one answer through ``transport``."""
    began = time.perf_counter()
    body = await transport.post_stream(state, PATH, referer="/", body={}, wait=30, timeout=30)
    first: float | None = None
    total = 0
    try:
        while chunk := await body.read(30):
            if first is None:
                first = time.perf_counter()
            total += len(chunk)
    finally:
        await body.aclose()
    end = time.perf_counter()
    assert first is not None
    return first - began, total / (end - began) / (1 << 20), total


#: The page fetches the answer and reads its body to the end, keeping only the count.
IN_PAGE_JS = """(async () => {
  const r = await fetch(%s, {method: "POST", body: "{}", cache: "no-store"});
  const reader = r.body.getReader();
  let total = 0;
  for (;;) { const {value, done} = await reader.read(); if (done) break; total += value.length; }
  return total;
})()"""


async def evaluate(browser: Browser, expression: str) -> Any:
    """``Runtime.evaluate`` in the browser's page, by value, through nodriver (as the product)."""
    reply = await browser.tab.send(
        command("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
    )
    return reply["result"]["value"]


async def bounds(browser: Browser, url: str, size: int) -> tuple[float, float]:
    """(in-page fetch alone MiB/s, DevTools channel MiB/s), each measured from Python."""
    began = time.perf_counter()
    total = await evaluate(browser, IN_PAGE_JS % js(url + PATH))
    in_page = time.perf_counter() - began
    assert total == size, f"the page read {total} bytes"
    began = time.perf_counter()
    text = await evaluate(browser, f"'x'.repeat({1 << 20})")
    channel = time.perf_counter() - began
    assert len(text) == 1 << 20
    return size / in_page / (1 << 20), 1 / channel


async def main(runs: int, size: int) -> dict[str, Any]:
    BenchArena.size = size
    with tempfile.TemporaryDirectory(prefix="lmarena-bench-transport-") as folder:
        async with BenchArena(challenge=False, recaptcha_delay=0.05) as arena:
            settings = Settings(
                base_url=arena.url, state_dir=Path(folder), browser_headless=True, timeout=30.0
            )
            browser = Browser(settings)
            client = Client(settings, browser=browser, owns_browser=True)
            try:
                state = await client.bootstrap()
                ways: dict[str, Transport] = {"http": client.http.aiohttp, "page": client.http.page}
                answer(size)
                for transport in ways.values():  # warm both: connections, the page's script
                    await one(transport, state)
                await bounds(browser, arena.url, size)
                figures: dict[str, list[tuple[float, float, int]]] = {"http": [], "page": []}
                limits: list[tuple[float, float]] = []
                for _ in range(runs):
                    for name, transport in ways.items():
                        figures[name].append(await one(transport, state))
                    limits.append(await bounds(browser, arena.url, size))
            finally:
                await client.close()
    result: dict[str, Any] = {
        "runs": runs,
        "answer_bytes": size,
        "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "browser": find_browser(settings),
    }
    for name, rows in figures.items():
        assert all(row[2] == size for row in rows), f"{name} lost bytes"
        result[name] = {
            "first_byte_ms": round(statistics.median(r[0] for r in rows) * 1000, 2),
            "throughput_mib_s": round(statistics.median(r[1] for r in rows), 1),
        }
    http, page = result["http"], result["page"]
    result["page_first_byte_extra_ms"] = round(page["first_byte_ms"] - http["first_byte_ms"], 2)
    result["page_throughput_ratio"] = round(page["throughput_mib_s"] / http["throughput_mib_s"], 3)
    in_page = statistics.median(r[0] for r in limits)
    channel = statistics.median(r[1] for r in limits)
    result["bounds"] = {
        "in_page_fetch_alone_mib_s": round(in_page, 1),
        "in_page_fetch_alone_ratio": round(in_page / http["throughput_mib_s"], 3),
        "devtools_channel_mib_s": round(channel, 1),
        "devtools_channel_ratio": round(channel / http["throughput_mib_s"], 3),
    }
    result["targets"] = {
        "first_byte_within_50_ms": result["page_first_byte_extra_ms"] <= 50,
        "throughput_at_least_half": result["page_throughput_ratio"] >= 0.5,
    }
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--size", type=int, default=1 << 20)
    args = parser.parse_args()
    result = asyncio.run(main(args.runs, args.size))
    for name in ("http", "page"):
        row = result[name]
        print(
            f"{name:>5}: first byte {row['first_byte_ms']:8.2f} ms (median), "
            f"throughput {row['throughput_mib_s']:8.1f} MiB/s (median of {args.runs})"
        )
    bound = result["bounds"]
    print(
        f"bounds on the page: in-page fetch alone {bound['in_page_fetch_alone_mib_s']:.1f} MiB/s "
        f"({bound['in_page_fetch_alone_ratio']:.3f} of http), DevTools channel "
        f"{bound['devtools_channel_mib_s']:.1f} MiB/s "
        f"({bound['devtools_channel_ratio']:.3f} of http)"
    )
    print(
        f"page - http first byte: {result['page_first_byte_extra_ms']:+.2f} ms; "
        f"page / http throughput: {result['page_throughput_ratio']:.3f}; targets: "
        f"{result['targets']}"
    )
    out = ROOT / "bench" / "results" / "transport.json"
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {out}")

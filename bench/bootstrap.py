"""Cold and warm browser bootstrap against the fake arena: medians of N runs.

Cold: a fresh state directory (new profile, no cache): launch, challenge, sign-up, discovery.
Warm: the state directory of a cold run (profile + cache): launch, cookies re-injected, page load.
Each run also mints one reCAPTCHA token, timed separately. Run from the repository root::

    python bench/bootstrap.py [-n 5]

Writes ``bench/results/bootstrap.json``.
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

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lmarena_cli.browser.options import find_browser  # noqa: E402
from lmarena_cli.browser.session import Browser  # noqa: E402
from lmarena_cli.settings import Settings  # noqa: E402
from tests.fake_arena import FakeArena  # noqa: E402


async def _one(settings: Settings) -> tuple[float, float]:
    """(bootstrap seconds, first token seconds) for one Browser, closed afterwards."""
    browser = Browser(settings)
    try:
        started = time.perf_counter()
        await browser.bootstrap()
        booted = time.perf_counter()
        await browser.mint_token()
        return booted - started, time.perf_counter() - booted
    finally:
        await browser.close()


async def run(runs: int) -> dict[str, object]:
    cold: list[float] = []
    warm: list[float] = []
    tokens: list[float] = []
    async with FakeArena() as arena:
        with tempfile.TemporaryDirectory(prefix="lmarena-bench-") as tmp:
            for i in range(runs):
                settings = Settings(
                    state_dir=Path(tmp) / f"run-{i}", base_url=arena.url, browser_headless=True
                )
                seconds, token = await _one(settings)
                cold.append(seconds)
                tokens.append(token)
                seconds, token = await _one(settings)
                warm.append(seconds)
                tokens.append(token)
    return {
        "runs": runs,
        "cold_bootstrap_median_s": round(statistics.median(cold), 3),
        "warm_bootstrap_median_s": round(statistics.median(warm), 3),
        "mint_token_median_s": round(statistics.median(tokens), 3),
        "cold_s": [round(x, 3) for x in cold],
        "warm_s": [round(x, 3) for x in warm],
        "browser": find_browser(Settings()),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(run(args.runs))
    print(
        f"cold bootstrap median {results['cold_bootstrap_median_s']:.3f} s, "
        f"warm bootstrap median {results['warm_bootstrap_median_s']:.3f} s, "
        f"mint_token median {results['mint_token_median_s']:.3f} s ({args.runs} runs each)"
    )
    out = ROOT / "bench" / "results" / "bootstrap.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

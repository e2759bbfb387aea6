"""Wall time of the command's start: `lmarena --help` and `lmarena models` answered from the cache.

    python bench/cli_startup.py [--runs 15]

Each command runs N times as a fresh process (the way a shell or a completion runs it); the
medians are printed and written to bench/results/cli_startup.json. `models` gets a cache file
written beforehand in a temporary state directory, so it never starts a browser (the run fails
loudly if it tried: LM_ARENA_BROWSER_EXECUTABLE_PATH points nowhere).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lmarena_cli.settings import Settings  # noqa: E402
from lmarena_cli.state.cache import SiteCache, SiteState  # noqa: E402

BASE_URL = "http://127.0.0.1:9"  # never contacted


def lmarena_command() -> list[str]:
    """The installed console script next to this Python, else ``python -m lmarena_cli``."""
    script = Path(sys.executable).with_name("lmarena")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lmarena_cli"]


def write_cache(state_dir: Path) -> None:
    rows = [
        {
            "id": f"0199{n:04d}-0000-7000-8000-000000000000",
            "publicName": f"model-{n}",
            "name": f"model-{n}",
            "organization": "example",
            "userSelectable": True,
            "capabilities": {
                "inputCapabilities": {"text": True, "image": n % 2 == 0},
                "outputCapabilities": {"text": True},
            },
            "rank": n + 1,
        }
        for n in range(60)  # about the size of the real site's list
    ]
    state = SiteState(base_url=BASE_URL, user_agent="Mozilla/5.0", models=rows)
    SiteCache(Settings(state_dir=state_dir).cache_path).save(state)


def time_runs(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs + 1):  # the first run warms the OS file cache and is dropped
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()}")
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    command = lmarena_command()
    state_dir = Path(tempfile.mkdtemp(prefix="lmarena-bench-"))
    try:
        write_cache(state_dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LM_ARENA_")}
        env.update(
            LM_ARENA_STATE_DIR=str(state_dir),
            LM_ARENA_BASE_URL=BASE_URL,
            LM_ARENA_BROWSER_EXECUTABLE_PATH="/nonexistent",
        )
        results = {}
        for name, extra in (("lmarena --help", ["--help"]), ("lmarena models", ["models"])):
            times = time_runs(command + extra, env, args.runs)
            results[name] = {
                "median_s": round(statistics.median(times), 4),
                "min_s": round(min(times), 4),
                "max_s": round(max(times), 4),
                "runs": args.runs,
            }
            print(
                f"{name:<16} median {statistics.median(times) * 1000:6.0f} ms "
                f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, n={args.runs})"
            )
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    report = {
        "command": command,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "results": results,
    }
    out = ROOT / "bench" / "results" / "cli_startup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""The warm path, side by side in one run on the fake arena with real Chromium.

Every figure is a real ``lmarena`` process (the venv's console script) against the project's fake
arena, with a real headless Chromium:

* ``--help``: wall time;
* in-process cold (``LM_ARENA_KEEP_ALIVE=0``, a fresh state directory each run) and in-process
  warm (the same state directory again: profile and site cache kept);
* the first ``ask`` that starts a kept server (a fresh state directory each run; the server is
  stopped after it), and a warm ``ask`` through a kept server;
* 20 ``ask`` at once through one kept server: all must answer; p95 first byte against a lone
  one's, and the Chromium processes counted meanwhile;
* what a kept server holds: the resident memory of the server and its Chromium, and the CPU a
  cold start costs, to choose ``LM_ARENA_KEEP_ALIVE``'s default.

First byte is from the process's start to the answer's first byte on stdout; wall is to its exit.
Run from the repository root (about two minutes)::

    .venv/bin/python bench/warm.py [-n 10]

Writes ``bench/results/warm.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lmarena_cli.settings import Settings  # noqa: E402
from tests.fake_arena import FakeArena  # noqa: E402
from tests.helpers.processes import chromium_browsers, chromium_with  # noqa: E402

LMARENA = str(Path(sys.executable).with_name("lmarena"))


@dataclass
class Run:
    wall: float
    first_byte: float | None
    code: int
    out: bytes
    err: bytes


def environment(url: str, state: Path, keep: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LM_ARENA_", "LMARENA_"))}
    env.update(
        LM_ARENA_BASE_URL=url,
        LM_ARENA_STATE_DIR=str(state),
        LM_ARENA_KEEP_ALIVE=str(keep),
        LM_ARENA_BROWSER_HEADLESS="1",
        XDG_CONFIG_HOME=str(state.parent / "config"),
    )
    return env


async def lmarena(env: dict[str, str], *args: str) -> Run:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        LMARENA,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    first = await process.stdout.read(1)
    first_byte = time.perf_counter() - started if first else None
    out, err = await process.communicate()
    return Run(time.perf_counter() - started, first_byte, process.returncode or 0, first + out, err)


def ask_args(n: int) -> list[str]:
    return ["ask", "--no-stdin", f"question {n}"]


def checked(run: Run, what: str) -> Run:
    if run.code != 0 or not run.out.startswith(b"Echo"):
        raise SystemExit(f"{what} failed ({run.code}): {run.err.decode()[-2000:]}")
    return run


def checked_json(run: Run) -> dict[str, Any]:
    if run.code != 0:
        raise SystemExit(f"ask --json failed ({run.code}): {run.err.decode()[-2000:]}")
    data: dict[str, Any] = orjson.loads(run.out)
    return data


def library_first_token(reply: dict[str, Any]) -> float:
    return float(reply["timings"]["first_token"])


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(values), 4),
        "min_s": round(min(values), 4),
        "max_s": round(max(values), 4),
        "runs": len(values),
    }


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def pss_kb(pid: int) -> int:
    """Proportional set size: shared pages counted once across the processes that share them
    (a sum of resident sizes would count Chromium's shared libraries nine times)."""
    try:
        for text in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if text.startswith("Pss:"):
                return int(text.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def stop_server(env: dict[str, str]) -> None:
    await lmarena(env, "server", "stop")


def server_pid(state: Path) -> int:
    from lmarena_cli.state.kept import KeptPaths, read_pid

    pid = read_pid(KeptPaths.of(state).pid)
    assert pid is not None
    return pid


async def bench(runs: int, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with FakeArena() as arena:
        url = arena.url
        help_env = environment(url, tmp / "help", 0)
        helps = [(await lmarena(help_env, "--help")).wall for _ in range(runs)]
        results["help"] = summary(helps)
        print(f"lmarena --help                {statistics.median(helps):.3f} s")

        cold, cold_first = [], []
        for n in range(runs):
            run = checked(
                await lmarena(environment(url, tmp / f"cold-{n}", 0), *ask_args(n)), "cold"
            )
            cold.append(run.wall)
            cold_first.append(run.first_byte or run.wall)
        results["in_process_cold"] = {**summary(cold), "first_byte": summary(cold_first)}
        print(f"in-process cold ask          {statistics.median(cold):.3f} s")

        warm_env = environment(url, tmp / "cold-0", 0)  # a cold run's profile and cache
        warm, warm_first = [], []
        for n in range(runs):
            run = checked(await lmarena(warm_env, *ask_args(n)), "in-process warm")
            warm.append(run.wall)
            warm_first.append(run.first_byte or run.wall)
        results["in_process_warm"] = {**summary(warm), "first_byte": summary(warm_first)}
        print(f"in-process warm ask          {statistics.median(warm):.3f} s")

        starts, start_first, server_cpu, held_kb = [], [], [], []
        for n in range(runs):
            state = tmp / f"start-{n}"
            env = environment(url, state, 600)
            run = checked(await lmarena(env, *ask_args(n)), "first ask with a server start")
            starts.append(run.wall)
            start_first.append(run.first_byte or run.wall)
            pid = server_pid(state)
            server_cpu.append(cpu_s(pid) + sum(cpu_s(p) for p in chromium_with(state)))
            held_kb.append(pss_kb(pid) + sum(pss_kb(p) for p in chromium_with(state)))
            await stop_server(env)
            if chromium_with(state):
                raise SystemExit(f"Chromium left behind after `lmarena server stop`: {state}")
        results["kept_first_ask"] = {**summary(starts), "first_byte": summary(start_first)}
        print(f"first ask, starting a server {statistics.median(starts):.3f} s")

        state = tmp / "kept"
        env = environment(url, state, 600)
        checked(await lmarena(env, *ask_args(0)), "server start")
        await asyncio.sleep(1.0)  # its token minted ahead, as between a user's questions
        kept, kept_first = [], []
        for n in range(runs):
            run = checked(await lmarena(env, *ask_args(n)), "kept warm")
            kept.append(run.wall)
            kept_first.append(run.first_byte or run.wall)
            await asyncio.sleep(0.6)  # the next token is minted meanwhile (the fake takes 0.5 s)
        results["kept_warm"] = {**summary(kept), "first_byte": summary(kept_first)}
        print(f"warm ask through the server  {statistics.median(kept):.3f} s")

        peak = 0
        sampling = True

        async def sample() -> None:
            nonlocal peak
            while sampling:
                peak = max(peak, chromium_browsers(state))
                await asyncio.sleep(0.05)

        # Idle: what the kept server and its Chromium burn while nobody asks (a token is
        # minted ahead every 100 s).
        pid = server_pid(state)
        group = [pid, *chromium_with(state)]
        before = sum(cpu_s(p) for p in group)
        await asyncio.sleep(10.0)
        idle_cpu = (sum(cpu_s(p) for p in group) - before) / 10.0
        # The floor of 20 commands at once on this machine: 20 `lmarena --help` (no server,
        # no request), against a lone one.
        helps20 = await asyncio.gather(*(lmarena(help_env, "--help") for _ in range(20)))
        help_floor = p95([run.wall for run in helps20]) / statistics.median(helps)

        sampler = asyncio.ensure_future(sample())
        crowd = await asyncio.gather(*(lmarena(env, *ask_args(n)) for n in range(20)))
        sampling = False
        await sampler
        answered = sum(1 for run in crowd if run.code == 0 and run.out.startswith(b"Echo"))
        firsts = [run.first_byte or run.wall for run in crowd]
        lone = statistics.median(kept_first)
        # The library's own first-token time (from the send inside the server to the first
        # answer text), which leaves out the 20 Python processes starting on this machine.
        lone_json = [
            library_first_token(checked_json(await lmarena(env, *ask_args(n), "--json")))
            for n in range(runs)
        ]
        crowd_json = await asyncio.gather(
            *(lmarena(env, *ask_args(n), "--json") for n in range(20))
        )
        in_server = [library_first_token(checked_json(run)) for run in crowd_json]
        lone_in_server = statistics.median(lone_json)
        results["twenty_at_once"] = {
            "answered": answered,
            "first_byte": summary(firsts),
            "first_byte_p95_s": round(p95(firsts), 4),
            "lone_first_byte_median_s": round(lone, 4),
            "p95_over_lone": round(p95(firsts) / lone, 2),
            "in_server_first_token_p95_s": round(p95(in_server), 4),
            "in_server_lone_first_token_median_s": round(lone_in_server, 4),
            "in_server_p95_over_lone": round(p95(in_server) / lone_in_server, 2),
            "floor_20_help_p95_over_lone_help": round(help_floor, 2),
            "chromium_browsers_peak": peak,
            "chromium_processes_after": len(chromium_with(state)),
        }
        print(
            f"20 at once: {answered}/20 answered, p95 first byte {p95(firsts):.3f} s "
            f"({p95(firsts) / lone:.2f}x a lone one), {peak} Chromium; in the server: p95 "
            f"first token {p95(in_server):.3f} s ({p95(in_server) / lone_in_server:.2f}x)"
        )
        pid = server_pid(state)
        results["kept_server_memory_mb_pss"] = round(
            (pss_kb(pid) + sum(pss_kb(p) for p in chromium_with(state))) / 1024, 1
        )
        await stop_server(env)
        results["chromium_left_after_stop"] = len(chromium_with(state))

        cold_med, warm_kept = statistics.median(cold), statistics.median(kept)
        results["keep_alive"] = {
            "cold_start_costs_s": round(statistics.median(starts) - warm_kept, 3),
            "cold_start_cpu_s": round(statistics.median(server_cpu), 3),
            "held_while_idle_mb_pss": round(statistics.median(held_kb) / 1024, 1),
            "idle_cpu_share": round(idle_cpu, 4),
            "default_s": Settings().keep_alive,
        }
        results["ratios"] = {
            "kept_warm_over_in_process_warm": round(warm_kept / statistics.median(warm), 3),
            "kept_first_over_in_process_cold": round(statistics.median(starts) / cold_med, 3),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("chromium") and not os.environ.get("LM_ARENA_BROWSER_EXECUTABLE_PATH"):
        raise SystemExit("no Chromium: scripts/setup installs Debian's chromium")
    with tempfile.TemporaryDirectory(prefix="lmarena-warm-") as tmp:
        figures = asyncio.run(bench(args.runs, Path(tmp)))
    targets = {
        "kept_warm_wall_le_0.35s": figures["kept_warm"]["median_s"] <= 0.35,
        "kept_warm_le_0.15x_in_process_warm": figures["ratios"]["kept_warm_over_in_process_warm"]
        <= 0.15,
        "first_ask_le_1.1x_in_process_cold": figures["ratios"]["kept_first_over_in_process_cold"]
        <= 1.1,
        "twenty_all_answer": figures["twenty_at_once"]["answered"] == 20,
        "twenty_p95_le_3x_lone": figures["twenty_at_once"]["p95_over_lone"] <= 3.0,
        "twenty_one_chromium": figures["twenty_at_once"]["chromium_browsers_peak"] == 1,
        "help_lt_150ms": figures["help"]["median_s"] < 0.150,
    }
    results = {
        **figures,
        "targets_met": targets,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_at_end": os.getloadavg(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(orjson.dumps(results["ratios"]).decode(), orjson.dumps(targets).decode())
    out = ROOT / "bench" / "results" / "warm.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

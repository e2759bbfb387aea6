"""A soak: many requests with faults, through the kept server and `serve`; nothing may be lost.

One fake arena (in this process) answers a real kept server (started by the first `lmarena ask`,
with its real headless Chromium) and a real `lmarena serve` (its own state directory and
Chromium). Requests, up to ``--concurrency`` at once, are a mix of ``lmarena ask`` through the
kept server's socket (plain, ``-c``, ``--json``, an image) and chat completions through `serve`
(whole and streamed, with and without history). The fake injects faults at random (5xx, cut
streams, slow streams, reCAPTCHA rejections, Cloudflare's 429 challenge, a status and then no
data), never two reCAPTCHA rejections in a row and never a fault right after one, so the account
is never flagged. The kept server is SIGKILLed twice mid-answer before request 100; the next
command starts a new one.

    .venv/bin/python bench/soak.py [--requests 1000] [--concurrency 8] [--seed 7] [--out DIR]

Exits 1 when anything above failed (tests/test_soak.py runs a short one: 100 requests).

It ends with a table: every request got its answer or a documented error (exit status, HTTP
status), none hung, none was a 500; every answered conversation is in its store with its turns;
no Chromium or server process outlives the run; the kept server's open files and resident memory
from request 100 to the end. Writes ``bench/results/soak.json`` and ``bench/results/soak.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lmarena_cli.settings import Settings  # noqa: E402
from lmarena_cli.state.kept import KeptPaths  # noqa: E402
from tests.fake_arena import FakeArena, Fault, Reply  # noqa: E402
from tests.helpers.images import png  # noqa: E402
from tests.helpers.processes import chromium_with, pids_with  # noqa: E402

LMARENA = str(Path(sys.executable).with_name("lmarena"))
MODEL = "gemini-3-pro"
#: Exit statuses a command may end with here (README: 0 ok, 3 upstream, 5 blocked, 6 rate
#: limited, 7 content rejected, 8 timeout); anything else is a failure of the soak.
EXITS = {0, 3, 5, 6, 7, 8}
#: HTTP statuses `serve` may answer with here; a 500 is never one.
STATUSES = {200, 400, 429, 502, 503, 504}
#: Seconds after which a request counts as hung.
HUNG = 120.0
KILLS_AT = (30, 60)


@dataclass
class Outcome:
    kind: str
    index: int
    ok: bool
    code: int  # exit status or HTTP status
    seconds: float
    conversation: str | None = None
    hung: bool = False
    note: str = ""


@dataclass
class Chaos:
    """The fake's faults, at random, never two reCAPTCHA rejections in a row."""

    rate: float
    rng: random.Random
    calm: int = 0
    injected: Counter[str] = field(default_factory=Counter)

    def __call__(self) -> Reply | Fault | None:
        if self.calm:
            self.calm -= 1  # the retry after a rejection gets through
            return None
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(
            ["500", "502", "cut", "slow", "slow", "recaptcha", "challenge", "no_data"]
        )
        self.injected[kind] += 1
        if kind == "recaptcha":
            self.calm = 2
            return Fault.recaptcha()
        if kind == "challenge":
            self.calm = 1
            return Fault.cloudflare_burst()
        if kind == "500":
            return Fault.server_error(500)
        if kind == "502":
            return Fault.server_error(502)
        if kind == "cut":
            return Fault.cut()
        if kind == "no_data":
            return Fault.hang(8.0)  # status and headers, then nothing for a while
        return Fault.slow_chunks(0.2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(url: str, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LM_ARENA_")}
    wanted = {
        "base_url": url,
        "state_dir": str(state),
        "browser_headless": "1",
        "keep_alive": "900",
        "timeout": "30",
        "idle_timeout": "30",
        "max_wait": "5",  # a short penalty is waited out, a long one fails at once
        "first_byte_timeout": "5",  # a status and then nothing fails soon (the no_data fault)
    }
    known = {field.name for field in fields(Settings)}
    env.update({f"LM_ARENA_{k.upper()}": v for k, v in wanted.items() if k in known})
    return env


async def ask(env: dict[str, str], index: int, kind: str, image: Path) -> Outcome:
    args = [LMARENA, "ask", "-m", MODEL, "--no-stdin"]
    if kind == "ask -c":
        args.append("-c")
    elif kind == "ask --json":
        args.append("--json")
    elif kind == "ask --image":
        args += ["--image", str(image)]
    args.append(f"soak {index}: say something")
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, err = await asyncio.wait_for(process.communicate(), HUNG)
    except TimeoutError:
        process.kill()
        await process.wait()
        return Outcome(kind, index, False, -1, time.monotonic() - started, hung=True)
    code = process.returncode if process.returncode is not None else -1
    conversation = None
    for line in err.decode(errors="replace").splitlines():
        if line.startswith("conversation: "):
            conversation = line.split(": ", 1)[1].strip()
    last = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return Outcome(kind, index, code in EXITS, code, time.monotonic() - started, conversation,
                   note="" if code == 0 else last[0][:160])  # fmt: skip


async def complete(http: aiohttp.ClientSession, url: str, index: int, kind: str) -> Outcome:
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"soak {index}: hello"}]
    if kind == "serve history":
        messages = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"soak {index}: first"},
            {"role": "assistant", "content": "An earlier answer."},
            {"role": "user", "content": f"soak {index}: and then?"},
        ]
    body = {"model": MODEL, "messages": messages, "stream": kind == "serve stream"}
    started = time.monotonic()
    try:
        async with asyncio.timeout(HUNG), http.post(url, json=body) as response:
            raw = await response.read()
            status = response.status
    except TimeoutError:
        return Outcome(kind, index, False, -1, time.monotonic() - started, hung=True)
    conversation = None
    text = raw.decode(errors="replace")
    if status == 200 and body["stream"]:
        ok = "data: [DONE]" in text
        for line in text.splitlines():
            if line.startswith("data: {") and '"conversation_id"' in line:
                conversation = orjson.loads(line[6:]).get("conversation_id")
                break
        errored = '"finish_reason":"error"' in text
        return Outcome(kind, index, ok, 200, time.monotonic() - started, None if errored
                       else conversation, note="error chunk" if errored else "")  # fmt: skip
    if status == 200:
        conversation = orjson.loads(raw).get("conversation_id")
    note = "" if status == 200 else text[:160]
    return Outcome(kind, index, status in STATUSES, status, time.monotonic() - started,
                   conversation, note=note)  # fmt: skip


def process_figures(pid: int) -> dict[str, int]:
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return {"rss_bytes": rss, "open_files": len(os.listdir(f"/proc/{pid}/fd"))}


def kept_pid(state: Path) -> int | None:
    try:
        pid = int(KeptPaths.of(state).pid.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def stored(state: Path) -> dict[str, int]:
    """Each stored conversation's number of user turns."""
    db = sqlite3.connect(state / "conversations.sqlite3")
    try:
        rows = db.execute("SELECT id, transcript FROM conversations").fetchall()
    finally:
        db.close()
    return {cid: sum(1 for t in orjson.loads(tr) if t.get("role") == "user") for cid, tr in rows}


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    kinds = (
        ["ask"] * 30 + ["ask -c"] * 15 + ["ask --json"] * 15 + ["ask --image"] * 5
        + ["serve"] * 15 + ["serve stream"] * 10 + ["serve history"] * 10
    )  # fmt: skip
    plan = [rng.choice(kinds) for _ in range(args.requests)]
    with tempfile.TemporaryDirectory(prefix="lmarena-soak-") as tmp:
        if args.keep:
            tmp = tempfile.mkdtemp(prefix="lmarena-soak-kept-")
            print(f"soak: working in {tmp} (kept)", file=sys.stderr)
        work = Path(tmp)
        image = work / "cat.png"
        image.write_bytes(png())
        async with FakeArena(recaptcha_delay=0.02) as arena:
            chaos = Chaos(args.fault_rate, random.Random(args.seed + 1))
            arena.chaos = chaos
            ask_state, serve_state = work / "ask-state", work / "serve-state"
            ask_env = environment(arena.url, ask_state)
            port = free_port()
            serve = await asyncio.create_subprocess_exec(
                LMARENA, "serve", "--port", str(port), "-q",
                env=environment(arena.url, serve_state),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            outcomes: list[Outcome] = []
            figures: dict[str, Any] = {}
            queue: asyncio.Queue[int] = asyncio.Queue()
            for index in range(args.requests):
                queue.put_nowait(index)
            started = time.monotonic()
            async with aiohttp.ClientSession() as http:
                for _ in range(300):  # serve's browser starts
                    try:
                        async with http.get(base + "/health") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.2)
                kills: list[int] = []

                async def worker(only_one: bool = False) -> None:
                    while not queue.empty():
                        index = queue.get_nowait()
                        kind = plan[index]
                        if index in KILLS_AT[: args.kills]:
                            kind = "ask"
                            arena.enqueue(Reply(text=[f"w{n} " for n in range(40)],
                                                delay_between=0.1))  # fmt: skip
                            asyncio.get_running_loop().call_later(1.5, kill_kept)
                        if kind.startswith("ask"):
                            outcome = await ask(ask_env, index, kind, image)
                        else:
                            url = base + "/v1/chat/completions"
                            outcome = await complete(http, url, index, kind)
                        outcomes.append(outcome)
                        if index == 100 and (pid := kept_pid(ask_state)):
                            figures["at_100"] = {"pid": pid, **process_figures(pid)}
                        if only_one:
                            return

                def kill_kept() -> None:
                    pid = kept_pid(ask_state)
                    if pid is not None:
                        os.kill(pid, signal.SIGKILL)
                        kills.append(pid)

                # The first request alone: `-c` has a conversation to continue from then on.
                plan[0] = "ask"
                await worker(only_one=True)
                await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            elapsed = time.monotonic() - started
            if pid := kept_pid(ask_state):
                figures["at_end"] = {"pid": pid, **process_figures(pid)}
            stop = await asyncio.create_subprocess_exec(
                LMARENA, "server", "stop", env=ask_env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await stop.wait()
            serve.send_signal(signal.SIGTERM)
            await asyncio.wait_for(serve.wait(), 30)
            await asyncio.sleep(1.0)
            leftovers = sorted(set(chromium_with(work)) | set(pids_with(work)))
            stores = {**stored(ask_state), **stored(serve_state)}
        return report_data(outcomes, stores, figures, kills, leftovers, chaos, elapsed, args)


def report_data(
    outcomes: list[Outcome],
    stores: dict[str, int],
    figures: dict[str, Any],
    kills: list[int],
    leftovers: list[int],
    chaos: Chaos,
    elapsed: float,
    args: argparse.Namespace,
) -> dict[str, Any]:
    by_kind: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        verdict = "answered" if outcome.code in (0, 200) and not outcome.note else (
            "hung" if outcome.hung else "documented error" if outcome.ok else "UNDOCUMENTED"
        )  # fmt: skip
        by_kind.setdefault(outcome.kind, Counter())[verdict] += 1
    answered = [o for o in outcomes if o.conversation and o.code in (0, 200) and not o.note]
    missing = [
        f"{o.kind} #{o.index}: {o.conversation}"
        + (" (no user turn)" if (o.conversation or "") in stores else " (absent)")
        for o in answered
        if stores.get(o.conversation or "", 0) < 1
    ]
    growth = None
    if (
        "at_100" in figures
        and "at_end" in figures
        and figures["at_100"]["pid"] == figures["at_end"]["pid"]
    ):
        growth = {
            key: figures["at_end"][key] / max(1, figures["at_100"][key]) - 1
            for key in ("rss_bytes", "open_files")
        }
    return {
        "requests": len(outcomes),
        "concurrency": args.concurrency,
        "seconds": elapsed,
        "by_kind": {kind: dict(counts) for kind, counts in sorted(by_kind.items())},
        "exit_and_http_statuses": dict(Counter(str(o.code) for o in outcomes)),
        "hung": sum(o.hung for o in outcomes),
        "http_500": sum(o.code == 500 for o in outcomes),
        "undocumented": [o.__dict__ for o in outcomes if not o.ok][:20],
        "answered_conversations": len({o.conversation for o in answered}),
        "missing_from_store": missing,
        "faults_injected": dict(chaos.injected),
        "kept_server_kills": len(kills),
        "kept_server": figures,
        "growth_100_to_end": growth,
        "leftover_processes": leftovers,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }


def failures(data: dict[str, Any]) -> list[str]:
    """What the soak must not see: each a line; empty when nothing was lost."""
    wrong = []
    for key in ("hung", "http_500"):
        if data[key]:
            wrong.append(f"{key}: {data[key]}")
    for key in ("undocumented", "missing_from_store", "leftover_processes"):
        if data[key]:
            wrong.append(f"{key}: {data[key]}")
    return wrong


def table(data: dict[str, Any]) -> str:
    lines = [
        f"{data['requests']} requests, concurrency {data['concurrency']}, "
        f"{data['seconds']:.0f} s; faults injected: {data['faults_injected']}; "
        f"kept server SIGKILLed {data['kept_server_kills']} times",
        "",
        "| requests | answered | documented error | hung | undocumented |",
        "|---|---|---|---|---|",
    ]
    for kind, counts in data["by_kind"].items():
        lines.append(
            f"| {kind} | {counts.get('answered', 0)} | {counts.get('documented error', 0)} | "
            f"{counts.get('hung', 0)} | {counts.get('UNDOCUMENTED', 0)} |"
        )
    growth = data["growth_100_to_end"]
    grown = "n/a" if growth is None else (
        f"RSS {growth['rss_bytes']:+.1%}, open files {growth['open_files']:+.1%}"
    )  # fmt: skip
    lines += [
        "",
        f"- statuses (exit or HTTP): {data['exit_and_http_statuses']}; HTTP 500: "
        f"{data['http_500']}; hung: {data['hung']}",
        f"- answered conversations: {data['answered_conversations']}, missing from their store: "
        f"{len(data['missing_from_store'])}",
        f"- kept server from request 100 to the end: {grown}",
        f"- processes left behind: {len(data['leftover_processes'])}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--fault-rate", type=float, default=0.08)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--kills", type=int, default=len(KILLS_AT), help="kept server kills")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    arguments = parser.parse_args()
    results = asyncio.run(soak(arguments))
    text = table(results)
    print(text)
    out = arguments.out
    (out / "soak.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    (out / "soak.md").write_text(text + "\n")
    print(f"written to {out / 'soak.json'} and soak.md")
    wrong = failures(results)
    if wrong:
        print("FAILED:", *wrong, sep="\n  ", file=sys.stderr)
        sys.exit(1)

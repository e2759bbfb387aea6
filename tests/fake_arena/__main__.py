"""Run the fake arena for demos: ``python -m tests.fake_arena --port 8765``.

``--site 2026-10`` serves the site as of Oct 2026 (``FakeArena.as_of_2026_10``: Terms-of-Use
consent, no model list in anonymous pages, the 2026 catalog, a bare auth cookie, soft 404s, the
login gate); ``--clock-skew SECONDS`` puts the fake's clock (its ``Date`` header, its id check)
that far ahead of the real one; ``--script FILE`` scripts answers for prompts that match;
``--browser-only`` refuses the site's API to requests that lack a
browser's client hints and fetch metadata (a stand-in for Cloudflare's TLS fingerprint check: only
the page transport gets through).

Prints ``fake arena listening on <url>`` (flushed) and serves until SIGINT/SIGTERM, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from .app import FakeArena
from .replies import Reply


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.fake_arena", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--login-gate", action="store_true", help="anonymous users get 401 LOGIN_GATE")
    p.add_argument("--no-embed-models", action="store_true", help="pages omit initialModels")
    p.add_argument("--no-challenge", action="store_true", help="turn the Cloudflare gate off")
    p.add_argument(
        "--turnstile", action="store_true", help="the gate wants a click on a Turnstile box"
    )
    p.add_argument("--lmarena-redirect", action="store_true", help="also serve a 301 legacy host")
    p.add_argument("--recaptcha-delay", type=float, default=0.5)
    p.add_argument(
        "--site",
        choices=("classic", "2026-10"),
        default="classic",
        help="which version of the site to serve (default: classic)",
    )
    p.add_argument(
        "--clock-skew",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="the fake's clock is this far ahead of the real one",
    )
    p.add_argument(
        "--browser-only",
        action="store_true",
        help="refuse API requests that did not come from a browser page (Cloudflare's 403)",
    )
    p.add_argument(
        "--script",
        metavar="FILE",
        help='scripted answers: a JSON list of {"match": REGEX, "text": ANSWER, "repeat": BOOL}',
    )
    return p.parse_args(argv)


def _load_script(arena: FakeArena, path: str) -> None:
    """``--script FILE``: each entry answers the prompts its ``match`` is found in."""
    entries = json.loads(Path(path).read_text())
    for entry in entries:
        texts = entry["text"] if isinstance(entry["text"], list) else [entry["text"]]
        replies = [Reply(text=text) for text in texts]
        arena.script(entry["match"], *replies, repeat=bool(entry.get("repeat")))


async def _serve(args: argparse.Namespace) -> None:
    options: dict[str, Any] = {
        "embed_models": not args.no_embed_models,
        "challenge": not args.no_challenge,
        "turnstile": args.turnstile,
        "lmarena_redirect": args.lmarena_redirect,
        "recaptcha_delay": args.recaptcha_delay,
        "clock_skew": args.clock_skew,
        "browser_only": args.browser_only,
    }
    if args.site == "2026-10":
        arena = FakeArena.as_of_2026_10(**options)
    else:
        arena = FakeArena(login_gate=args.login_gate, **options)
    if args.script:
        _load_script(arena, args.script)
    await arena.start(host=args.host, port=args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"fake arena listening on {arena.url}", flush=True)
    if arena.legacy_url:
        print(f"legacy lmarena host on {arena.legacy_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await arena.stop()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(_serve(_parse(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

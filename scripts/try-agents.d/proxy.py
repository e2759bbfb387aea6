"""A loopback logging proxy for scripts/try-agents: ``proxy.py LISTEN_PORT UPSTREAM_URL LOG_DIR``.

Forwards every request to UPSTREAM_URL (serve) as it is and streams the answer back unchanged,
keeping a copy of both: LOG_DIR/NNN-req.json (the body the agent sent), LOG_DIR/NNN-resp.txt (what
serve answered, SSE included) and one line per exchange in LOG_DIR/exchanges.jsonl (method, path,
status, sizes, headers without key values). Prints ``proxy listening`` when ready.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import IO, Any

from aiohttp import ClientSession, ClientTimeout, web

SECRET = {"authorization", "x-api-key", "cookie"}
HOP = {"host", "content-length", "transfer-encoding", "connection", "accept-encoding"}


#: TRY_AGENTS_REWRITE_SYSTEM_ROLE=1: serve's 400 for a `role: "system"` message is reworded as
#: Anthropic's API words it, which Claude Code recognises (it then retries once with the system
#: text moved into a <system-reminder> of the user turn). A diagnosis, not a fix: it shows what
#: happens after that 400 once serve accepts or words it so. The original is kept as
#: NNN-resp-original.txt.
REWRITE = os.environ.get("TRY_AGENTS_REWRITE_SYSTEM_ROLE") == "1"
SERVE_WORDING = re.compile(rb"messages\[\d+\]\.role must be user or assistant, not 'system'")
ANTHROPIC_WORDING = (
    b'messages: Unexpected role \\"system\\". The Messages API accepts a top-level `system` '
    b'parameter, not \\"system\\" as an input message role.'
)


def _anthropic_wording(answer: bytes) -> bytes:
    return SERVE_WORDING.sub(lambda _: ANTHROPIC_WORDING, answer)


def _open(path: Path, mode: str) -> IO[Any]:
    """Small local log files: written in place, without a thread."""
    return open(path, mode)


def main() -> None:
    port, upstream, log_dir = int(sys.argv[1]), sys.argv[2].rstrip("/"), Path(sys.argv[3])
    log_dir.mkdir(parents=True, exist_ok=True)
    counter = {"n": 0}

    async def relay(request: web.Request) -> web.StreamResponse:
        counter["n"] += 1
        n = counter["n"]
        body = await request.read()
        (log_dir / f"{n:03d}-req.json").write_bytes(body)
        started = time.time()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        headers["Accept-Encoding"] = "identity"
        entry = {
            "n": n,
            "method": request.method,
            "path": request.path_qs,
            "req_chars": len(body.decode("utf-8", "replace")),
            "req_headers": {
                k: ("<redacted>" if k.lower() in SECRET else v) for k, v in request.headers.items()
            },
        }
        session: ClientSession = request.app["session"]
        out = web.StreamResponse()
        try:
            async with session.request(
                request.method, upstream + request.path_qs, headers=headers, data=body
            ) as up:
                out.set_status(up.status, up.reason)
                for k, v in up.headers.items():
                    if k.lower() not in HOP and k.lower() != "content-encoding":
                        out.headers[k] = v
                if REWRITE and up.status == 400:
                    answer = await up.read()
                    (log_dir / f"{n:03d}-resp-original.txt").write_bytes(answer)
                    answer = _anthropic_wording(answer)
                    entry["rewritten"] = True
                    out.headers.pop("Content-Length", None)
                    await out.prepare(request)
                    (log_dir / f"{n:03d}-resp.txt").write_bytes(answer)
                    await out.write(answer)
                else:
                    await out.prepare(request)
                    with _open(log_dir / f"{n:03d}-resp.txt", "wb") as copy:
                        async for chunk in up.content.iter_any():
                            copy.write(chunk)
                            copy.flush()
                            await out.write(chunk)
                entry["status"] = up.status
                entry["resp_content_type"] = up.headers.get("Content-Type", "")
        except (ConnectionResetError, asyncio.CancelledError) as exc:
            entry["client_gone"] = type(exc).__name__
            raise
        finally:
            entry["seconds"] = round(time.time() - started, 2)
            with _open(log_dir / "exchanges.jsonl", "a") as log:
                log.write(json.dumps(entry) + "\n")
        await out.write_eof()
        return out

    async def on_startup(app: web.Application) -> None:
        app["session"] = ClientSession(timeout=ClientTimeout(total=None), auto_decompress=False)

    async def on_cleanup(app: web.Application) -> None:
        await app["session"].close()

    app = web.Application(client_max_size=256 * 1024 * 1024)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_route("*", "/{tail:.*}", relay)
    print("proxy listening", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()

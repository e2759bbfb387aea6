"""``lmarena serve``: the OpenAI-compatible server (see :mod:`lmarena_cli.server`)."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import DebugOpt, NoColorOpt, QuietOpt
from .runtime import load_settings, run
from .terminal import Terminal


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 1337).")] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a non-loopback bind without an API key.")
    ] = False,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="Allow browser calls from this origin."),
    ] = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Serve an OpenAI-compatible API (GET /v1/models, POST /v1/chat/completions)."""
    term = Terminal(quiet=quiet, no_color=no_color)
    settings = load_settings(term, host=host, port=port)

    async def work() -> None:
        from ..server.run import serve as serve_forever

        # The access log and the server's notices are records of the "lmarena" logger, which
        # run() shows on stderr (hidden by -q).
        await serve_forever(settings, insecure=insecure, cors_origins=cors_origin or [])

    run(term, work, debug=debug)

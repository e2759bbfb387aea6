"""``lmarena server status|start|stop``: the kept server that makes ``ask`` fast.

``ask`` and ``chat`` start a kept server in the background when none runs (``LM_ARENA_KEEP_ALIVE``
seconds without a request and it exits; 0 turns it off). These commands show it, start it ahead,
and stop it (its headless Chromium with it).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from .options import NoColorOpt, QuietOpt
from .runtime import load_settings
from .terminal import Terminal

server_app = typer.Typer(
    name="server",
    help="The kept server that keeps a headless browser warm for ask and chat (it exits after "
    "LM_ARENA_KEEP_ALIVE seconds without a request; 0 turns it off): status, start, stop.",
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object.")]


@server_app.command()
def status(json_: JsonOpt = False, no_color: NoColorOpt = False) -> None:
    """Show the kept server (pid, uptime, requests, idle time); exit 0 when one runs, 1 when
    none does."""
    term = Terminal(no_color=no_color)
    from ..client.session.pacing import Pacing
    from ..state.kept import KeptPaths
    from .kept import probe

    settings = load_settings(term)
    paths = KeptPaths.of(settings.state_dir)
    hello = probe(paths.socket)
    # The account's flag or wait (protocol §15.3) is in the state directory, server or not.
    account = Pacing(settings).status()
    if json_:
        import orjson

        body = {"running": hello is not None, **(hello or {}), "socket": str(paths.socket)}
        body.pop("t", None)
        body["account"] = account.to_json()
        term.out(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
        raise typer.Exit(0 if hello else 1)
    if hello is None:
        term.out(f"no kept server is running (socket {paths.socket})\n")
        term.out(f"account: {account.describe()}\n")
        raise typer.Exit(1)
    rows = [*describe(hello), ("account", account.describe())]
    term.out("".join(f"{name}: {value}\n" for name, value in rows))


def describe(hello: dict[str, Any]) -> list[tuple[str, str]]:
    """The lines of ``status``: what the server said, for people."""
    kind = "kept (started by ask/chat)" if hello.get("kept") else "lmarena serve"
    rows = [
        ("server", f"{kind}, pid {hello.get('pid')}"),
        ("up", _duration(time.time() - float(hello.get("started") or time.time()))),
        ("requests", f"{hello.get('requests')} ({hello.get('active')} open)"),
        ("idle", _duration(float(hello.get("idle_s") or 0.0))),
    ]
    if hello.get("keep_alive"):
        rows.append(("exits after", f"{_duration(float(hello['keep_alive']))} without a request"))
    rows.append(("browser", _browser(hello)))
    if hello.get("rss_kb"):
        rows.append(("memory", f"{int(hello['rss_kb']) // 1024} MiB (the server; not Chromium)"))
    rows.append(("site", str(hello.get("base_url"))))
    rows.append(("socket", str(hello.get("socket"))))
    if hello.get("log"):
        rows.append(("log", str(hello["log"])))
    return rows


def _browser(hello: dict[str, Any]) -> str:
    """The browser's line: ready, starting, or why its start failed."""
    if hello.get("ready"):
        return "ready (headless)"
    if hello.get("starting"):
        return "starting"
    if hello.get("start_error"):
        return f"not ready: {hello['start_error']} (each request tries again)"
    return "not started yet"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@server_app.command()
def start(quiet: QuietOpt = False, no_color: NoColorOpt = False) -> None:
    """Start a kept server now (ask and chat start one themselves when none runs)."""
    term = Terminal(quiet=quiet, no_color=no_color)
    from ..state.kept import KeptPaths
    from .kept import ensure_server

    settings = load_settings(term)
    if settings.keep_alive <= 0:
        term.err("lmarena: the kept server is off (LM_ARENA_KEEP_ALIVE=0)")
        raise typer.Exit(2)
    paths = KeptPaths.of(settings.state_dir)
    try:
        paths.prepare()
    except OSError as exc:
        term.err(f"lmarena: cannot use {paths.directory}: {exc}")
        raise typer.Exit(1) from None
    hello = ensure_server(settings, paths)
    if hello is None:
        term.err(f"lmarena: the kept server did not start; its log: {paths.log}")
        raise typer.Exit(1)
    term.info(f"kept server running, pid {hello.get('pid')} ({paths.socket})")


@server_app.command()
def stop(quiet: QuietOpt = False, no_color: NoColorOpt = False) -> None:
    """Stop the kept server (answers in progress get a few seconds to finish); its Chromium
    ends with it."""
    term = Terminal(quiet=quiet, no_color=no_color)
    from ..state.kept import KeptPaths, pid_alive
    from .kept import stop_server

    settings = load_settings(term)
    paths = KeptPaths.of(settings.state_dir)
    pid = stop_server(paths)
    if pid is None:
        term.info("no kept server is running")
        return
    if pid_alive(pid):
        term.err(f"lmarena: the kept server (pid {pid}) has not ended yet; its log: {paths.log}")
        raise typer.Exit(1)
    term.info(f"stopped the kept server (pid {pid})")


__all__ = ["describe", "server_app"]

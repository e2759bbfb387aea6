"""The ``lmarena`` command: models, ask, chat, login, serve.

Thin over the library: each command parses its input, calls ``Client``, renders, and leaves the
mapping of failures to exit codes to :func:`run`. stdout carries answers only; everything else
goes to stderr. Heavy modules (aiohttp, nodriver) are imported inside the commands so that
``--help`` and shell completion stay fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from .. import __version__
from ..errors import EXIT_INTERRUPTED, LmArenaError, UsageError
from ..settings import Settings
from .terminal import Terminal

if TYPE_CHECKING:
    from ..client.client import ChatSession, Client, Reply
    from ..site.discovery import Model

T = TypeVar("T")

app = typer.Typer(
    name="lmarena",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lmarena {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """arena.ai's models from the shell: pipe a prompt in, get the answer on stdout.

    Exit codes: 0 ok, 1 unexpected, 2 usage, 3 site unavailable, 4 sign-in required,
    5 blocked by anti-bot checks, 6 rate-limited, 7 content rejected, 8 timeout,
    9 no usable browser, 130 interrupted.
    """


# --- shared plumbing ------------------------------------------------------------------------------


def _cached_models(settings: Settings, warn: Callable[[str], None]) -> list[Model] | None:
    """The chat models in the cache file (as `Client.list_models`), or None when it has none.

    Reads the cache with ``state`` and ``discovery`` only: neither imports aiohttp nor nodriver,
    which is what keeps `lmarena models` and completion fast (the client costs ~0.3 s to import).
    """
    from ..site.discovery import model_from_row, usable_models
    from ..state.cache import SiteCache

    state = SiteCache(settings.cache_path).load(settings.base_url.rstrip("/"), warn=warn)
    if state is None or not state.models:
        return None
    rows = (model_from_row(row) for row in state.models)
    return [m for m in usable_models([r for r in rows if r is not None]) if m.chats]


def _complete_model(incomplete: str) -> list[str]:
    """Model names from the cache only: fast, offline, and silent when there is no cache."""
    try:
        found = _cached_models(Settings.load(), warn=lambda _message: None) or []
    except Exception:  # completion must never print a traceback into the user's shell
        return []
    return [m.name for m in found if m.name.startswith(incomplete)]


QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Hide notes on stderr.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of failures.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour on stderr.")]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "-m",
        "--model",
        help="Model name (default: LM_ARENA_MODEL, else gemini-3-pro).",
        metavar="MODEL",
        autocompletion=_complete_model,
        show_default=False,
    ),
]


def run(term: Terminal, work: Callable[[], Coroutine[Any, Any, T]], *, debug: bool = False) -> T:
    """Run one command's coroutine and turn every failure into a message and an exit code."""
    import asyncio

    with failures(term, debug=debug):
        return asyncio.run(work())
    raise AssertionError("unreachable: failures() re-raises as typer.Exit")


@contextlib.contextmanager
def failures(term: Terminal, *, debug: bool = False) -> Iterator[None]:
    """Map every failure inside the block to one line on stderr and its exit code."""
    try:
        yield
    except LmArenaError as error:
        if debug:
            import traceback

            traceback.print_exc(file=term.stderr)
        term.err(term.style("lmarena: ", "1;31") + str(error))
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        term.err("lmarena: interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:
        # The reader went away (`| head -1`): stop quietly. stdout is pointed at /dev/null so
        # that the flush at interpreter exit does not print "Exception ignored ...".
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None
    except Exception as error:  # the last resort: one line, exit 1, traceback only with --debug
        if debug:
            import traceback

            traceback.print_exc(file=term.stderr)
        term.err(f"lmarena: unexpected error: {type(error).__name__}: {error}")
        raise typer.Exit(1) from None


def _settings(term: Terminal, **flags: Any) -> Settings:
    try:
        return Settings.load(flags)
    except LmArenaError as error:
        term.err(f"lmarena: {error}")
        raise typer.Exit(error.exit_code) from None


def _client(settings: Settings, term: Terminal) -> Client:
    from ..client.client import Client

    return Client(settings, log=term.info)


# --- models ---------------------------------------------------------------------------------------


@app.command()
def models(
    json_: Annotated[
        bool, typer.Option("--json", help="One JSON array with ids and capabilities.")
    ] = False,
    vision: Annotated[bool, typer.Option("--vision", help="Only models that take images.")] = False,
    image_output: Annotated[
        bool, typer.Option("--image-output", help="Only models that generate images.")
    ] = False,
    search: Annotated[bool, typer.Option("--search", help="Only search models.")] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Rediscover from the site.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """List the models, one name per line (from the cache when it has them)."""
    term = Terminal(quiet=quiet, no_color=no_color)
    settings = _settings(term)

    found = None
    if not refresh:
        with failures(term, debug=debug):
            found = _cached_models(settings, warn=term.info)
    if found is None:

        async def fetch() -> list[Model]:
            client = _client(settings, term)
            try:
                with term.spinner("starting the browser…"):
                    return await client.list_models(refresh=refresh)
            finally:
                await client.close()

        found = run(term, fetch, debug=debug)
    chosen = [
        m
        for m in found
        if (not vision or m.takes_images)
        and (not image_output or m.outputs_images)
        and (not search or m.searches)
    ]
    with failures(term, debug=debug):
        if json_:
            import orjson

            text = orjson.dumps([m.to_json() for m in chosen], option=orjson.OPT_INDENT_2).decode()
            term.out(text + "\n")
        else:
            term.out("".join(m.name + "\n" for m in chosen))


# --- ask ------------------------------------------------------------------------------------------


def _read_stdin(term: Terminal, no_stdin: bool) -> bytes:
    """stdin's bytes, or nothing when it is a terminal, closed, or --no-stdin was given."""
    if no_stdin or term.stdin is None or term.stdin_is_tty:
        return b""
    buffer = getattr(term.stdin, "buffer", None)
    try:
        return buffer.read() if buffer is not None else term.stdin.read().encode()
    except (OSError, ValueError):  # fd 0 closed
        return b""


def compose_prompt(stdin_text: str, argument: str | None) -> str:
    """Context first, instruction last: stdin, a blank line, then the argument."""
    parts = [p for p in (stdin_text.strip("\n"), (argument or "").strip("\n")) if p.strip()]
    return "\n\n".join(parts)


@app.command()
def ask(
    prompt: Annotated[
        str | None, typer.Argument(help="The instruction; stdin comes first.", metavar="PROMPT")
    ] = None,
    model: ModelOpt = None,
    image: Annotated[
        list[str] | None,
        typer.Option(
            "--image",
            "-i",
            help="Image path, http(s) URL, or - for stdin. Repeatable.",
            metavar="PATH|URL|-",
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Continue the conversation with this id.", metavar="ID"),
    ] = None,
    continue_: Annotated[
        bool, typer.Option("-c", "--continue", help="Continue this tool's latest conversation.")
    ] = False,
    vs: Annotated[
        str | None,
        typer.Option(
            "--vs",
            help="A second model, side by side.",
            autocompletion=_complete_model,
            metavar="MODEL",
        ),
    ] = None,
    battle: Annotated[bool, typer.Option("--battle", help="Two anonymous models.")] = False,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Print the answer whole.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object at the end.")] = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON event per line.")] = False,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Save generated images here.", metavar="PATH"),
    ] = None,
    show_reasoning: Annotated[
        bool, typer.Option("--show-reasoning", help="Print the model's thinking on stderr.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds to wait for a first token (default 120).",
            min=0.1,
            metavar="SECONDS",
        ),
    ] = None,
    no_stdin: Annotated[bool, typer.Option("--no-stdin", help="Do not read stdin.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Ask one question; the answer streams to stdout, the conversation id goes to stderr.

    \b
      echo "explain this diff" | lmarena ask -m gemini-3-pro
      git diff | lmarena ask "write a commit message"
      lmarena ask --image cat.png "what is in this picture?"
      lmarena ask -c "and in one sentence?"
    """
    term = Terminal(quiet=quiet, no_color=no_color)
    images = list(image or [])
    if sum(bool(x) for x in (resume, continue_, battle)) > 1 or (battle and (vs or model)):
        term.err(
            "lmarena: use only one of --resume, -c/--continue and --battle (no -m with --battle)"
        )
        raise typer.Exit(2)
    if json_ and jsonl:
        term.err("lmarena: use --json or --jsonl, not both")
        raise typer.Exit(2)
    image_from_stdin = images.count("-")
    if image_from_stdin > 1:
        term.err("lmarena: --image - can be given once (stdin holds one image)")
        raise typer.Exit(2)
    if prompt is None and (no_stdin or image_from_stdin or term.stdin is None or term.stdin_is_tty):
        term.err("usage: lmarena ask [OPTIONS] PROMPT   (or pipe the prompt on stdin)")
        term.err("Try 'lmarena ask --help' for help.")
        raise typer.Exit(2)
    raw = _read_stdin(term, no_stdin)
    stdin_image: bytes | None = None
    if image_from_stdin:
        stdin_image, raw = raw, b""
        if not stdin_image:
            term.err("lmarena: --image - was given but stdin was empty")
            raise typer.Exit(2)
    text = compose_prompt(raw.decode("utf-8", errors="replace"), prompt)
    if not text.strip() and not images:
        term.err("lmarena: the prompt is empty")
        raise typer.Exit(2)
    settings = _settings(term, model=model, timeout=timeout)
    sources: list[Any] = [stdin_image if item == "-" else item for item in images]

    async def work() -> int:
        import asyncio

        client = _client(settings, term)
        try:
            with term.spinner("starting the browser…") as spin:
                chat = await _open_chat(client, settings, resume, continue_, vs, battle, model)
                stream = await chat.send(text, images=sources or None, stream=True, timeout=timeout)
                spin.stop()
            renderer = _Renderer(
                term,
                chat,
                json_=json_,
                jsonl=jsonl,
                no_stream=no_stream,
                show_reasoning=show_reasoning,
            )
            try:
                reply = await renderer.render(stream)
            except (LmArenaError, asyncio.CancelledError):
                # Cut short (a failure, or Ctrl-C cancelling this task): the partial answer stays
                # on stdout, as a whole line; the exit code says it is partial.
                renderer.end_partial()
                raise
            if reply.images:
                await _save_images(client, term, reply, output, json_ or jsonl)
            if reply.mode == "battle" and not (json_ or jsonl):
                # A streamed battle prints A's header before the site names the models.
                names = [f"model {a.side.upper()} was {a.model}" for a in reply.answers if a.model]
                if names:
                    term.info("battle: " + ", ".join(names))
            term.info(f"conversation: {reply.evaluation_session_id}")
            return 0
        finally:
            await client.close()

    code = run(term, work, debug=debug)
    raise typer.Exit(code)


async def _open_chat(
    client: Client,
    settings: Settings,
    resume: str | None,
    continue_: bool,
    vs: str | None,
    battle: bool,
    model: str | None,
) -> ChatSession:
    if resume:
        return await client.chats.resume(resume, model=model, versus=vs)
    if continue_:
        if model or vs:
            latest = client.store.latest()
            if latest is None:
                from ..errors import ConversationNotFound

                raise ConversationNotFound("there is no earlier conversation to continue")
            return await client.chats.resume(latest.id, model=model, versus=vs)
        return await client.chats.latest()
    if battle:
        return await client.chats.create(battle=True)
    return await client.chats.create(model or settings.model, versus=vs)


class _Renderer:
    """Writes one reply to the terminal in the chosen form, as it streams."""

    def __init__(
        self,
        term: Terminal,
        chat: ChatSession,
        *,
        json_: bool,
        jsonl: bool,
        no_stream: bool,
        show_reasoning: bool,
    ) -> None:
        self.term = term
        self.chat = chat
        self.json = json_
        self.jsonl = jsonl
        self.buffered = no_stream or json_
        self.show_reasoning = show_reasoning
        self.two_sided = chat.mode in ("side-by-side", "battle")
        self._open_line = False
        self._side_b: list[str] = []
        self._started_a = False
        self._reasoning_open = False

    async def render(self, stream: Any) -> Reply:
        import orjson

        from ..site.protocol import (
            Citation,
            Finish,
            ImageOutput,
            RawEvent,
            ReasoningDelta,
            TextDelta,
        )

        async for event in stream.events():
            if self.jsonl:
                self.term.out(orjson.dumps(_event_json(event)).decode() + "\n")
                continue
            if isinstance(event, ReasoningDelta):
                if self.show_reasoning:
                    self.term.stderr.write(self.term.style(event.text, "2"))
                    self.term.stderr.flush()
                    self._reasoning_open = True
            elif isinstance(event, TextDelta) and not self.buffered:
                self._text(event.side, event.text, stream)
            elif isinstance(event, Citation | Finish | ImageOutput | RawEvent):
                pass
        reply: Reply = stream.reply
        if self._reasoning_open:
            self.term.stderr.write("\n")
        if self.json:
            self.term.out(orjson.dumps(reply.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        elif self.jsonl:
            # The last line is the whole reply, so a consumer of the events also learns the
            # conversation id and timings, under the same names as --json.
            self.term.out(orjson.dumps({"type": "reply", **reply.to_dict()}).decode() + "\n")
        elif self.buffered:
            self._whole(reply)
        else:
            self._flush_b(reply)
            self.end_partial()
        return reply

    def _header(self, side: str, reply_model: str | None) -> str:
        label = f"=== model {side.upper()}" + (f": {reply_model}" if reply_model else "") + " ==="
        return label + "\n"

    def _text(self, side: str, text: str, stream: Any) -> None:
        if side == "b":
            self._side_b.append(text)  # B is printed after A, so the two never interleave
            return
        if self.two_sided and not self._started_a:
            self.term.out(self._header("a", stream.reply.a.model))
        self._started_a = True
        self.term.out(text)
        self._open_line = not text.endswith("\n")

    def _flush_b(self, reply: Reply) -> None:
        if not self.two_sided:
            return
        self.end_partial()
        b = reply.b
        self.term.out(self._header("b", b.model if b else None))
        self.term.out("".join(self._side_b))
        self._open_line = bool(self._side_b) and not self._side_b[-1].endswith("\n")

    def _whole(self, reply: Reply) -> None:
        for answer in reply.answers:
            if self.two_sided:
                self.term.out(self._header(answer.side, answer.model))
            self.term.out(answer.text)
            if answer.text and not answer.text.endswith("\n"):
                self.term.out("\n")

    def end_partial(self) -> None:
        """End the line of an answer, also when it was cut short."""
        if self._open_line:
            self.term.out("\n")
            self._open_line = False


def _event_json(event: Any) -> dict[str, Any]:
    import dataclasses

    data = dataclasses.asdict(event)
    data["type"] = {
        "TextDelta": "text",
        "ReasoningDelta": "reasoning",
        "ImageOutput": "image",
        "Citation": "citation",
        "Finish": "finish",
        "StreamError": "error",
        "Heartbeat": "heartbeat",
        "RawEvent": "raw",
    }.get(type(event).__name__, type(event).__name__)
    return data


async def _save_images(
    client: Client, term: Terminal, reply: Reply, output: Path | None, machine: bool
) -> None:
    """Save generated images with -o (numbered when several), else print their URLs."""
    if output is None:
        if not machine:
            term.out("".join(url + "\n" for url in reply.images))
        return
    from ..state.cache import atomic_write

    paths = _numbered(output, len(reply.images))
    for url, path in zip(reply.images, paths, strict=True):
        data = await client.download(url)
        atomic_write(path, data, mode=0o644)
        term.info(f"saved {path}")


def _numbered(output: Path, count: int) -> list[Path]:
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{n}{output.suffix}") for n in range(1, count + 1)]


# --- chat -----------------------------------------------------------------------------------------


@app.command()
def chat(
    model: ModelOpt = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue the conversation with this id.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds to wait for a first token.", min=0.1)
    ] = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Talk back and forth. On a terminal: /exit or Ctrl-D ends, Ctrl-C stops an answer.

    With stdin piped, each line is one turn.
    """
    term = Terminal(quiet=quiet, no_color=no_color)
    settings = _settings(term, model=model, timeout=timeout)
    interactive = term.stdin_is_tty

    async def work() -> int:
        import asyncio
        import signal

        client = _client(settings, term)
        chat: ChatSession | None = None
        try:
            with term.spinner("starting the browser…"):
                if resume:
                    chat = await client.chats.resume(resume, model=model)
                else:
                    chat = await client.chats.create(model or settings.model)
            model_name = chat.model.name if chat.model else "battle"
            # A new conversation has its id only once the site has answered the first turn:
            # it is shown then (a resumed one at once), and again on exit.
            announced = chat.id
            if announced:
                term.info(f"conversation: {announced}")
            if interactive:
                term.info(f"chatting with {model_name}; /exit or Ctrl-D to end")
            loop = asyncio.get_running_loop()
            while True:
                line = await _read_line(term, "> " if interactive else None)
                if line is None or (interactive and line.strip() in ("/exit", "/quit")):
                    break
                if not line.strip():
                    continue
                task = asyncio.ensure_future(_one_turn(term, chat, line, timeout))
                if interactive:
                    loop.add_signal_handler(signal.SIGINT, task.cancel)
                try:
                    await task
                    if chat.id and chat.id != announced:
                        announced = chat.id
                        term.info(f"conversation: {announced}")
                except asyncio.CancelledError:
                    term.out("\n")
                    term.err("(answer stopped)")
                except LmArenaError as error:
                    if not interactive:
                        raise
                    term.err(term.style("lmarena: ", "1;31") + str(error))
                finally:
                    if interactive:
                        loop.remove_signal_handler(signal.SIGINT)
            return 0
        finally:
            if chat is not None and chat.id:
                term.info(f"conversation: {chat.id}")
            await client.close()

    raise typer.Exit(run(term, work, debug=debug))


async def _read_line(term: Terminal, prompt: str | None) -> str | None:
    """One line from stdin without blocking the loop; None at end of input."""
    import asyncio

    if term.stdin is None:
        return None
    if prompt:
        term.stderr.write(prompt)
        term.stderr.flush()
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()
    stdin = term.stdin

    def deliver(text: str) -> None:
        if not future.done():
            future.set_result(text)

    def read() -> None:
        try:
            text = stdin.readline()
        except (OSError, ValueError):
            text = ""
        loop.call_soon_threadsafe(deliver, text)

    import threading

    # A daemon thread, so that a pending read never keeps the process alive at exit.
    threading.Thread(target=read, daemon=True).start()
    line = await future
    return line.rstrip("\n") if line else None


async def _one_turn(term: Terminal, chat: ChatSession, line: str, timeout: float | None) -> None:
    stream = await chat.send(line, stream=True, timeout=timeout)
    wrote = ""
    async for delta in stream:
        term.out(delta)
        wrote = delta or wrote
    if not wrote.endswith("\n"):
        term.out("\n")


# --- login ----------------------------------------------------------------------------------------


@app.command()
def login(
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the sign-in.", min=1)
    ] = 600.0,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Sign in to the site in a browser window; the session is saved for later runs."""
    term = Terminal(quiet=quiet, no_color=no_color)
    settings = _settings(term)

    async def work() -> None:
        from ..browser.chromium import has_display
        from ..browser.session import Browser
        from ..site import facts

        # Browser.login says what it waits for ("waiting up to N s for you to sign in ..."), or
        # raises UsageError when there is no display to show a window on: a window is promised
        # here only when one can be shown.
        browser = Browser(settings, log=term.err)
        try:
            if settings.browser_headless is True or has_display():
                term.err(f"opening {settings.base_url}{facts.LOGIN_PAGE} in a browser window…")
            await browser.login(timeout=timeout)
            term.err("Signed in; the session is saved for later runs.")
        finally:
            await browser.close()

    run(term, work, debug=debug)


# --- serve ----------------------------------------------------------------------------------------


@app.command()
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
    settings = _settings(term, host=host, port=port)

    async def work() -> None:
        from ..server.app import serve as serve_forever

        await serve_forever(settings, term=term, insecure=insecure, cors_origins=cors_origin or [])

    run(term, work, debug=debug)


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="lmarena")
    except UsageError as error:  # settings errors raised while Typer parses
        sys.stderr.write(f"lmarena: {error}\n")
        sys.exit(error.exit_code)

"""``lmarena chat``: talk back and forth, on a terminal or one turn per piped line."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import LmArenaError
from .options import DebugOpt, ModelOpt, NoColorOpt, QuietOpt
from .runtime import load_settings, make_client, run
from .terminal import Terminal

if TYPE_CHECKING:
    from ..client.client import ChatSession


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
    settings = load_settings(term, model=model, timeout=timeout)
    interactive = term.stdin_is_tty

    async def work() -> int:
        import asyncio
        import signal

        client = make_client(settings)
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
                line = await read_line(term, "> " if interactive else None)
                if line is None or (interactive and line.strip() in ("/exit", "/quit")):
                    break
                if not line.strip():
                    continue
                task = asyncio.ensure_future(one_turn(term, chat, line, timeout))
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


async def read_line(term: Terminal, prompt: str | None) -> str | None:
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

    # A daemon thread, so that a pending read never keeps the process alive at exit.
    threading.Thread(target=read, daemon=True).start()
    line = await future
    return line.rstrip("\n") if line else None


async def one_turn(term: Terminal, chat: ChatSession, line: str, timeout: float | None) -> None:
    """Send one line and stream the answer to stdout, ending with a newline."""
    stream = await chat.send(line, stream=True, timeout=timeout)
    wrote = ""
    async for delta in stream:
        term.out(delta)
        wrote = delta or wrote
    if not wrote.endswith("\n"):
        term.out("\n")

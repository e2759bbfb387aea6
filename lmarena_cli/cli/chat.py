"""``lmarena chat``: talk back and forth, on a terminal or one turn per piped line.

A line that starts with ``/`` is a command (:data:`COMMANDS`), on a terminal and in a pipe alike;
an unknown one is answered with the list and never sent to the model. A line that starts with
``//`` is sent with one ``/`` less. What commands print goes to stderr: stdout carries answers only.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import LmArenaError
from . import templates
from .advice import say
from .options import (
    DebugOpt,
    ModelOpt,
    NoColorOpt,
    ParamOpt,
    QuietOpt,
    RawOpt,
    RoleOpt,
    SystemOpt,
    TemplateOpt,
)
from .render import Renderer, wants_markdown
from .roles import FromTemplate, choose
from .runtime import load_settings, make_client, run
from .terminal import Terminal
from .usage import Totals, describe, sent_prompt, turn_usage

if TYPE_CHECKING:
    from ..client.api import ChatApi, ClientApi
    from ..client.reply import TextStream

#: The commands of a chat, as ``/help`` lists them.
COMMANDS = {
    "/retry": "another answer to the last prompt (it replaces the last answer)",
    "/new": "a new conversation with the same model",
    "/model NAME": "a new conversation with another model",
    "/id": "the conversation's id",
    "/usage": "the last turn's tokens (estimated), times and account state; the session's totals",
    "/help": "this list",
    "/exit": "end the chat (also /quit, Ctrl-D)",
}
HELP = (
    "commands:\n"
    + "".join(f"  {name:<12} {what}\n" for name, what in COMMANDS.items())
    + "  a line starting with // is sent with one / less"
)


def chat(
    model: ModelOpt = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue the conversation with this id.")
    ] = None,
    system: SystemOpt = None,
    role: RoleOpt = None,
    template: TemplateOpt = None,
    param: ParamOpt = None,
    raw: RawOpt = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds to wait for a first token.", min=0.1)
    ] = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Talk back and forth. On a terminal: /exit or Ctrl-D ends, Ctrl-C stops an answer.

    With stdin piped, each line is one turn. Commands: /retry (another answer to the last
    prompt), /new (a new conversation), /model NAME (a new conversation with that model), /id,
    /usage (the last turn's tokens, times and account state; the session's totals), /help,
    /exit. Answers are rendered as markdown on a terminal (--raw: as written). With -t, each
    line goes through the template's prompt ($input), as in `llm chat -t`.
    """
    term = Terminal(quiet=quiet, no_color=no_color)
    applied = templates.chosen(term, template, param)
    settings = load_settings(term, model=model, timeout=timeout)
    from_template = None
    if applied is not None:
        tpl = applied.template
        from_template = FromTemplate(tpl.name, applied.system(), tpl.model)
    choice = choose(
        term,
        settings,
        system=system,
        role_name=role,
        model=model,
        continued=bool(resume),
        template=from_template,
    )
    if choice.model and not resume:
        settings = settings.replace(model=choice.model)
    interactive = term.stdin_is_tty

    async def work() -> int:
        client = make_client(settings)
        session = ChatLoop(term, client, timeout=timeout, system=choice.system, raw=raw)
        if applied is not None:
            session.shape = applied.prompt
        try:
            with term.spinner("starting the browser…"):
                if resume:
                    session.chat = await client.chats.resume(resume, model=model)
                else:
                    session.chat = await client.chats.create(
                        model or settings.model, system=choice.system
                    )
            return await session.run(interactive)
        finally:
            if session.chat is not None and session.chat.id:
                term.info(f"conversation: {session.chat.id}")
            await client.close()

    raise typer.Exit(run(term, work, debug=debug))


class ChatLoop:
    """One ``lmarena chat``: the lines read, the commands run, the turns sent and shown."""

    def __init__(
        self,
        term: Terminal,
        client: ClientApi,
        *,
        timeout: float | None,
        system: str | None,
        raw: bool,
    ) -> None:
        self.term = term
        self.client = client
        self.timeout = timeout
        self.system = system  # for the new conversations of /new and /model too
        self.markdown = wants_markdown(term, raw=raw)
        self.chat: ChatApi | None = None
        #: What a line becomes before it is sent (a template's prompt; as it is without one).
        self.shape: Callable[[str], str] = str
        # A new conversation has its id only once the site has answered the first turn: it is
        # shown then (a resumed one at once), and again on exit.
        self.announced: str | None = None
        self.last_prompt = ""  # what /retry answers again
        self._sent = ""  # the prompt of the turn being sent, as sent (its input tokens)
        self.last_usage: dict[str, Any] | None = None
        self.totals = Totals()

    async def run(self, interactive: bool) -> int:
        """Read lines until the end of input or /exit; 0, or a failure's exit status."""
        import asyncio
        import signal

        assert self.chat is not None
        term = self.term
        self._announce()
        if interactive:
            term.info(f"chatting with {self._model_name()}; /help for commands, /exit or Ctrl-D")
        loop = asyncio.get_running_loop()
        while True:
            line = await read_line(term, "> " if interactive else None)
            if line is None:
                return 0
            text = line.strip()
            if not text:
                continue
            if text.startswith("/") and not text.startswith("//"):
                name, _, argument = text.partition(" ")
                if name.lower() in ("/exit", "/quit"):
                    return 0
                turn = await self.command(name.lower(), argument.strip())
            else:
                prompt = line.lstrip()[1:] if text.startswith("//") else line
                turn = self._sender(prompt)
            if turn is None:
                continue
            task = asyncio.ensure_future(self.one_turn(turn))
            if interactive:
                loop.add_signal_handler(signal.SIGINT, task.cancel)
            try:
                await task
                self._announce()
            except asyncio.CancelledError:
                term.err("(answer stopped)")
            except LmArenaError as error:
                if not interactive:
                    raise
                term.err(term.style("lmarena: ", "1;31") + say(error))
            finally:
                if interactive:
                    loop.remove_signal_handler(signal.SIGINT)

    async def command(self, name: str, argument: str) -> Callable[[], Awaitable[TextStream]] | None:
        """Run a command; a turn to send (``/retry``), or None when the command is done."""
        chat, term = self.chat, self.term
        assert chat is not None
        if name == "/retry":
            return self._counted(
                lambda: chat.retry(stream=True, timeout=self.timeout), self.last_prompt
            )
        if name == "/help":
            term.err(HELP)
        elif name == "/id":
            term.err(
                f"conversation: {chat.id}"
                if chat.id
                else "no conversation id yet: the site gives one with the first answer"
            )
        elif name == "/usage":
            if self.last_usage is None:
                term.err("no turn yet: /usage shows the last turn's usage once one is answered")
            else:
                term.err(describe(self.last_usage) + "\n" + self.totals.describe())
        elif name == "/new":
            await self._switch(chat.model.name if chat.model else None)
        elif name == "/model":
            if not argument:
                term.err(f"usage: /model NAME (now {self._model_name()})")
            else:
                await self._switch(argument)
        else:
            term.err(f"lmarena: unknown command {name}; {HELP}")
        return None

    async def _switch(self, model: str | None) -> None:
        """A new conversation (the site cannot change the model inside one); the chat goes on
        with the old one when the model is unknown."""
        try:
            chat = await self.client.chats.create(
                model or self.client.settings.model, system=self.system
            )
        except LmArenaError as error:
            self.term.err(self.term.style("lmarena: ", "1;31") + say(error))
            return
        self.chat = chat
        self.term.info(f"new conversation with {self._model_name()}")

    def _sender(self, line: str) -> Callable[[], Awaitable[TextStream]]:
        chat = self.chat
        assert chat is not None
        prompt = self.shape(line)
        self.last_prompt = prompt
        sent = sent_prompt(self.system, prompt, new=chat.id is None)
        return self._counted(lambda: chat.send(prompt, stream=True, timeout=self.timeout), sent)

    def _counted(
        self, start: Callable[[], Awaitable[TextStream]], sent: str
    ) -> Callable[[], Awaitable[TextStream]]:
        """A turn whose usage (``sent``: the prompt as sent) is kept for /usage once answered."""
        self._sent = sent
        return start

    async def one_turn(self, start: Callable[[], Awaitable[TextStream]]) -> None:
        """Send one turn and show its answer on stdout, ending with a newline (rendered as
        markdown on a terminal); a cut-short answer stays, as whole lines."""
        import asyncio

        assert self.chat is not None
        stream = await start()
        renderer = Renderer(
            self.term,
            self.chat,
            json_=False,
            jsonl=False,
            no_stream=False,
            show_reasoning=False,
            markdown=self.markdown,
        )
        try:
            reply = await renderer.render(stream)
        except (LmArenaError, asyncio.CancelledError):
            renderer.end_partial()
            raise
        self.last_usage = turn_usage(self.client.settings, self._sent, reply)
        self.totals.add(self.last_usage)

    def _announce(self) -> None:
        chat = self.chat
        if chat is not None and chat.id and chat.id != self.announced:
            self.announced = chat.id
            self.term.info(f"conversation: {chat.id}")

    def _model_name(self) -> str:
        chat = self.chat
        return chat.model.name if chat is not None and chat.model else "battle"


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

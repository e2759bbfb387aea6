"""``lmarena ask``: one question; the answer streams to stdout, the conversation id to stderr."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import LmArenaError
from ..settings import Settings
from .catalog import complete_model
from .options import DebugOpt, ModelOpt, NoColorOpt, QuietOpt
from .prompt import prompt_input
from .render import Renderer, save_images
from .runtime import load_settings, make_client, run
from .terminal import Terminal

if TYPE_CHECKING:
    from ..client.client import ChatSession, Client


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
            autocompletion=complete_model,
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
    given = prompt_input(term, prompt, images, no_stdin=no_stdin)
    settings = load_settings(term, model=model, timeout=timeout)
    sources: list[Any] = [given.stdin_image if item == "-" else item for item in images]

    async def work() -> int:
        import asyncio

        client = make_client(settings)
        try:
            with term.spinner("starting the browser…") as spin:
                chat = await open_chat(client, settings, resume, continue_, vs, battle, model)
                stream = await chat.send(
                    given.text, images=sources or None, stream=True, timeout=timeout
                )
                spin.stop()
            renderer = Renderer(
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
                await save_images(client, term, reply, output, json_ or jsonl)
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


async def open_chat(
    client: Client,
    settings: Settings,
    resume: str | None,
    continue_: bool,
    vs: str | None,
    battle: bool,
    model: str | None,
) -> ChatSession:
    """The conversation ``ask`` sends to: resumed, the latest one, a battle, or a new one."""
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

"""``lmarena ask``: one question; the answer streams to stdout, the conversation id to stderr."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..errors import ExitStatus, LmArenaError
from ..settings import Settings
from . import inputs, templates
from .ask_options import (
    AttachOpt,
    BattleOpt,
    ContinueOpt,
    ExtractOpt,
    ImageOpt,
    JsonlOpt,
    JsonOpt,
    NoStdinOpt,
    NoStreamOpt,
    OutputOpt,
    PromptArg,
    ResumeOpt,
    RetryOpt,
    SaveOpt,
    SchemaOpt,
    ShowReasoningOpt,
    TimeoutOpt,
    UsageOpt,
    VsOpt,
)
from .extract import first_code_block
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
from .prompt import prompt_input
from .render import Renderer, save_images, wants_markdown
from .roles import FromTemplate, choose
from .runtime import load_settings, make_client, run
from .terminal import Terminal
from .usage import UsageNote, describe, sent_prompt

if TYPE_CHECKING:
    from ..client.api import ChatApi, ClientApi
    from ..client.content.structured import OutputFormat
    from ..client.reply import Reply, TextStream


def ask(
    prompt: PromptArg = None,
    model: ModelOpt = None,
    image: ImageOpt = None,
    attach: AttachOpt = None,
    resume: ResumeOpt = None,
    continue_: ContinueOpt = False,
    vs: VsOpt = None,
    battle: BattleOpt = False,
    retry: RetryOpt = False,
    raw: RawOpt = False,
    system: SystemOpt = None,
    role: RoleOpt = None,
    template: TemplateOpt = None,
    param: ParamOpt = None,
    save: SaveOpt = None,
    extract: ExtractOpt = False,
    schema: SchemaOpt = None,
    no_stream: NoStreamOpt = False,
    json_: JsonOpt = False,
    jsonl: JsonlOpt = False,
    output: OutputOpt = None,
    show_reasoning: ShowReasoningOpt = False,
    usage: UsageOpt = False,
    timeout: TimeoutOpt = None,
    no_stdin: NoStdinOpt = False,
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
      lmarena ask --retry            # another answer to the latest prompt
      lmarena ask -s "Answer in French." "what is a monad?"
      lmarena ask -x "a bash one-liner that counts lines in *.py" | sh
      lmarena ask -a report.pdf "summarise this in three bullet points"
      lmarena ask --schema person.json "invent a person" | jq .name
      cat article.txt | lmarena ask -t extract_wisdom      # a template (lmarena templates)
    """
    term = Terminal(quiet=quiet, no_color=no_color)
    images = list(image or [])
    conflict = _conflict(
        prompt is not None,
        images=bool(images),
        attach=bool(attach),
        model=model,
        vs=vs,
        battle=battle,
        resume=resume,
        continue_=continue_,
        retry=retry,
        extract=extract,
        schema=schema is not None,
        json_=json_,
        jsonl=jsonl,
    )
    if conflict:
        term.err(f"lmarena: {conflict}")
        raise typer.Exit(2)
    fmt = inputs.schema(term, schema) if schema is not None else None
    if save is not None:
        if template or resume or continue_ or retry or vs or battle or images or attach:
            term.err(
                "lmarena: --save keeps a prompt and its options as a template: not with -t, -c, "
                "--resume, --retry, --vs, --battle, --image or -a"
            )
            raise typer.Exit(2)
        settings = load_settings(term, model=model, timeout=timeout)
        choice = choose(term, settings, system=system, role_name=role, model=model, continued=False)
        values: dict[str, Any] = {"system": choice.system, "prompt": prompt, "model": choice.model}
        values |= {"schema": fmt.schema if fmt else None, "extract": extract}
        templates.save(term, save, {**values, "defaults": templates.pairs(param)})
        raise typer.Exit(0)
    applied = templates.chosen(term, template, param)
    if applied is not None:
        if retry:
            term.err("lmarena: --retry sends no new prompt: it takes no -t/--template")
            raise typer.Exit(2)
        # The command line's choice of what is printed wins over the template's.
        if applied.template.extract and not (extract or schema or json_ or jsonl or vs or battle):
            extract = True
        if not (extract or schema or jsonl or vs or battle):
            fmt = templates.output_format(term, applied)
    files = inputs.attachments(term, attach or [])  # before stdin is read or a browser starts
    optional = applied is not None and not applied.needs_input
    given = (
        None if retry else prompt_input(term, prompt, images, no_stdin=no_stdin, optional=optional)
    )
    text = given.text if given is not None else ""
    from_template = None
    if applied is not None:
        from_template = FromTemplate(
            applied.template.name, applied.system(text), applied.template.model
        )
        text = templates.shape(term, applied, text)
    if files:
        from ..client.content.files import with_files

        text = with_files(text, files)
    if fmt is not None:
        from ..client.content.structured import with_instruction

        text = with_instruction(text, fmt)
    settings = load_settings(term, model=model, timeout=timeout)
    continued = bool(resume or continue_ or retry)
    choice = choose(
        term,
        settings,
        system=system,
        role_name=role,
        model=model,
        continued=continued,
        template=from_template,
    )
    if choice.model and not battle and not continued:
        settings = settings.replace(model=choice.model)
    stdin_image = given.stdin_image if given is not None else None
    sources: list[Any] = [stdin_image if item == "-" else item for item in images]
    note = UsageNote(settings, sent_prompt(choice.system, text, new=not continued))
    shown = Shown(
        extract=extract,
        json_=json_,
        jsonl=jsonl,
        no_stream=no_stream,
        show_reasoning=show_reasoning,
        raw=raw,
        output=output,
        usage=usage,
    )

    async def work() -> int:

        client = make_client(settings)
        try:
            with term.spinner("starting the browser…") as spin:
                if given is None:  # --retry: the latest conversation unless --resume names one
                    chat = await open_chat(client, settings, resume, not resume, None, False, None)
                    stream = await chat.retry(stream=True, timeout=timeout)
                    note.sent = last_prompt(client, chat.id)
                else:
                    chat = await open_chat(
                        client, settings, resume, continue_, vs, battle, model, system=choice.system
                    )
                    stream = await chat.send(
                        text, images=sources or None, stream=True, timeout=timeout
                    )
                spin.stop()
            return await _show(term, client, chat, stream, note, fmt, shown)
        finally:
            await client.close()

    code = run(term, work, debug=debug)
    raise typer.Exit(code)


@dataclass(frozen=True)
class Shown:
    """How ``ask`` prints the answer (its output flags)."""

    extract: bool
    json_: bool
    jsonl: bool
    no_stream: bool
    show_reasoning: bool
    raw: bool
    output: Path | None
    usage: bool


async def _show(
    term: Terminal,
    client: ClientApi,
    chat: ChatApi,
    stream: TextStream,
    note: UsageNote,
    fmt: OutputFormat | None,
    shown: Shown,
) -> int:
    """Print the answer as ``shown`` says; the exit status."""
    import asyncio

    if shown.extract:
        return await print_code_block(term, stream, shown.output, client, note, shown.usage)
    if fmt is not None:
        code = await inputs.print_structured(term, stream, fmt, json_=shown.json_, usage=note)
        if shown.usage and note.last is not None:
            term.err(describe(note.last))
        return code
    renderer = Renderer(
        term,
        chat,
        json_=shown.json_,
        jsonl=shown.jsonl,
        no_stream=shown.no_stream,
        show_reasoning=shown.show_reasoning,
        markdown=wants_markdown(term, raw=shown.raw, machine=shown.json_ or shown.jsonl),
        usage=note,
    )
    try:
        reply = await renderer.render(stream)
    except (LmArenaError, asyncio.CancelledError):
        # Cut short (a failure, or Ctrl-C cancelling this task): the partial answer stays
        # on stdout, as a whole line; the exit code says it is partial.
        renderer.end_partial()
        raise
    if reply.images:
        await save_images(client, term, reply, shown.output, shown.json_ or shown.jsonl)
    if reply.mode == "battle" and not (shown.json_ or shown.jsonl):
        # A streamed battle prints A's header before the site names the models.
        names = [f"model {a.side.upper()} was {a.model}" for a in reply.answers if a.model]
        if names:
            term.info("battle: " + ", ".join(names))
    if shown.usage:
        term.err(describe(note(reply)))
    term.info(f"conversation: {reply.evaluation_session_id}")
    return 0


def _conflict(
    has_prompt: bool,
    *,
    images: bool,
    attach: bool,
    model: str | None,
    vs: str | None,
    battle: bool,
    resume: str | None,
    continue_: bool,
    retry: bool,
    extract: bool,
    schema: bool,
    json_: bool,
    jsonl: bool,
) -> str | None:
    """What is wrong with this combination of flags (exit 2), or None."""
    if sum(bool(x) for x in (resume, continue_, battle)) > 1 or (battle and (vs or model)):
        return "use only one of --resume, -c/--continue and --battle (no -m with --battle)"
    if json_ and jsonl:
        return "use --json or --jsonl, not both"
    if extract and (json_ or jsonl or vs or battle):
        return (
            "-x/--extract prints one answer's code block: not with --json, --jsonl, --vs or "
            "--battle"
        )
    if schema and (extract or jsonl or vs or battle):
        return "--schema prints one answer's JSON: not with -x, --jsonl, --vs or --battle"
    if retry and (has_prompt or images or vs or battle or model or attach or schema):
        return (
            "--retry regenerates the latest answer of a conversation (-c, the default, or "
            "--resume ID): it takes no prompt, --image, -a, --schema, -m, --vs or --battle"
        )
    return None


async def open_chat(
    client: ClientApi,
    settings: Settings,
    resume: str | None,
    continue_: bool,
    vs: str | None,
    battle: bool,
    model: str | None,
    *,
    system: str | None = None,
) -> ChatApi:
    """The conversation ``ask`` sends to: resumed, the latest one, a battle, or a new one.

    ``system`` is the system prompt of a new conversation (not of a continued one).
    """
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
        return await client.chats.create(battle=True, system=system)
    return await client.chats.create(model or settings.model, versus=vs, system=system)


def last_prompt(client: ClientApi, conversation_id: str | None) -> str:
    """The prompt a regenerate answers again (its input), from the store; '' when unknown."""
    found = client.store.get(conversation_id) if conversation_id else None
    users = [t["content"] for t in found.transcript if t["role"] == "user"] if found else []
    return users[-1] if users else ""


async def print_code_block(
    term: Terminal,
    stream: TextStream,
    output: Path | None,
    client: ClientApi,
    note: UsageNote | None = None,
    usage: bool = False,
) -> int:
    """``-x``: the whole answer is read first (nothing streams), then only its first code block
    goes to stdout. No block: a message on stderr, nothing on stdout, exit 10. ``usage``: the
    turn's usage (``note``) on stderr."""
    with term.spinner("waiting for the answer…"):
        reply: Reply = await stream.read_reply()
    if usage and note is not None:
        term.err(describe(note(reply)))
    if reply.images and output is not None:
        await save_images(client, term, reply, output, True)
    block = first_code_block(reply.text)
    if block is None:
        term.err(
            "lmarena: the answer has no fenced code block (```), so -x printed nothing; "
            f"`lmarena history show {reply.evaluation_session_id}` shows the answer"
        )
        term.info(f"conversation: {reply.evaluation_session_id}")
        return int(ExitStatus.NO_CODE_BLOCK)
    term.out(block)
    term.info(f"conversation: {reply.evaluation_session_id}")
    return 0

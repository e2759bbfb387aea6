"""``lmarena history``: the conversations this tool started, from the conversation store.

One line per conversation, most recently used first, its columns separated by a tab, in this
order (stable: scripts ``cut`` and ``grep`` them)::

    id  models  mode  turns  age  title

``models`` is model A, then model B after a comma (``-`` while a battle's models are unknown);
``mode`` is ``direct``, ``side-by-side`` or ``battle``; ``turns`` counts the prompts sent; ``age``
is the time since the conversation was last used (``45s``, ``12m``, ``3h``, ``5d``, ``8w``,
``2y``); ``title`` is the first line of the first prompt. ``--json`` prints one array with the
same facts (timestamps in ISO 8601, UTC). ``history show ID`` prints the transcript;
``history rm ID`` forgets conversations here only: arena.ai keeps them. ``history export ID``
writes one conversation as markdown, JSON, or a request body of the OpenAI or Anthropic API
that replays it (:mod:`.export`); ``--all`` every conversation as JSON lines.

Reads the SQLite store with one short statement at a time (WAL: never blocked by, and never
blocking, the runs that write meanwhile); imports neither aiohttp nor nodriver.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ConversationNotFound, InputError, UsageError
from ..site.prompts import transcript_blocks
from .options import NoColorOpt, QuietOpt
from .runtime import failures, load_settings
from .terminal import Terminal

if TYPE_CHECKING:
    from ..settings import Settings
    from ..state.store import Conversation, ConversationStore

#: Stored modes as ``history`` shows them ("direct-battle" is the site's name for a direct chat).
_MODES = {"direct-battle": "direct", "direct": "direct"}
_UNITS = (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60))

JsonOpt = Annotated[bool, typer.Option("--json", help="JSON instead of text.")]

history_app = typer.Typer(
    name="history",
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@history_app.callback(invoke_without_command=True)
def history(
    ctx: typer.Context,
    limit: Annotated[
        int | None,
        typer.Option("-n", "--limit", help="Show at most N conversations.", min=0, metavar="N"),
    ] = None,
    json_: JsonOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """The conversations this tool started, most recently used first, one per line.

    Columns, separated by a tab: id, models, mode, turns, age, title.

    \b
      lmarena history -n 5
      lmarena history | grep -i otter | cut -f1
      lmarena history show ID        the transcript (--json: the record)
      lmarena history rm ID...       forget here (arena.ai keeps it)
      lmarena history export ID      markdown (--format json|openai|anthropic)
    """
    if ctx.invoked_subcommand is not None:
        return
    term = Terminal(no_color=no_color)
    settings = load_settings(term)
    with failures(term):
        found = _recent(settings, limit)
    if json_:
        term.out(_json([_record(c) for c in found]))
        return
    term.out("".join(_line(conversation) + "\n" for conversation in found))


@history_app.command("show")
def show(
    conversation_id: Annotated[str, typer.Argument(help="The conversation's id.", metavar="ID")],
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Print one conversation's transcript: [User] and [Assistant] blocks (--json: the record)."""
    term = Terminal(quiet=quiet, no_color=no_color)
    settings = load_settings(term)
    with failures(term):
        conversation = _get(settings, conversation_id.strip())
        if json_:
            term.out(_json(_full_record(settings, conversation)))
            return
        continues, went_on = _links(settings, conversation.id)
    term.info(
        f"conversation: {conversation.id} ({_models(conversation)}, {_mode(conversation)}, "
        f"{conversation.turns} turn{'' if conversation.turns == 1 else 's'}, "
        f"{_age(conversation.updated_at)} ago)"
    )
    # A conversation the site recycled goes on in a new one (protocol §15.3).
    if continues is not None:
        term.info(f"continues: {continues} (the site recycled it; its turns are folded in here)")
    if went_on is not None:
        term.info(f"continued in: {went_on} (the site recycled this conversation)")
    blocks = transcript_blocks(conversation.transcript)
    term.out("\n\n".join(blocks) + "\n" if blocks else "")


@history_app.command("rm")
def rm(
    conversation_ids: Annotated[
        list[str], typer.Argument(help="The conversations' ids.", metavar="ID...")
    ],
    quiet: QuietOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Forget conversations here (no more -c, history or serve matching). arena.ai keeps them."""
    term = Terminal(quiet=quiet, no_color=no_color)
    settings = load_settings(term)
    unknown = []
    with failures(term):
        store = _open(settings)
        try:
            for conversation_id in conversation_ids:
                if store is not None and store.forget(conversation_id.strip()):
                    _forget_details(settings, conversation_id.strip())
                    term.info(
                        f"forgot {conversation_id.strip()} here; arena.ai keeps the "
                        "conversation (delete it in the site's own history)"
                    )
                else:
                    unknown.append(conversation_id)
        finally:
            if store is not None:
                store.close()
        if unknown:
            raise ConversationNotFound(_not_found(", ".join(unknown)))


class Format(StrEnum):
    """``history export``'s formats."""

    MD = "md"
    JSON = "json"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


@history_app.command("export")
def export(
    conversation_id: Annotated[
        str | None, typer.Argument(help="The conversation's id.", metavar="ID")
    ] = None,
    format_: Annotated[
        Format | None,
        typer.Option(
            "--format",
            "-f",
            help="md (default): markdown; json: the record (as show --json); openai / anthropic: "
            "a request body of that API that replays the conversation.",
        ),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every conversation, one JSON record per line.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write to this file (atomically).", metavar="FILE"),
    ] = None,
    no_color: NoColorOpt = False,
) -> None:
    """Export a conversation: markdown, JSON, or an OpenAI / Anthropic request body.

    \b
      lmarena history export ID > chat.md
      lmarena history export ID -f openai | curl -d @- -H 'content-type: application/json' URL
      lmarena history export --all > conversations.jsonl
    """
    term = Terminal(no_color=no_color)
    settings = load_settings(term)
    with failures(term):
        if all_ == (conversation_id is not None):
            raise UsageError("name one conversation ID to export, or --all (not both)")
        if all_:
            if format_ not in (None, Format.JSON):
                raise UsageError("--all exports JSON lines (one record per line): no --format")
            text = "".join(_compact(record) for record in _every_record(settings))
        else:
            assert conversation_id is not None
            record = _full_record(settings, _get(settings, conversation_id.strip()))
            text = _exported(record, format_ or Format.MD, settings.model)
            if format_ in (Format.OPENAI, Format.ANTHROPIC):
                from .export import missing_images

                for missing in missing_images(record):
                    term.err(f"lmarena: left out of the body: {missing}")
        if output is None:
            term.out(text)
            return
        from ..state.files import atomic_write

        try:
            atomic_write(output, text.encode(), mode=0o644)
        except OSError as exc:
            raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None


def _exported(record: dict[str, Any], format_: Format, default_model: str) -> str:
    from . import export as formats

    if format_ is Format.MD:
        return formats.markdown(record)
    if format_ is Format.JSON:
        return _json(record)
    if format_ is Format.OPENAI:
        return _json(formats.openai_body(record, default_model))
    return _json(formats.anthropic_body(record, default_model))


# --- the store ------------------------------------------------------------------------------------


def _open(settings: Settings) -> ConversationStore | None:
    """The store, or None when there is no file yet (reading must not create one)."""
    from ..state.store import ConversationStore

    if not settings.store_path.exists():
        return None
    return ConversationStore(settings.store_path)


def _recent(settings: Settings, limit: int | None) -> list[Conversation]:
    store = _open(settings)
    if store is None:
        return []
    with store:
        return store.recent(limit)


def _get(settings: Settings, conversation_id: str) -> Conversation:
    store = _open(settings)
    found = None
    if store is not None:
        with store:
            found = store.get(conversation_id)
    if found is None:
        raise ConversationNotFound(_not_found(conversation_id))
    return found


def _full_record(settings: Settings, conversation: Conversation) -> dict[str, Any]:
    """``show --json``'s record: the facts, the links, the transcript and the turns' details."""
    from ..state.exchanges import TurnExchanges

    continues, went_on = _links(settings, conversation.id)
    exchanges = TurnExchanges(settings.store_path, read_only=True)
    try:
        details = exchanges.of(conversation.id)
    finally:
        exchanges.close()
    return _with_details(conversation, continues, went_on, details)


def _forget_details(settings: Settings, conversation_id: str) -> None:
    from ..state.exchanges import TurnExchanges

    exchanges = TurnExchanges(settings.store_path)
    try:
        exchanges.forget(conversation_id)
    finally:
        exchanges.close()


def _every_record(settings: Settings) -> list[dict[str, Any]]:
    """Every conversation's record, most recently used first; each statement reads a snapshot
    (WAL), so writers neither block nor are blocked."""
    from ..state.exchanges import TurnExchanges

    found = _recent(settings, None)
    if not found:
        return []
    exchanges = TurnExchanges(settings.store_path, read_only=True)
    try:
        details = exchanges.every()
    finally:
        exchanges.close()
    return [_with_details(c, *_links(settings, c.id), details.get(c.id, {})) for c in found]


def _with_details(
    conversation: Conversation,
    continues: str | None,
    went_on: str | None,
    details: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    return {
        **_record(conversation),
        "continues": continues,
        "continued_in": went_on,
        "transcript": conversation.transcript,
        "exchanges": [{"turn": turn, **details[turn]} for turn in sorted(details)],
    }


def _links(settings: Settings, conversation_id: str) -> tuple[str | None, str | None]:
    """The conversation this one goes on from, and the one it went on in (recycled, §15.3)."""
    from ..state.links import ConversationLinks

    links = ConversationLinks(settings.store_path, read_only=True)
    try:
        return links.predecessor(conversation_id), links.successor(conversation_id)
    finally:
        links.close()


def _not_found(ids: str) -> str:
    return f"no conversation {ids} in this tool's history; `lmarena history` lists them"


# --- shapes ---------------------------------------------------------------------------------------


def _line(conversation: Conversation) -> str:
    cells = [
        conversation.id,
        _models(conversation),
        _mode(conversation),
        str(conversation.turns),
        _age(conversation.updated_at),
        conversation.title,
    ]
    # make_title already folds whitespace; old or foreign rows must not break the columns either.
    return "\t".join(" ".join(cell.split()) for cell in cells)


def _record(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "models": [m for m in (conversation.model, conversation.model_b) if m],
        "mode": _mode(conversation),
        "turns": conversation.turns,
        "title": conversation.title,
        "created_at": _iso(conversation.created_at),
        "updated_at": _iso(conversation.updated_at),
    }


def _models(conversation: Conversation) -> str:
    return ",".join(m for m in (conversation.model, conversation.model_b) if m) or "-"


def _mode(conversation: Conversation) -> str:
    return _MODES.get(conversation.mode, conversation.mode)


def _age(then: float, now: float | None = None) -> str:
    seconds = max(0, int((time.time() if now is None else now) - then))
    for unit, size in _UNITS:
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(value: Any) -> str:
    import orjson

    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n"


def _compact(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode() + "\n"


__all__ = ["history_app"]

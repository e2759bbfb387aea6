"""``lmarena history``: the conversations this tool started, from the conversation store.

One line per conversation, most recently used first, its columns separated by a tab, in this
order (stable: scripts ``cut`` and ``grep`` them)::

    id  models  mode  turns  age  title

``models`` is model A, then model B after a comma (``-`` while a battle's models are unknown);
``mode`` is ``direct``, ``side-by-side`` or ``battle``; ``turns`` counts the prompts sent; ``age``
is the time since the conversation was last used (``45s``, ``12m``, ``3h``, ``5d``, ``8w``,
``2y``); ``title`` is the first line of the first prompt. ``--json`` prints one array with the
same facts (timestamps in ISO 8601, UTC). ``history show ID`` prints the transcript;
``history rm ID`` forgets conversations here only: arena.ai keeps them.

Reads the SQLite store with one short statement at a time (WAL: never blocked by, and never
blocking, the runs that write meanwhile); imports neither aiohttp nor nodriver.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ConversationNotFound
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
        continues, went_on = _links(settings, conversation.id)
    if json_:
        links = {"continues": continues, "continued_in": went_on}
        term.out(_json({**_record(conversation), **links, "transcript": conversation.transcript}))
        return
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


__all__ = ["history_app"]

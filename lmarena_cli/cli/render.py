"""How ``lmarena ask`` and ``chat`` write a reply: streamed text, ``--no-stream``, ``--json`` or
``--jsonl``.

stdout gets the answer only (side by side: model A's, then model B's under a header each, never
interleaved); reasoning goes to stderr with ``--show-reasoning``; generated images are saved with
``-o`` or their URLs printed. On a terminal the answer is rendered as markdown while it streams
(:mod:`.markdown`); a pipe, a file or ``--raw`` gets the text exactly as the model wrote it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LmArenaError
from .markdown import MarkdownStream, print_markdown
from .terminal import Terminal

if TYPE_CHECKING:
    from ..client.api import ChatApi, ClientApi
    from ..client.reply import Reply

#: The ``type`` of each event in ``--jsonl`` output.
EVENT_TYPES = {
    "TextDelta": "text",
    "ReasoningDelta": "reasoning",
    "ImageOutput": "image",
    "Citation": "citation",
    "Finish": "finish",
    "StreamError": "error",
    "Heartbeat": "heartbeat",
    # Protocol §15.2: the side's message id (af/bf), the router's choice of model.
    "MessageStart": "message_id",
    "RoutedModel": "routed_model",
    "RawEvent": "raw",
    # The site answered a single-model turn as an anonymous battle and it was skipped.
    "SkippedBattle": "battle_skipped",
}


def wants_markdown(term: Terminal, *, raw: bool, machine: bool = False) -> bool:
    """Render answers as markdown: only on a terminal, never with ``--raw``, --json or --jsonl."""
    return term.stdout_is_tty and not raw and not machine


class Renderer:
    """Writes one reply to the terminal in the chosen form, as it streams; ``markdown``: as
    rendered markdown (see :func:`wants_markdown`), else as raw text."""

    def __init__(
        self,
        term: Terminal,
        chat: ChatApi,
        *,
        json_: bool,
        jsonl: bool,
        no_stream: bool,
        show_reasoning: bool,
        markdown: bool = False,
        usage: Callable[[Reply], dict[str, Any]] | None = None,
    ) -> None:
        """``usage``: the reply's usage object (:mod:`.usage`), which --json and --jsonl's last
        line carry as ``usage``."""
        self.term = term
        self.usage = usage
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
        self.markdown = markdown and not (json_ or jsonl)
        self._live: MarkdownStream | None = None

    async def render(self, stream: Any) -> Reply:
        """Write the stream's events as they come; return the finished reply."""
        import orjson

        from ..client.reply import SkippedBattle
        from ..site.events import ReasoningDelta, TextDelta

        async for event in stream.events():
            if isinstance(event, SkippedBattle) and not self.jsonl:
                self._battle_note(event)
            if self.jsonl:
                self.term.out(orjson.dumps(event_json(event)).decode() + "\n")
                continue
            if isinstance(event, ReasoningDelta):
                if self.show_reasoning:
                    self.term.stderr.write(self.term.style(event.text, "2"))
                    self.term.stderr.flush()
                    self._reasoning_open = True
            elif isinstance(event, TextDelta) and not self.buffered:
                if self._reasoning_open:
                    # The thinking's line ends before the answer starts (on a terminal both
                    # streams share the screen, and a rendered answer redraws its lines).
                    self.term.stderr.write("\n")
                    self._reasoning_open = False
                self._text(event.side, event.text, stream)
            # Other events (citations, finish, images, raw lines) show only in --json/--jsonl.
        reply: Reply = stream.reply
        if self._reasoning_open:
            self.term.stderr.write("\n")
        if self.json:
            data = self._dict(reply)
            self.term.out(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        elif self.jsonl:
            # The last line is the whole reply, so a consumer of the events also learns the
            # conversation id and timings, under the same names as --json.
            self.term.out(orjson.dumps({"type": "reply", **self._dict(reply)}).decode() + "\n")
        elif self.buffered:
            self._whole(reply)
        else:
            self._flush_b(reply)
            self.end_partial()
        return reply

    def _dict(self, reply: Reply) -> dict[str, Any]:
        data = reply.to_dict()
        if self.usage is not None:
            data["usage_report"] = self.usage(reply)
        return data

    def _battle_note(self, skipped: Any) -> None:
        """One notice on stderr: the answer is the chosen model's, the battle was skipped."""
        model = self.chat.model.name if self.chat.model else "the chosen model"
        if skipped.earlier_turn:
            self.term.info(
                "lmarena: skipped an anonymous battle the site had left in an earlier turn of "
                "this conversation"
            )
        else:
            self.term.info(
                "lmarena: the site answered this turn as an anonymous battle; lmarena skipped it, "
                f"and the answer is {model}'s"
            )

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
        if self.markdown:
            if self._live is None:
                self._live = MarkdownStream(self.term.stdout, color=self.term.stdout_color)
            self._live.feed(text)
            return
        self.term.out(text)
        self._open_line = not text.endswith("\n")

    def _flush_b(self, reply: Reply) -> None:
        if not self.two_sided:
            return
        self.end_partial()
        b = reply.b
        self.term.out(self._header("b", b.model if b else None))
        if self.markdown:
            self._print_markdown("".join(self._side_b))
            return
        self.term.out("".join(self._side_b))
        self._open_line = bool(self._side_b) and not self._side_b[-1].endswith("\n")

    def _whole(self, reply: Reply) -> None:
        for answer in reply.answers:
            if self.two_sided:
                self.term.out(self._header(answer.side, answer.model))
            if self.markdown:
                self._print_markdown(answer.text)
                continue
            self.term.out(answer.text)
            if answer.text and not answer.text.endswith("\n"):
                self.term.out("\n")

    def _print_markdown(self, text: str) -> None:
        if text:
            print_markdown(self.term.stdout, text, color=self.term.stdout_color)

    def end_partial(self) -> None:
        """End the line of an answer, also when it was cut short (rendered markdown: the last
        frame stays on screen)."""
        if self._live is not None:
            self._live.close()
            self._live = None
        if self._open_line:
            self.term.out("\n")
            self._open_line = False


def event_json(event: Any) -> dict[str, Any]:
    """One stream event as a ``--jsonl`` line: its fields and its ``type``."""
    data = dataclasses.asdict(event)
    data["type"] = EVENT_TYPES.get(type(event).__name__, type(event).__name__)
    return data


async def save_images(
    client: ClientApi, term: Terminal, reply: Reply, output: Path | None, machine: bool
) -> None:
    """Save generated images with -o (numbered when several), else print their URLs. The saved
    files are noted beside the turn, for ``lmarena history export``'s links."""
    if output is None:
        if not machine:
            term.out("".join(url + "\n" for url in reply.images))
            if any(url.startswith("data:") for url in reply.images):
                # The site sent the picture itself, not a link (protocol §15.2).
                term.info("lmarena: the image came inline (a data: URI); -o PATH saves it")
        return
    from ..state.exchanges import TurnExchanges
    from ..state.files import atomic_write

    paths = numbered(output, len(reply.images))
    for url, path in zip(reply.images, paths, strict=True):
        data = await client.download(url)
        atomic_write(path, data, mode=0o644)
        term.info(f"saved {path}")
    saved = [str(path.expanduser().absolute()) for path in paths]
    try:  # the images are saved whatever the store says
        exchanges = TurnExchanges(client.settings.store_path)
        try:
            exchanges.add_saved(reply.evaluation_session_id, saved)
        finally:
            exchanges.close()
    except LmArenaError as error:
        term.info(f"lmarena: could not note the saved images in the history: {error}")


def numbered(output: Path, count: int) -> list[Path]:
    """``output`` itself for one image; ``name-1.ext``, ``name-2.ext``, ... for several."""
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{n}{output.suffix}") for n in range(1, count + 1)]


__all__ = ["EVENT_TYPES", "Renderer", "event_json", "numbered", "save_images", "wants_markdown"]

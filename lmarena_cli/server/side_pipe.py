"""One side's text on its way to the client: cut by the limits, then read for tool calls or
checked as structured output.

A :class:`SidePipe` per side of an answer (model A carries the tools and the output format; a
second side of side by side or battle only its limits) turns the site's events into the
:mod:`.answer` events that the codecs write. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..client.content.structured import check
from ..client.content.usage import estimate_tokens
from ..site.events import Citation, Finish, ImageOutput, ReasoningDelta, TextDelta
from . import tools
from .answer import Called, Cited, Finished, Out, Reasoning, Side, Text
from .limits import Limiter
from .turn import Turn

#: The site's finish reasons (Vercel AI SDK words) in OpenAI's words. The site's ``tool-calls``
#: (a search model's own tools) is ``stop``: only an emulated call asks the client to act.
_FINISH_REASONS = {
    "length": "length",
    "tool_calls": "tool_calls",  # already OpenAI's word: an emulated call (never the site's)
    "function_call": "function_call",  # the same, for a request with the legacy ``functions``
    "content-filter": "content_filter",
    "content_filter": "content_filter",
}


def finish_reason(reason: str | None) -> str:
    """The site's finish reason in OpenAI's words (``stop`` for anything unknown)."""
    return _FINISH_REASONS.get(reason or "stop", "stop")


class SidePipe:
    """One side's text on its way out: limits, then tool calls or the structured output."""

    def __init__(self, turn: Turn, index: int, side: Side, log: Callable[[str], None]) -> None:
        self.index, self.side, self.log = index, side, log
        first = index == 0  # tools and output formats are model A's (the only one, normally)
        self.limiter = Limiter(turn.limits, estimate_tokens)
        self.scanner = (
            tools.CallScanner(
                turn.tools,
                parallel=turn.parallel_tool_calls,
                log=log,
                id_prefix=turn.call_id_prefix,
            )
            if first and turn.uses_tools
            else None
        )
        self.output = turn.output if first else None
        self.held = ""  # a structured answer is checked whole before it goes out
        self.after_image = False
        self.cut = False
        self.done = False

    def event(self, event: Any) -> list[Out]:
        if self.done:
            return []
        if isinstance(event, TextDelta):
            return self._text(event.text, image=False)
        if isinstance(event, ImageOutput):
            return self._text(f"![image]({event.url})", image=True)
        if isinstance(event, ReasoningDelta):
            self.side.reasoning += event.text
            return [Reasoning(self.index, event.text)]
        if isinstance(event, Citation):
            self.side.citations.append({"url": event.url, "title": event.title})
            return [Cited(self.index, event.url, event.title)]
        if isinstance(event, Finish):
            return self.finish(event.finish_reason)
        return []

    def _text(self, piece: str, *, image: bool) -> list[Out]:
        # Images stand in paragraphs of their own, as markdown.
        if (image or self.after_image) and (self.side.text or self.held):
            piece = "\n\n" + piece
        self.after_image = image
        kept = self.limiter.feed(piece)
        out = self._pass(kept)
        if self.limiter.reason is not None:
            self.cut = True
            out.extend(self.finish(None))
        return out

    def _pass(self, text: str) -> list[Out]:
        if not text:
            return []
        if self.output is not None:
            self.held += text
            return []
        pieces: list[tools.Piece] = self.scanner.feed(text) if self.scanner else [text]
        return self._pieces(pieces)

    def _pieces(self, pieces: list[tools.Piece]) -> list[Out]:
        out: list[Out] = []
        for piece in pieces:
            if isinstance(piece, str):
                self.side.text += piece
                out.append(Text(self.index, piece))
            else:
                self.side.calls.append(piece)
                out.append(Called(self.index, piece))
        return out

    def finish(self, site_reason: str | None) -> list[Out]:
        if self.done:
            return []
        self.done = True
        out = self._pass(self.limiter.flush())
        if self.scanner is not None:
            out.extend(self._pieces(self.scanner.end()))
        if self.output is not None:
            out.extend(self._structured())
        if self.limiter.reason is not None:
            reason = self.limiter.reason
        elif self.side.calls:
            reason = "tool_calls"
        else:
            reason = finish_reason(site_reason)
        self.side.finish_reason = reason
        out.append(Finished(self.index, reason))
        return out

    def _structured(self) -> list[Out]:
        """The first JSON value of the answer, checked; with ``strict`` a mismatch fails the
        answer (the model's text kept in the error), else it is logged and the JSON (or, when
        there is none, the text) goes out."""
        assert self.output is not None
        result = check(self.output, self.held)
        if self.output.strict:
            result.raise_for_mismatch()
        elif result.mismatch is not None:
            self.log(f"structured output: {result.mismatch}")
        if result.json is None:
            return self._pieces([self.held])
        self.side.parsed = result.value
        return self._pieces([result.json])


__all__ = ["SidePipe", "finish_reason"]

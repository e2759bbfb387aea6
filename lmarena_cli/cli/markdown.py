"""An answer rendered as markdown on a terminal while it streams (rich's ``Live`` and ``Markdown``).

Only for a terminal: a pipe or a file gets the raw text (``render.py`` decides, and ``--raw``
asks for the raw text on a terminal too). Redrawing the whole answer on every chunk would be slow
for long answers and cannot redraw what has scrolled off the screen, so the text is cut into
blocks at blank lines outside code fences: a finished block is printed once, above the live
region, and only the block being written is redrawn (a few times a second). When that block is
taller than the screen, its last lines are shown while it streams; the final frame shows it whole
and stays on screen.

Colour: none with ``NO_COLOR``, ``--no-color`` or ``TERM=dumb`` (bold and italics stay, except on
a dumb terminal, which gets plain text and no cursor movement: finished blocks as they come, the
last one at the end).
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.live import Live
    from rich.segment import Segment

#: Redraws per second of the block being written.
REFRESH_PER_SECOND = 8
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def split_blocks(text: str) -> tuple[list[str], str]:
    """``text`` cut into finished blocks and the rest (the block being written).

    A block ends at a blank line outside a code fence once the next block has begun with a
    line that is not indented (an indented one may continue a list item).
    """
    lines = text.split("\n")
    blocks: list[str] = []
    start = 0
    fence: str | None = None
    blank_after = False  # a blank line outside a fence since the current block's last text
    for index, line in enumerate(lines[:-1]):  # the last line may still be growing
        match = _FENCE.match(line)
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if not line.strip():
            blank_after = index > start
            continue
        if blank_after and not line[0].isspace():
            block = "\n".join(lines[start:index]).strip("\n")
            if block.strip():
                blocks.append(block)
            start = index
        blank_after = False
        if match:
            fence = match.group(1)
    return blocks, "\n".join(lines[start:])


class _Block:
    """One block of markdown, showing only its last ``height`` lines (the live block while it
    streams); ``gap``: one blank line first, which separates it from the block before it (rich's
    own blank lines before some elements, such as lists, are left out so that there is one)."""

    def __init__(self, text: str, height: int | None, *, gap: bool) -> None:
        self.text = text
        self.height = height
        self.gap = gap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.markdown import Markdown
        from rich.segment import Segment

        lines = console.render_lines(Markdown(self.text), options, pad=False)
        while lines and _blank(lines[0]):
            lines.pop(0)
        if self.height is not None and len(lines) > self.height:
            lines = lines[-self.height :]
        if self.gap and lines:
            yield Segment.line()
        for line in lines:
            yield from line
            yield Segment.line()


def _blank(line: list[Segment]) -> bool:
    """A line with nothing on it (a code block's padding has a background: not blank)."""
    return all(not seg.text.strip() and not (seg.style and seg.style.bgcolor) for seg in line)


class MarkdownStream:
    """Markdown text as it streams (:meth:`feed`), drawn on ``stream`` (a terminal); call
    :meth:`close` at the end, also when the answer was cut short: the final frame stays."""

    def __init__(self, stream: IO[str], *, color: bool) -> None:
        from rich.console import Console

        self._console = Console(file=stream, no_color=not color, highlight=False, emoji=False)
        self._text = ""
        self._printed = 0  # how many characters of _text are in printed blocks
        self._blocks = 0
        self._live: Live | None = None
        self._drawn_at = 0.0  # monotonic time of the last redraw
        self._due: asyncio.TimerHandle | None = None  # a redraw scheduled for later

    def feed(self, delta: str) -> None:
        """More of the answer."""
        if not delta:
            return
        self._text += delta
        live = self._start()
        blocks, tail = split_blocks(self._text[self._printed :])
        for block in blocks:
            self._print_block(live, block)
        if blocks:
            self._printed = len(self._text) - len(tail)
        height = max(1, self._console.height - 2)
        live.update(_Block(tail.strip("\n"), height, gap=self._blocks > 0))
        self._redraw_soon()

    def _redraw_soon(self) -> None:
        """Redraw now, or once the refresh interval has passed since the last redraw (redraws
        happen on this thread, between chunks: no thread of rich's own draws at the same time)."""
        wait = self._drawn_at + 1 / REFRESH_PER_SECOND - time.monotonic()
        if wait <= 0:
            self._redraw()
        elif self._due is None:
            import asyncio  # here, not at the top: `--help` never needs it

            # No running loop (a caller outside asyncio): close() draws the end.
            with contextlib.suppress(RuntimeError):
                self._due = asyncio.get_running_loop().call_later(wait, self._redraw)

    def _redraw(self) -> None:
        self._due = None
        if self._live is not None:
            self._drawn_at = time.monotonic()
            self._live.refresh()

    def close(self) -> None:
        """Draw the last block whole and stop redrawing; the answer stays on screen."""
        if self._due is not None:
            self._due.cancel()
            self._due = None
        if self._live is None:
            return
        tail = self._text[self._printed :].strip("\n")
        self._live.update(_Block(tail, None, gap=self._blocks > 0), refresh=False)
        self._live.stop()
        self._live = None

    def _start(self) -> Live:
        if self._live is None:
            from rich.live import Live

            self._live = Live(
                console=self._console,
                auto_refresh=False,
                redirect_stdout=False,
                redirect_stderr=False,
                vertical_overflow="visible",
            )
            self._live.start()
        return self._live

    def _print_block(self, live: Live, block: str) -> None:
        live.console.print(_Block(block, None, gap=self._blocks > 0))
        self._blocks += 1

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return self._text


def print_markdown(stream: IO[str], text: str, *, color: bool) -> None:
    """A whole markdown text rendered at once (``--no-stream``, or model B's answer)."""
    from rich.console import Console
    from rich.markdown import Markdown

    Console(file=stream, no_color=not color, highlight=False, emoji=False).print(Markdown(text))


__all__ = ["REFRESH_PER_SECOND", "MarkdownStream", "print_markdown", "split_blocks"]

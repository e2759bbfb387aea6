"""Writing the chat answer stream (protocol doc §2).

The site answers with AI SDK v4 "data stream" lines, ``<side><code>:<json>\\n``. This module turns a
:class:`~tests.fake_arena.replies.Reply` into those lines and writes them in small chunks whose
boundaries fall at arbitrary byte offsets: inside lines, between lines, and in the middle of
multi-byte UTF-8 characters, because real network reads split them like that.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson
from aiohttp import web


def line(side: str, code: str, value: object) -> bytes:
    """One stream line, e.g. ``line("a", "0", "Hi")`` -> ``a0:"Hi"\\n``; non-ASCII kept as UTF-8."""
    return f"{side}{code}:".encode() + orjson.dumps(value) + b"\n"


def split_deltas(text: str, pieces: int = 4) -> list[str]:
    """Split an answer into a few text deltas at word-ish boundaries (deterministic)."""
    if not text:
        return []
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


def as_deltas(value: str | list[str] | None, default: str) -> list[str]:
    if value is None:
        return split_deltas(default)
    if isinstance(value, str):
        return split_deltas(value)
    return list(value)


@dataclass
class Step:
    """A line to write, and how long to wait before writing it."""

    data: bytes
    delay: float = 0.0
    #: Called once the line is handed to the writer (the fake updates its stored message).
    on_sent: Callable[[], None] | None = None


def chunk_bytes(data: bytes, chunk_size: int) -> list[bytes]:
    """Cut ``data`` into pieces of ``chunk_size`` bytes, plus one cut inside each line's first
    multi-byte character, so clients that decode per chunk (instead of incrementally) break."""
    cuts = set(range(chunk_size, len(data), chunk_size))
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        for i in range(pos, end):
            if data[i] >= 0xC0:  # lead byte of a multi-byte character: cut right after it
                cuts.add(i + 1)
                break
        pos = end + 1
    edges = [0, *sorted(c for c in cuts if 0 < c < len(data)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


class StreamWriter:
    """Writes lines to an aiohttp response in deliberately awkward chunks."""

    def __init__(
        self,
        response: web.StreamResponse,
        chunk_size: int,
        on_split: Callable[[], None] | None = None,
    ) -> None:
        self.response = response
        self.chunk_size = chunk_size
        self.bytes_written = 0
        self.chunks_written = 0
        #: Called for each write that ends inside a multi-byte character.
        self.on_split = on_split

    async def write_steps(self, steps: Iterable[Step]) -> None:
        pending = b""
        for step in steps:
            if step.delay > 0:
                # Flush what is buffered first so a delay really is a pause on the wire.
                if pending:
                    await self._write(pending)
                    pending = b""
                await asyncio.sleep(step.delay)
            pending += step.data
            if step.on_sent is not None:
                step.on_sent()
            # Keep a tail to glue onto the next line: boundaries then fall anywhere.
            if len(pending) > self.chunk_size * 2:
                cut = len(pending) - self.chunk_size // 2
                await self._write(pending[:cut])
                pending = pending[cut:]
        if pending:
            await self._write(pending)

    async def _write(self, data: bytes) -> None:
        at = 0
        for piece in chunk_bytes(data, self.chunk_size):
            at += len(piece)
            # The next byte continues a character (10xxxxxx): this write ends inside it.
            if self.on_split is not None and at < len(data) and data[at] & 0xC0 == 0x80:
                self.on_split()
            await self.response.write(piece)
            self.bytes_written += len(piece)
            self.chunks_written += 1
            # Yield so pieces leave as separate writes rather than one coalesced buffer.
            await asyncio.sleep(0.001)

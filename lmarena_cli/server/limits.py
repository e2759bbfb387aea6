"""What cuts an answer short: stop sequences and an estimated ``max_tokens``.

The site has neither, so the server cuts the answer on its way out: at the first stop sequence
(not included; ``finish_reason`` stop) or where the estimated token count of the answer would pass
``max_tokens`` (``finish_reason`` length). Text that could be the start of a stop sequence is
held back until it is known not to be. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from .turn import Limits


class Limiter:
    """Feed an answer's text in pieces; get back what may go out. :attr:`reason` says why the
    answer was cut (``stop`` or ``length``), None while it was not."""

    def __init__(self, limits: Limits, estimate: Callable[[str], int]) -> None:
        self.stops = tuple(stop for stop in limits.stop if stop)
        self.max_tokens = limits.max_tokens
        self.estimate = estimate
        self.reason: str | None = None
        self._pending = ""
        self._tokens = 0

    def feed(self, piece: str) -> str:
        if self.reason is not None:
            return ""
        text = self._pending + piece
        self._pending = ""
        if self.stops:
            found = [i for i in (text.find(stop) for stop in self.stops) if i >= 0]
            if found:
                text, self.reason = text[: min(found)], "stop"
            else:
                hold = _partial(text, self.stops)
                text, self._pending = text[: len(text) - hold], text[len(text) - hold :]
        return self._within_budget(text)

    def flush(self) -> str:
        """What was held back at the end of the answer (no stop sequence followed)."""
        text, self._pending = self._pending, ""
        return "" if self.reason is not None else self._within_budget(text)

    def _within_budget(self, text: str) -> str:
        if self.max_tokens is None or not text:
            return text
        tokens = self.estimate(text)
        if self._tokens + tokens <= self.max_tokens:
            self._tokens += tokens
            return text
        # The longest head of ``text`` that still fits (a binary search on the estimate).
        low, high = 0, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if self._tokens + self.estimate(text[:middle]) <= self.max_tokens:
                low = middle
            else:
                high = middle - 1
        self.reason = "length"
        self._tokens = self.max_tokens
        return text[:low]


def _partial(text: str, stops: tuple[str, ...]) -> int:
    """How many characters at the end of ``text`` could start one of ``stops``."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if stop.startswith(text[-size:]):
                longest = size
                break
    return longest


__all__ = ["Limiter"]

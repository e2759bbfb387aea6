"""The token estimate against OpenAI's ``o200k_base`` (tiktoken, offline): never more than 10%
under on English text, never more than 30% over, on prose, code, JSON and a chat transcript."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lmarena_cli.client.content.usage import estimate_tokens
from lmarena_cli.site.prompts import fold_history
from tests.helpers.o200k import count, o200k_base

ROOT = Path(__file__).resolve().parent.parent

PROSE = """\
The lighthouse keeper had lived on the island for nearly thirty years, and in all that time he
had never once missed lighting the lamp at dusk. Visitors from the mainland, when they came at
all, asked him whether he grew lonely. He would smile, gesture at the gulls wheeling overhead and
the grey water stretching to the horizon, and say that a man is never truly alone when the sea
keeps him company.

In the winter of 1987 a storm unlike any other struck the coast. The wind tore shingles from the
roof; waves broke over the rocks with a sound like artillery. For three days no boat could reach
him. When the supply ship finally arrived, the crew found him asleep in his chair, the logbook
open on his lap, every entry written in the same careful hand: "Lamp lit, 4:52 p.m. All well."

Historians who have since studied the records note that the keeper's diligence was not unusual
for the era. What set him apart, they argue, was his habit of recording not only the weather but
also his observations of migrating birds, passing ships and the slow erosion of the cliffs, which
together form one of the most complete environmental archives of the twentieth century.
"""

CODE = '''\
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """Allow at most `rate` calls per `period` seconds (a token bucket)."""

    rate: int
    period: float = 1.0
    _tokens: float = field(init=False)
    _updated: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._tokens = float(self.rate)

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            elapsed = now - self._updated
            self._updated = now
            self._tokens = min(self.rate, self._tokens + elapsed * self.rate / self.period)
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) * self.period / self.rate)


async def fetch_all(urls: list[str], limiter: RateLimiter) -> dict[str, int]:
    results: dict[str, int] = {}
    for url in urls:
        await limiter.acquire()
        results[url] = len(url)  # stand-in for a real request
    return results
'''

ORDERS: list[dict[str, Any]] = [
    {
        "order_id": f"ORD-{1000 + n}",
        "customer": {"name": name, "email": f"{name.split()[0].lower()}@example.com"},
        "items": [
            {"sku": f"SKU-{n * 7 % 97:03d}", "title": title, "quantity": n % 4 + 1, "price": 9.99}
            for title in ("Blue ceramic mug", "Notebook, A5, dotted")
        ],
        "shipped": n % 3 == 0,
        "notes": None if n % 2 else "Leave at the front door, please.",
    }
    for n, name in enumerate(["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"] * 5)
]

CHAT = fold_history(
    [
        {"role": "system", "content": "You are a helpful assistant. Answer concisely."},
        {"role": "user", "content": "What's the difference between a list and a tuple in Python?"},
        {
            "role": "assistant",
            "content": "A list is mutable: you can add, remove or change its items. A tuple is "
            "immutable, so it can be used as a dictionary key and is slightly faster to create. "
            "Use a tuple for fixed records like (x, y) and a list for collections that change.",
        },
        {
            "role": "user",
            "content": "Can you show me how to sort a list of tuples by the second item?",
        },
        {
            "role": "assistant",
            "content": "Sure:\n\n```python\npairs = [(1, 'b'), (2, 'a'), (3, 'c')]\n"
            "pairs.sort(key=lambda pair: pair[1])\nprint(pairs)  # [(2, 'a'), (1, 'b'), (3, 'c')]\n"
            "```\n\n`sorted(pairs, key=...)` returns a new list instead of sorting in place.",
        },
    ],
    "Thanks! And how would I sort in descending order, breaking ties by the first item?",
)

SAMPLES = {
    "prose": PROSE,
    "code": CODE,
    "json, pretty": json.dumps(ORDERS, indent=2),
    "json, compact": json.dumps(ORDERS, separators=(",", ":")),
    "chat transcript": CHAT,
    "README.md": (ROOT / "README.md").read_text(),
    "docs/architecture.md": (ROOT / "docs/architecture.md").read_text(),
    "client/conversation/chats.py": (ROOT / "lmarena_cli/client/conversation/chats.py").read_text(),
}


@pytest.fixture(scope="module")
def o200k(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return o200k_base(tmp_path_factory.mktemp("tiktoken-cache"))


@pytest.mark.parametrize("name", list(SAMPLES))
def test_the_estimate_is_never_10_percent_under_nor_30_percent_over_o200k(
    o200k: Any, name: str
) -> None:
    text = SAMPLES[name]
    real, estimate = count(o200k, text), estimate_tokens(text)
    ratio = estimate / real
    assert 0.9 <= ratio <= 1.3, f"{name}: estimated {estimate} for {real} tokens ({ratio:.3f})"


def test_short_texts_are_estimated_at_least_as_tiktoken_counts_them(o200k: Any) -> None:
    for text in ["hi", "Hello, world!", "What is 2+2?", "[User]\nAnd 3+3?", "OK."]:
        assert count(o200k, text) * 0.9 <= estimate_tokens(text) <= count(o200k, text) + 3, text


@pytest.mark.parametrize(
    "text", ["y" * 96_000, "Supercalifragilisticexpialidocious " * 20, "ab" * 5000]
)
def test_long_runs_that_are_no_words_are_not_under_counted(o200k: Any, text: str) -> None:
    # One letter repeated (a padded prompt) and overlong words are priced as runs, not words.
    assert count(o200k, text) * 0.9 <= estimate_tokens(text) <= count(o200k, text) * 1.3


def test_nothing_is_no_tokens_and_anything_is_at_least_one() -> None:
    assert estimate_tokens("") == 0
    assert 1 <= estimate_tokens(" ") <= 2

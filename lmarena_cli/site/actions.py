"""The reply of a Next.js server action (protocol §6.3): RSC flight rows, the value on one of them.

The uploader calls two server actions (``generateUploadUrl``, ``getSignedUrl``); their replies are
flight text such as ``0:{"a":"$@1",...}\\n1:{"success":true,"data":{...}}``.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..errors import ErrorKind, ProtocolError, UpstreamError
from . import facts
from .classify import error_text, excerpt
from .decode import NOT_JSON, loads

_ROW = re.compile(r"^([0-9a-fA-F]+):(.*)$")


def parse_action_reply(text: str) -> Any:
    """The return value of a Next.js server action: the JSON on the reply's ``1:`` line.

    Raises ProtocolError when there is no readable ``1:`` line (kind "stale_action" when the site
    said the action id is unknown) and UpstreamError when the action reports ``success: false``.
    """
    if facts.ACTION_NOT_FOUND in text[:500]:
        raise ProtocolError(
            "the site no longer knows this server action id (it redeployed); "
            "the action ids have to be discovered again",
            detail=excerpt(text),
            kind=ErrorKind.STALE_ACTION,
        )
    for payload in _action_value_rows(text):
        if payload.startswith(facts.FLIGHT_ERROR_ROW):  # the action threw on the server
            raise UpstreamError(
                "the site's server action failed on its side",
                detail=excerpt(payload[1:]),
                kind=ErrorKind.ACTION_FAILED,
            )
        value = loads(payload)
        if value is NOT_JSON:
            raise ProtocolError(
                "the site's server action reply has a line 1: that is not JSON; "
                "the site's protocol may have changed",
                detail=excerpt(payload),
                kind=ErrorKind.UNEXPECTED,
            )
        if isinstance(value, dict) and value.get("success") is False:
            reason = error_text(value.get("error")) or error_text(value.get("message"))
            raise UpstreamError(
                "the site's server action reported a failure"
                + (f": {excerpt(reason, 200)}" if reason else ""),
                detail=excerpt(reason or orjson.dumps(value).decode()),
                kind=ErrorKind.ACTION_FAILED,
            )
        return value
    raise ProtocolError(
        "expected a server action reply (RSC flight lines, the value on line '1:') "
        f"but the site answered: {excerpt(text, 120) or 'nothing'}",
        detail=excerpt(text),
        kind=ErrorKind.UNEXPECTED,
    )


def _action_value_rows(text: str) -> list[str]:
    """The flight row(s) that may hold an action's return value, most likely first.

    Line ``0:`` is framework metadata whose exact shape was never recorded (protocol §6.3,
    §13.1). When it names the value (``{"a": "$@1", ...}`` or ``["$@1", ...]``), that row is
    read; when it holds the value inline (``{"a": {...}}``), line 0's ``a`` is used; otherwise
    the ``1:`` row, as every known client does.
    """
    rows: dict[str, str] = {}
    for line in text.splitlines():
        match = _ROW.match(line)
        if match is not None:
            rows.setdefault(match.group(1).lower(), match.group(2))
    head = loads(rows.get("0", "null"))
    pointer = head.get("a") if isinstance(head, dict) else None
    if pointer is None and isinstance(head, list) and head:
        pointer = head[0]
    wanted: list[str] = []
    if isinstance(pointer, str) and (ref := facts.FLIGHT_REFERENCE.match(pointer)) is not None:
        wanted.append(ref.group(1).lower())
    elif isinstance(pointer, dict):
        return [orjson.dumps(pointer).decode()]
    wanted.append("1")
    return [rows[key] for key in dict.fromkeys(wanted) if key in rows]

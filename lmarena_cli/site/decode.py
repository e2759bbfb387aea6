"""Tolerant JSON decoding for the parsers: what the site sends must never make them raise.

:data:`NOT_JSON` tells "not JSON" apart from a JSON ``null``, which is a value like any other.
"""

from __future__ import annotations

import json
from typing import Any, Final

import orjson


class _NotJson:
    """The type of :data:`NOT_JSON` (a class of its own so that its ``repr`` says what it is)."""

    def __repr__(self) -> str:
        return "NOT_JSON"


#: What :func:`loads` and :func:`loads_text` give for text that is not JSON.
NOT_JSON: Final = _NotJson()


def loads(text: str | bytes) -> Any:
    """The JSON value of ``text``, or :data:`NOT_JSON`."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return NOT_JSON


def loads_text(text: str) -> Any:
    """Like :func:`loads`, but lets lone UTF-16 surrogates (``"\\ud83d"``) through.

    The site's server is JavaScript: a text chunk cut between the two halves of an emoji arrives
    as two JSON strings each holding half a surrogate pair, which orjson refuses.
    """
    try:
        return json.loads(text)
    except ValueError:
        return NOT_JSON


def loads_or_none(text: str | None) -> Any:
    """The JSON value of ``text``, or None when there is no text or it is not JSON."""
    if text is None:
        return None
    value = loads(text)
    return None if value is NOT_JSON else value

"""Structured output: an answer asked for as JSON, and checked against a JSON Schema.

The site has no JSON mode, so the wish goes into the prompt (:func:`instruction`, a short text
appended to the user's turn by :func:`with_instruction`) and the answer is read afterwards:
:func:`extract_json` takes the first JSON value out of what the model wrote (code fences and
leading prose are passed over, trailing commas forgiven), and :func:`check` validates it (Draft
2020-12, the ``jsonschema`` package) and names the first mismatch. What a mismatch means is the
caller's choice: ``lmarena ask --schema`` and a ``strict`` request fail with
:class:`~lmarena_cli.errors.SchemaMismatch` (:meth:`Structured.raise_for_mismatch`); a lenient one
returns the JSON when it parsed, else the text.

Pure: no I/O. ``jsonschema`` is imported only when a schema is checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ...errors import InputError, SchemaMismatch

#: What ``check`` says when the answer holds no JSON value at all.
NO_JSON = "no JSON value in the answer"
#: The schema that ``json_object`` asks for: any JSON object.
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
#: A fenced code block (CommonMark's backticks or tildes); its content in group "body".
_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[^\n]*\n(?P<body>.*?)(?:^[ \t]*(?P=fence)[`~]*[ \t]*$|\Z)",
    re.M | re.S,
)
#: How many opening brackets of one text are tried as the start of a JSON value (a bound on the
#: work for long answers full of brackets that are not JSON).
_MAX_STARTS = 200
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class OutputFormat:
    """The answer wanted: any JSON object (``json_object``) or JSON matching ``schema``
    (``json_schema``, with the schema's ``name`` when the request gave one). ``strict``: a
    mismatch is an error (else the caller may return the text). A ``json_schema`` format without
    a schema, or with one that is not a valid JSON Schema, is an :class:`InputError`."""

    kind: Literal["json_object", "json_schema"]
    schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("json_object", "json_schema"):
            raise InputError(f"unknown output format {self.kind!r} (json_object or json_schema)")
        if self.kind == "json_schema":
            if not isinstance(self.schema, dict):
                raise InputError("a json_schema output format needs a schema (a JSON object)")
            _validator(self.schema)  # an invalid schema is refused before anything is sent

    @property
    def wanted(self) -> dict[str, Any]:
        """The schema an answer is checked against (``json_object``: any object)."""
        return self.schema if self.schema is not None else _ANY_OBJECT


@dataclass(frozen=True)
class Structured:
    """An answer read as JSON. ``value`` and ``json`` (its compact text) are None when the answer
    holds no JSON value; ``mismatch`` names the first mismatch, or is None when it matched;
    ``text`` is the model's text as it came."""

    value: Any
    json: str | None
    mismatch: str | None
    text: str

    @property
    def ok(self) -> bool:
        return self.mismatch is None

    def raise_for_mismatch(self) -> None:
        """:class:`~lmarena_cli.errors.SchemaMismatch` (keeping the model's text) on a mismatch."""
        if self.mismatch is not None:
            raise SchemaMismatch(self.mismatch, self.text)


def instruction(fmt: OutputFormat) -> str:
    """The short text that asks the model for one JSON value and nothing else."""
    if fmt.kind == "json_object":
        return "Answer with one JSON object only: no prose, no code fences."
    schema = json.dumps(fmt.schema, separators=(",", ":"), ensure_ascii=False)
    return (
        "Answer with one JSON value only, no prose, no code fences, matching this JSON Schema: "
        + schema
    )


def with_instruction(prompt: str, fmt: OutputFormat) -> str:
    """``prompt`` with :func:`instruction` after it, a blank line between."""
    return f"{prompt.rstrip()}\n\n{instruction(fmt)}" if prompt.strip() else instruction(fmt)


def extract_json(text: str) -> tuple[Any, str] | None:
    """The first JSON value of a model's answer and its compact JSON text; None when there is none.

    The whole answer when it is JSON; else the first fenced code block that is JSON (```json
    or any other); else the first object or array found in the text (after leading prose).
    Trailing commas before ``}`` or ``]`` are forgiven; ``NaN`` and ``Infinity`` are not JSON.
    """
    for candidate in _candidates(text):
        value = _parse(candidate)
        if value is not _NOTHING:
            return value, compact(value)
    for body in [*(m.group("body") for m in _FENCE.finditer(text)), text]:
        starts = [i for i, char in enumerate(body) if char in "{["][:_MAX_STARTS]
        for start in starts:
            cleaned = _balanced(body, start)
            if cleaned is not None and (value := _parse(cleaned)) is not _NOTHING:
                return value, compact(value)
    return None


def check(fmt: OutputFormat, text: str) -> Structured:
    """The answer ``text`` read as ``fmt`` asks: its first JSON value, checked against the schema
    (``json_object``: any object). ``mismatch`` is ``"$.age: 'x' is not of type 'integer'"``
    (the path of the first mismatch, then jsonschema's message), or :data:`NO_JSON`."""
    found = extract_json(text)
    if found is None:
        return Structured(None, None, NO_JSON, text)
    value, compact_text = found
    return Structured(value, compact_text, first_mismatch(fmt.wanted, value), text)


def first_mismatch(schema: dict[str, Any], value: Any) -> str | None:
    """``"<path>: <message>"`` for the most relevant error of ``value`` against ``schema``
    (jsonschema's ``best_match``), or None when it matches."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator(schema).iter_errors(value))
    if error is None:
        return None
    return f"{json_path(error.absolute_path)}: {error.message}"


def json_path(parts: Iterable[str | int]) -> str:
    """``$``, ``$.name``, ``$.items[2]``, ``$["odd key"]``: where in the JSON value."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.match(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part, ensure_ascii=False)}]"
    return path


def compact(value: Any) -> str:
    """``value`` as JSON on one line, without spaces."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _validator(schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = json_path(exc.absolute_path)
        raise InputError(f"the schema is not a valid JSON Schema: {where}: {exc.message}") from None
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


_NOTHING: Any = object()


def _candidates(text: str) -> list[str]:
    """The whole answer, then each fenced block's content: tried whole before any scan."""
    return [text, *(match.group("body") for match in _FENCE.finditer(text))]


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(candidate: str) -> Any:
    """``candidate`` as JSON (trailing commas forgiven), or :data:`_NOTHING`."""
    stripped = candidate.strip()
    if not stripped:
        return _NOTHING
    for attempt in (stripped, _without_trailing_commas(stripped)):
        try:
            return json.loads(attempt, parse_constant=_not_json)
        except ValueError:
            continue
    return _NOTHING


def _balanced(text: str, start: int) -> str | None:
    """The object or array that starts at ``start``, up to its matching bracket (strings
    respected), or None when it is never closed or its brackets do not pair."""
    closing = {"{": "}", "[": "]"}
    stack: list[str] = []
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in closing:
            stack.append(closing[char])
        elif char in "}]":
            if not stack or stack.pop() != char:
                return None
            if not stack:
                return text[start : index + 1]
    return None


def _without_trailing_commas(text: str) -> str:
    """``text`` without the commas that stand before a ``}`` or ``]`` (outside strings)."""
    out: list[str] = []
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "," and _next_visible(text, index + 1) in ("}", "]"):
            continue
        out.append(char)
    return "".join(out)


def _next_visible(text: str, index: int) -> str:
    """The first character at or after ``index`` that is not white space ("" at the end)."""
    while index < len(text) and text[index].isspace():
        index += 1
    return text[index : index + 1]


__all__ = [
    "NO_JSON",
    "OutputFormat",
    "Structured",
    "check",
    "compact",
    "extract_json",
    "first_mismatch",
    "instruction",
    "json_path",
    "with_instruction",
]

"""Request fields that several API shapes share, checked: tools, output formats, files, limits.

Each codec reads its own body, then hands the pieces that mean the same thing in every shape to
these functions, so a tool, a JSON schema or a PDF is understood one way whatever the client.
Errors are :class:`FieldError` naming the field as the client wrote it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..client.content.files import decode_data_uri, file_text
from ..client.content.structured import OutputFormat
from ..errors import FieldError, InputError
from .tools import Tool

#: At most this many stop sequences, as OpenAI allows.
MAX_STOPS = 4


def kind_of(value: Any) -> str:
    """How a JSON value is called in an error message."""
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    names.update({list: "an array", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def tool(
    name: Any, description: Any, parameters: Any, where: str, *, freeform: bool = False
) -> Tool:
    """A declared function: a name (letters, digits, ``_``, ``-``), a description, a JSON Schema."""
    if not isinstance(name, str) or not name.strip():
        raise FieldError(f"{where}.name", f"{where}.name must be a non-empty string")
    if description is not None and not isinstance(description, str):
        raise FieldError(f"{where}.description", f"{where}.description must be a string")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, Mapping):
        raise FieldError(f"{where}.parameters", f"{where}.parameters must be a JSON Schema object")
    return Tool(name.strip(), description or "", dict(parameters), freeform=freeform)


def output_format(
    kind: Any, schema: Any, name: Any, strict: Any, where: str
) -> OutputFormat | None:
    """``text`` (None), ``json_object``, or ``json_schema`` with its schema."""
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return OutputFormat("json_object")
    if kind != "json_schema":
        raise FieldError(
            f"{where}.type",
            f"{where}.type must be text, json_object or json_schema, not {kind!r}",
        )
    if not isinstance(schema, Mapping):
        raise FieldError(f"{where}.schema", f"{where}.schema must be a JSON Schema object")
    if strict is not None and not isinstance(strict, bool):
        raise FieldError(f"{where}.strict", f"{where}.strict must be true or false")
    try:
        return OutputFormat(
            "json_schema", dict(schema), name if isinstance(name, str) else None, bool(strict)
        )
    except InputError as error:  # not a valid JSON Schema
        raise FieldError(f"{where}.schema", f"{where}.schema: {error}") from None


def file_as_text(data: Any, filename: Any, where: str) -> str:
    """A file given as a ``data:`` URI (or bare base64) as text the model reads."""
    name = filename if isinstance(filename, str) and filename.strip() else "file"
    if not isinstance(data, str) or not data:
        raise FieldError(
            where,
            f"{where} must carry the file's content as a data: URI (file_data); "
            "uploaded file ids are not supported",
        )
    uri = data if data.startswith("data:") else f"data:application/octet-stream;base64,{data}"
    try:
        mime, blob = decode_data_uri(uri)
        return file_text(name, blob, mime)
    except InputError as error:
        raise FieldError(where, f"{where}: {error}") from None


def positive_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise FieldError(where, f"{where} must be a whole number of at least 1, not {value!r}")
    return value


def stops(value: Any, where: str = "stop") -> tuple[str, ...]:
    """``stop``/``stop_sequences``: a string or up to four strings."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise FieldError(where, f"{where} must be a string or an array of strings")
    if len(items) > MAX_STOPS:
        raise FieldError(where, f"{where} takes at most {MAX_STOPS} sequences")
    return tuple(item for item in items if item)


__all__ = ["file_as_text", "kind_of", "output_format", "positive_int", "stops", "tool"]

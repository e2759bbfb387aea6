"""Chat completions' fields that the site has no word for: tools, formats, limits, the plain form.

:func:`chat_tools`, :func:`chat_tool_choice`, :func:`chat_output`, :func:`chat_max_tokens` read
what :class:`~.turn.Turn` needs of a chat completion body; :func:`plain_messages` writes its
messages in the turn's plain form (:mod:`.turn`): an assistant's ``tool_calls`` (or legacy
``function_call``) as the envelopes the model wrote, a ``tool`` (or ``function``) message as a
result block naming its call and tool, a ``file`` part as its text. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..client.content.structured import OutputFormat
from ..errors import FieldError
from ..site.prompts import text_of
from . import fields, tools

# --- tools, formats and limits -------------------------------------------------------------------


def chat_tools(data: Mapping[str, Any]) -> tuple[tuple[tools.Tool, ...], tuple[str, ...]]:
    """Function tools (and the legacy ``functions``); other tools' types, dropped."""
    declared: list[tools.Tool] = []
    dropped: list[str] = []
    value = data.get("tools")
    if value is not None:
        if not isinstance(value, list):
            raise FieldError("tools", "tools must be an array of tool objects")
        for index, item in enumerate(value):
            where = f"tools[{index}]"
            if not isinstance(item, Mapping):
                raise FieldError(where, f"{where} must be an object")
            if item.get("type", "function") != "function":
                dropped.append(str(item.get("type")))
                continue
            function = item.get("function")
            if not isinstance(function, Mapping):
                raise FieldError(f"{where}.function", f"{where}.function must be an object")
            declared.append(
                fields.tool(
                    function.get("name"),
                    function.get("description"),
                    function.get("parameters"),
                    f"{where}.function",
                )
            )
    legacy = data.get("functions")
    if legacy is not None:
        if not isinstance(legacy, list):
            raise FieldError("functions", "functions must be an array of function objects")
        for index, function in enumerate(legacy):
            where = f"functions[{index}]"
            if not isinstance(function, Mapping):
                raise FieldError(where, f"{where} must be an object")
            declared.append(
                fields.tool(
                    function.get("name"),
                    function.get("description"),
                    function.get("parameters"),
                    where,
                )
            )
    return tuple(declared), tuple(dropped)


def chat_tool_choice(data: Mapping[str, Any], declared: tuple[tools.Tool, ...]) -> tools.ToolChoice:
    param = "tool_choice" if "tool_choice" in data else "function_call"
    value = data.get(param)
    if value is None:
        return tools.ToolChoice()
    if value in ("auto", "none", "required"):
        return tools.ToolChoice(str(value))
    if isinstance(value, Mapping):
        function = value.get("function") if param == "tool_choice" else value
        name = function.get("name") if isinstance(function, Mapping) else None
        if isinstance(name, str) and any(t.name == name for t in declared):
            return tools.ToolChoice("function", name)
        raise FieldError(param, f"{param} names no declared function ({name!r})")
    raise FieldError(param, f"{param} must be auto, none, required or a function, not {value!r}")


def chat_output(value: Any) -> OutputFormat | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise FieldError("response_format", "response_format must be an object")
    schema = value.get("json_schema")
    spec = schema if isinstance(schema, Mapping) else {}
    if value.get("type") == "json_schema" and not isinstance(schema, Mapping):
        raise FieldError("response_format.json_schema", "response_format.json_schema is required")
    return fields.output_format(
        value.get("type"),
        spec.get("schema"),
        spec.get("name"),
        spec.get("strict"),
        "response_format.json_schema" if spec else "response_format",
    )


def chat_max_tokens(data: Mapping[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = fields.positive_int(data.get(name), name)
        if value is not None:
            return value
    return None


# --- the plain form -----------------------------------------------------------------------------


def plain_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The request's messages in the turn's plain form (see :mod:`.turn`)."""
    names: dict[str, str] = {}  # call id -> tool name, to name each result
    plain: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message["role"]
        content = message.get("content")
        if role in ("system", "developer"):
            plain.append({"role": "system", "content": text_of(content)})
        elif role == "user":
            plain.append({"role": "user", "content": _user_content(content, f"messages[{index}]")})
        elif role == "assistant":
            calls = _assistant_calls(message, f"messages[{index}]")
            names.update((call_id, name) for call_id, name, _ in calls)
            text = text_of(content)
            if calls:
                text = tools.render_assistant(text, [(name, args) for _, name, args in calls])
            plain.append({"role": "assistant", "content": text})
        else:  # tool, function
            call_id = str(message.get("tool_call_id") or "")
            name = message.get("name") or names.get(call_id)
            result = tools.render_result(call_id, name, text_of(content))
            plain.append({"role": "tool", "content": result})
    return plain


def _user_content(content: Any, where: str) -> Any:
    if not isinstance(content, list):
        return content
    parts: list[Any] = []
    for index, part in enumerate(content):
        kind = part.get("type")
        if kind in ("file", "input_file"):
            parts.append({"type": "text", "text": file_part(part, f"{where}.content[{index}]")})
        elif kind != "refusal":
            parts.append(part)
    return parts


def file_part(part: Mapping[str, Any], where: str) -> str:
    spec = part.get("file") if part.get("type") == "file" else part
    if not isinstance(spec, Mapping):
        raise FieldError(f"{where}.file", f"{where}.file must be an object")
    return fields.file_as_text(
        spec.get("file_data"), spec.get("filename"), f"{where}.file.file_data"
    )


def _assistant_calls(message: Mapping[str, Any], where: str) -> list[tuple[str, str, Any]]:
    """(id, name, arguments) of an assistant message's ``tool_calls`` (or ``function_call``)."""
    calls: list[tuple[str, str, Any]] = []
    value = message.get("tool_calls")
    if value is not None and not isinstance(value, list):
        raise FieldError(f"{where}.tool_calls", f"{where}.tool_calls must be an array")
    for index, call in enumerate(value or []):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise FieldError(
                f"{where}.tool_calls[{index}].function",
                f"{where}.tool_calls[{index}].function must name a function",
            )
        calls.append((str(call.get("id") or ""), function["name"], function.get("arguments")))
    legacy = message.get("function_call")
    if isinstance(legacy, Mapping) and isinstance(legacy.get("name"), str):
        calls.append(("", legacy["name"], legacy.get("arguments")))
    return calls


__all__ = [
    "chat_max_tokens",
    "chat_output",
    "chat_tool_choice",
    "chat_tools",
    "file_part",
    "plain_messages",
]

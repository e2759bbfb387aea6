"""Anthropic's Messages API request body, checked and written as a :class:`~.turn.Turn`.

:func:`parse_messages_request` reads a ``POST /v1/messages`` (or ``/v1/messages/count_tokens``)
body: ``model``, ``max_tokens``, ``system``, ``messages``, ``tools``, ``tool_choice``,
``stop_sequences``, ``stream`` and ``output_config.format``; everything else Anthropic defines
(``thinking``, ``metadata``, ``temperature``, ``cache_control``, ...) is accepted and ignored.

The messages are written in the turn's plain form (:mod:`.turn`): ``system`` becomes a system
message first; an assistant's ``tool_use`` blocks the envelopes the model wrote
(:func:`.tools.render_assistant`, after the message's text); each ``tool_result`` block a
``tool`` message (:func:`.tools.render_result`, named after the ``tool_use`` of its id), and the
other blocks of that user message one user message after them; an ``image`` block an
``image_url`` part; a ``document`` block its text; ``thinking`` blocks are left out (the site
never sees them, and an answer's own reasoning is not part of the stored transcript), and so is
Claude Code's billing block in ``system`` (:data:`BILLING_HEADER`).
Errors are :class:`FieldError` naming the field as the client wrote it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..client.content.structured import OutputFormat
from ..errors import FieldError
from . import fields, tools
from .messages_blocks import (
    assistant_message,
    blocks_of,
    system_note,
    text_of_block,
    user_messages,
)
from .tools import Tool, ToolChoice
from .turn import Limits, Message, Turn

#: The prefix of the ids of the calls an answer makes, as Anthropic writes them.
CALL_ID_PREFIX = "toolu_"
#: How Claude Code's billing block starts: ``system[0]`` of each request, with a token that
#: changes on every request (``cch=...``). It says nothing to a model, and kept in the system
#: message it would make every request's history new, so no transcript would ever match.
BILLING_HEADER = "x-anthropic-billing-header:"


@dataclass(frozen=True)
class MessagesRequest:
    """A checked Messages API body; ``messages`` in the plain form."""

    model: str
    messages: list[Message]
    max_tokens: int | None = None
    stream: bool = False
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    parallel_tool_calls: bool = True
    output: OutputFormat | None = None
    stop_sequences: tuple[str, ...] = ()
    #: Declared tools that are not custom tools (Anthropic's server tools), by type: dropped.
    dropped_tools: tuple[str, ...] = ()

    def to_turn(self, *, session_key: str | None = None) -> Turn:
        return Turn(
            model=self.model,
            messages=self.messages,
            stream=self.stream,
            tools=self.tools,
            tool_choice=self.tool_choice,
            parallel_tool_calls=self.parallel_tool_calls,
            output=self.output,
            limits=Limits(self.max_tokens, self.stop_sequences),
            session_key=session_key,
            call_id_prefix=CALL_ID_PREFIX,
        )


def parse_messages_request(body: Any, *, counting: bool = False) -> MessagesRequest:
    """Check a body; ``counting``: a ``count_tokens`` body (no ``max_tokens``, no ``stream``)."""
    if not isinstance(body, Mapping):
        raise FieldError("", f"the request body must be a JSON object, not {fields.kind_of(body)}")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise FieldError("model", "model: a model name (a non-empty string) is required")
    max_tokens = None
    if not counting:
        if body.get("max_tokens") is None:
            raise FieldError("max_tokens", "max_tokens: Field required")
        max_tokens = fields.positive_int(body.get("max_tokens"), "max_tokens")
    stream = body.get("stream", False) if not counting else False
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise FieldError("stream", f"stream must be true or false, not {stream!r}")
    declared, dropped = _tools(body.get("tools"))
    choice, parallel = _tool_choice(body.get("tool_choice"), declared)
    messages = [*_system(body.get("system")), *_messages(body.get("messages"), counting)]
    return MessagesRequest(
        model=model.strip(),
        messages=messages,
        max_tokens=max_tokens,
        stream=stream,
        tools=declared,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        output=_output(body),
        stop_sequences=_stop_sequences(body.get("stop_sequences")),
        dropped_tools=dropped,
    )


# --- tools, limits, formats -----------------------------------------------------------------------


def _tools(value: Any) -> tuple[tuple[tools.Tool, ...], tuple[str, ...]]:
    if value is None:
        return (), ()
    if not isinstance(value, list):
        raise FieldError("tools", "tools must be an array of tool objects")
    declared: list[tools.Tool] = []
    dropped: list[str] = []
    for index, item in enumerate(value):
        where = f"tools[{index}]"
        if not isinstance(item, Mapping):
            raise FieldError(where, f"{where} must be an object")
        kind = item.get("type")
        if kind not in (None, "custom"):
            dropped.append(str(kind))  # a server tool (web_search_..., bash_..., ...)
            continue
        schema = item.get("input_schema")
        if schema is not None and not isinstance(schema, Mapping):
            raise FieldError(
                f"{where}.input_schema", f"{where}.input_schema must be a JSON Schema object"
            )
        declared.append(fields.tool(item.get("name"), item.get("description"), schema, where))
    return tuple(declared), tuple(dropped)


def _tool_choice(value: Any, declared: tuple[tools.Tool, ...]) -> tuple[tools.ToolChoice, bool]:
    if value is None:
        return tools.ToolChoice(), True
    if not isinstance(value, Mapping):
        raise FieldError("tool_choice", "tool_choice must be an object such as {type: auto}")
    parallel = value.get("disable_parallel_tool_use")
    if parallel is not None and not isinstance(parallel, bool):
        raise FieldError(
            "tool_choice.disable_parallel_tool_use",
            "tool_choice.disable_parallel_tool_use must be true or false",
        )
    kind = value.get("type")
    if kind in ("auto", "none"):
        choice = tools.ToolChoice(kind)
    elif kind == "any":
        choice = tools.ToolChoice("required")
    elif kind == "tool":
        name = value.get("name")
        if not isinstance(name, str) or not any(tool.name == name for tool in declared):
            raise FieldError(
                "tool_choice.name", f"tool_choice.name names no declared tool ({name!r})"
            )
        choice = tools.ToolChoice("function", name)
    else:
        raise FieldError(
            "tool_choice.type", f"tool_choice.type must be auto, any, tool or none, not {kind!r}"
        )
    return choice, not parallel


def _stop_sequences(value: Any) -> tuple[str, ...]:
    """Any number of strings (Anthropic sets no small limit, unlike OpenAI's four)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FieldError("stop_sequences", "stop_sequences must be an array of strings")
    return tuple(item for item in value if item)


def _output(body: Mapping[str, Any]) -> OutputFormat | None:
    """``output_config.format`` (or the older ``output_format``): a JSON Schema the answer must
    match (Anthropic's structured outputs are guaranteed, so a mismatch is an error)."""
    config = body.get("output_config")
    where = "output_config.format"
    if config is not None and not isinstance(config, Mapping):
        raise FieldError("output_config", "output_config must be an object")
    spec = (config or {}).get("format")
    if spec is None:
        spec, where = body.get("output_format"), "output_format"
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise FieldError(where, f"{where} must be an object")
    if spec.get("type") != "json_schema":
        raise FieldError(f"{where}.type", f"{where}.type must be json_schema")
    return fields.output_format("json_schema", spec.get("schema"), None, True, where)


# --- messages -------------------------------------------------------------------------------------


def _system(value: Any) -> list[Message]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "system", "content": value}] if value.strip() else []
    if not isinstance(value, list):
        raise FieldError("system", "system must be a string or an array of text blocks")
    texts = []
    for index, block in enumerate(value):
        if not isinstance(block, Mapping) or block.get("type") != "text":
            raise FieldError(f"system[{index}]", f"system[{index}] must be a text block")
        text = text_of_block(block, f"system[{index}]")
        if not text.lstrip().startswith(BILLING_HEADER):
            texts.append(text)
    text = "\n".join(texts)
    return [{"role": "system", "content": text}] if text.strip() else []


def _messages(value: Any, counting: bool) -> list[Message]:
    if not isinstance(value, list) or not value:
        raise FieldError("messages", "messages must be a non-empty array of message objects")
    names: dict[str, str] = {}  # tool_use id -> tool name, to name each result
    plain: list[Message] = []
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping):
            raise FieldError(where, f"{where} must be an object")
        role = message.get("role")
        blocks = blocks_of(message.get("content"), f"{where}.content")
        if role == "user":
            plain.extend(user_messages(blocks, names, f"{where}.content"))
        elif role == "assistant":
            plain.append(assistant_message(blocks, names, f"{where}.content"))
        elif role == "system":
            plain.append(system_note(blocks, f"{where}.content"))
        else:
            # Worded as Anthropic words it: Claude Code reads this text to fall back.
            raise FieldError(
                f"{where}.role",
                f"{where}: Unexpected role {role!r}: the input message role must be user, "
                "assistant or system",
            )
    if value[-1].get("role") not in ("user", "system") and not counting:  # any history counts
        raise FieldError(
            f"messages[{len(value) - 1}].role",
            "the last message must be the user's: prefilling the assistant's answer is not "
            "supported (the site answers whole turns)",
        )
    return plain


__all__ = ["CALL_ID_PREFIX", "MessagesRequest", "parse_messages_request"]

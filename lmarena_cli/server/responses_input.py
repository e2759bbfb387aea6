"""``POST /v1/responses`` request bodies, checked, in the turn's plain form (:mod:`.turn`).

``input`` is a string (one user message) or a list of items: ``message`` (roles ``user``,
``system``, ``developer``, ``assistant``; parts ``input_text``, ``input_image``, ``input_file``,
``output_text``, ``refusal``), ``function_call`` / ``custom_tool_call`` (a call the model made),
``function_call_output`` / ``custom_tool_call_output`` (its result); ``reasoning`` items are
ignored (the codec has replaced ``item_reference`` items by the items they name).
``instructions`` become a system message first.

Consecutive assistant ``message`` and call items are ONE assistant message in the plain form,
its text then one envelope per call (:func:`.render_assistant`), exactly as the engine
stores the answer that made them: so a full-history request (what Codex sends with ``store:
false``) matches the stored transcript the way chat requests do. A call's output becomes a
``tool`` message naming the call id and the tool (:func:`.render_result`).

Tools: flat ``function`` tools, and ``custom`` tools as freeform functions taking one string;
any other type (``web_search``, ``file_search``, ...) is dropped and named in
:attr:`ResponsesRequest.notes` for the log. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..client.content.structured import OutputFormat
from ..errors import FieldError
from . import fields
from .fields import kind_of
from .tools import Tool, ToolChoice, render_assistant, render_result
from .turn import Limits, Message, Turn


@dataclass(frozen=True)
class ResponsesRequest:
    """A checked body; ``messages`` in the plain form, ``echo`` the settings the response
    repeats."""

    model: str
    messages: list[Message]
    stream: bool = False
    store: bool = True
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    parallel_tool_calls: bool = True
    output: OutputFormat | None = None
    max_output_tokens: int | None = None
    previous_response_id: str | None = None
    prompt_cache_key: str | None = None
    #: One line each for the log: dropped tools, a tool choice that names a dropped tool.
    notes: tuple[str, ...] = ()
    echo: dict[str, Any] = field(default_factory=dict)

    @property
    def freeform(self) -> frozenset[str]:
        """The names of the ``custom`` tools (their calls are ``custom_tool_call`` items)."""
        return frozenset(tool.name for tool in self.tools if tool.freeform)

    def to_turn(self, *, conversation_id: str | None, session_key: str | None) -> Turn:
        return Turn(
            model=self.model,
            messages=self.messages,
            stream=self.stream,
            tools=self.tools,
            tool_choice=self.tool_choice,
            parallel_tool_calls=self.parallel_tool_calls,
            output=self.output,
            limits=Limits(self.max_output_tokens),
            conversation_id=conversation_id,
            session_key=self.prompt_cache_key or session_key,
        )


def previous_response_id(data: Mapping[str, Any]) -> str | None:
    value = data.get("previous_response_id")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise FieldError("previous_response_id", "previous_response_id must be a response id")
    return value.strip()


def parse_request(body: Any, *, call_names: Mapping[str, str] | None = None) -> ResponsesRequest:
    """Check a body; :class:`FieldError` names the first bad field. ``call_names`` (call id ->
    tool name) are the calls of the previous response, to name their outputs."""
    if not isinstance(body, Mapping):
        raise FieldError("", f"the request body must be a JSON object, not {kind_of(body)}")
    data = body
    model = _string(data, "model")
    if not model or not model.strip():
        raise FieldError("model", "the field 'model' is required (a model name)")
    instructions = _string(data, "instructions")
    messages = plain_input(data.get("input"), instructions, dict(call_names or {}))
    declared, notes = _tools(data.get("tools"))
    choice, declared = _tool_choice(data.get("tool_choice"), declared, notes)
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise FieldError("metadata", "metadata must be an object of strings")
    text = data.get("text")
    if text is not None and not isinstance(text, Mapping):
        raise FieldError("text", 'text must be an object such as {"format": {"type": "text"}}')
    fmt = (text or {}).get("format")
    if fmt is not None and not isinstance(fmt, Mapping):
        raise FieldError("text.format", "text.format must be an object")
    spec = fmt or {}
    output = fields.output_format(
        spec.get("type"), spec.get("schema"), spec.get("name"), spec.get("strict"), "text.format"
    )
    max_output_tokens = fields.positive_int(data.get("max_output_tokens"), "max_output_tokens")
    parallel = _bool(data, "parallel_tool_calls", True)
    store = _bool(data, "store", True)
    echo = {
        "instructions": instructions,
        "max_output_tokens": max_output_tokens,
        "metadata": dict(metadata or {}),
        "parallel_tool_calls": parallel,
        "temperature": data.get("temperature"),
        "text": dict(text) if text else {"format": {"type": "text"}},
        "tool_choice": data.get("tool_choice") or "auto",
        "tools": list(data.get("tools") or []),
        "top_p": data.get("top_p"),
        "reasoning": data.get("reasoning"),
        "store": store,
        "truncation": data.get("truncation") or "disabled",
        "user": data.get("user"),
    }
    return ResponsesRequest(
        model=model.strip(),
        messages=messages,
        stream=_bool(data, "stream", False),
        store=store,
        tools=declared,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        output=output,
        max_output_tokens=max_output_tokens,
        previous_response_id=previous_response_id(data),
        prompt_cache_key=_string(data, "prompt_cache_key") or None,
        notes=tuple(notes),
        echo=echo,
    )


# --- input ------------------------------------------------------------------------------------


def plain_input(value: Any, instructions: str | None, names: dict[str, str]) -> list[Message]:
    """``instructions`` and ``input`` as plain messages; the last must be new input (a user
    message or a call's output)."""
    plain: list[Message] = []
    if instructions and instructions.strip():
        plain.append({"role": "system", "content": instructions})
    if isinstance(value, str):
        if not value.strip():
            raise FieldError("input", "input must not be empty")
        plain.append({"role": "user", "content": value})
        return plain
    if not isinstance(value, list) or not value:
        raise FieldError("input", "input must be a string or a non-empty array of input items")
    said: list[str] = []  # the assistant turn being gathered: its texts, then its calls
    calls: list[tuple[str, Any]] = []

    def flush() -> None:
        if said or calls:
            text = "\n".join(said)
            content = render_assistant(text, calls) if calls else text
            plain.append({"role": "assistant", "content": content})
            said.clear()
            calls.clear()

    for index, item in enumerate(value):
        where = f"input[{index}]"
        if not isinstance(item, Mapping):
            raise FieldError(where, f"{where} must be an object, not {kind_of(item)}")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message" and item.get("role") == "assistant":
            said.append(_assistant_text(item.get("content"), f"{where}.content"))
        elif kind in ("function_call", "custom_tool_call"):
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise FieldError(f"{where}.name", f"{where}.name must name the tool called")
            names[str(item.get("call_id") or "")] = name
            if kind == "function_call":
                calls.append((name, item.get("arguments")))
            else:
                calls.append((name, {"input": str(item.get("input") or "")}))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            flush()
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise FieldError(f"{where}.call_id", f"{where}.call_id must name the call")
            output = _output_text(item.get("output"), f"{where}.output")
            result = render_result(call_id, names.get(call_id), output)
            plain.append({"role": "tool", "content": result})
        elif kind == "message":
            flush()
            plain.append(_message(item, where))
        elif kind == "reasoning":
            continue  # the model's reasoning: the site keeps its own
        else:
            raise FieldError(
                f"{where}.type",
                f"{where}.type must be message, function_call, function_call_output, "
                f"custom_tool_call, custom_tool_call_output or reasoning, not {kind!r}",
            )
    flush()
    if not plain or plain[-1]["role"] not in ("user", "tool"):
        raise FieldError("input", "the input must end with a user message or a tool call's output")
    return plain


def _message(item: Mapping[str, Any], where: str) -> Message:
    role = item.get("role")
    content = item.get("content")
    if role in ("system", "developer"):
        return {"role": "system", "content": _plain_text(content, f"{where}.content")}
    if role == "user":
        return {"role": "user", "content": _user_content(content, f"{where}.content")}
    raise FieldError(
        f"{where}.role", f"{where}.role must be user, system, developer or assistant, not {role!r}"
    )


def _plain_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise FieldError(where, f"{where} must be a string or an array of parts")
    texts = []
    for index, part in enumerate(content):
        text = part.get("text") if isinstance(part, Mapping) else None
        if not isinstance(text, str):
            raise FieldError(f"{where}[{index}]", f"{where}[{index}] must be a text part")
        texts.append(text)
    return "\n".join(texts)


def _assistant_text(content: Any, where: str) -> str:
    if isinstance(content, list):
        content = [
            {"text": part.get("refusal", "")}
            if isinstance(part, Mapping) and part.get("type") == "refusal"
            else part
            for part in content
        ]
    return _plain_text(content, where)


def _user_content(content: Any, where: str) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise FieldError(where, f"{where} must be a string or an array of parts")
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        spot = f"{where}[{index}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in ("input_text", "text", "output_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise FieldError(f"{spot}.text", f"{spot}.text must be a string")
            parts.append({"type": "text", "text": text})
        elif kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str) or not url:
                raise FieldError(
                    f"{spot}.image_url",
                    f"{spot}.image_url must be a data: URI or an http(s) URL "
                    "(uploaded file ids are not supported)",
                )
            parts.append({"type": "image_url", "image_url": {"url": url}})
        elif kind == "input_file":
            if part.get("file_data") is None and part.get("file_url"):
                raise FieldError(
                    f"{spot}.file_url",
                    f"{spot}: send the file's content as file_data (a data: URI); "
                    "file URLs are not fetched",
                )
            text = fields.file_as_text(part.get("file_data"), part.get("filename"), spot)
            parts.append({"type": "text", "text": text})
        else:
            raise FieldError(
                f"{spot}.type",
                f"{spot}.type must be input_text, input_image or input_file, not {kind!r}",
            )
    return parts


def _output_text(output: Any, where: str) -> str:
    """A call's output: a string, or parts whose texts are kept (other parts are named)."""
    if isinstance(output, str):
        return output
    if not isinstance(output, list):
        raise FieldError(where, f"{where} must be a string or an array of parts")
    texts = []
    for part in output:
        if isinstance(part, Mapping) and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, Mapping):
            texts.append(f"[{str(part.get('type', 'part')).removeprefix('input_')}]")
    return "\n".join(texts)


# --- tools -------------------------------------------------------------------------------------


def _tools(value: Any) -> tuple[tuple[Tool, ...], list[str]]:
    if value is None:
        return (), []
    if not isinstance(value, list):
        raise FieldError("tools", "tools must be an array of tool objects")
    declared: list[Tool] = []
    notes: list[str] = []
    for index, item in enumerate(value):
        where = f"tools[{index}]"
        if not isinstance(item, Mapping):
            raise FieldError(where, f"{where} must be an object")
        kind = item.get("type")
        if kind in ("function", "custom"):
            params = item.get("parameters") if kind == "function" else None
            declared.append(
                fields.tool(
                    item.get("name"),
                    item.get("description"),
                    params,
                    where,
                    freeform=kind == "custom",
                )
            )
        else:
            notes.append(
                f"tools: a {kind!r} tool is not a function; dropped (the site has no tools)"
            )
    return tuple(declared), notes


def _tool_choice(
    value: Any, declared: tuple[Tool, ...], notes: list[str]
) -> tuple[ToolChoice, tuple[Tool, ...]]:
    """The choice, and the tools it leaves (``allowed_tools`` narrows them)."""
    if value is None or value == "auto":
        return ToolChoice(), declared
    if value in ("none", "required"):
        return ToolChoice(str(value)), declared
    if not isinstance(value, Mapping):
        raise FieldError(
            "tool_choice", f"tool_choice must be auto, none, required or an object, not {value!r}"
        )
    kind = value.get("type")
    if kind in ("function", "custom"):
        name = value.get("name")
        if not any(tool.name == name for tool in declared):
            raise FieldError("tool_choice", f"tool_choice names no declared tool ({name!r})")
        return ToolChoice("function", str(name)), declared
    if kind == "allowed_tools":
        mode = value.get("mode", "auto")
        if mode not in ("auto", "required"):
            raise FieldError("tool_choice.mode", "tool_choice.mode must be auto or required")
        listed = value.get("tools")
        if not isinstance(listed, list):
            raise FieldError("tool_choice.tools", "tool_choice.tools must be an array of tools")
        allowed = {item.get("name") for item in listed if isinstance(item, Mapping)}
        return ToolChoice(str(mode)), tuple(t for t in declared if t.name in allowed)
    notes.append(f"tool_choice: a {kind!r} tool is not a function; answered as auto")
    return ToolChoice(), declared


# --- scalars -----------------------------------------------------------------------------------


def _string(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise FieldError(name, f"{name} must be a string, not {kind_of(value)}")
    return value


def _bool(data: Mapping[str, Any], name: str, default: bool) -> bool:
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise FieldError(name, f"{name} must be true or false, not {value!r}")
    return value


__all__ = ["ResponsesRequest", "parse_request", "plain_input", "previous_response_id"]

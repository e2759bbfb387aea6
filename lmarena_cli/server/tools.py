"""Tool calls emulated in the prompt: the contract the model reads, and its answers parsed.

The site has no tools (protocol §15.5: it ignores a ``tools`` field), so, as every bridge that
offers them does, the declared tools travel in the prompt as a short **contract**, and the model
calls one by answering with an envelope::

    <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>

:func:`contract` writes the contract (each tool stated compactly: its description cut to what a
model needs to choose it, its parameters as JSON Schema without prose or examples; a long
contract drew ``429 prompt failed`` for another bridge). :class:`CallScanner` reads the answer as
it streams: text passes at once, except what could be the start of ``<tool_call>``; a complete
envelope outside fenced code blocks whose name is one of the request's tools and whose arguments
validate against its schema becomes a :class:`ToolCall`; anything else stays text, and the
reason is logged (never a failure, never a second send).

History: an assistant turn that called tools is stored and folded as the envelopes the model
wrote (:func:`render_call`), and the results come back to the site as one user turn of
:func:`render_result` blocks, each with its call id and tool name. Pure: no I/O.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..client.content.structured import first_mismatch
from ..errors import InputError

OPEN = "<tool_call>"
CLOSE = "</tool_call>"
#: A tool's description is cut to its first sentence, and at most this many characters.
DESCRIPTION_CHARS = 160
#: Keywords of a parameter schema that are prose or examples, dropped from the contract.
_PROSE = frozenset(
    {"description", "title", "examples", "example", "$comment", "$schema", "default"}
)


@dataclass(frozen=True)
class Tool:
    """A declared function: its name, description and JSON Schema of its arguments.

    ``freeform``: the tool takes one string (OpenAI's ``custom`` tools): its arguments are
    ``{"input": "..."}`` in the envelope, and the codec hands the string over as it is.
    """

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    freeform: bool = False


@dataclass(frozen=True)
class ToolChoice:
    """``auto`` (call when useful), ``none`` (no contract), ``required`` (call one), or
    ``function`` (call the one named)."""

    mode: str = "auto"
    name: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """A call the model made: ``arguments`` is compact JSON text of an object."""

    id: str
    name: str
    arguments: str

    @property
    def args(self) -> Any:
        return orjson.loads(self.arguments)


def new_call_id(prefix: str = "call_") -> str:
    """A call id no other call of this server's life has (96 random bits)."""
    return prefix + secrets.token_urlsafe(18).replace("-", "a").replace("_", "b")


# --- the contract -------------------------------------------------------------------------------


def contract(tools: Sequence[Tool], choice: ToolChoice, *, parallel: bool = True) -> str:
    """The text that tells the model its tools; empty when there are none or ``choice`` is none."""
    if not tools or choice.mode == "none":
        return ""
    lines = [
        "You can call tools. To call one, reply with exactly",
        f'{OPEN}{{"name": "NAME", "arguments": {{...}}}}{CLOSE}',
        "and write nothing after it"
        + (" (one block per call; several calls may follow each other)." if parallel else ".")
        + " Results come back as [Tool result] messages. Tools:",
    ]
    lines.extend(_tool_line(tool) for tool in tools)
    if choice.mode == "required":
        lines.append("You must call at least one tool now.")
    elif choice.mode == "function" and choice.name:
        lines.append(f"You must call the tool {choice.name} now.")
    return "\n".join(lines)


def _tool_line(tool: Tool) -> str:
    params = "string" if tool.freeform else _compact_json(compact_schema(tool.parameters))
    description = short_description(tool.description)
    return f"- {tool.name} {params}" + (f": {description}" if description else "")


def short_description(text: str) -> str:
    """The first sentence of a description (or its first line), cut to what a model needs."""
    text = " ".join(text.strip().split("\n\n", 1)[0].split())
    match = re.search(r"(?<=[.!?])\s", text)
    if match:
        text = text[: match.start()]
    if len(text) > DESCRIPTION_CHARS:
        text = text[: DESCRIPTION_CHARS - 1].rstrip() + "…"
    return text


def compact_schema(schema: Any) -> Any:
    """A JSON Schema without prose or examples (descriptions, titles, examples, defaults)."""
    if isinstance(schema, Mapping):
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _PROSE:
                continue
            if key == "properties" and isinstance(value, Mapping):
                out[key] = {name: compact_schema(sub) for name, sub in value.items()}
            elif key == "additionalProperties" and value is False:
                continue  # what a model would not write anyway; the validator still checks it
            else:
                out[key] = compact_schema(value)
        return out
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]
    return schema


def _compact_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def contract_key(text: str) -> str:
    """What a conversation remembers of the contract it saw (to send it again on a change)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32] if text else ""


# --- history ------------------------------------------------------------------------------------


def render_call(name: str, arguments: Any) -> str:
    """One call as the envelope the model wrote (arguments as an object, compact)."""
    if isinstance(arguments, str):
        with contextlib.suppress(orjson.JSONDecodeError):  # else kept as the string it was
            arguments = orjson.loads(arguments) if arguments.strip() else {}
    body = orjson.dumps({"name": name, "arguments": arguments}).decode()
    return f"{OPEN}{body}{CLOSE}"


def render_assistant(text: str, calls: Iterable[tuple[str, Any]]) -> str:
    """An assistant turn that called tools: its text, then one envelope per call."""
    blocks = [text.strip()] if text and text.strip() else []
    blocks.extend(render_call(name, arguments) for name, arguments in calls)
    return "\n".join(blocks)


def render_result(call_id: str, name: str | None, output: str, *, error: bool = False) -> str:
    """A tool's output as the site reads it: a header with the call id and name, then the
    output verbatim."""
    label = "Tool error" if error else "Tool result"
    head = " ".join(part for part in (label, call_id, name or "") if part)
    return f"[{head}]\n{output}"


# --- parsing ------------------------------------------------------------------------------------

#: A piece of a scanned answer: text to pass on, or a call.
Piece = str | ToolCall
Log = Callable[[str], None]


class CallScanner:
    """Reads a streamed answer and tells its text from its tool calls.

    :meth:`feed` takes each text delta and returns what can be passed on now; :meth:`end`
    returns the rest. Text is held back only while it could be the start of ``<tool_call>``,
    or while an envelope is open. Envelopes inside fenced code blocks are text.
    """

    def __init__(
        self,
        tools: Sequence[Tool],
        *,
        parallel: bool = True,
        log: Log | None = None,
        id_prefix: str = "call_",
    ) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self.parallel = parallel
        self.log = log or (lambda line: None)
        self.id_prefix = id_prefix
        self.calls: list[ToolCall] = []
        self._buffer = ""
        self._in_envelope = False
        self._in_fence = False
        #: The current line's text so far (outside envelopes), to see fence lines.
        self._line = ""
        #: Tools whose schema is no valid JSON Schema: their arguments cannot be checked.
        self._unchecked: set[str] = set()

    def feed(self, text: str) -> list[Piece]:
        if not self._buffer and "<" not in text and "\n" not in text and not self._in_envelope:
            # The common case, one piece of a line with no envelope in sight: it passes as it is.
            if len(self._line) < 8:
                self._line += text[: 8 - len(self._line)]
            return [text] if text else []
        self._buffer += text
        return self._scan(final=False)

    def end(self) -> list[Piece]:
        pieces = self._scan(final=True)
        if self._buffer:
            if self._in_envelope:
                self.log("tool call: an envelope was never closed; kept as text")
            pieces.append(self._buffer)
            self._buffer = ""
        return _joined(pieces)

    def _scan(self, *, final: bool) -> list[Piece]:
        pieces: list[Piece] = []
        while self._buffer:
            if self._in_envelope:
                end = self._buffer.find(CLOSE, len(OPEN))
                if end < 0:
                    break
                raw = self._buffer[: end + len(CLOSE)]
                self._buffer = self._buffer[end + len(CLOSE) :]
                self._in_envelope = False
                self._line += "x"  # the line holds an envelope: it is no fence line
                pieces.append(self._call_or_text(raw))
                continue
            text = self._outside(final)
            if text:
                pieces.append(text)
            elif not self._in_envelope:
                break  # all that is left could still become ``<tool_call>``
        return _joined(pieces)

    def _outside(self, final: bool) -> str:
        """The text that can pass now, up to the end of the first line (fences change state at
        line starts); an envelope opens where ``<tool_call>`` starts outside a fence."""
        buffer = self._buffer
        newline = buffer.find("\n")
        segment = buffer if newline < 0 else buffer[: newline + 1]
        if not self._in_fence:
            start = segment.find(OPEN)
            if start >= 0:
                segment = segment[:start]
                self._in_envelope = True  # the buffer keeps the envelope whole, for a fallback
            elif newline < 0 and not final:
                segment = segment[: len(segment) - _partial_open(segment)]
        self._buffer = buffer[len(segment) :]
        self._track_lines(segment)
        return segment

    def _track_lines(self, text: str) -> None:
        """Keep the start of the current line; a line that ends as a fence line toggles the
        fence (``_outside`` hands over at most one line end at a time)."""
        *ended, rest = text.split("\n")
        for line in ended:
            line = (self._line + line)[:8]
            indent = len(line) - len(line.lstrip(" "))
            if indent <= 3 and line.lstrip(" ").startswith(("```", "~~~")):
                self._in_fence = not self._in_fence
            self._line = ""
        if len(self._line) < 8:
            self._line += rest[: 8 - len(self._line)]

    def _call_or_text(self, raw: str) -> Piece:
        body = raw[len(OPEN) : -len(CLOSE)]
        problem, call = self._parse(body)
        if call is not None:
            if self.calls and not self.parallel:
                self.log(
                    "tool call: a second call although parallel_tool_calls is false; kept as text"
                )
                return raw
            self.calls.append(call)
            return call
        self.log(f"tool call kept as text: {problem}")
        return raw

    def _parse(self, body: str) -> tuple[str, ToolCall | None]:
        data = loads_tolerant(body)
        if not isinstance(data, Mapping):
            return "the envelope does not hold a JSON object", None
        name = data.get("name")
        if not isinstance(name, str) or name not in self.tools:
            known = ", ".join(self.tools) or "none"
            return f"no tool named {name!r} was declared (declared: {known})", None
        tool = self.tools[name]
        arguments = data.get("arguments", data.get("parameters", {}))
        if isinstance(arguments, str):
            parsed = loads_tolerant(arguments)
            if isinstance(parsed, Mapping):
                arguments = parsed
            elif tool.freeform:
                arguments = {"input": arguments}
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            return f"the arguments of {name} are not a JSON object", None
        mismatch = self._mismatch(tool, arguments)
        if mismatch:
            return f"the arguments of {name} do not match its schema: {mismatch}", None
        text = orjson.dumps(arguments).decode()
        return "", ToolCall(new_call_id(self.id_prefix), name, text)

    def _mismatch(self, tool: Tool, arguments: Mapping[str, Any]) -> str:
        if tool.freeform:
            return "" if isinstance(arguments.get("input"), str) else "expected {'input': string}"
        if tool.name in self._unchecked:
            return ""
        try:
            return first_mismatch(dict(tool.parameters), dict(arguments)) or ""
        except InputError as error:  # the client's schema itself is broken
            self._unchecked.add(tool.name)
            self.log(f"tool {tool.name}: {error}; its arguments are not checked")
            return ""


def _partial_open(buffer: str) -> int:
    """How many characters at the end of ``buffer`` could start ``<tool_call>``."""
    for size in range(min(len(OPEN) - 1, len(buffer)), 0, -1):
        if OPEN.startswith(buffer[-size:]):
            return size
    return 0


def _joined(pieces: list[Piece]) -> list[Piece]:
    """Adjacent text pieces as one (fewer deltas for the client)."""
    out: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str):
            if not piece:
                continue
            if out and isinstance(out[-1], str):
                out[-1] += piece
                continue
        out.append(piece)
    return out


_FENCE = re.compile(r"^\s*```[\w-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def loads_tolerant(text: str) -> Any:
    """JSON with the usual slips of models forgiven: a fenced block around it, trailing commas.
    None when it still does not parse."""
    text = text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    for candidate in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
    return None


__all__ = [
    "CLOSE",
    "OPEN",
    "CallScanner",
    "Piece",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "compact_schema",
    "contract",
    "contract_key",
    "loads_tolerant",
    "new_call_id",
    "render_assistant",
    "render_call",
    "render_result",
    "short_description",
]

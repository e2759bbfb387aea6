"""OpenAI's request bodies, checked: chat completions, image generations, and the new turn.

Pure (no I/O): the handlers read the body, and these functions say what it asks for or which
field is wrong (:class:`FieldError`, OpenAI's ``error.param``). :mod:`.openai_shapes` shapes the
answers.

**Which text reaches the site.** The site keeps a conversation's history itself, so a send carries
only the new user turn: the run of ``user`` messages at the end of ``messages`` (their text parts
joined by a blank line; their ``image_url`` parts become the images). When the server has no
stored conversation to continue and the request carries earlier turns or system messages, it
folds them into the first prompt with :func:`fold_history` (``[Role]`` blocks, the transcript
form drawn in :mod:`lmarena_cli.site.prompts`, the one code path that ``lmarena ask -s`` folds a
system prompt through too). A request whose only message is the new turn is sent as it is.

**Tools, formats, limits.** ``tools`` (and the legacy ``functions``), ``tool_choice``,
``parallel_tool_calls``, ``response_format``, ``stop`` and ``max_tokens`` /
``max_completion_tokens`` become the :class:`~.turn.Turn`'s (:meth:`ChatRequest.to_turn`); the
messages are written in the turn's plain form first (:func:`plain_messages`): an assistant's
``tool_calls`` as envelopes, a ``tool`` message as a result block, a ``file`` part as its text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..client.content.structured import OutputFormat
from ..errors import FieldError
from ..site.prompts import fold_history, text_of
from ..state.transcripts import new_turn_start
from . import fields
from .chat_fields import (
    chat_max_tokens,
    chat_output,
    chat_tool_choice,
    chat_tools,
    file_part,
    plain_messages,
)
from .tools import Tool, ToolChoice
from .turn import Limits, Turn, turn_text

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


# --- requests -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserTurn:
    """The new user turn of a request: its text and the image URLs (``data:`` or http(s))."""

    text: str
    images: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChatRequest:
    """A checked ``POST /v1/chat/completions`` body; ``messages`` in the plain form."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    include_usage: bool = False
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    parallel_tool_calls: bool = True
    output: OutputFormat | None = None
    limits: Limits = field(default_factory=Limits)
    #: Declared tools that are not functions (built-in tools), dropped; the server logs them.
    dropped_tools: tuple[str, ...] = ()
    #: Tools came as the legacy ``functions``: a call is answered as ``function_call``.
    legacy_functions: bool = False
    #: The client's session (``prompt_cache_key``): transcripts are matched within it.
    prompt_cache_key: str | None = None
    #: From ``conversation.evaluationSessionId`` or ``conversation_id`` (extension fields).
    conversation_id: str | None = None
    #: From ``arena.versus`` (side by side) and ``arena.battle`` (anonymous battle).
    versus: str | None = None
    battle: bool = False

    @property
    def turn_start(self) -> int:
        """Index of the first message of the new turn (the trailing run of user messages)."""
        return new_turn_start(self.messages)

    @property
    def history(self) -> list[dict[str, Any]]:
        """The messages before the new turn."""
        return self.messages[: self.turn_start]

    @property
    def turn(self) -> UserTurn:
        """The new turn's text (its messages' texts, a blank line between) and image URLs."""
        return UserTurn(*turn_text(self.messages[self.turn_start :]))

    def to_turn(self, *, session_key: str | None = None) -> Turn:
        return Turn(
            model=self.model,
            messages=self.messages,
            stream=self.stream,
            tools=self.tools,
            tool_choice=self.tool_choice,
            parallel_tool_calls=self.parallel_tool_calls,
            output=self.output,
            limits=self.limits,
            conversation_id=self.conversation_id,
            session_key=session_key,
            versus=self.versus,
            battle=self.battle,
        )


def parse_chat_request(body: Any) -> ChatRequest:
    """Check a chat completion body; :class:`FieldError` names the first bad field."""
    data = _object(body)
    model = _string(data, "model", required=True)
    messages = plain_messages(_messages(data.get("messages")))
    n = data.get("n")
    if n is not None and n != 1:
        raise FieldError("n", f"n must be 1: the site answers once per message (not {n!r})")
    declared, dropped = chat_tools(data)
    stream = _bool(data, "stream")
    options = data.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise FieldError("stream_options", "stream_options must be an object")
    include_usage = _bool(options or {}, "include_usage", "stream_options.include_usage")
    conversation_id = _conversation_id(data)
    versus, battle = _arena(data.get("arena"))
    return ChatRequest(
        model=model or "",
        messages=messages,
        stream=stream,
        include_usage=include_usage,
        conversation_id=conversation_id,
        versus=versus,
        battle=battle,
        tools=declared,
        tool_choice=chat_tool_choice(data, declared),
        parallel_tool_calls=data.get("parallel_tool_calls") is not False,
        output=chat_output(data.get("response_format")),
        limits=Limits(chat_max_tokens(data), fields.stops(data.get("stop"))),
        dropped_tools=dropped,
        legacy_functions=data.get("functions") is not None and data.get("tools") is None,
        prompt_cache_key=(_string(data, "prompt_cache_key") or "").strip() or None,
    )


@dataclass(frozen=True)
class ImageRequest:
    """A checked ``POST /v1/images/generations`` body."""

    prompt: str
    model: str | None
    n: int
    b64: bool


def parse_image_request(body: Any) -> ImageRequest:
    """Check an image generation body (``prompt``; ``model``, ``n``, ``response_format``)."""
    data = _object(body)
    prompt = _string(data, "prompt", required=True) or ""
    if not prompt.strip():
        raise FieldError("prompt", "prompt must not be empty")
    n = data.get("n", 1)
    if n is None:
        n = 1
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 4:
        raise FieldError("n", f"n must be a whole number from 1 to 4, not {n!r}")
    response_format = _string(data, "response_format") or "url"
    if response_format not in ("url", "b64_json"):
        raise FieldError(
            "response_format", f"response_format must be url or b64_json, not {response_format!r}"
        )
    return ImageRequest(prompt, _string(data, "model"), n, response_format == "b64_json")


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise FieldError("", f"the request body must be a JSON object, not {_kind(body)}")
    return body


def _kind(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    names.update({list: "an array", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def _string(data: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise FieldError(name, f"the field {name!r} is required")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise FieldError(name, f"{name} must be a non-empty string, not {_kind(value)}")
    return value


def _bool(data: Mapping[str, Any], name: str, param: str | None = None) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise FieldError(param or name, f"{param or name} must be true or false, not {value!r}")
    return value


def _messages(value: Any) -> list[dict[str, Any]]:
    if value is None:
        raise FieldError("messages", "the field 'messages' is required")
    if not isinstance(value, list) or not value:
        raise FieldError("messages", "messages must be a non-empty array of message objects")
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise FieldError(where, f"{where} must be an object, not {_kind(message)}")
        role = message.get("role")
        if role not in ROLES:
            raise FieldError(
                f"{where}.role",
                f"{where}.role must be one of {', '.join(sorted(ROLES))}, not {role!r}",
            )
        _check_content(message.get("content"), f"{where}.content")
    if value[-1].get("role") not in ("user", "tool", "function"):
        raise FieldError(
            f"messages[{len(value) - 1}].role",
            "the last message must come from the user (role 'user') or be a tool's result "
            f"(role 'tool'), not {value[-1].get('role')!r}",
        )
    return value


def _check_content(content: Any, where: str) -> None:
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise FieldError(where, f"{where} must be a string or an array of parts")
    for index, part in enumerate(content):
        spot = f"{where}[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise FieldError(f"{spot}.text", f"{spot}.text must be a string")
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise FieldError(f"{spot}.image_url.url", f"{spot}.image_url.url must be a URL")
        elif kind in ("file", "input_file"):
            file_part(part, spot)
        elif kind == "refusal":
            continue
        else:
            raise FieldError(
                f"{spot}.type",
                f"{spot}.type must be 'text', 'image_url' or 'file', not {kind!r}",
            )


def _conversation_id(data: Mapping[str, Any]) -> str | None:
    conversation = data.get("conversation")
    if conversation is not None:
        if isinstance(conversation, str):
            return conversation.strip() or None
        if not isinstance(conversation, Mapping):
            raise FieldError("conversation", "conversation must be an object")
        value = conversation.get("evaluationSessionId")
        if value is not None:
            if not isinstance(value, str) or not value.strip():
                raise FieldError(
                    "conversation.evaluationSessionId",
                    "conversation.evaluationSessionId must be a conversation id (a UUID)",
                )
            return value.strip()
    value = _string(data, "conversation_id")
    return value.strip() if value and value.strip() else None


def _arena(value: Any) -> tuple[str | None, bool]:
    if value is None:
        return None, False
    if not isinstance(value, Mapping):
        raise FieldError(
            "arena", 'arena must be an object: {"versus": "<model>"} or {"battle": true}'
        )
    versus = _string(value, "versus")
    if versus is not None and not versus.strip():
        raise FieldError("arena.versus", "arena.versus must name a model")
    battle = _bool(value, "battle", "arena.battle")
    if battle and versus:
        raise FieldError("arena", "arena takes either versus or battle, not both")
    return versus, battle


__all__ = [
    "ChatRequest",
    "ImageRequest",
    "UserTurn",
    "fold_history",
    "parse_chat_request",
    "parse_image_request",
    "text_of",
]

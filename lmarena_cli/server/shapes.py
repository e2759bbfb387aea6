"""Pure conversions between OpenAI's request/response shapes and this package's objects.

No I/O here: :mod:`server` reads requests, calls the client, and uses these functions to check
what came in and to shape what goes out.

**Which text reaches the site.** The site keeps a conversation's history itself, so a send carries
only the new user turn: the run of ``user`` messages at the end of ``messages`` (their text parts
joined by a blank line; their ``image_url`` parts become the images). When the server has no
stored conversation to continue and the request carries earlier turns or system messages, it
folds them into the first prompt with :func:`fold_history`, in this plain-text transcript form::

    [System]
    You are terse.

    [User]
    What is 2+2?

    [Assistant]
    4

    [User]
    And 3+3?

Each message is a ``[Role]`` header line (``System``, ``User``, ``Assistant``, ``Tool``; the OpenAI
``developer`` role counts as ``System``) followed by its text; messages are separated by a blank
line; an image in an earlier turn shows as ``[image]`` (only the new turn's images are sent). The
last block is the new turn. A request whose only message is the new turn is sent as it is.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import (
    ConversationNotFound,
    InputError,
    LmArenaError,
    ModelNotFound,
    RateLimited,
)
from ..site.protocol import uuid7_timestamp_ms

if TYPE_CHECKING:
    from ..client.reply import Answer, Reply
    from ..site.discovery import Model

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_HEADERS = {"developer": "System", "function": "Tool"}
#: The site's finish reasons (Vercel AI SDK words) in OpenAI's words.
_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "content-filter": "content_filter",
    "content_filter": "content_filter",
    "tool-calls": "tool_calls",
    "tool_calls": "tool_calls",
}


class FieldError(InputError):
    """A missing or malformed request field; ``param`` names it (OpenAI's ``error.param``)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message, kind="invalid_field")
        self.param = param


# --- requests -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserTurn:
    """The new user turn of a request: its text and the image URLs (``data:`` or http(s))."""

    text: str
    images: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChatRequest:
    """A checked ``POST /v1/chat/completions`` body."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    include_usage: bool = False
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
        return user_turn(self.messages[self.turn_start :])


def parse_chat_request(body: Any) -> ChatRequest:
    """Check a chat completion body; :class:`FieldError` names the first bad field."""
    data = _object(body)
    model = _string(data, "model", required=True)
    messages = _messages(data.get("messages"))
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
    if value[-1].get("role") != "user":
        raise FieldError(
            f"messages[{len(value) - 1}].role",
            "the last message must come from the user (role 'user'), "
            f"not {value[-1].get('role')!r}",
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
        else:
            raise FieldError(
                f"{spot}.type", f"{spot}.type must be 'text' or 'image_url', not {kind!r}"
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


# --- turns and history ----------------------------------------------------------------------------


def new_turn_start(messages: Sequence[Mapping[str, Any]]) -> int:
    """Index where the trailing run of user messages (the new turn) begins."""
    start = len(messages)
    while start > 0 and messages[start - 1].get("role") == "user":
        start -= 1
    return start


def text_of(content: Any, *, image_marker: str | None = None) -> str:
    """The text of a message's content (string or parts); images become ``image_marker``."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    pieces = []
    for part in content:
        if part.get("type") == "text":
            pieces.append(part["text"])
        elif image_marker is not None:
            pieces.append(image_marker)
    return "\n".join(pieces)


def image_urls(content: Any) -> list[str]:
    """The ``image_url`` URLs of a message's content parts, in order."""
    if not isinstance(content, list):
        return []
    urls = []
    for part in content:
        if part.get("type") == "image_url":
            image = part["image_url"]
            urls.append(image["url"] if isinstance(image, dict) else image)
    return urls


def user_turn(messages: Iterable[Mapping[str, Any]]) -> UserTurn:
    """One user turn from consecutive user messages: texts joined by a blank line."""
    texts: list[str] = []
    images: list[str] = []
    for message in messages:
        text = text_of(message.get("content")).strip()
        if text:
            texts.append(text)
        images.extend(image_urls(message.get("content")))
    return UserTurn("\n\n".join(texts), images)


def fold_history(history: Sequence[Mapping[str, Any]], turn: str) -> str:
    """Earlier messages and the new turn as one prompt, in the transcript form of the module doc."""
    if not history:
        return turn
    blocks = []
    for message in history:
        role = str(message.get("role"))
        header = _HEADERS.get(role, role.capitalize())
        text = text_of(message.get("content"), image_marker="[image]").strip()
        blocks.append(f"[{header}]\n{text}")
    blocks.append(f"[User]\n{turn}")
    return "\n\n".join(blocks)


# --- responses ------------------------------------------------------------------------------------


def completion_id() -> str:
    """A fresh ``chatcmpl-...`` id."""
    return "chatcmpl-" + secrets.token_hex(12)


def finish_reason(reason: str | None) -> str:
    """The site's finish reason in OpenAI's words (``stop`` for anything unknown)."""
    return _FINISH_REASONS.get(reason or "stop", "stop")


def usage(site_usage: Mapping[str, Any] | None) -> dict[str, int] | None:
    """OpenAI usage from the site's ``{promptTokens, completionTokens}``; None when unknown."""
    if not isinstance(site_usage, Mapping):
        return None
    prompt = site_usage.get("promptTokens", site_usage.get("prompt_tokens"))
    completion = site_usage.get("completionTokens", site_usage.get("completion_tokens"))
    if not isinstance(prompt, int) and not isinstance(completion, int):
        return None
    prompt = prompt if isinstance(prompt, int) else 0
    completion = completion if isinstance(completion, int) else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def image_markdown(url: str) -> str:
    """A generated image as markdown, the way chat front ends show images."""
    return f"![image]({url})"


def answer_content(answer: Answer) -> str:
    """An answer's text followed by its images as markdown images (one per paragraph)."""
    parts = [answer.text] if answer.text else []
    parts.extend(image_markdown(url) for url in answer.images)
    return "\n\n".join(parts)


def conversation_fields(conversation_id: str) -> dict[str, Any]:
    """The extension fields that name the conversation, for resuming it."""
    return {
        "conversation_id": conversation_id,
        "conversation": {"evaluationSessionId": conversation_id},
    }


def completion(reply: Reply, *, completion_id: str, created: int, model: str) -> dict[str, Any]:
    """A ``chat.completion``; side by side and battle answer in ``choices[0]`` and ``[1]``."""
    choices = []
    for index, answer in enumerate(reply.answers):
        message: dict[str, Any] = {"role": "assistant", "content": answer_content(answer)}
        if answer.reasoning:
            message["reasoning_content"] = answer.reasoning
        if answer.citations:
            message["citations"] = list(answer.citations)
        choice: dict[str, Any] = {
            "index": index,
            "message": message,
            "finish_reason": finish_reason(answer.finish_reason),
            "logprobs": None,
        }
        if len(reply.answers) > 1:
            choice["model"] = answer.model
        choices.append(choice)
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        **conversation_fields(reply.evaluation_session_id),
    }
    counted = usage(reply.usage)
    if counted is not None:
        body["usage"] = counted
    if len(reply.answers) > 1:
        body["arena"] = arena_fields(reply)
    return body


def arena_fields(reply: Reply) -> dict[str, Any]:
    """The ``arena`` extension: the mode and each side's model (as far as the site revealed)."""
    return {
        "mode": reply.mode,
        "models": [answer.model for answer in reply.answers],
    }


@dataclass
class ChunkMaker:
    """Builds the ``chat.completion.chunk`` objects of one streamed completion."""

    completion_id: str
    created: int
    model: str
    include_usage: bool = False

    def chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            body["usage"] = None
        body.update(extra)
        return body

    def first(self, conversation_id: str, sides: int) -> dict[str, Any]:
        """The role chunk, which names the conversation."""
        choices = [
            {"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            for index in range(sides)
        ]
        return self.chunk(choices, **conversation_fields(conversation_id))

    def delta(self, index: int, **delta: Any) -> dict[str, Any]:
        """A content (or ``reasoning_content``) delta of choice ``index``."""
        return self.chunk([{"index": index, "delta": delta, "finish_reason": None}])

    def finish(self, index: int, reason: str | None) -> dict[str, Any]:
        return self.chunk([{"index": index, "delta": {}, "finish_reason": finish_reason(reason)}])

    def usage(self, site_usage: Mapping[str, Any] | None) -> dict[str, Any]:
        """The extra chunk ``stream_options.include_usage`` asks for: no choices, the usage."""
        body = self.chunk([])
        body["usage"] = usage(site_usage) or {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
        }
        return body

    def error(self, error: LmArenaError, index: int = 0) -> dict[str, Any]:
        """The last chunk of a stream that failed after it started: it carries the error."""
        choices = [{"index": index, "delta": {}, "finish_reason": "error"}]
        return self.chunk(choices, **error_body(error))


# --- errors ---------------------------------------------------------------------------------------

_CODES: tuple[tuple[type[LmArenaError], str], ...] = (
    (ModelNotFound, "model_not_found"),
    (ConversationNotFound, "conversation_not_found"),
    (RateLimited, "rate_limit_exceeded"),
)


def error_body(
    error: LmArenaError, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """The OpenAI error envelope ``{"error": {"message", "type", "param", "code"}}``."""
    if code is None:
        code = next((name for cls, name in _CODES if isinstance(error, cls)), error.kind)
    return {
        "error": {
            "message": str(error),
            "type": error.error_type,
            # OpenAI sends null, not "", when no single field is to blame (e.g. invalid JSON).
            "param": (param if param is not None else getattr(error, "param", None)) or None,
            "code": code,
        }
    }


def plain_error(
    message: str, *, error_type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """An error envelope for failures that are not :class:`LmArenaError` (HTTP-level ones)."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


# --- models and images ----------------------------------------------------------------------------


def model_entry(model: Model) -> dict[str, Any]:
    """One ``/v1/models`` item: OpenAI's fields, then this tool's as extensions."""
    created_ms = uuid7_timestamp_ms(model.id)
    info = model.to_json()
    return {
        "id": model.name,
        "object": "model",
        "created": created_ms // 1000 if created_ms else 0,
        "owned_by": model.organization or "lmarena",
        "arena_id": model.id,
        "modality": info["modality"],
        "takes_images": info["takes_images"],
        "outputs_images": info["outputs_images"],
        "searches": info["searches"],
        "capabilities": info["capabilities"],
    }


def model_list(models: Iterable[Model]) -> dict[str, Any]:
    return {"object": "list", "data": [model_entry(model) for model in models]}


def images_response(
    created: int, urls: Sequence[str], data: Sequence[bytes] | None = None
) -> dict[str, Any]:
    """OpenAI's images shape: ``url`` items, or ``b64_json`` items when ``data`` is given."""
    if data is not None:
        items = [{"b64_json": base64.b64encode(blob).decode("ascii")} for blob in data]
    else:
        items = [{"url": url} for url in urls]
    return {"created": created, "data": items}

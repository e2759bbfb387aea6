"""OpenAI's response shapes built from this package's objects: chunks, errors, models, images.

Pure (no I/O): the handlers call the client and hand its models and errors to these functions;
:mod:`.requests` checks what came in, and :mod:`.chat_codec` writes a chat completion's answer
with :class:`ChunkMaker`.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConversationNotFound, LmArenaError, ModelNotFound, RateLimited
from ..site.ids import uuid7_timestamp_ms
from .advice import say
from .engine import finish_reason as finish_reason

if TYPE_CHECKING:
    from ..client.reply import SkippedBattle
    from ..site.models import Model


def completion_id() -> str:
    """A fresh ``chatcmpl-...`` id."""
    return "chatcmpl-" + secrets.token_hex(12)


def conversation_fields(conversation_id: str) -> dict[str, Any]:
    """The extension fields that name the conversation, for resuming it."""
    return {
        "conversation_id": conversation_id,
        "conversation": {"evaluationSessionId": conversation_id},
    }


def battle_fields(skipped: SkippedBattle) -> dict[str, Any]:
    """The extension field saying that the site answered a single-model turn as an anonymous
    battle, which was skipped: the answer is the chosen model's (protocol §14.5)."""
    return {"battle_skipped": skipped.to_dict()}


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

    def usage(self, counted: Mapping[str, int]) -> dict[str, Any]:
        """The extra chunk ``stream_options.include_usage`` asks for: no choices, the usage."""
        body = self.chunk([])
        body["usage"] = dict(counted)
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
            "message": say(error),
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

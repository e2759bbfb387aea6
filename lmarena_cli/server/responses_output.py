"""The response objects of ``POST /v1/responses``: the body, its output items, its usage.

:class:`Shape` holds what every body of one response shares (its id, creation time, model,
the echoed request settings) and writes a body of any status; the item builders write the
``reasoning``, ``message``, ``function_call`` and ``custom_tool_call`` items. A non-streamed
answer's items come from the engine's :class:`~.engine.Outcome` (:func:`items_of`); a streamed
one's are those its events opened (:mod:`.responses_codec`). Pure: no I/O.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..client.content.usage import estimate_tokens
from ..errors import ContentRejected, LmArenaError, PromptTooLong, RateLimited
from . import engine, tools
from .advice import say
from .responses_input import ResponsesRequest

#: Finish reasons that leave a response ``incomplete``, with OpenAI's reason for it.
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def new_id(prefix: str) -> str:
    """An item or response id: ``prefix`` and 48 random hex digits."""
    return prefix + secrets.token_hex(24)


def status_of(reason: str | None) -> tuple[str, dict[str, str] | None]:
    """A response's ``status`` and ``incomplete_details`` for model A's finish reason."""
    why = _INCOMPLETE.get(reason or "stop")
    return ("incomplete", {"reason": why}) if why else ("completed", None)


@dataclass(frozen=True)
class Shape:
    """What every body of one response shares."""

    id: str
    created_at: int
    model: str
    echo: Mapping[str, Any]
    previous_response_id: str | None
    freeform: frozenset[str]

    @classmethod
    def of(cls, request: ResponsesRequest) -> Shape:
        return cls(
            new_id("resp_"),
            int(time.time()),
            request.model,
            request.echo,
            request.previous_response_id,
            request.freeform,
        )

    def body(
        self,
        status: str,
        output: list[dict[str, Any]],
        *,
        usage: dict[str, Any] | None = None,
        incomplete: dict[str, str] | None = None,
        error: dict[str, str] | None = None,
        conversation_id: str = "",
    ) -> dict[str, Any]:
        echo = self.echo
        body: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": error,
            "incomplete_details": incomplete,
            "instructions": echo.get("instructions"),
            "max_output_tokens": echo.get("max_output_tokens"),
            "model": self.model,
            "output": output,
            "output_text": output_text(output),
            "parallel_tool_calls": echo.get("parallel_tool_calls", True),
            "previous_response_id": self.previous_response_id,
            "reasoning": echo.get("reasoning"),
            "store": echo.get("store", True),
            "temperature": echo.get("temperature"),
            "text": echo.get("text"),
            "tool_choice": echo.get("tool_choice", "auto"),
            "tools": echo.get("tools", []),
            "top_p": echo.get("top_p"),
            "truncation": echo.get("truncation", "disabled"),
            "usage": usage,
            "user": echo.get("user"),
            "metadata": echo.get("metadata", {}),
        }
        if conversation_id:
            body["conversation_id"] = conversation_id
        return body

    def finished(self, outcome: engine.Outcome, output: list[dict[str, Any]]) -> dict[str, Any]:
        """The body of a finished answer."""
        status, incomplete = status_of(outcome.a.finish_reason if outcome.sides else None)
        body = self.body(
            status,
            output,
            usage=usage(outcome),
            incomplete=incomplete,
            conversation_id=outcome.conversation_id,
        )
        if outcome.battle_skipped is not None:
            body["battle_skipped"] = outcome.battle_skipped.to_dict()
        return body

    def item_id(self, prefix: str, index: int) -> str:
        """The id of output item ``index``: it names this response, so that an
        ``item_reference`` to it can be resolved (:func:`response_of_item`)."""
        return f"{prefix}{self.id.removeprefix('resp_')}_{index}"

    def call_item(
        self, call: tools.ToolCall, status: str, index: int, *, arguments: str | None = None
    ) -> dict[str, Any]:
        """A ``function_call`` item (``custom_tool_call`` for a custom tool: its ``input`` is
        the string the model gave). ``arguments``: what the item says so far ('' when added)."""
        said = call.arguments if arguments is None else arguments
        if call.name in self.freeform:
            text = _freeform_input(call) if arguments is None else arguments
            return {
                "id": self.item_id("ctc_", index),
                "type": "custom_tool_call",
                "status": status,
                "call_id": call.id,
                "name": call.name,
                "input": text,
            }
        return {
            "id": self.item_id("fc_", index),
            "type": "function_call",
            "status": status,
            "call_id": call.id,
            "name": call.name,
            "arguments": said,
        }

    def call_text(self, call: tools.ToolCall) -> str:
        """What a call item's deltas carry: the arguments' JSON, or a custom tool's input."""
        return _freeform_input(call) if call.name in self.freeform else call.arguments


def response_of_item(item_id: str) -> str | None:
    """The id of the response whose output holds the item ``item_id`` (None: not one of ours)."""
    _, _, rest = item_id.partition("_")
    head, _, index = rest.rpartition("_")
    return f"resp_{head}" if head and index.isdigit() else None


def _freeform_input(call: tools.ToolCall) -> str:
    args = call.args
    value = args.get("input") if isinstance(args, dict) else None
    return value if isinstance(value, str) else call.arguments


def message_item(
    item_id: str, text: str, annotations: list[dict[str, Any]], status: str
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [text_part(text, annotations)] if status != "in_progress" else [],
    }


def text_part(text: str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}


def reasoning_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": text}] if status != "in_progress" else []
    return {"id": item_id, "type": "reasoning", "status": status, "summary": summary}


def cited(citations: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """Search citations as ``url_citation`` annotations over the whole answer."""
    return [
        {
            "type": "url_citation",
            "url": cited.get("url") or "",
            "title": cited.get("title") or cited.get("url") or "",
            "start_index": 0,
            "end_index": len(text),
        }
        for cited in citations
    ]


def items_of(shape: Shape, outcome: engine.Outcome) -> list[dict[str, Any]]:
    """A whole answer's output items: its reasoning, its text, its calls."""
    a = outcome.a
    status = "incomplete" if status_of(a.finish_reason)[0] == "incomplete" else "completed"
    items: list[dict[str, Any]] = []
    if a.reasoning:
        items.append(reasoning_item(shape.item_id("rs_", len(items)), a.reasoning, "completed"))
    if a.text.strip() or not a.calls:
        item_id = shape.item_id("msg_", len(items))
        items.append(message_item(item_id, a.text, cited(a.citations, a.text), status))
    for call in a.calls:
        items.append(shape.call_item(call, "completed", len(items)))
    return items


def output_text(output: list[dict[str, Any]]) -> str:
    """The texts of the output's messages, as the SDKs' ``output_text`` joins them."""
    return "".join(
        part.get("text", "")
        for item in output
        if item.get("type") == "message"
        for part in item.get("content", [])
        if part.get("type") == "output_text"
    )


def usage(outcome: engine.Outcome) -> dict[str, Any]:
    reasoning = outcome.a.reasoning if outcome.sides else ""
    spent = min(estimate_tokens(reasoning), outcome.completion_tokens) if reasoning else 0
    return {
        "input_tokens": outcome.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": outcome.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": spent},
        "total_tokens": outcome.prompt_tokens + outcome.completion_tokens,
    }


def failure(error: LmArenaError) -> dict[str, str]:
    """A failed response's ``error``: a rate limit says how long to wait, in the words Codex
    reads ("Please try again in 3s.")."""
    if isinstance(error, RateLimited):
        message = say(error)
        if error.retry_after is not None:
            message = f"{message.rstrip('.')}. Please try again in {max(error.retry_after, 0):g}s."
        return {"code": "rate_limit_exceeded", "message": message}
    if isinstance(error, PromptTooLong):
        return {"code": "context_length_exceeded", "message": say(error)}
    if isinstance(error, ContentRejected):
        return {"code": "invalid_prompt", "message": say(error)}
    return {"code": "server_error", "message": say(error)}


__all__ = [
    "Shape",
    "cited",
    "failure",
    "items_of",
    "message_item",
    "new_id",
    "output_text",
    "reasoning_item",
    "response_of_item",
    "status_of",
    "text_part",
    "usage",
]

"""Body checks of the stream endpoints, with the site's error shapes (protocol doc §1.5, §8.1).

The site validates bodies with Zod; a schema failure is a 400 whose body is
``{"success":false,"error":{"issues":[...],"name":"ZodError"}}``. Business rules (ids, models,
modes) answer 400 with a plain ``{"error": "..."}``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from .facts import (
    DUPLICATE_IDS,
    INVALID_ID,
    MODALITIES,
    MODES,
    SPOOFED_ID_BODY,
    V2_TOKEN_FIELD,
    V3_TOKEN_FIELD,
)


class Rejection(Exception):
    """Validation failed; carries the HTTP status and JSON body to answer with."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def error(status: int, message: str) -> Rejection:
    """A rejection with the site's plain ``{"error": message}`` body."""
    return Rejection(status, {"error": message})


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class Schema:
    """Collects Zod-style issues for one body."""

    def __init__(self, body: Any) -> None:
        self.body = body
        self.issues: list[dict[str, Any]] = []

    def field(
        self,
        path: list[str | int],
        expected: str,
        *,
        required: bool = True,
        nullable: bool = False,
        enum: tuple[str, ...] | None = None,
    ) -> Any:
        value: Any = self.body
        missing = False
        for key in path:
            if isinstance(value, dict) and isinstance(key, str) and key in value:
                value = value[key]
                continue
            if isinstance(value, list) and isinstance(key, int) and key < len(value):
                value = value[key]
                continue
            missing = True
            break
        if missing:
            if required:
                self.issues.append(
                    {
                        "code": "invalid_type",
                        "expected": expected,
                        "received": "undefined",
                        "path": path,
                        "message": "Required",
                    }
                )
            return None
        if value is None and nullable:
            return None
        got = _type_name(value)
        if got != expected:
            self.issues.append(
                {
                    "code": "invalid_type",
                    "expected": expected,
                    "received": got,
                    "path": path,
                    "message": f"Expected {expected}, received {got}",
                }
            )
            return None
        if enum is not None and value not in enum:
            self.issues.append(
                {
                    "received": value,
                    "code": "invalid_enum_value",
                    "options": list(enum),
                    "path": path,
                    "message": "Invalid enum value. Expected "
                    + " | ".join(f"'{o}'" for o in enum)
                    + f", received '{value}'",
                }
            )
            return None
        return value

    def raise_if_failed(self) -> None:
        if self.issues:
            raise Rejection(
                400, {"success": False, "error": {"issues": self.issues, "name": "ZodError"}}
            )


def check_message_body(body: Any, *, first_turn: bool) -> None:
    """Schema of create-evaluation (``first_turn``) and post-to-evaluation bodies."""
    if not isinstance(body, dict):
        raise Rejection(
            400,
            {
                "success": False,
                "error": {
                    "issues": [
                        {
                            "code": "invalid_type",
                            "expected": "object",
                            "received": _type_name(body),
                            "path": [],
                            "message": f"Expected object, received {_type_name(body)}",
                        }
                    ],
                    "name": "ZodError",
                },
            },
        )
    s = Schema(body)
    s.field(["id"], "string", required=first_turn)
    s.field(["mode"], "string", required=first_turn, enum=MODES)
    s.field(["modelAId"], "string", required=False, nullable=True)
    s.field(["modelBId"], "string", required=False, nullable=True)
    s.field(["userMessageId"], "string")
    s.field(["modelAMessageId"], "string")
    s.field(["modelBMessageId"], "string", required=False, nullable=True)
    if s.field(["userMessage"], "object") is not None:
        s.field(["userMessage", "content"], "string")
        attachments = s.field(["userMessage", "experimental_attachments"], "array", required=False)
        for i, _ in enumerate(attachments or []):
            base: list[str | int] = ["userMessage", "experimental_attachments", i]
            if s.field(base, "object") is not None:
                s.field([*base, "name"], "string")
                s.field([*base, "contentType"], "string")
                s.field([*base, "url"], "string")
        s.field(["userMessage", "metadata"], "object", required=False)
    s.field(["modality"], "string", enum=MODALITIES)
    s.field([V3_TOKEN_FIELD], "string", required=False, nullable=True)
    s.field([V2_TOKEN_FIELD], "string", required=False, nullable=True)
    s.raise_if_failed()


def check_retry_body(body: Any) -> None:
    if not isinstance(body, dict):
        check_message_body(body, first_turn=False)  # raises the "expected object" issue
    s = Schema(body)
    s.field([V3_TOKEN_FIELD], "string", required=False, nullable=True)
    s.field([V2_TOKEN_FIELD], "string", required=False, nullable=True)
    s.raise_if_failed()


#: Ids minted longer ago than this (a day: a retried conversation) are malformed, not spoofed.
MAX_ID_AGE = 86_400.0
#: Without a tolerance (the old rule), ids may be this far ahead of the clock.
MAX_ID_AHEAD = 600.0


def uuid7_seconds(value: Any) -> float | None:
    """The Unix time inside a canonical UUIDv7 (RFC variant), or None for anything else."""
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
    if str(parsed) != value.lower() or parsed.version != 7 or parsed.variant != uuid.RFC_4122:
        return None
    return (parsed.int >> 80) / 1000


def is_uuid7(value: str, *, now: float | None = None) -> bool:
    """UUID version 7, RFC variant, and a timestamp close to now (the site checks it)."""
    seconds = uuid7_seconds(value)
    now = time.time() if now is None else now
    # Accept ids minted up to a day ago (a retried conversation) and a little clock skew ahead.
    return seconds is not None and now - MAX_ID_AGE <= seconds <= now + MAX_ID_AHEAD


def check_ids(
    named: dict[str, str],
    seen: set[str],
    *,
    now: float | None = None,
    tolerance: float | None = None,
) -> None:
    """All ids UUIDv7, distinct, and never used before.

    With a ``tolerance`` (seconds), an id whose time is further than that from ``now`` (the site's
    clock) is refused as "spoofed" (protocol §14.3); an id older than a day stays malformed.
    """
    now = time.time() if now is None else now
    for name, value in named.items():
        seconds = uuid7_seconds(value)
        too_far_ahead = tolerance is None and seconds is not None and seconds > now + MAX_ID_AHEAD
        if seconds is None or seconds < now - MAX_ID_AGE or too_far_ahead:
            raise error(400, INVALID_ID.format(name=name))
        if tolerance is not None and abs(seconds - now) > tolerance:
            raise Rejection(400, dict(SPOOFED_ID_BODY))
    values = list(named.values())
    if len(set(values)) != len(values) or any(v in seen for v in values):
        raise error(400, DUPLICATE_IDS)

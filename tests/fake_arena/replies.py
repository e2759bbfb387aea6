"""Scripted answers for the stream endpoints.

Tests queue :class:`Reply` (a successful stream, shaped as they like) or :class:`Fault` (one of the
failure modes the real site is known to produce, protocol doc §8) with ``FakeArena.enqueue``; each
request to create-evaluation / post-to-evaluation / retry that passes validation consumes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from .facts import (
    AUTH_EXPIRED,
    INVALID_CONTENT,
    LOGIN_GATE_BODY,
    LOGIN_GATE_CODED_BODY,
    MISSING_USER_MESSAGE,
    MODELS_NOT_FOUND,
    NOT_ALLOWED_BODY,
    PROMPT_FAILED_BODY,
    RATE_LIMIT_TEXT,
    RECAPTCHA_FAILED,
    RETRY_AFTER,
    SERVER_ERROR,
    USER_MESSAGE_INVALID,
    USER_NOT_FOUND_BODY,
)

#: Fault kinds answered with a plain HTTP response instead of a stream.
HTTP_FAULTS = ("http", "moderation", "cloudflare")


@dataclass
class Reply:
    """A successful (HTTP 200) stream.

    ``text``/``b_text``: the answer of side A/B, one string (split into deltas by the fake) or a
    list of deltas sent as they are; ``None`` means the default echo answer.
    ``reasoning``: ``ag:`` deltas (default: some for reasoning models, none otherwise).
    ``images``: URLs for ``a2`` image parts (default for image models: a generated PNG behind a
    signed URL of the fake). ``citations``: list of ``{"url","title"}`` sent as one ``ac:``
    tool-call delta (default for search models: two example sources). ``delay_first``: seconds
    before the first text/reasoning line; ``delay_between``: seconds between lines.
    ``heartbeats``: heartbeat lines sent first, before any delay.
    """

    text: str | list[str] | None = None
    reasoning: str | list[str] | None = None
    images: list[str] | None = None
    image_mime: str = "image/png"
    citations: list[dict[str, Any]] | None = None
    b_text: str | list[str] | None = None
    finish_reason: str = "stop"
    usage: dict[str, int] | None = None
    delay_first: float = 0.0
    delay_between: float = 0.0
    heartbeats: int = 1
    #: Extra raw lines (without newline) appended before the finish lines, for odd cases.
    extra_lines: list[str] = field(default_factory=list)
    #: Protocol §15.2: the router's ``a2:[{"type":"routed_model","organization": ...}]`` line.
    routed_organization: str | None = None
    #: Protocol §15.2: images sent inline instead of as URLs: ``"ak"`` (``ak:{mimeType,data}``)
    #: or ``"a2"`` (an ``a2`` image item with ``data`` and ``mimeType``); None: URLs.
    inline_images: str | None = None


@dataclass
class Fault:
    """A failure of one stream request. Build with the classmethods."""

    kind: str
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""
    seconds: float | None = None
    message: str = ""
    count: int = 0

    # --- HTTP-level refusals (no stream) -------------------------------------------------------

    @classmethod
    def rate_limit(cls, retry_after: int | None = None, reset: float | None = None) -> Fault:
        """429 with the site's plain-text message, with or without ``Retry-After``, and with
        ``RateLimit-Reset`` (absolute Unix seconds, protocol §15.3) when ``reset`` is given."""
        headers = {} if retry_after is None else {RETRY_AFTER: str(retry_after)}
        if reset is not None:
            headers["RateLimit-Reset"] = str(int(reset))
        return cls(
            "http", 429, RATE_LIMIT_TEXT.encode(), "text/plain; charset=utf-8", headers=headers
        )

    @classmethod
    def moderation(cls) -> Fault:
        """422 prompt moderation; the session id is filled in when served."""
        return cls("moderation", 422)

    @classmethod
    def schema_error(cls) -> Fault:
        """400 ZodError for a field the site now requires: what a protocol change looks like."""
        return cls("http", 400, orjson_bytes(MISSING_USER_MESSAGE))

    @classmethod
    def invalid_content(cls) -> Fault:
        return cls("http", 400, orjson_bytes({"error": INVALID_CONTENT}))

    @classmethod
    def user_message_invalid(cls) -> Fault:
        return cls("http", 400, orjson_bytes({"error": USER_MESSAGE_INVALID}))

    @classmethod
    def server_error(cls, status: int = 500, message: str = SERVER_ERROR) -> Fault:
        if status >= 520 or status in (502, 504):
            # Cloudflare-origin errors come back as HTML pages, not JSON.
            body = f"<html><head><title>{status}: origin error</title></head></html>"
            return cls("http", status, body.encode(), "text/html; charset=UTF-8")
        return cls("http", status, orjson_bytes({"error": message}))

    @classmethod
    def cloudflare(cls) -> Fault:
        """403 with the Cloudflare challenge HTML (clearance stopped being accepted)."""
        return cls("cloudflare", 403)

    @classmethod
    def recaptcha(cls) -> Fault:
        """403 recaptcha validation failed (e.g. a low score)."""
        return cls("http", 403, orjson_bytes(RECAPTCHA_FAILED))

    @classmethod
    def expired_auth(cls) -> Fault:
        return cls("http", 401, orjson_bytes({"error": AUTH_EXPIRED}))

    @classmethod
    def login_gate(cls) -> Fault:
        return cls("http", 401, orjson_bytes(LOGIN_GATE_BODY))

    @classmethod
    def login_gate_coded(cls) -> Fault:
        """401 whose JSON names the gate only by ``"code": "LOGIN_GATE"`` (protocol §15.3)."""
        return cls("http", 401, orjson_bytes(LOGIN_GATE_CODED_BODY))

    # --- statuses of Sep-Oct 2026 (protocol §14.6) ---------------------------------------------

    @classmethod
    def cloudflare_burst(cls) -> Fault:
        """429 with the "Just a moment..." page and ``cf-mitigated: challenge``: a challenge after
        a burst of sends, not a quota."""
        return cls("cloudflare", 429)

    @classmethod
    def prompt_failed(cls) -> Fault:
        """429 ``{"error":"prompt failed"}``: the prompt was refused (e.g. oversized)."""
        return cls("http", 429, orjson_bytes(PROMPT_FAILED_BODY))

    @classmethod
    def user_not_found(cls) -> Fault:
        """401 ``{"message":"User not found"}``: no valid session at all."""
        return cls("http", 401, orjson_bytes(USER_NOT_FOUND_BODY))

    @classmethod
    def models_not_found(cls, modality: str = "chat") -> Fault:
        """404 ``Models not found for modality chat``: the model is not offered for it."""
        text = MODELS_NOT_FOUND.format(modality=modality)
        return cls("http", 404, text.encode(), "text/plain; charset=utf-8")

    @classmethod
    def not_allowed(cls) -> Fault:
        """403 ``{"error":"Not allowed"}``: a route or field this account may not use."""
        return cls("http", 403, orjson_bytes(NOT_ALLOWED_BODY))

    @classmethod
    def hang_before_headers(cls, seconds: float | None = None) -> Fault:
        """Accept the request and send nothing (for ``seconds``, or until the client gives up)."""
        return cls("hang_headers", seconds=seconds)

    # --- failures inside a 200 stream ----------------------------------------------------------

    @classmethod
    def cut(cls, after_text: str = "Partial ans") -> Fault:
        """Stream some text, then drop the connection without a finish line."""
        return cls("cut", text=after_text)

    @classmethod
    def empty(cls, heartbeats: int = 1) -> Fault:
        """200 with no text/image lines and no finish line (only heartbeats)."""
        return cls("empty", count=heartbeats)

    @classmethod
    def arena_error(cls) -> Fault:
        """``a0:"hasArenaError"``, the site's server-side failure marker."""
        return cls("arena_error")

    @classmethod
    def a3(cls, message: str = "Resource exhausted. Please try again later.") -> Fault:
        """``a3:"<message>"`` error line followed by ``ad:`` with finishReason error."""
        return cls("a3", message=message)

    @classmethod
    def hang(cls, seconds: float | None = None) -> Fault:
        """200 headers, then silence (no heartbeats) for ``seconds`` or until the client leaves:
        the site's "200 with no data" (protocol §15.3)."""
        return cls("hang", seconds=seconds)

    @classmethod
    def slow_first_token(cls, seconds: float) -> Reply:
        """Convenience: a default reply whose first token comes after ``seconds``."""
        return Reply(delay_first=seconds)

    @classmethod
    def slow_chunks(cls, seconds: float) -> Reply:
        """Convenience: a default reply with ``seconds`` between lines."""
        return Reply(delay_between=seconds)


def orjson_bytes(value: Any) -> bytes:
    """Compact JSON, as the site's ``NextResponse.json`` writes it."""
    return orjson.dumps(value)


__all__ = [
    "HTTP_FAULTS",
    "MISSING_USER_MESSAGE",
    "RATE_LIMIT_TEXT",
    "RECAPTCHA_FAILED",
    "Fault",
    "Reply",
]

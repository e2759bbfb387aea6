"""Records the fake keeps, for its own logic and for tests to assert on."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    """One request as the fake saw it. ``headers`` keys are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes
    json: Any
    time: float
    status: int | None = None
    #: A send held for want of the Terms-of-Use consent (200, headers, then never a line).
    held: bool = False


@dataclass
class Message:
    """A stored message of a conversation (shape of protocol doc §7.3)."""

    id: str
    role: str  # "user" | "assistant"
    content: str
    model_id: str | None = None
    participant: str | None = None  # "a" | "b" for assistant messages
    attachments: list[dict[str, Any]] = field(default_factory=list)
    parent_ids: list[str] = field(default_factory=list)
    status: str = "pending"  # pending | success | error
    reasoning: str = ""
    images: list[str] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0
    created_at: float = field(default_factory=time.time)

    def to_json(self, session_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "evaluationSessionId": session_id,
            "role": self.role,
            "content": self.content,
            "experimental_attachments": self.attachments,
            "parentMessageIds": self.parent_ids,
            "modelId": self.model_id,
            "participantPosition": self.participant or "a",
            "status": self.status,
            "failureReason": None,
        }


@dataclass
class EvaluationSession:
    """A conversation, owned by the user who created it; the server keeps its history."""

    id: str
    owner: str
    mode: str
    modality: str
    model_a: str
    model_b: str | None
    messages: list[Message] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)

    @property
    def turns(self) -> int:
        return sum(1 for m in self.messages if m.role == "user")

    def last_ids(self) -> list[str]:
        if not self.messages:
            return []
        last_user = max(i for i, m in enumerate(self.messages) if m.role == "user")
        return [m.id for m in self.messages[last_user + 1 :]]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "userId": self.owner,
            "mode": self.mode,
            "modality": self.modality,
            "modelAId": self.model_a,
            "modelBId": self.model_b,
            "messages": [m.to_json(self.id) for m in self.messages],
            "lastMessageIds": self.last_ids(),
        }


@dataclass
class RecaptchaToken:
    """A token minted by the fake reCAPTCHA script, and what it is bound to."""

    token: str
    site_key: str
    action: str
    kind: str  # "v3" | "v2"
    cf_clearance: str | None
    user_agent: str
    created_at: float = field(default_factory=time.time)
    used: bool = False

"""The site's conversation JSON (``GET /api/evaluation/{id}``, protocol §1.3 and §7.3), read.

Pure: what a conversation's messages say that a client needs when this tool's own store does not
know it, such as the message id of the latest answer (what a regenerate names).
"""

from __future__ import annotations

from typing import Any


def messages_of(evaluation: Any) -> list[dict[str, Any]]:
    """The message rows of a conversation's JSON (``{messages: [...]}``, or the same under
    ``evaluationSession``); [] for anything else."""
    if isinstance(evaluation, dict) and isinstance(evaluation.get("evaluationSession"), dict):
        evaluation = evaluation["evaluationSession"]
    messages = evaluation.get("messages") if isinstance(evaluation, dict) else None
    if not isinstance(messages, list):
        return []
    return [m for m in messages if isinstance(m, dict)]


def latest_answer_id(evaluation: Any) -> str | None:
    """The id of side A's answer to the conversation's last user message; None when the last
    turn has no such answer (or the JSON is not a conversation's)."""
    rows = messages_of(evaluation)
    last_user = max((i for i, m in enumerate(rows) if m.get("role") == "user"), default=None)
    if last_user is None:
        return None
    for row in rows[last_user + 1 :]:
        side = row.get("participantPosition")
        if (
            row.get("role") == "assistant"
            and side in ("a", None)
            and isinstance(row.get("id"), str)
        ):
            return str(row["id"])
    return None


__all__ = ["latest_answer_id", "messages_of"]

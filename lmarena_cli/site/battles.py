"""A single-model chat that the site answers as an anonymous battle (protocol §14.5): pure parts.

In a ``direct-battle`` conversation the site may answer a turn with two anonymous models (``a*``
and ``b*`` lines) under the message ids the request named (``modelAMessageId`` and
``modelBMessageId``: the reason the site's own client sends a B id even for one model). Until it is
skipped, the next turn is refused (400 ``Bad next turn request in Battles in Direct mode``). The
skip names the battle's two message ids and a fresh id for the chosen model's answer.
"""

from __future__ import annotations

from typing import Any


def skip_direct_battle_body(
    *, message_a_id: str, message_b_id: str, new_message_id: str, recaptcha_token: str | None
) -> dict[str, Any]:
    """Body of ``POST /nextjs-api/stream/skip-direct-battle/{id}``.

    The three ids are what the site's Skip button sends. Whether the site wants a reCAPTCHA token
    there is not recorded; one is sent as in every other stream request (the site's schemas
    ignore fields they do not name, and a token it wants is then there).
    """
    return {
        "messageAId": message_a_id,
        "messageBId": message_b_id,
        "modelAMessageId": new_message_id,
        "recaptchaV3Token": recaptcha_token,
    }


def unskipped_battle(evaluation: Any) -> tuple[str, str] | None:
    """The message ids (side A, side B) of the battle that ends a conversation, from its JSON
    (``GET /api/evaluation/{id}``: ``{messages: [{id, role, participantPosition}, ...]}``, or the
    same under ``evaluationSession``); None when its last turn is not a two-sided answer."""
    if isinstance(evaluation, dict) and isinstance(evaluation.get("evaluationSession"), dict):
        evaluation = evaluation["evaluationSession"]
    messages = evaluation.get("messages") if isinstance(evaluation, dict) else None
    if not isinstance(messages, list):
        return None
    rows = [m for m in messages if isinstance(m, dict)]
    last_user = max((i for i, m in enumerate(rows) if m.get("role") == "user"), default=None)
    if last_user is None:
        return None
    sides: dict[str, str] = {}
    for row in rows[last_user + 1 :]:
        side, message_id = row.get("participantPosition"), row.get("id")
        if row.get("role") == "assistant" and side in ("a", "b") and isinstance(message_id, str):
            sides.setdefault(side, message_id)
    if "a" in sides and "b" in sides:
        return sides["a"], sides["b"]
    return None


__all__ = ["skip_direct_battle_body", "unskipped_battle"]

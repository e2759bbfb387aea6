"""The JSON bodies of the stream endpoints (protocol §1.5 and §7.2), and the ids they carry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from .facts import Modality, Mode
from .ids import SiteClock, uuid7


@dataclass(frozen=True)
class MessageIds:
    """The three message ids of one attempt. Fresh per attempt: the site refuses reused ids."""

    user: str
    model_a: str
    model_b: str

    @classmethod
    def fresh(cls, clock: SiteClock | None = None) -> MessageIds:
        """Three new, distinct UUIDv7s, minted by ``clock`` (the site's clock, as corrected by
        the connection; protocol §14.3)."""
        return cls(uuid7(clock), uuid7(clock), uuid7(clock))


class BodyFields(TypedDict):
    """What the create-evaluation and post-to-evaluation bodies take alike (protocol §1.5, §7.2)."""

    modality: Modality
    model_a_id: str | None
    model_b_id: str | None
    ids: MessageIds
    content: str
    attachments: list[dict[str, str]]
    recaptcha_token: str


def create_evaluation_body(
    *,
    session_id: str,
    mode: Mode,
    modality: Modality,
    model_a_id: str | None,
    model_b_id: str | None,
    ids: MessageIds,
    content: str,
    attachments: Sequence[Mapping[str, Any]] | None,
    recaptcha_token: str | None,
) -> dict[str, Any]:
    """Body of ``POST /nextjs-api/stream/create-evaluation`` (protocol §1.5).

    ``modelAId`` is left out in battle mode (the site picks the pair) and ``modelBId`` is sent only
    side by side; ``modelBMessageId`` is always sent, as the site's own client does.
    """
    if mode != Mode.BATTLE and not model_a_id:
        raise ValueError(f"mode {str(mode)!r} needs model_a_id")
    if mode == Mode.SIDE_BY_SIDE and not model_b_id:
        raise ValueError("side-by-side needs model_b_id")
    body: dict[str, Any] = {"id": session_id, "mode": str(mode)}
    if mode != Mode.BATTLE:
        body["modelAId"] = model_a_id
    if mode == Mode.SIDE_BY_SIDE:
        body["modelBId"] = model_b_id
    body.update(_envelope(ids, content, attachments, modality, recaptcha_token))
    return body


def post_to_evaluation_body(
    *,
    session_id: str,
    modality: Modality,
    model_a_id: str | None,
    model_b_id: str | None,
    ids: MessageIds,
    content: str,
    attachments: Sequence[Mapping[str, Any]] | None,
    recaptcha_token: str | None,
) -> dict[str, Any]:
    """Body of ``POST /nextjs-api/stream/post-to-evaluation/{id}`` (protocol §7.2).

    Same envelope as create-evaluation without ``mode``; model ids only when known (battle
    conversations never learn them before the vote). Only the new prompt is sent: the site keeps
    the history.
    """
    body: dict[str, Any] = {"id": session_id}
    if model_a_id:
        body["modelAId"] = model_a_id
    if model_b_id:
        body["modelBId"] = model_b_id
    body.update(_envelope(ids, content, attachments, modality, recaptcha_token))
    return body


def _user_message(content: str, attachments: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    # Both lists/objects are always present: the site answers a bare 500 when they are missing.
    return {
        "content": content,
        "experimental_attachments": [dict(a) for a in attachments or ()],
        "metadata": {},
    }


def _envelope(
    ids: MessageIds,
    content: str,
    attachments: Sequence[Mapping[str, Any]] | None,
    modality: Modality,
    recaptcha_token: str | None,
) -> dict[str, Any]:
    return {
        "userMessageId": ids.user,
        "modelAMessageId": ids.model_a,
        "modelBMessageId": ids.model_b,
        "userMessage": _user_message(content, attachments),
        "modality": str(modality),
        "recaptchaV3Token": recaptcha_token,
    }


def retry_body(*, recaptcha_token: str | None) -> dict[str, Any]:
    """Body of ``PUT /nextjs-api/stream/retry-evaluation-session-message/{id}/messages/{mid}``
    (protocol §7.4): the site's own client of 2026 sends only a reCAPTCHA token (action
    ``chat_retry``); the answer is the same line stream as a send's, under the same message id."""
    return {"recaptchaV3Token": recaptcha_token}

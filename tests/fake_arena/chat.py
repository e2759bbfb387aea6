"""The stream endpoints: create-evaluation, post-to-evaluation, retry (protocol doc §1.2, §2, §7).

Validation order mirrors a Next.js route handler: auth cookie, body schema (Zod), reCAPTCHA, then
the business rules (mode, login gate, ids, models, attachments). Ids are "burned" only once a
request is accepted, because the site's own v2 escalation re-sends the identical body after a
reCAPTCHA 403. What an accepted request answers is in :mod:`.answers`.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from . import validation
from .answers import AnswersMixin
from .direct_battle import DirectBattleMixin
from .era2026 import Era2026Mixin
from .facts import (
    BAD_ATTACHMENT,
    BATTLE,
    BATTLE_WITH_MODELS,
    BODY_ID_MISMATCH,
    CREATE_EVALUATION,
    DIRECT,
    DIRECT_NOT_SUPPORTED,
    IMAGE,
    INVALID_JSON,
    LOGIN_GATE_BODY,
    MESSAGE_NOT_FOUND,
    MODEL_LACKS_MODALITY,
    MODEL_NOT_FOUND,
    MODEL_NOT_SELECTABLE,
    NO_BATTLE_MODELS,
    NO_IMAGE_INPUT,
    POST_TO_EVALUATION,
    RECAPTCHA_FAILED,
    RETRY_MESSAGE,
    SESSION_NOT_FOUND,
    SIDE_BY_SIDE,
    TWO_SIDED_MODES,
)
from .models import FakeModel
from .recaptcha import RecaptchaMixin
from .responses import json_response
from .state import EvaluationSession
from .validation import Rejection, error


class ChatMixin(DirectBattleMixin, AnswersMixin, Era2026Mixin, RecaptchaMixin):
    """Stream endpoint handlers of :class:`~tests.fake_arena.app.FakeArena`."""

    def _add_chat_routes(self, app: web.Application) -> None:
        app.router.add_post(CREATE_EVALUATION, self._create_evaluation)
        app.router.add_post(POST_TO_EVALUATION + "{sid}", self._post_to_evaluation)
        app.router.add_put(RETRY_MESSAGE + "{sid}/messages/{mid}", self._retry)
        self._add_direct_battle_routes(app)

    # ----------------------------------------------------------------------------------------------
    # Handlers
    # ----------------------------------------------------------------------------------------------

    async def _create_evaluation(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _json_body(request)
            user = self._api_user(request)
            if isinstance(user, web.Response):
                return user
            validation.check_message_body(body, first_turn=True)
            self._require_recaptcha(request, body)
            mode: str = body["mode"]
            if mode == DIRECT:
                raise error(400, DIRECT_NOT_SUPPORTED)
            if self.login_gate and user.is_anonymous and mode != BATTLE:
                raise Rejection(401, dict(LOGIN_GATE_BODY))
            ids = _message_ids(body, needs_b=mode in TWO_SIDED_MODES)
            ids = {"id": body["id"], **ids}
            self._check_ids(ids)
            modality: str = body["modality"]
            attachments = body["userMessage"].get("experimental_attachments") or []
            if mode == BATTLE:
                if body.get("modelAId") or body.get("modelBId"):
                    raise error(400, BATTLE_WITH_MODELS)
                model_a, model_b = self._pick_battle(modality, bool(attachments))
            else:
                model_a = self._selectable(body.get("modelAId"), "modelAId", modality)
                model_b = None
                if mode == SIDE_BY_SIDE:
                    model_b = self._selectable(body.get("modelBId"), "modelBId", modality)
            self._check_attachments(attachments, [m for m in (model_a, model_b) if m])
        except Rejection as rej:
            return json_response(rej.body, status=rej.status)
        held = await self._hold_unless_consented(request, user)
        if held is not None:
            return held
        self.seen_ids.update(ids.values())
        session = EvaluationSession(
            id=body["id"],
            owner=user.id,
            mode=mode,
            modality=modality,
            model_a=model_a.id,
            model_b=model_b.id if model_b else None,
        )
        return await self._answer(request, session, body, ids, new_session=True)

    async def _post_to_evaluation(self, request: web.Request) -> web.StreamResponse:
        sid = request.match_info["sid"]
        try:
            body = await _json_body(request)
            user = self._api_user(request)
            if isinstance(user, web.Response):
                return user
            validation.check_message_body(body, first_turn=False)
            session = self.sessions.get(sid)
            if session is None:
                raise error(404, SESSION_NOT_FOUND)
            if session.owner != user.id:
                return self._not_owner(user.id, sid)
            if body.get("id") not in (None, sid):
                raise error(400, BODY_ID_MISMATCH)
            self._require_recaptcha(request, body)
            if self.login_gate and user.is_anonymous and session.mode != BATTLE:
                raise Rejection(401, dict(LOGIN_GATE_BODY))
            self._refuse_if_battle_pending(session)
            ids = _message_ids(body, needs_b=session.model_b is not None)
            self._check_ids(ids)
            attachments = body["userMessage"].get("experimental_attachments") or []
            models = [self.model(session.model_a), self.model(session.model_b or "")]
            self._check_attachments(attachments, [m for m in models if m])
        except Rejection as rej:
            return json_response(rej.body, status=rej.status)
        held = await self._hold_unless_consented(request, user)
        if held is not None:
            return held
        self.seen_ids.update(ids.values())
        return await self._answer(request, session, body, ids, new_session=False)

    async def _retry(self, request: web.Request) -> web.StreamResponse:
        sid, mid = request.match_info["sid"], request.match_info["mid"]
        try:
            body = await _json_body(request)
            user = self._api_user(request)
            if isinstance(user, web.Response):
                return user
            validation.check_retry_body(body)
            session = self.sessions.get(sid)
            if session is None:
                raise error(404, SESSION_NOT_FOUND)
            if session.owner != user.id:
                return self._not_owner(user.id, sid)
            target = next(
                (m for m in session.messages if m.id == mid and m.role == "assistant"), None
            )
            if target is None:
                raise error(404, MESSAGE_NOT_FOUND)
            self._require_recaptcha(request, body)
            if self.login_gate and user.is_anonymous and session.mode != BATTLE:
                raise Rejection(401, dict(LOGIN_GATE_BODY))
        except Rejection as rej:
            return json_response(rej.body, status=rej.status)
        return await self._answer(request, session, body, {}, new_session=False, retry=target)

    # ----------------------------------------------------------------------------------------------
    # Checks
    # ----------------------------------------------------------------------------------------------

    def _require_recaptcha(self, request: web.Request, body: dict[str, Any]) -> None:
        if self._check_recaptcha(request, body) is not None:
            raise Rejection(403, dict(RECAPTCHA_FAILED))

    def _selectable(self, ref: Any, field: str, modality: str) -> FakeModel:
        if not ref:
            schema = validation.Schema({})
            schema.field([field], "string")
            schema.raise_if_failed()
        model = next((m for m in self.models if m.id == ref), None)
        if model is None:
            raise error(400, MODEL_NOT_FOUND.format(ref=ref))
        if not model.user_selectable:
            raise error(400, MODEL_NOT_SELECTABLE.format(ref=ref))
        if modality not in model.modalities():
            raise error(400, MODEL_LACKS_MODALITY.format(name=model.public_name, modality=modality))
        return model

    def _pick_battle(self, modality: str, images: bool) -> tuple[FakeModel, FakeModel]:
        """The server's anonymous pair; stealth (non-selectable) models take part too."""
        pool = [
            m
            for m in self.models
            if modality in m.modalities()
            and (m.chats or modality == IMAGE)
            and (m.accepts_images or not images)
        ]
        if len(pool) < 2:
            raise error(400, NO_BATTLE_MODELS.format(modality=modality))
        k = self._battle_counter
        self._battle_counter += 1
        return pool[k % len(pool)], pool[(k + 1) % len(pool)]

    def _check_attachments(
        self, attachments: list[dict[str, Any]], models: list[FakeModel]
    ) -> None:
        for att in attachments:
            if self.store.check_url(att["url"], self.url) is None:
                raise error(400, BAD_ATTACHMENT)
        if attachments:
            for model in models:
                if not model.accepts_images:
                    raise error(400, NO_IMAGE_INPUT.format(name=model.public_name))


async def _json_body(request: web.Request) -> Any:
    """The body as JSON whatever the Content-Type (the site's fetch sends text/plain)."""
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise error(400, INVALID_JSON) from exc


def _message_ids(body: dict[str, Any], *, needs_b: bool) -> dict[str, str]:
    ids = {"userMessageId": body["userMessageId"], "modelAMessageId": body["modelAMessageId"]}
    if body.get("modelBMessageId"):
        ids["modelBMessageId"] = body["modelBMessageId"]
    elif needs_b:
        schema = validation.Schema({})
        schema.field(["modelBMessageId"], "string")
        schema.raise_if_failed()
    return ids

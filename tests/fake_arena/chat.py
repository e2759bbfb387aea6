"""The stream endpoints: create-evaluation, post-to-evaluation, retry (protocol doc §1.2, §2, §7).

Validation order mirrors a Next.js route handler: auth cookie, body schema (Zod), reCAPTCHA, then
the business rules (mode, login gate, ids, models, attachments). Ids are "burned" only once a
request is accepted, because the site's own v2 escalation re-sends the identical body after a
reCAPTCHA 403.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from . import pages, validation
from .models import FakeModel
from .replies import RECAPTCHA_FAILED, Fault, Reply
from .responses import json_response
from .state import EvaluationSession, Message
from .storage import StoredObject, make_png
from .streams import HEARTBEAT, Step, StreamWriter, as_deltas, line
from .validation import Rejection, error

if TYPE_CHECKING:
    from .app import FakeArena

#: Faults answered with a plain HTTP response instead of a stream.
HTTP_FAULTS = ("http", "moderation", "cloudflare")

DEFAULT_CITATIONS = [
    {"url": "https://example.com/arena/source-1", "title": "Example source one"},
    {"url": "https://example.org/arena/source-2", "title": "Example source two"},
]


class ChatMixin:
    """Stream endpoint handlers of :class:`~tests.fake_arena.app.FakeArena`."""

    def _add_chat_routes(self: FakeArena, app: web.Application) -> None:
        base = "/nextjs-api/stream"
        app.router.add_post(f"{base}/create-evaluation", self._create_evaluation)
        app.router.add_post(f"{base}/post-to-evaluation/{{sid}}", self._post_to_evaluation)
        app.router.add_put(
            f"{base}/retry-evaluation-session-message/{{sid}}/messages/{{mid}}", self._retry
        )

    # ----------------------------------------------------------------------------------------------
    # Handlers
    # ----------------------------------------------------------------------------------------------

    async def _create_evaluation(self: FakeArena, request: web.Request) -> web.StreamResponse:
        try:
            body = await _json_body(request)
            user = self._api_user(request)
            if isinstance(user, web.Response):
                return user
            validation.check_message_body(body, first_turn=True)
            self._require_recaptcha(request, body)
            mode: str = body["mode"]
            if mode == "direct":
                raise error(
                    400, 'Mode "direct" is not supported for new conversations; use "direct-battle"'
                )
            if self.login_gate and user.is_anonymous and mode != "battle":
                raise Rejection(401, dict(pages.LOGIN_GATE_BODY))
            ids = _message_ids(body, needs_b=mode in ("battle", "side-by-side"))
            ids = {"id": body["id"], **ids}
            validation.check_ids(ids, self.seen_ids)
            modality: str = body["modality"]
            attachments = body["userMessage"].get("experimental_attachments") or []
            if mode == "battle":
                if body.get("modelAId") or body.get("modelBId"):
                    raise error(400, "modelAId and modelBId must not be sent in battle mode")
                model_a, model_b = self._pick_battle(modality, bool(attachments))
            else:
                model_a = self._selectable(body.get("modelAId"), "modelAId", modality)
                model_b = None
                if mode == "side-by-side":
                    model_b = self._selectable(body.get("modelBId"), "modelBId", modality)
            self._check_attachments(attachments, [m for m in (model_a, model_b) if m])
        except Rejection as rej:
            return json_response(rej.body, status=rej.status)
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

    async def _post_to_evaluation(self: FakeArena, request: web.Request) -> web.StreamResponse:
        sid = request.match_info["sid"]
        try:
            body = await _json_body(request)
            user = self._api_user(request)
            if isinstance(user, web.Response):
                return user
            validation.check_message_body(body, first_turn=False)
            session = self.sessions.get(sid)
            if session is None:
                raise error(404, "Evaluation session not found")
            if session.owner != user.id:
                return self._not_owner(user.id, sid)
            if body.get("id") not in (None, sid):
                raise error(400, "Body id does not match the evaluation session in the URL")
            self._require_recaptcha(request, body)
            if self.login_gate and user.is_anonymous and session.mode != "battle":
                raise Rejection(401, dict(pages.LOGIN_GATE_BODY))
            ids = _message_ids(body, needs_b=session.model_b is not None)
            validation.check_ids(ids, self.seen_ids)
            attachments = body["userMessage"].get("experimental_attachments") or []
            models = [self.model(session.model_a), self.model(session.model_b or "")]
            self._check_attachments(attachments, [m for m in models if m])
        except Rejection as rej:
            return json_response(rej.body, status=rej.status)
        self.seen_ids.update(ids.values())
        return await self._answer(request, session, body, ids, new_session=False)

    async def _retry(self: FakeArena, request: web.Request) -> web.StreamResponse:
        sid, mid = request.match_info["sid"], request.match_info["mid"]
        try:
            body = await _json_body(request)
            user = self._api_user(request)
            if isinstance(user, web.Response):
                return user
            validation.check_retry_body(body)
            session = self.sessions.get(sid)
            if session is None:
                raise error(404, "Evaluation session not found")
            if session.owner != user.id:
                return self._not_owner(user.id, sid)
            target = next(
                (m for m in session.messages if m.id == mid and m.role == "assistant"), None
            )
            if target is None:
                raise error(404, "Message not found")
            self._require_recaptcha(request, body)
            if self.login_gate and user.is_anonymous and session.mode != "battle":
                raise Rejection(401, dict(pages.LOGIN_GATE_BODY))
        except Rejection as rej:
            return json_response(rej.body, status=rej.status)
        return await self._answer(request, session, body, {}, new_session=False, retry=target)

    # ----------------------------------------------------------------------------------------------
    # Checks
    # ----------------------------------------------------------------------------------------------

    def _not_owner(self: FakeArena, user_id: str, sid: str) -> web.Response:
        return json_response(
            {"error": f"User {user_id} does not have access to evaluation session {sid}"},
            status=401,
        )

    def _require_recaptcha(self: FakeArena, request: web.Request, body: dict[str, Any]) -> None:
        if self._check_recaptcha(request, body) is not None:
            raise Rejection(403, dict(RECAPTCHA_FAILED))

    def _selectable(self: FakeArena, ref: Any, field: str, modality: str) -> FakeModel:
        if not ref:
            schema = validation.Schema({})
            schema.field([field], "string")
            schema.raise_if_failed()
        model = next((m for m in self.models if m.id == ref), None)
        if model is None:
            raise error(400, f"Model {ref} not found")
        if not model.user_selectable:
            raise error(400, f"Model {ref} is not available for user selection")
        if modality not in model.modalities():
            raise error(400, f"Model {model.public_name} does not support modality {modality}")
        return model

    def _pick_battle(self: FakeArena, modality: str, images: bool) -> tuple[FakeModel, FakeModel]:
        """The server's anonymous pair; stealth (non-selectable) models take part too."""
        pool = [
            m
            for m in self.models
            if modality in m.modalities()
            and (m.chats or modality == "image")
            and (m.accepts_images or not images)
        ]
        if len(pool) < 2:
            raise error(400, f"No models available for a {modality} battle")
        k = self._battle_counter
        self._battle_counter += 1
        return pool[k % len(pool)], pool[(k + 1) % len(pool)]

    def _check_attachments(
        self: FakeArena, attachments: list[dict[str, Any]], models: list[FakeModel]
    ) -> None:
        for att in attachments:
            if self.store.check_url(att["url"], self.url) is None:
                raise error(
                    400, "Invalid attachment: url is not a valid signed URL of an uploaded file"
                )
        if attachments:
            for model in models:
                if not model.accepts_images:
                    raise error(400, f"Model {model.public_name} does not accept image input")

    # ----------------------------------------------------------------------------------------------
    # Answering
    # ----------------------------------------------------------------------------------------------

    async def _answer(
        self: FakeArena,
        request: web.Request,
        session: EvaluationSession,
        body: dict[str, Any],
        ids: dict[str, str],
        *,
        new_session: bool,
        retry: Message | None = None,
    ) -> web.StreamResponse:
        item: Reply | Fault = self.queue.popleft() if self.queue else Reply()
        if isinstance(item, Fault) and item.kind in HTTP_FAULTS:
            if item.kind == "cloudflare":
                return self._challenge_response()
            if item.kind == "moderation":
                return json_response(
                    {
                        "error": "Request rejected: Content violates our terms of use for "
                        f"evaluation session id: {session.id}"
                    },
                    status=422,
                )
            return web.Response(
                status=item.status,
                body=item.body,
                headers={"Content-Type": item.content_type, **item.headers},
            )
        if new_session:
            self.sessions[session.id] = session
        if retry is None:
            message = body["userMessage"]
            prompt = message["content"]
            user_msg = Message(
                ids["userMessageId"],
                "user",
                prompt,
                attachments=list(message.get("experimental_attachments") or []),
                parent_ids=session.last_ids(),
                status="success",
            )
            session.messages.append(user_msg)
            targets = [
                Message(
                    ids["modelAMessageId"],
                    "assistant",
                    "",
                    session.model_a,
                    "a",
                    parent_ids=[user_msg.id],
                )
            ]
            if session.model_b:
                targets.append(
                    Message(
                        ids["modelBMessageId"],
                        "assistant",
                        "",
                        session.model_b,
                        "b",
                        parent_ids=[user_msg.id],
                    )
                )
            session.messages.extend(targets)
            tag = f"turn {session.turns}"
        else:
            parent = next(m for m in session.messages if m.id in retry.parent_ids)
            prompt = parent.content
            turn = [m for m in session.messages if m.role == "user"].index(parent) + 1
            retry.retries += 1
            retry.content, retry.reasoning, retry.status = "", "", "pending"
            retry.images, retry.citations = [], []
            targets = [retry]
            tag = f"turn {turn}, retry {retry.retries}"
        return await self._stream(request, item, targets, prompt, tag)

    async def _stream(
        self: FakeArena,
        request: web.Request,
        item: Reply | Fault,
        targets: list[Message],
        prompt: str,
        tag: str,
    ) -> web.StreamResponse:
        if isinstance(item, Fault) and item.kind == "hang_headers":
            await _wait(request, item.seconds)
            item = Reply()
        resp = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/plain; charset=utf-8",
                "x-vercel-ai-data-stream": "v1",
                "Cache-Control": "no-cache, no-transform",
                "Server": "cloudflare",
            },
        )
        try:
            await resp.prepare(request)
            writer = StreamWriter(resp, self.chunk_size)
            if isinstance(item, Fault):
                await self._stream_fault(request, writer, item, targets)
                if item.kind == "cut":
                    return resp
            else:
                await writer.write_steps(self._reply_steps(item, targets, prompt, tag))
            await resp.write_eof()
        except ConnectionError:
            # The client went away mid-stream: keep what was "sent", no traceback.
            for m in targets:
                if m.status == "pending":
                    m.status = "error"
        return resp

    async def _stream_fault(
        self: FakeArena,
        request: web.Request,
        writer: StreamWriter,
        fault: Fault,
        targets: list[Message],
    ) -> None:
        for m in targets:
            m.status = "error"
        side = targets[0].participant or "a"
        if fault.kind == "cut":
            steps = [Step(line(side, "2", HEARTBEAT))]
            for delta in as_deltas(fault.text, ""):
                steps.append(Step(line(side, "0", delta)))
                targets[0].content += delta
            await writer.write_steps(steps)
            # Drop the connection without the chunked terminator: the body is incomplete.
            if request.transport is not None:
                request.transport.close()
        elif fault.kind == "empty":
            await writer.write_steps([Step(line(side, "2", HEARTBEAT))] * fault.count)
        elif fault.kind == "arena_error":
            await writer.write_steps([Step(line(side, "0", "hasArenaError"))])
        elif fault.kind == "a3":
            await writer.write_steps(
                [
                    Step(line(side, "3", fault.message)),
                    Step(line(side, "d", {"finishReason": "error"})),
                ]
            )
        elif fault.kind == "hang":
            await _wait(request, fault.seconds)

    def _reply_steps(
        self: FakeArena, reply: Reply, targets: list[Message], prompt: str, tag: str
    ) -> Iterator[Step]:
        """Lines of a successful answer: heartbeats, then per side reasoning, citations, images and
        text (sides interleaved line by line), then one finish line per side."""
        first_side = targets[0].participant or "a"
        for _ in range(reply.heartbeats):
            yield Step(line(first_side, "2", HEARTBEAT))
        per_side: list[list[Step]] = []
        for msg in targets:
            side = msg.participant or "a"
            model = self.model(msg.model_id or "")
            per_side.append(self._side_steps(reply, msg, side, model, prompt, tag))
        delay = reply.delay_first
        pending = [list(s) for s in per_side]
        while any(pending):
            for steps in pending:
                if steps:
                    step = steps.pop(0)
                    step.delay = delay or reply.delay_between
                    delay = 0.0
                    yield step
        for extra in reply.extra_lines:
            yield Step((extra + "\n").encode())
        for msg in targets:
            side = msg.participant or "a"
            usage = reply.usage or {
                "promptTokens": max(1, len(prompt) // 4),
                "completionTokens": max(1, len(msg.content) // 4),
            }

            def done(msg: Message = msg) -> None:
                msg.status = "success" if reply.finish_reason == "stop" else "error"

            yield Step(
                line(side, "d", {"finishReason": reply.finish_reason, "usage": usage}),
                delay=reply.delay_between,
                on_sent=done,
            )

    def _side_steps(
        self: FakeArena,
        reply: Reply,
        msg: Message,
        side: str,
        model: FakeModel | None,
        prompt: str,
        tag: str,
    ) -> list[Step]:
        is_a = side == "a"
        reasoning_value = reply.reasoning if is_a else None
        if reasoning_value is None and model is not None and model.reasoning:
            reasoning_value = [f"Thinking about {tag}… ", "the user wants an echo."]
        makes_images = model is not None and model.makes_images
        images = reply.images if (is_a and reply.images is not None) else None
        if images is None:
            images = [self._generated_image_url()] if makes_images else []
        citations = reply.citations if (is_a and reply.citations is not None) else None
        if citations is None:
            citations = DEFAULT_CITATIONS if (model is not None and model.searches) else []
        text_value = reply.text if is_a else reply.b_text
        label = "Echo" if is_a else "Echo B"
        default_text = "" if makes_images else f"{label} ({tag}): {prompt}"
        steps: list[Step] = []

        def add(code: str, value: Any, apply: Any) -> None:
            steps.append(Step(line(side, code, value), on_sent=apply))

        if reasoning_value is not None:
            for delta in as_deltas(reasoning_value, ""):
                add("g", delta, lambda d=delta: setattr(msg, "reasoning", msg.reasoning + d))
        if citations:
            args = orjson.dumps({"source": citations}).decode()
            call = {"toolCallId": f"call_{uuid.uuid4().hex[:24]}", "argsTextDelta": args}
            add("c", call, lambda c=citations: msg.citations.extend(c))
        for url in images:
            part = [{"type": "image", "image": url, "mimeType": reply.image_mime}]
            add("2", part, lambda u=url: msg.images.append(u))
        for delta in as_deltas(text_value, default_text):
            add("0", delta, lambda d=delta: setattr(msg, "content", msg.content + d))
        return steps

    def _generated_image_url(self: FakeArena) -> str:
        key = f"generated/{uuid.uuid4()}.png"
        self.store.objects[key] = StoredObject(make_png(), "image/png")
        return self.store.presign(self.url, "GET", key, self.download_url_ttl)


async def _json_body(request: web.Request) -> Any:
    """The body as JSON whatever the Content-Type (the site's fetch sends text/plain)."""
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise error(400, "Invalid JSON body") from exc


def _message_ids(body: dict[str, Any], *, needs_b: bool) -> dict[str, str]:
    ids = {"userMessageId": body["userMessageId"], "modelAMessageId": body["modelAMessageId"]}
    if body.get("modelBMessageId"):
        ids["modelBMessageId"] = body["modelBMessageId"]
    elif needs_b:
        schema = validation.Schema({})
        schema.field(["modelBMessageId"], "string")
        schema.raise_if_failed()
    return ids


async def _wait(request: web.Request, seconds: float | None) -> None:
    """Sleep ``seconds`` (forever if None), but stop as soon as the client disconnects."""
    end = None if seconds is None else time.monotonic() + seconds
    while end is None or time.monotonic() < end:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.05)

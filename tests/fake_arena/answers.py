"""What an accepted stream request answers: a scripted :class:`~.replies.Reply` or
:class:`~.replies.Fault`, or the default echo, written as the site's data stream (doc §2, §8).

The conversation's stored messages follow what was "sent": a line updates its message as it is
handed to the writer, and a client that leaves mid-stream leaves its messages in error.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from .facts import (
    ARENA_ERROR_MARKER,
    DATA_CODE,
    ERROR_CODE,
    EVENT_STREAM_HEADERS,
    FINISH_CODE,
    HEARTBEAT,
    INLINE_IMAGE_CODE,
    MESSAGE_ID_CODE,
    MODERATION,
    REASONING_CODE,
    ROUTED_MODEL,
    SIDE_A,
    SIDE_B,
    STREAM_HEADERS,
    TEXT_CODE,
    TOOL_DELTA_CODE,
)
from .gate import GateMixin
from .models import FakeModel
from .replies import HTTP_FAULTS, Fault, Reply
from .responses import json_response
from .state import EvaluationSession, Message
from .storage import StoredObject, make_png
from .streams import Step, StreamWriter, as_deltas, line

DEFAULT_CITATIONS = [
    {"url": "https://example.com/arena/source-1", "title": "Example source one"},
    {"url": "https://example.org/arena/source-2", "title": "Example source two"},
]


class AnswersMixin(GateMixin):
    """Answering and streaming for :class:`~tests.fake_arena.app.FakeArena`."""

    def _split_character(self) -> None:
        self.characters_split += 1

    async def _answer(
        self,
        request: web.Request,
        session: EvaluationSession,
        body: dict[str, Any],
        ids: dict[str, str],
        *,
        new_session: bool,
        retry: Message | None = None,
    ) -> web.StreamResponse:
        prompt_seen = body["userMessage"]["content"] if retry is None else ""
        item: Reply | Fault = (
            self.scripted(prompt_seen)
            or (self.queue.popleft() if self.queue else None)
            or (self.chaos() if self.chaos is not None else None)
            or Reply()
        )
        if isinstance(item, Fault) and item.kind in HTTP_FAULTS:
            if item.kind == "cloudflare":
                return self._challenge_response(item.status)
            if item.kind == "moderation":
                return json_response({"error": MODERATION.format(sid=session.id)}, status=422)
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
                    SIDE_A,
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
                        SIDE_B,
                        parent_ids=[user_msg.id],
                    )
                )
            session.messages.extend(targets)
            tag = f"turn {session.turns}"
            item = self._turn_into_battle(session, targets, ids, item, prompt, tag)
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

    def _turn_into_battle(
        self,
        session: EvaluationSession,
        targets: list[Message],
        ids: dict[str, str],
        item: Reply | Fault,
        prompt: str,
        tag: str,
    ) -> Reply | Fault:
        """A single-model turn the site answers as a battle: see :mod:`.direct_battle`."""
        return item

    async def _stream(
        self,
        request: web.Request,
        item: Reply | Fault,
        targets: list[Message],
        prompt: str,
        tag: str,
    ) -> web.StreamResponse:
        if isinstance(item, Fault) and item.kind == "hang_headers":
            await _wait(request, item.seconds)
            item = Reply()
        # Since Aug-Oct 2026 the stream is labelled text/event-stream (protocol §15.2).
        headers = EVENT_STREAM_HEADERS if self.stream_2026_10 else STREAM_HEADERS
        resp = web.StreamResponse(status=200, headers=dict(headers))
        try:
            await resp.prepare(request)
            writer = StreamWriter(resp, self.chunk_size, on_split=self._split_character)
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
        self,
        request: web.Request,
        writer: StreamWriter,
        fault: Fault,
        targets: list[Message],
    ) -> None:
        for m in targets:
            m.status = "error"
        side = targets[0].participant or SIDE_A
        if fault.kind == "cut":
            steps = [Step(line(side, DATA_CODE, HEARTBEAT))]
            for delta in as_deltas(fault.text, ""):
                steps.append(Step(line(side, TEXT_CODE, delta)))
                targets[0].content += delta
            await writer.write_steps(steps)
            # Drop the connection without the chunked terminator: the body is incomplete.
            if request.transport is not None:
                request.transport.close()
        elif fault.kind == "empty":
            await writer.write_steps([Step(line(side, DATA_CODE, HEARTBEAT))] * fault.count)
        elif fault.kind == "arena_error":
            await writer.write_steps([Step(line(side, TEXT_CODE, ARENA_ERROR_MARKER))])
        elif fault.kind == "a3":
            await writer.write_steps(
                [
                    Step(line(side, ERROR_CODE, fault.message)),
                    Step(line(side, FINISH_CODE, {"finishReason": "error"})),
                ]
            )
        elif fault.kind == "hang":
            await _wait(request, fault.seconds)

    def _reply_steps(
        self, reply: Reply, targets: list[Message], prompt: str, tag: str
    ) -> Iterator[Step]:
        """Lines of a successful answer: heartbeats, then per side reasoning, citations, images and
        text (sides interleaved line by line), then one finish line per side."""
        first_side = targets[0].participant or SIDE_A
        if self.stream_2026_10:  # each side opens with its message id (protocol §15.2)
            for msg in targets:
                side = msg.participant or SIDE_A
                yield Step(line(side, MESSAGE_ID_CODE, {"messageId": msg.id}))
        if reply.routed_organization is not None:
            routed = [{"type": ROUTED_MODEL, "organization": reply.routed_organization}]
            yield Step(line(first_side, DATA_CODE, routed))
        for _ in range(reply.heartbeats):
            yield Step(line(first_side, DATA_CODE, HEARTBEAT))
        per_side: list[list[Step]] = []
        for msg in targets:
            side = msg.participant or SIDE_A
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
            side = msg.participant or SIDE_A
            usage = reply.usage or {
                "promptTokens": max(1, len(prompt) // 4),
                "completionTokens": max(1, len(msg.content) // 4),
            }

            def done(msg: Message = msg) -> None:
                msg.status = "success" if reply.finish_reason == "stop" else "error"

            yield Step(
                line(side, FINISH_CODE, {"finishReason": reply.finish_reason, "usage": usage}),
                delay=reply.delay_between,
                on_sent=done,
            )

    def _side_steps(
        self,
        reply: Reply,
        msg: Message,
        side: str,
        model: FakeModel | None,
        prompt: str,
        tag: str,
    ) -> list[Step]:
        is_a = side == SIDE_A
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
                add(
                    REASONING_CODE,
                    delta,
                    lambda d=delta: setattr(msg, "reasoning", msg.reasoning + d),
                )
        if citations:
            args = orjson.dumps({"source": citations}).decode()
            call = {"toolCallId": f"call_{uuid.uuid4().hex[:24]}", "argsTextDelta": args}
            add(TOOL_DELTA_CODE, call, lambda c=citations: msg.citations.extend(c))
        for url in images:
            if reply.inline_images is not None:  # the picture itself, not a URL (§15.2)
                data = base64.b64encode(make_png()).decode()
                inline = {"mimeType": reply.image_mime, "data": data}
                keep = lambda u=f"data:{reply.image_mime};base64,{data}": msg.images.append(u)  # noqa: E731
                if reply.inline_images == "ak":
                    add(INLINE_IMAGE_CODE, inline, keep)
                else:
                    add(DATA_CODE, [{"type": "image", **inline}], keep)
                continue
            part = [{"type": "image", "image": url, "mimeType": reply.image_mime}]
            add(DATA_CODE, part, lambda u=url: msg.images.append(u))
        for delta in as_deltas(text_value, default_text):
            add(TEXT_CODE, delta, lambda d=delta: setattr(msg, "content", msg.content + d))
        return steps

    def _generated_image_url(self) -> str:
        key = f"generated/{uuid.uuid4()}.png"
        self.store.objects[key] = StoredObject(make_png(), "image/png")
        return self.store.presign(self.url, "GET", key, self.download_url_ttl)


async def _wait(request: web.Request, seconds: float | None) -> None:
    """Sleep ``seconds`` (forever if None), but stop as soon as the client disconnects."""
    end = None if seconds is None else time.monotonic() + seconds
    while end is None or time.monotonic() < end:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.05)

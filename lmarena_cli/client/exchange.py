"""One exchange and its retry policy: :class:`ReplyStream`.

A send is: a fresh reCAPTCHA token from the browser, a request body with fresh UUIDv7 ids, the POST
made with the client's HTTP session (the browser's cookies and User-Agent), and the answer parsed
line by line as it streams. Failures before any answer text may start a new attempt, as
:meth:`ReplyStream._recover_or_raise` decides; every failure ends in an exception from
:mod:`errors`. The conversation API around it (``Client``, ``ChatSession``) is in :mod:`client`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, TypedDict

import aiohttp
import orjson

from ..errors import (
    Blocked,
    IncompleteAnswer,
    LmArenaError,
    ProtocolError,
    RateLimited,
    Timeout,
    UpstreamError,
    UpstreamUnavailable,
)
from ..site import facts
from ..site.protocol import (
    Citation,
    Event,
    Finish,
    Heartbeat,
    ImageOutput,
    MessageIds,
    RawEvent,
    ReasoningDelta,
    StreamError,
    StreamParser,
    TextDelta,
    create_evaluation_body,
    error_from_response,
    error_from_stream,
    post_to_evaluation_body,
    uuid7,
)
from .reply import Answer, Reply

if TYPE_CHECKING:
    from .client import ChatSession, Client

#: How many times a failure before any answer text (5xx, connection reset) is retried.
TRANSIENT_RETRIES = 3
#: Backoff before those retries, in seconds: 1, 2, 4.
BACKOFF_BASE = 1.0
#: How many times a 429 is waited out, when the caller allows waiting at all.
RATE_LIMIT_RETRIES = 3


class _BodyFields(TypedDict):
    """What the create-evaluation and post-to-evaluation bodies take alike (protocol §1.5, §7.2)."""

    modality: str
    model_a_id: str | None
    model_b_id: str | None
    ids: MessageIds
    content: str
    attachments: list[dict[str, str]]
    recaptcha_token: str


class ReplyStream:
    """An answer as it arrives. Iterate for model A's text deltas; :meth:`events` for all."""

    def __init__(
        self,
        chat: ChatSession,
        prompt: str,
        attachments: list[dict[str, str]],
        *,
        timeout: float | None,
        rate_limit_wait: float,
    ) -> None:
        self._chat = chat
        self._client = chat.client
        self._prompt = prompt
        self._attachments = attachments
        self._timeout = timeout or self._client.settings.timeout
        self._rate_limit_wait = rate_limit_wait
        self._started = time.monotonic()
        self._first_token: float | None = None
        self._response: aiohttp.ClientResponse | None = None
        self._ids = MessageIds.fresh()
        self._session_id = chat.id or uuid7()
        self._reply: Reply | None = None
        self._budget = _RetryBudget(rate_limit_wait)
        self._chat_lock = chat._lock
        self._done = False

    @property
    def reply(self) -> Reply:
        """The whole reply so far; complete once iteration has ended."""
        if self._reply is None:
            self._reply = self._new_reply()
        return self._reply

    @property
    def evaluation_session_id(self) -> str:
        """The conversation's id; a new conversation's may change on a retry before any text."""
        return self._session_id

    async def start(self) -> None:
        """Make the request and wait until the site accepts it (status 200)."""
        await self._chat_lock.acquire()
        try:
            await self._open()
        except BaseException:
            self._chat_lock.release()
            raise

    def __aiter__(self) -> AsyncIterator[str]:
        return self._text_deltas()

    async def _text_deltas(self) -> AsyncIterator[str]:
        async for event in self.events():
            if isinstance(event, TextDelta) and event.side == "a":
                yield event.text

    async def events(self) -> AsyncGenerator[Event, None]:
        """Every typed event (text, reasoning, image, citation, finish, error, raw) as it comes."""
        if self._done:
            return
        try:
            async for event in self._attempts():
                yield event
        finally:
            self._done = True
            await self._close_response()
            if self._chat_lock.locked():
                self._chat_lock.release()

    async def aclose(self) -> None:
        """Stop reading; the site is told by the closed connection."""
        self._done = True
        await self._close_response()
        if self._chat_lock.locked():
            self._chat_lock.release()

    # -- the attempt loop -----------------------------------------------------------------------

    def _new_reply(self) -> Reply:
        chat = self._chat
        answers = [
            Answer(
                "a",
                model=chat.model.name if chat.model else None,
                model_id=chat.model.id if chat.model else None,
                message_id=self._ids.model_a,
            )
        ]
        if chat.mode in (facts.MODE_SIDE_BY_SIDE, facts.MODE_BATTLE):
            answers.append(
                Answer(
                    "b",
                    model=chat.model_b.name if chat.model_b else None,
                    model_id=chat.model_b.id if chat.model_b else None,
                    message_id=self._ids.model_b,
                )
            )
        return Reply(self._session_id, chat.mode, answers, self._ids.user)

    def _new_attempt(self) -> None:
        """Every attempt gets fresh ids: the site refuses ids it has already seen (400)."""
        self._ids = MessageIds.fresh()
        if self._chat.id is None:
            self._session_id = uuid7()
        self._reply = None
        self._first_token = None

    async def _open(self) -> None:
        """Send the request, retrying what may be retried before any answer text exists."""
        while True:
            try:
                self._response = await self._post()
                return
            except LmArenaError as error:
                await self._recover_or_raise(error)
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                base_url = self._client.settings.base_url
                await self._recover_or_raise(
                    UpstreamUnavailable(
                        f"cannot reach {base_url}: {_describe(error)}", kind="network"
                    )
                )
            self._new_attempt()

    async def _recover_or_raise(self, error: LmArenaError) -> None:
        """The retry policy: return to try again, or raise. Only failures before any answer text
        come here; once text has arrived nothing is retried (:meth:`_attempts` raises with the
        partial text). Every new attempt has fresh message ids (a new conversation also a fresh
        session id) and a freshly minted reCAPTCHA token.

        ========================================  =============================================
        failure (``error.kind``)                  what happens
        ========================================  =============================================
        reCAPTCHA rejected (``recaptcha``)        one retry, after reloading the page (the site
                                                  key may have rotated); never more: a second
                                                  rejection raises ``Blocked``, as repeated
                                                  failures lengthen a flag on the account
        Cloudflare 403 (``cloudflare``)           one page reload for a new clearance, one retry
        401 sign-in expired (``auth_expired``)    one page reload for a new auth cookie, one retry
        401 login gate (``login_gate``)           no retry: ``SignInRequired``
        429 (``RateLimited``)                     up to ``RATE_LIMIT_RETRIES`` waits of
                                                  ``Retry-After`` (else 5, 10, 20 s), only while
                                                  the total stays within the caller's
                                                  ``rate_limit_wait`` (default 0: raise at once)
        422 / invalid content, moderation         no retry: ``ContentRejected``
        400 ZodError, other ``ProtocolError``     no retry
        400 ids already seen (``duplicate_ids``)  one retry with fresh ids
        5xx, connection refused or reset, body    up to ``TRANSIENT_RETRIES`` retries after
        cut before text (``server``,              ``BACKOFF_BASE`` * 1, 2, 4 s
        ``network``, ``cut``)
        empty answer (``empty``)                  one retry with fresh ids
        anything else (a3 / arena error,          no retry
        timeout, other 403s)
        ========================================  =============================================
        """
        client, budget = self._client, self._budget
        kind = error.kind
        if kind == "recaptcha" and budget.take("recaptcha", 1):
            client._log("the site rejected the reCAPTCHA token; trying once more with a fresh one")
            # Reload the page first: a redeploy may have rotated the site key (protocol §4.2),
            # and a token minted with the old page's key fails however often it is retried.
            await client._refresh_browser_session()
            return
        if kind == "cloudflare" and budget.take("cloudflare", 1):
            client._log("the site's anti-bot check wants a new clearance; refreshing it")
            await client._refresh_browser_session()
            return
        if kind == "auth_expired" and budget.take("auth", 1):
            client._log("the site's sign-in expired; refreshing it")
            await client._refresh_browser_session()
            return
        if kind in ("duplicate_ids", "empty") and budget.take(kind, 1):
            client._log(f"{error.message}; trying once more with fresh ids")
            return
        if isinstance(error, RateLimited):
            wait = (
                error.retry_after
                if error.retry_after is not None
                else 5.0 * 2 ** budget.used("rate")
            )
            if budget.take("rate", RATE_LIMIT_RETRIES) and budget.wait(wait):
                client._log(f"rate-limited by the site; waiting {wait:.0f} s as it asked")
                await asyncio.sleep(wait)
                return
            raise error
        retryable = (
            isinstance(error, UpstreamUnavailable)
            and not isinstance(error, ProtocolError | UpstreamError)
            and kind in ("server", "network", "cut")
        )
        if retryable and budget.take("transient", TRANSIENT_RETRIES):
            delay = BACKOFF_BASE * 2 ** (budget.used("transient") - 1)
            client._log(f"{error.message}; retrying in {delay:.0f} s")
            await asyncio.sleep(delay)
            return
        if kind == "recaptcha":
            raise Blocked(
                "the site rejected the reCAPTCHA token twice; not trying again, as repeated "
                "failures lengthen a flag on the account. Wait a while, or sign in with "
                "`lmarena login`",
                detail=error.detail,
                kind=kind,
            ) from None
        raise error

    async def _post(self) -> aiohttp.ClientResponse:
        """One POST of the prompt: 200 gives the streaming response, anything else raises."""
        client, chat = self._client, self._chat
        state = await client._session_state()
        token = await client.browser.mint_token(facts.ACTION_CHAT_SUBMIT)
        fields = _BodyFields(
            modality=chat.modality,
            model_a_id=chat.model.id if chat.model else None,
            model_b_id=chat.model_b.id if chat.model_b else None,
            ids=self._ids,
            content=self._prompt,
            attachments=self._attachments,
            recaptcha_token=token,
        )
        if chat.id is None:
            body = create_evaluation_body(session_id=self._session_id, mode=chat.mode, **fields)
            path, referer = facts.CREATE_EVALUATION, facts.CHAT_PAGE
        else:
            body = post_to_evaluation_body(session_id=chat.id, **fields)
            path = facts.POST_TO_EVALUATION.format(session_id=chat.id)
            referer = facts.conversation_page(chat.id)
        url = client.settings.base_url + path
        headers = client._headers(state, referer, **{"Content-Type": facts.REQUEST_CONTENT_TYPE})
        # The wait for the answer to start counts against the first-token timeout too: a site
        # that takes the request and sends no headers must not hold the caller forever.
        left = max(0.0, self._started + self._timeout - time.monotonic())
        try:
            async with asyncio.timeout(left):
                response = await client._http_session().post(
                    url, data=orjson.dumps(body), headers=headers, proxy=client._proxy(url)
                )
        except TimeoutError:
            raise Timeout(
                f"the site did not start answering within {self._timeout:.0f} s "
                "(no first answer in time)",
                kind="timeout",
            ) from None
        client._absorb_cookies(response)
        if response.status == 200:
            return response
        try:
            text = await response.text(errors="replace")
        finally:
            response.release()
        raise error_from_response(response.status, text, response.headers)

    async def _close_response(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    async def _attempts(self) -> AsyncIterator[Event]:
        """Read the answer; before any text, failures may start a new attempt (see _open)."""
        while True:
            if self._response is None:
                self._new_attempt()
                await self._open()
            produced_text = False
            try:
                async for event in self._read():
                    if isinstance(event, TextDelta | ImageOutput | ReasoningDelta):
                        produced_text = True
                    yield event
                if self._chat.mode == facts.MODE_BATTLE:
                    await self._client._reveal_models(self.reply)
                self._finish()
                return
            except LmArenaError as error:
                await self._close_response()
                if produced_text or self._reply_has_content():
                    error.partial = self.reply.text
                    raise
                await self._recover_or_raise(error)

    def _reply_has_content(self) -> bool:
        return any(a.text or a.images or a.reasoning for a in self.reply.answers)

    async def _read(self) -> AsyncIterator[Event]:
        """Parse the response body into events, with first-token and idle timeouts."""
        assert self._response is not None
        response = self._response
        parser = StreamParser()
        reply = self.reply
        sides = {answer.side for answer in reply.answers}
        finished: set[str] = set()
        first_deadline = self._started + self._timeout
        idle = self._client.settings.idle_timeout
        alive = False  # bytes came (heartbeats count) though maybe no answer text yet
        while True:
            wait = (
                idle
                if self._first_token is not None
                else max(0.0, first_deadline - time.monotonic())
            )
            try:
                async with asyncio.timeout(wait):
                    chunk = await response.content.readany()
            except TimeoutError:
                what = (
                    "between two parts of the answer" if self._first_token else "for a first answer"
                )
                sent = "only keep-alives" if alive and not self._first_token else "nothing"
                raise Timeout(
                    f"the site sent {sent} for {wait:.0f} s {what}", kind="timeout"
                ) from None
            except (aiohttp.ClientError, OSError) as error:
                raise IncompleteAnswer(
                    f"the answer was cut off: the connection broke ({_describe(error)})",
                    kind="cut",
                ) from None
            events = parser.feed(chunk) if chunk else parser.close()
            alive = alive or bool(chunk)
            for event in events:
                self._apply(event, reply, finished)
                if isinstance(event, StreamError):
                    raise error_from_stream(event.message)
                if not isinstance(event, Heartbeat):
                    yield event
            if sides <= finished or not chunk:
                break
        if not self._reply_has_content():
            # Also when finish lines came: heartbeats and "stop" with no text or image is the
            # "no content" failure of protocol §2.3/§8.2, retried with fresh ids, never an
            # empty answer handed over as if it were one.
            raise IncompleteAnswer("the site's answer was empty", kind="empty")
        if sides <= finished or (finished and self._unfinished_have_content(finished)):
            # A clean end of the body after one side's finish line, with text from every side,
            # is a whole answer even when the site left out the other side's finish line.
            return
        raise IncompleteAnswer(
            "the answer was cut off: the stream ended without a finish line", kind="cut"
        )

    def _unfinished_have_content(self, finished: set[str]) -> bool:
        return all(
            a.text or a.images or a.reasoning for a in self.reply.answers if a.side not in finished
        )

    def _apply(self, event: Event, reply: Reply, finished: set[str]) -> None:
        answer = next((a for a in reply.answers if a.side == event.side), None)
        if answer is None:
            return
        if isinstance(event, TextDelta | ImageOutput) and self._first_token is None:
            self._first_token = time.monotonic()
        if isinstance(event, TextDelta):
            answer.text += event.text
        elif isinstance(event, ReasoningDelta):
            answer.reasoning += event.text
        elif isinstance(event, ImageOutput):
            answer.images.append(event.url)
        elif isinstance(event, Citation):
            answer.citations.append({"url": event.url, "title": event.title})
        elif isinstance(event, Finish):
            answer.finish_reason = event.finish_reason
            answer.usage = event.usage
            finished.add(event.side)
        elif isinstance(event, StreamError):
            answer.error = event.message
        elif isinstance(event, RawEvent):
            _reveal_model(answer, event)

    def _finish(self) -> None:
        reply = self.reply
        now = time.monotonic()
        reply.timings = {
            "first_token": None if self._first_token is None else self._first_token - self._started,
            "total": now - self._started,
        }
        chat = self._chat
        chat.id = self._session_id
        if self._client.records:
            _record(self._client, chat, reply, self._prompt)


def _reveal_model(answer: Answer, event: RawEvent) -> None:
    """Battles hide the models; when a line names one, keep it."""
    value = event.value
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict):
            for key in ("modelName", "publicName", "model"):
                if isinstance(item.get(key), str):
                    answer.model = item[key]
            if isinstance(item.get("modelId"), str):
                answer.model_id = item["modelId"]


def _record(client: Client, chat: ChatSession, reply: Reply, prompt: str) -> None:
    """Remember the conversation for `-c` and `serve`; a failing store never loses the answer."""
    try:
        client.store.record(
            reply.evaluation_session_id,
            model=chat.model.name if chat.model else None,
            model_b=chat.model_b.name if chat.model_b else None,
            mode=chat.mode,
            messages=[
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": reply.text},
            ],
        )
    except LmArenaError as error:
        client._log(f"could not record the conversation: {error}")


class _RetryBudget:
    """Counts retries by reason, and the seconds the caller allows for waiting out 429s."""

    def __init__(self, wait_allowed: float) -> None:
        self._counts: dict[str, int] = {}
        self._wait_left = wait_allowed

    def used(self, reason: str) -> int:
        return self._counts.get(reason, 0)

    def take(self, reason: str, limit: int) -> bool:
        if self._counts.get(reason, 0) >= limit:
            return False
        self._counts[reason] = self._counts.get(reason, 0) + 1
        return True

    def wait(self, seconds: float) -> bool:
        if seconds > self._wait_left:
            return False
        self._wait_left -= seconds
        return True


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


__all__ = ["BACKOFF_BASE", "RATE_LIMIT_RETRIES", "TRANSIENT_RETRIES", "ReplyStream"]

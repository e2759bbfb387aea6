"""The public async API: ``Client``, ``ChatSession``, ``Reply`` and ``ReplyStream``.

::

    from lmarena_cli import Client

    async with Client() as client:
        chat = await client.chats.create(model="gemini-3-pro")
        reply = await chat.send("hello", stream=False)
        print(reply.text, reply.evaluation_session_id)

        stream = await chat.send("and now in French", stream=True)
        async for delta in stream:
            print(delta, end="", flush=True)
        print(stream.reply.finish_reason)

One send is: images uploaded (once per distinct image while its link is valid), a fresh reCAPTCHA
token from the browser, a request body with fresh UUIDv7 ids, the POST made with aiohttp using the
browser's cookies and User-Agent, and the answer parsed line by line as it streams. The retry policy
is in :meth:`ReplyStream._attempts`; every failure ends in an exception from :mod:`errors`.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from . import site
from .browser import Browser
from .discovery import Model, message_models, model_from_row, resolve_model, usable_models
from .errors import (
    Blocked,
    ConversationNotFound,
    IncompleteAnswer,
    InputError,
    LmArenaError,
    ProtocolError,
    RateLimited,
    Timeout,
    UpstreamError,
    UpstreamUnavailable,
    UsageError,
)
from .protocol import (
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
    parse_action_reply,
    post_to_evaluation_body,
    uuid7,
)
from .settings import Settings
from .state import SiteState
from .store import ConversationStore
from .uploads import ImageInput, UploadCache, load_image

#: How many times a failure before any answer text (5xx, connection reset) is retried.
TRANSIENT_RETRIES = 3
#: Backoff before those retries, in seconds: 1, 2, 4.
BACKOFF_BASE = 1.0
#: How many times a 429 is waited out, when the caller allows waiting at all.
RATE_LIMIT_RETRIES = 3

ImageSource = Any  # bytes | str (path, data: URI, http(s) URL) | os.PathLike | binary file object
ImageArg = ImageSource | tuple[ImageSource, str | None]


# --------------------------------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    """One model's answer. A single-model chat has one; side-by-side and battle have two."""

    side: str
    model: str | None = None
    model_id: str | None = None
    message_id: str | None = None
    text: str = ""
    reasoning: str = ""
    images: list[str] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "model": self.model,
            "model_id": self.model_id,
            "message_id": self.message_id,
            "text": self.text,
            "reasoning": self.reasoning,
            "images": list(self.images),
            "citations": list(self.citations),
            "finish_reason": self.finish_reason,
            "usage": self.usage,
            "error": self.error,
        }


@dataclass
class Reply:
    """A whole exchange. The top-level fields are model A's answer (the only one in a 1:1 chat)."""

    evaluation_session_id: str
    mode: str
    answers: list[Answer]
    user_message_id: str
    #: Seconds: ``first_token`` from the send to the first answer text; ``total`` to the end.
    timings: dict[str, float | None] = field(default_factory=dict)

    @property
    def a(self) -> Answer:
        return self.answers[0]

    @property
    def b(self) -> Answer | None:
        return self.answers[1] if len(self.answers) > 1 else None

    @property
    def text(self) -> str:
        return self.a.text

    @property
    def reasoning(self) -> str:
        return self.a.reasoning

    @property
    def images(self) -> list[str]:
        return self.a.images

    @property
    def citations(self) -> list[dict[str, Any]]:
        return self.a.citations

    @property
    def finish_reason(self) -> str | None:
        return self.a.finish_reason

    @property
    def usage(self) -> dict[str, Any] | None:
        return self.a.usage

    @property
    def model(self) -> str | None:
        return self.a.model

    @property
    def message_ids(self) -> dict[str, str | None]:
        ids: dict[str, str | None] = {"user": self.user_message_id}
        for answer in self.answers:
            ids[answer.side] = answer.message_id
        return ids

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape shared by ``lmarena ask --json`` and the library's users."""
        data: dict[str, Any] = {
            "text": self.text,
            "reasoning": self.reasoning,
            "images": list(self.images),
            "citations": list(self.citations),
            "finish_reason": self.finish_reason,
            "usage": self.usage,
            "model": self.model,
            "evaluation_session_id": self.evaluation_session_id,
            "mode": self.mode,
            "message_ids": self.message_ids,
            "timings": dict(self.timings),
        }
        if len(self.answers) > 1:
            data["answers"] = [answer.to_dict() for answer in self.answers]
        return data


# --------------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------------


class Client:
    """A connection to the site: one browser (started only when needed) and one HTTP session.

    ``Client()`` reads its settings from ``LM_ARENA_*`` variables; pass ``Settings`` to override.
    Use it as an async context manager, or call :meth:`bootstrap` and :meth:`close` yourself.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        browser: Browser | None = None,
        record: bool = True,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings or Settings.load()
        self._log = log or (lambda message: None)
        self._browser = browser
        self._owns_browser = browser is None
        self._state: SiteState | None = None
        self._http: aiohttp.ClientSession | None = None
        self._uploads = UploadCache()
        self._store: ConversationStore | None = None
        self._record = record
        self._bootstrap_lock = asyncio.Lock()
        self.chats = Chats(self)

    async def __aenter__(self) -> Client:
        await self.bootstrap()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def records(self) -> bool:
        """Whether each exchange is written to the conversation store (``-c`` uses it)."""
        return self._record

    @property
    def browser(self) -> Browser:
        if self._browser is None:
            self._browser = Browser(self.settings, log=self._log)
        return self._browser

    @property
    def store(self) -> ConversationStore:
        if self._store is None:
            self._store = ConversationStore(self.settings.store_path)
        return self._store

    async def bootstrap(self, *, refresh: bool = False) -> SiteState:
        """Start the browser, pass the site's checks and learn what a send needs."""
        async with self._bootstrap_lock:
            if self._state is None or refresh:
                self._state = await self.browser.bootstrap(refresh=refresh)
            return self._state

    async def list_models(self, *, refresh: bool = False) -> list[Model]:
        """The models one can chat with. Answered from the cache when it has them (no browser)."""
        if not refresh:
            state = self._state or self.browser.cached_state()
            if state is not None and state.models:
                return _models(state)
        return _models(await self.bootstrap(refresh=refresh))

    async def model(self, name: str | Model) -> Model:
        """A model by name (or id); ``ModelNotFound`` names the closest ones."""
        if isinstance(name, Model):
            return name
        return resolve_model(name, await self.list_models())

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._browser is not None and self._owns_browser:
            await self._browser.close()

    async def download(self, url: str, *, max_bytes: int = 50 * 1024 * 1024) -> bytes:
        """Fetch a generated image (an https URL or a ``data:`` URI) that the site answered with."""
        if url.startswith("data:"):
            from .uploads import decode_data_uri

            return decode_data_uri(url)
        async with self._http_session().get(url, proxy=self._proxy(url)) as response:
            if response.status != 200:
                raise UpstreamUnavailable(f"downloading {url} failed with HTTP {response.status}")
            data = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                data += chunk
                if len(data) > max_bytes:
                    raise UpstreamUnavailable(f"{url} is larger than {max_bytes} bytes")
            return bytes(data)

    # -- plumbing shared by sends ------------------------------------------------------------------

    async def _session_state(self) -> SiteState:
        return self._state or await self.bootstrap()

    def _http_session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self.settings.timeout, sock_connect=self.settings.timeout
            )
            # Cookies are the browser's, sent by hand: a cookie jar would drop them for hosts
            # such as 127.0.0.1 and would not follow the browser's refreshes.
            self._http = aiohttp.ClientSession(
                timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(), trust_env=True
            )
        return self._http

    def _proxy(self, url: str) -> str | None:
        proxy = self.settings.proxy
        if proxy and urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
            urlsplit(url).hostname or ""
        ):
            return None
        return proxy

    def _headers(self, state: SiteState, referer_path: str, **extra: str) -> dict[str, str]:
        base = self.settings.base_url
        headers = {
            "User-Agent": state.user_agent,
            "Accept": "*/*",
            "Accept-Language": "en-US,en;q=0.9",
            "Origin": base,
            "Referer": base + referer_path,
            "Sec-Fetch-Dest": "empty",
            "Sec-Fetch-Mode": "cors",
            "Sec-Fetch-Site": "same-origin",
            "Cookie": "; ".join(f"{name}={value}" for name, value in state.cookies.items()),
        }
        headers.update(extra)
        return headers

    def _absorb_cookies(self, response: aiohttp.ClientResponse) -> None:
        """Keep cookies the site rotates on API answers (``__cf_bm``, a refreshed auth cookie)."""
        if self._state is not None:
            for name, morsel in response.cookies.items():
                if morsel.value:
                    self._state.cookies[name] = morsel.value

    async def _refresh_browser_session(self) -> None:
        """Reload the site in the browser: a new clearance and a refreshed auth cookie."""
        self._state = await self.browser.refresh_session()

    async def _reveal_models(self, reply: Reply) -> None:
        """A battle's models, when the conversation's page names them; unknown otherwise."""
        state = await self._session_state()
        path = site.conversation_page(reply.evaluation_session_id)
        url = self.settings.base_url + path
        ids = {a.side: a.message_id for a in reply.answers if a.message_id}
        try:
            headers = self._headers(state, path, Accept="text/html")
            async with self._http_session().get(url, headers=headers, proxy=self._proxy(url)) as r:
                self._absorb_cookies(r)
                html = await r.text(errors="replace") if r.status == 200 else ""
        except (aiohttp.ClientError, TimeoutError, OSError):
            return  # the answers stand without names; nothing else depends on them
        found = message_models(html, ids)
        by_id = {str(row.get("id")): row for row in state.models if isinstance(row, dict)}
        for answer in reply.answers:
            if answer.side in found:
                answer.model_id = found[answer.side]
                row = model_from_row(by_id.get(answer.model_id))
                answer.model = row.name if row is not None else None

    # -- uploads -----------------------------------------------------------------------------------

    async def _server_action(self, name: str, args: list[Any]) -> Any:
        """Call one of the site's Next.js server actions; rediscover a stale id once."""
        for attempt in range(2):
            state = await self._session_state()
            action_id = state.action_ids.get(name)
            if not action_id:
                raise ProtocolError(
                    f"the site's pages no longer name the server action {name!r}, which image "
                    "uploads need; the site changed and lmarena needs an update"
                )
            headers = self._headers(
                state,
                site.ACTION_PAGE,
                **{
                    "Next-Action": action_id,
                    "Accept": site.ACTION_ACCEPT,
                    "Content-Type": site.REQUEST_CONTENT_TYPE,
                },
            )
            url = self.settings.base_url + site.ACTION_PAGE
            async with self._http_session().post(
                url, data=orjson.dumps(args), headers=headers, proxy=self._proxy(url)
            ) as response:
                self._absorb_cookies(response)
                body = await response.text(errors="replace")
                if response.status == 200:
                    return parse_action_reply(body)
                error = error_from_response(response.status, body, response.headers)
            if error.kind == "stale_action" and attempt == 0:
                self._log(f"the site's {name} action changed; rediscovering it")
                state.action_ids.update(await self.browser.rediscover_actions())
                continue
            raise error
        raise AssertionError("unreachable")

    async def _upload(self, image: ImageInput) -> dict[str, str]:
        cached = self._uploads.get(image.digest)
        if cached is not None:
            return cached.attachment(image.mime_type)
        created = await self._server_action("generateUploadUrl", [image.filename, image.mime_type])
        upload_url, key = (
            _field(created, "uploadUrl", "generateUploadUrl"),
            _field(created, "key", "generateUploadUrl"),
        )
        async with self._http_session().put(
            upload_url,
            data=image.data,
            headers={"Content-Type": image.mime_type},
            proxy=self._proxy(upload_url),
        ) as response:
            if response.status == 413:
                raise InputError(
                    f"the site refused {image.filename} ({len(image.data)} bytes) as too large"
                )
            if response.status >= 300:
                text = (await response.text(errors="replace"))[:200]
                raise UpstreamUnavailable(
                    f"uploading {image.filename} failed with HTTP {response.status}", detail=text
                )
        signed = await self._server_action("getSignedUrl", [key])
        url = _field(signed, "url", "getSignedUrl")
        entry = self._uploads.put(image.digest, key=key, url=url)
        return entry.attachment(image.mime_type)


def _field(value: Any, name: str, action: str) -> str:
    data = value.get("data") if isinstance(value, dict) else None
    if isinstance(data, dict) and isinstance(data.get(name), str):
        return str(data[name])
    raise ProtocolError(
        f"the site's {action} action answered without data.{name}", detail=repr(value)[:200]
    )


def _models(state: SiteState) -> list[Model]:
    rows = (model_from_row(row) for row in state.models)
    return usable_models([model for model in rows if model is not None])


# --------------------------------------------------------------------------------------------------
# Chats
# --------------------------------------------------------------------------------------------------


class Chats:
    """``client.chats``: start a conversation or pick one up again."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def create(
        self,
        model: str | Model | None = None,
        *,
        versus: str | Model | None = None,
        battle: bool = False,
    ) -> ChatSession:
        """A new conversation: one model, two side by side (``versus``), or an anonymous battle."""
        client = self._client
        if battle:
            if model is not None or versus is not None:
                raise UsageError("a battle picks its two models itself; do not name a model")
            return ChatSession(client, None, None, site.MODE_BATTLE)
        model_a = await client.model(model or client.settings.model)
        if versus is None:
            return ChatSession(client, model_a, None, site.MODE_DIRECT)
        model_b = await client.model(versus)
        if model_b.id == model_a.id:
            raise UsageError("side by side needs two different models")
        return ChatSession(client, model_a, model_b, site.MODE_SIDE_BY_SIDE)

    async def resume(
        self,
        chat_id: str,
        *,
        model: str | Model | None = None,
        versus: str | Model | None = None,
    ) -> ChatSession:
        """Continue a conversation by its ``evaluationSessionId``; the site keeps its history.

        The model comes from the argument, else from this tool's conversation store, else from
        the settings' default model.
        """
        client = self._client
        chat_id = chat_id.strip()
        if not _looks_like_uuid(chat_id):
            raise ConversationNotFound(f"{chat_id!r} is not a conversation id (a UUID)")
        known = client.store.get(chat_id)
        mode = known.mode if known else site.MODE_DIRECT
        if model is None and known is not None:
            model = known.model
        if versus is None and known is not None and known.model_b:
            versus = known.model_b
        if mode == site.MODE_BATTLE:
            chat = ChatSession(client, None, None, mode)
        else:
            model_a = await client.model(model or client.settings.model)
            model_b = await client.model(versus) if versus else None
            if model_b is not None:
                mode = site.MODE_SIDE_BY_SIDE
            chat = ChatSession(client, model_a, model_b, mode)
        chat.id = chat_id
        return chat

    async def latest(self) -> ChatSession:
        """The conversation this tool most recently used (``lmarena ask -c``)."""
        known = self._client.store.latest()
        if known is None:
            raise ConversationNotFound("there is no earlier conversation to continue")
        return await self.resume(known.id)


def _looks_like_uuid(value: str) -> bool:
    parts = value.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(
        c in "0123456789abcdefABCDEF" for c in "".join(parts)
    )


class ChatSession:
    """One conversation on the site. ``id`` is its ``evaluationSessionId`` once it exists."""

    def __init__(
        self, client: Client, model: Model | None, model_b: Model | None, mode: str
    ) -> None:
        self.client = client
        self.model = model
        self.model_b = model_b
        self.mode = mode
        self.id: str | None = None
        self._lock = asyncio.Lock()

    @property
    def modality(self) -> str:
        return self.model.modality if self.model is not None else "chat"

    async def send(
        self,
        prompt: str,
        *,
        images: Sequence[ImageArg] | None = None,
        stream: bool = False,
        timeout: float | None = None,
        rate_limit_wait: float = 0.0,
    ) -> Any:
        """Send one user turn. Returns a :class:`Reply`, or a :class:`ReplyStream` with ``stream``.

        ``timeout`` bounds the wait for the first answer text (default: the settings' timeout).
        ``rate_limit_wait`` is how many seconds you accept to wait out a 429 in total; by
        default a 429 raises ``RateLimited`` at once, with ``retry_after`` when the site said.
        A streaming send returns once the site has accepted the request; errors before that
        raise here, errors while streaming raise from the iteration.
        """
        if not prompt.strip() and not images:
            raise InputError("the prompt is empty")
        attachments = await self._attachments(images or [])
        reply_stream = ReplyStream(
            self, prompt, attachments, timeout=timeout, rate_limit_wait=rate_limit_wait
        )
        await reply_stream.start()
        if stream:
            return reply_stream
        async for _ in reply_stream:
            pass
        return reply_stream.reply

    async def _attachments(self, images: Sequence[ImageArg]) -> list[dict[str, str]]:
        if not images:
            return []
        models = [m for m in (self.model, self.model_b) if m is not None]
        if not models:
            raise InputError("a battle's models are not known in advance, so it takes no images")
        for model in models:
            if not model.takes_images:
                raise InputError(
                    f"{model.name} does not take images; `lmarena models --vision` "
                    "lists the models that do"
                )
        settings = self.client.settings
        loaded = []
        for index, item in enumerate(images, start=1):
            source, filename = item if isinstance(item, tuple) else (item, None)
            loaded.append(
                await load_image(
                    source,
                    filename,
                    allow_private=settings.allow_private_urls,
                    timeout=settings.timeout,
                    index=index,
                )
            )
        return [await self.client._upload(image) for image in loaded]


# --------------------------------------------------------------------------------------------------
# One streamed exchange
# --------------------------------------------------------------------------------------------------


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
        if chat.mode in (site.MODE_SIDE_BY_SIDE, site.MODE_BATTLE):
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
        """Decide whether a failure before any text is worth another attempt; raise if not."""
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
        client, chat = self._client, self._chat
        state = await client._session_state()
        token = await client.browser.mint_token(site.ACTION_CHAT_SUBMIT)
        model_a = chat.model.id if chat.model else None
        model_b = chat.model_b.id if chat.model_b else None
        if chat.id is None:
            body = create_evaluation_body(
                session_id=self._session_id,
                mode=chat.mode,
                modality=chat.modality,
                model_a_id=model_a,
                model_b_id=model_b,
                ids=self._ids,
                content=self._prompt,
                attachments=self._attachments,
                recaptcha_token=token,
            )
            path, referer = site.CREATE_EVALUATION, site.CHAT_PAGE
        else:
            body = post_to_evaluation_body(
                session_id=chat.id,
                modality=chat.modality,
                model_a_id=model_a,
                model_b_id=model_b,
                ids=self._ids,
                content=self._prompt,
                attachments=self._attachments,
                recaptcha_token=token,
            )
            path = site.POST_TO_EVALUATION.format(session_id=chat.id)
            referer = site.conversation_page(chat.id)
        url = client.settings.base_url + path
        headers = client._headers(state, referer, **{"Content-Type": site.REQUEST_CONTENT_TYPE})
        response = await client._http_session().post(
            url, data=orjson.dumps(body), headers=headers, proxy=client._proxy(url)
        )
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
                if self._chat.mode == site.MODE_BATTLE:
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
                    raise UpstreamError(
                        f"the site reported a failure: {event.message}",
                        detail=event.message,
                        kind="arena_error" if event.message == site.ARENA_ERROR_TEXT else "a3",
                    )
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
        if self._client._record:
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


__all__ = ["Answer", "ChatSession", "Chats", "Client", "Reply", "ReplyStream"]

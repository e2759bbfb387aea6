"""The conversation API: ``Client``, ``Chats`` and ``ChatSession``.

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

``Client`` holds the browser and the HTTP session and does what every send shares: cookies and
headers, image uploads (once per distinct image while its link is valid), the site's server
actions. One send, its stream and its retry policy are :class:`ReplyStream`, in :mod:`exchange`;
the reply's data types are in :mod:`reply`. Both are re-exported here, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from ..browser.session import Browser
from ..errors import (
    ConversationNotFound,
    InputError,
    ProtocolError,
    Timeout,
    UpstreamUnavailable,
    UsageError,
)
from ..settings import Settings
from ..site import facts
from ..site.discovery import Model, message_models, model_from_row, resolve_model, usable_models
from ..site.protocol import error_from_response, parse_action_reply
from ..state.cache import SiteState
from ..state.store import ConversationStore
from .exchange import ReplyStream
from .reply import Answer, Reply
from .uploads import ImageInput, UploadCache, load_image

ImageSource = Any  # bytes | str (path, data: URI, http(s) URL) | os.PathLike | binary file object
ImageArg = ImageSource | tuple[ImageSource, str | None]


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
        return [model for model in await self._selectable(refresh) if model.chats]

    async def _selectable(self, refresh: bool = False) -> list[Model]:
        if not refresh:
            state = self._state or self.browser.cached_state()
            if state is not None and state.models:
                return _models(state)
        return _models(await self.bootstrap(refresh=refresh))

    async def model(self, name: str | Model) -> Model:
        """A model by name (or id); ``ModelNotFound`` names the closest ones."""
        if isinstance(name, Model):
            return name
        selectable = await self._selectable()
        found = resolve_model(name, selectable)
        if not found.chats:
            # Named exactly, but it answers with video (or only in the WebDev arena): say so
            # before any request, rather than let the site refuse a "chat" it cannot serve.
            raise UsageError(
                f"{found.name} does not answer with text, images or search results (it is a "
                "video or WebDev model), which lmarena cannot show; `lmarena models` lists the "
                "models it can use"
            )
        return found

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
        with self._network(f"downloading {url}"):
            async with self._http_session().get(
                url, proxy=self._proxy(url), timeout=self._bounded()
            ) as response:
                if response.status != 200:
                    raise UpstreamUnavailable(
                        f"downloading {url} failed with HTTP {response.status}"
                    )
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

    def _bounded(self) -> aiohttp.ClientTimeout:
        """For the short requests (uploads, actions, pages): a total cap. Answers are never
        capped in total, only in silence (see exchange)."""
        return aiohttp.ClientTimeout(total=self.settings.timeout)

    @contextlib.contextmanager
    def _network(self, what: str) -> Iterator[None]:
        """Network failures of a short request, as the error tree's own exceptions."""
        try:
            yield
        except TimeoutError:
            raise Timeout(
                f"{what}: no answer within {self.settings.timeout:.0f} s", kind="timeout"
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            raise UpstreamUnavailable(
                f"{what} failed: {type(error).__name__}: {error}", kind="network"
            ) from None

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
        path = facts.conversation_page(reply.evaluation_session_id)
        url = self.settings.base_url + path
        ids = {a.side: a.message_id for a in reply.answers if a.message_id}
        try:
            headers = self._headers(state, path, Accept="text/html")
            async with self._http_session().get(
                url, headers=headers, proxy=self._proxy(url), timeout=self._bounded()
            ) as r:
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
        """Call one of the site's Next.js server actions.

        Actions are POSTs to a page, behind the same checks as a send: a stale action id is
        rediscovered once, and a Cloudflare page or an expired sign-in is refreshed in the
        browser once, as for a send (see ``exchange``).
        """
        retried: set[str] = set()
        while True:
            state = await self._session_state()
            action_id = state.action_ids.get(name)
            if not action_id:
                raise ProtocolError(
                    f"the site's pages no longer name the server action {name!r}, which image "
                    "uploads need; the site changed and lmarena needs an update"
                )
            headers = self._headers(
                state,
                facts.ACTION_PAGE,
                **{
                    "Next-Action": action_id,
                    "Accept": facts.ACTION_ACCEPT,
                    "Content-Type": facts.REQUEST_CONTENT_TYPE,
                },
            )
            url = self.settings.base_url + facts.ACTION_PAGE
            with self._network(f"the site's {name} action"):
                async with self._http_session().post(
                    url,
                    data=orjson.dumps(args),
                    headers=headers,
                    proxy=self._proxy(url),
                    timeout=self._bounded(),
                ) as response:
                    self._absorb_cookies(response)
                    body = await response.text(errors="replace")
                    status, response_headers = response.status, response.headers
            if status == 200:
                return parse_action_reply(body)
            error = error_from_response(status, body, response_headers)
            kind = error.kind or ""
            if kind in retried:
                raise error
            retried.add(kind)
            if kind == "stale_action":
                self._log(f"the site's {name} action changed; rediscovering it")
                state.action_ids.update(await self.browser.rediscover_actions())
            elif kind in ("cloudflare", "auth_expired"):
                self._log(f"the site wants a new {_REFRESHED[kind]}; refreshing it")
                await self._refresh_browser_session()
            else:
                raise error

    async def _upload(self, image: ImageInput) -> dict[str, str]:
        cached = self._uploads.get(image.digest)
        if cached is not None:
            return cached.attachment(image.mime_type)
        created = await self._server_action("generateUploadUrl", [image.filename, image.mime_type])
        upload_url, key = (
            _field(created, "uploadUrl", "generateUploadUrl"),
            _field(created, "key", "generateUploadUrl"),
        )
        with self._network(f"uploading {image.filename}"):
            async with self._http_session().put(
                upload_url,
                data=image.data,
                headers={"Content-Type": image.mime_type},
                proxy=self._proxy(upload_url),
                timeout=self._bounded(),
            ) as response:
                status = response.status
                text = (await response.text(errors="replace"))[:200] if status >= 300 else ""
        if status == 413:
            raise InputError(
                f"the site refused {image.filename} ({len(image.data)} bytes) as too large"
            )
        if status >= 300:
            raise UpstreamUnavailable(
                f"uploading {image.filename} failed with HTTP {status}", detail=text
            )
        signed = await self._server_action("getSignedUrl", [key])
        url = _field(signed, "url", "getSignedUrl")
        entry = self._uploads.put(image.digest, key=key, url=url)
        return entry.attachment(image.mime_type)


_REFRESHED = {"cloudflare": "anti-bot clearance", "auth_expired": "sign-in"}


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
            return ChatSession(client, None, None, facts.MODE_BATTLE)
        model_a = await client.model(model or client.settings.model)
        if versus is None:
            return ChatSession(client, model_a, None, facts.MODE_DIRECT)
        model_b = await client.model(versus)
        if model_b.id == model_a.id:
            raise UsageError("side by side needs two different models")
        return ChatSession(client, model_a, model_b, facts.MODE_SIDE_BY_SIDE)

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
        mode = known.mode if known else facts.MODE_DIRECT
        if model is None and known is not None:
            model = known.model
        if versus is None and known is not None and known.model_b:
            versus = known.model_b
        if mode == facts.MODE_BATTLE:
            chat = ChatSession(client, None, None, mode)
        else:
            model_a = await client.model(model or client.settings.model)
            model_b = await client.model(versus) if versus else None
            if model_b is not None:
                mode = facts.MODE_SIDE_BY_SIDE
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


__all__ = ["Answer", "ChatSession", "Chats", "Client", "Reply", "ReplyStream"]

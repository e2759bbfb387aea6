"""What a transport is: the way the library's requests to the site leave, and what both share.

Two transports make the site's requests: aiohttp (:class:`~.http.SiteHttp`, the default: the
browser's cookies and User-Agent, sent from Python) and the page (:class:`~.page_transport.
PageTransport`: ``fetch`` run by the site's own page in the browser, its body streamed back as it
arrives). Both satisfy :class:`Transport`; :class:`~.site_transport.SiteTransport` chooses
between them (``LM_ARENA_TRANSPORT``) and falls back from aiohttp to the page.

Whatever the transport, a send's answer is an :class:`AnswerBody` read by the same
:class:`~..turn.reading.AnswerReading`, and a refusal (status, headers and body text) becomes the
same exception through :func:`stream_refusal` and :func:`action_value`: the retry policy never knows
which way a request went.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ...errors import LmArenaError
from ...site.actions import parse_action_reply
from ...site.classify import (
    error_from_page,
    error_from_response,
    looks_like_page,
    model_not_offered,
)
from ...site.models import request_models
from ...state.cache import SiteState

#: The values of ``LM_ARENA_TRANSPORT``.
TRANSPORTS = ("auto", "http", "page")
#: How much of a refusal's body is read for its message.
REFUSAL_PEEK = 65536


class AnswerBody(Protocol):
    """The body of a send's 200 answer (the answer stream), as it arrives."""

    async def read(self, wait: float) -> bytes:
        """The next bytes (``b""`` at the end). ``TimeoutError`` after ``wait`` seconds of
        silence (the caller knows what it waited for); :class:`~lmarena_cli.errors.
        IncompleteAnswer` (``cut``) when the connection broke."""
        ...

    async def aclose(self) -> None:
        """Stop reading: the request is dropped (the site sees the connection close)."""
        ...


class Transport(Protocol):
    """The requests to the site that either transport makes."""

    async def post_stream(
        self,
        state: SiteState,
        path: str,
        *,
        referer: str,
        body: Any,
        wait: float,
        timeout: float,
        method: str = "POST",
    ) -> AnswerBody:
        """POST a send (PUT a regenerate): the answer stream of a 200, else the error (see
        :func:`stream_refusal`); ``wait``: what is left of the first-answer ``timeout`` for the
        answer to start."""
        ...

    async def server_action(self, state: SiteState, name: str, args: list[Any]) -> Any:
        """Call the site's Next.js server action ``name`` once: its value, or the error."""
        ...

    async def get_page(self, state: SiteState, path: str) -> str:
        """The HTML of one of the site's pages ("" when it answers other than 200)."""
        ...

    async def get_api(self, state: SiteState, path: str) -> tuple[int, Any]:
        """GET one of the site's JSON endpoints: the status and the JSON (None if not JSON)."""
        ...

    async def put(self, url: str, data: bytes, *, content_type: str, what: str) -> tuple[int, str]:
        """PUT ``data`` to a presigned upload URL: the status, and for a failure the start of
        the answer."""
        ...

    async def learn_clock(self, state: SiteState) -> float:
        """Read the site's clock (its ``Date`` header) and set ours by it: the offset."""
        ...


def stream_refusal(
    url: str,
    status: int,
    text: str,
    headers: Mapping[str, str],
    *,
    content_type: str,
    state: SiteState,
    body: Any,
) -> LmArenaError:
    """The error for a send that did not get the answer stream: any status but 200, or a 200
    page (the site's soft 404, or Cloudflare's interstitial). ``text`` is the start of the
    answer's body; a "model not offered" refusal names the model and the modality sent."""
    if status == 200 and looks_like_page(content_type, text):
        return error_from_page(url, text, headers, expected="the answer stream")
    failure = error_from_response(status, text, headers)
    if failure.kind == "model_not_offered":
        fields = body if isinstance(body, dict) else {}
        named = request_models(state.models, fields)
        failure = model_not_offered(named, fields.get("modality"), failure.detail)
    return failure


def action_value(
    url: str, status: int, text: str, headers: Mapping[str, str], *, content_type: str
) -> Any:
    """A server action's value from its answer, or raise the error the answer means."""
    if status == 200 and looks_like_page(content_type, text):
        raise error_from_page(url, text, headers, expected="a server action's reply")
    if status == 200:
        return parse_action_reply(text)
    raise error_from_response(status, text, headers)


__all__ = [
    "REFUSAL_PEEK",
    "TRANSPORTS",
    "AnswerBody",
    "Transport",
    "action_value",
    "stream_refusal",
]

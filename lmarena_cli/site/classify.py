"""The site's failures turned into the right :mod:`errors` class, with the site's own words kept.

:func:`error_from_response` reads an HTTP answer that is not a good stream, and
:func:`error_from_stream` an error the site reported inside a 200 stream. Every error keeps the
site's words (shortened) in ``.detail`` and a ``.kind`` that the retry policy decides on.
Protocol §8 and §14.6 list the answers.
"""

from __future__ import annotations

import html as html_lib
import re
import time
from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import (
    Advice,
    Blocked,
    ContentRejected,
    ConversationNotFound,
    ErrorKind,
    InputError,
    LmArenaError,
    ModelNotOffered,
    NotAllowed,
    ProtocolError,
    RateLimited,
    SignInRequired,
    UpstreamError,
    UpstreamUnavailable,
    UsageError,
)
from . import facts
from .decode import NOT_JSON, loads
from .flags import parse_retry_after as parse_retry_after  # re-exported: the tests use it
from .flags import rate_limit_wait
from .zod import describe_issue, zod_issues

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_DETAIL_LIMIT = 300


def excerpt(text: str, limit: int = _DETAIL_LIMIT) -> str:
    """Text fit for a message: an HTML page shrinks to its title, whitespace collapses, capped."""
    stripped = text.lstrip()
    if stripped[:1] == "<":
        title = _TITLE.search(text)
        if title is None:
            return "an HTML page"
        text = f"an HTML page titled {html_lib.unescape(title.group(1)).strip()!r}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_text(value: Any) -> str | None:
    """The human text inside the site's error JSON (``{"error": "..."}`` and its variants)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        # {"error": "LOGIN_GATE", "message": "Please sign in ..."}: the code and the sentence both
        # matter (one to classify, the other to show).
        texts = [error_text(value.get(k)) for k in ("error", "message", "detail", "reason")]
        found = list(dict.fromkeys(t for t in texts if t))
        return ": ".join(found[:2]) if found else None
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value by case-insensitive name, whatever mapping holds the headers."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()  # plain dicts are case-sensitive; aiohttp's CIMultiDict is not
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None


def error_from_stream(message: str) -> LmArenaError:
    """The exception for an error reported inside a 200 stream (``a3`` or ``hasArenaError``).

    The site words rate limits and moderation there too (protocol §8.2); scripts that wait on
    exit 6 or give up on exit 7 should not see those as a plain upstream failure.
    """
    low = message.lower()
    if message == facts.ARENA_ERROR_TEXT:
        return UpstreamError(
            "the model failed on the site's side (hasArenaError)",
            detail=message,
            kind=ErrorKind.ARENA_ERROR,
        )
    if any(marker in low for marker in facts.STREAM_RATE_MARKERS):
        return RateLimited(
            "the site is rate-limiting this model or account",
            detail=message,
            kind=ErrorKind.STREAM_RATE_LIMITED,
        )
    if any(marker.lower() in low for marker in facts.MODERATION_MARKERS):
        return ContentRejected(
            "the site's moderation rejected the prompt",
            detail=message,
            kind=ErrorKind.STREAM_MODERATION,
        )
    return UpstreamError(
        f"the site reported a failure: {message}", detail=message, kind=ErrorKind.STREAM_ERROR
    )


def error_from_response(status: int, body: str, headers: Mapping[str, str]) -> LmArenaError:
    """The error to raise for an HTTP answer that is not a stream (any status but a good 200).

    Every error keeps the site's words (shortened; never a whole HTML page) in ``.detail`` and a
    ``.kind`` that the retry policy decides on (cloudflare, recaptcha, prompt_refused,
    spoofed_id, model_not_offered, not_allowed, ...: see :class:`~lmarena_cli.errors.ErrorKind`).
    """
    data = loads(body) if body.lstrip()[:1] in ("{", "[", '"') else NOT_JSON
    said = (error_text(data) if data is not NOT_JSON else None) or body
    if isinstance(data, dict) and data.get(facts.ERROR_CODE_FIELD) == facts.LOGIN_GATE:
        said = f"{facts.LOGIN_GATE}: {said}"  # the gate by its field, whatever the words (§15.3)
    detail = excerpt(said) if said.strip() else None
    low = said.lower()

    if is_challenge(status, body, headers):
        return Blocked(
            "Cloudflare's anti-bot check refused the request (it answered with its challenge "
            f"page, HTTP {status}); the browser has to pass the check again",
            detail=detail,
            kind=ErrorKind.CLOUDFLARE,
        )
    if facts.RECAPTCHA_FAILED in low:
        return Blocked(
            "the site's reCAPTCHA check refused the request (the browser's score was too low or "
            "the token was stale)",
            detail=detail,
            kind=ErrorKind.RECAPTCHA,
            advice=Advice.VISIBLE_BROWSER,
        )
    if status == 401 or facts.LOGIN_GATE in said:
        return _auth_error(status, said, detail)
    if status == 429 and facts.PROMPT_FAILED in low:
        # Not a quota: the site refused this prompt (seen for oversized ones, §14.6), and it
        # counts such refusals like failed reCAPTCHAs, so asking again only makes things worse.
        return ContentRejected(
            'the site refused the prompt (HTTP 429 "prompt failed"); it may be too long: '
            "shorten it or split it, and do not resend it unchanged",
            detail=detail,
            kind=ErrorKind.PROMPT_REFUSED,
        )
    if status == 429:
        # RateLimit-Reset (absolute Unix seconds) wins over Retry-After (protocol §15.3).
        reset, after = _header(headers, facts.RATELIMIT_RESET), _header(headers, facts.RETRY_AFTER)
        retry_after = rate_limit_wait(reset, parse_retry_after(after), time.time())
        # Rounded up: a wait still to come is never "0 s".
        wait = (
            f"; the site asks to wait {-(-retry_after // 1):.0f} s"
            if retry_after is not None
            else ""
        )
        return RateLimited(
            f"the site is rate-limiting this account or address (HTTP 429){wait}",
            retry_after=retry_after,
            detail=detail,
            kind=ErrorKind.RATE_LIMITED,
        )
    content = _content_error(status, said, low, detail)
    if content is not None:
        return content
    if status == 400:
        return _bad_request(data, said, low, detail)
    if status == 404:
        return _not_found(said, low, detail)
    if status == 403:
        if facts.ROUTE_NOT_ALLOWED in low:
            return ProtocolError(
                "the site no longer accepts this endpoint (403 Route not allowed); "
                "the site's protocol changed; update lmarena",
                detail=detail,
                kind=ErrorKind.FORBIDDEN,
            )
        if facts.NOT_ALLOWED in low:
            return NotAllowed(
                "the site does not let this account use this (HTTP 403 Not allowed): a route, "
                "mode or field it may not use; asking again gets the same answer",
                detail=detail,
                kind=ErrorKind.NOT_ALLOWED,
            )
        return Blocked(
            "the site refused the request (HTTP 403)", detail=detail, kind=ErrorKind.FORBIDDEN
        )
    if status >= 500:
        return UpstreamUnavailable(
            f"the site failed to answer (HTTP {status}); try again in a moment",
            detail=detail,
            kind=ErrorKind.SERVER,
        )
    return ProtocolError(
        f"the site answered HTTP {status}, which this version of lmarena does not expect",
        detail=detail,
        kind=ErrorKind.UNEXPECTED,
    )


def _auth_error(status: int, said: str, detail: str | None) -> LmArenaError:
    low = said.lower()
    if facts.LOGIN_GATE in said:
        return SignInRequired(
            "the site wants a signed-in account for this kind of chat",
            detail=detail,
            kind=ErrorKind.LOGIN_GATE,
            advice=Advice.SIGN_IN_WINDOW,
        )
    if facts.USER_NOT_FOUND.lower() in low:
        return SignInRequired(
            f"the site found no valid session for this request (HTTP {status} User not found)",
            detail=detail,
            kind=ErrorKind.USER_NOT_FOUND,
            advice=Advice.SIGN_IN,
        )
    if facts.NO_ACCESS in low:
        return SignInRequired(
            "this conversation belongs to another account than the one signed in",
            detail=detail,
            kind=ErrorKind.FORBIDDEN,
            advice=Advice.SIGN_IN_AS_OWNER,
        )
    expired = any(marker in low for marker in facts.AUTH_EXPIRED_MARKERS)
    return SignInRequired(
        "the sign-in has expired"
        if expired
        else f"the site wants a signed-in user (HTTP {status})",
        detail=detail,
        kind=ErrorKind.AUTH_EXPIRED,
        advice=Advice.SIGN_IN_AGAIN,
    )


def _content_error(status: int, said: str, low: str, detail: str | None) -> LmArenaError | None:
    if status == 413:
        return InputError(
            "the site refused the upload as too large (HTTP 413); send a smaller image",
            detail=detail,
            kind=ErrorKind.TOO_LARGE,
        )
    if status not in (400, 422):
        return None
    if any(marker in low for marker in facts.INVALID_CONTENT_MARKERS):
        return ContentRejected(
            "the site refused the prompt or image as invalid content",
            detail=detail,
            kind=ErrorKind.INVALID_CONTENT,
        )
    if status == 422 or any(m.lower() in low for m in facts.MODERATION_MARKERS):
        return ContentRejected(
            "the site's moderation refused the prompt (it violates the site's terms of use)",
            detail=detail,
            kind=ErrorKind.MODERATION,
        )
    return None


def _bad_request(data: Any, said: str, low: str, detail: str | None) -> LmArenaError:
    issues = zod_issues(data) if data is not NOT_JSON else None
    if issues is not None:
        fields = "; ".join(describe_issue(i) for i in issues[:5])
        return ProtocolError(
            f"the site rejected the request body: {fields} — the site's protocol changed; "
            "update lmarena",
            detail=excerpt(orjson.dumps(issues).decode()),
            kind=ErrorKind.ZOD,
        )
    if facts.SPOOFED_ID in low:
        return UpstreamError(
            "the site refused the message ids as minted too far from its clock (HTTP 400)",
            detail=detail,
            kind=ErrorKind.SPOOFED_ID,
        )
    if facts.BAD_NEXT_TURN.lower() in low:
        return UpstreamError(
            "the site answered an earlier turn of this single-model chat as a battle and wants "
            "it voted on or skipped before the next turn (HTTP 400)",
            detail=detail,
            kind=ErrorKind.BATTLE_TURN,
        )
    if facts.NOT_SELECTABLE in low:
        return UsageError(
            "the site does not let users pick this model (not available for user selection); "
            "choose another from `lmarena models`",
            detail=detail,
            kind=ErrorKind.NOT_SELECTABLE,
        )
    if facts.DUPLICATE_MARKER in low:
        return UpstreamError(
            "the site refused reused message ids; a new attempt needs fresh ids",
            detail=detail,
            kind=ErrorKind.DUPLICATE_IDS,
        )
    return ProtocolError(
        "the site refused the request as malformed (HTTP 400); the site's protocol may have "
        "changed",
        detail=detail,
        kind=ErrorKind.UNEXPECTED,
    )


def _not_found(said: str, low: str, detail: str | None) -> LmArenaError:
    if facts.MODELS_NOT_FOUND.lower() in low:
        return model_not_offered(None, None, detail)
    if facts.ACTION_NOT_FOUND.lower() in low:
        return ProtocolError(
            "the site no longer knows this server action id (it redeployed); "
            "the action ids have to be discovered again",
            detail=detail,
            kind=ErrorKind.STALE_ACTION,
        )
    if any(marker in low for marker in facts.CONVERSATION_MARKERS):
        return ConversationNotFound(
            "the site does not know this conversation (HTTP 404)",
            detail=detail,
            kind=ErrorKind.NOT_FOUND,
        )
    return ProtocolError(
        "the site answered 404 for this endpoint; the site's protocol may have changed",
        detail=detail,
        kind=ErrorKind.NOT_FOUND,
    )


def model_not_offered(model: str | None, modality: Any, detail: str | None) -> ModelNotOffered:
    """404 "Models not found": the site does not offer the model for the request's modality.

    The send knows the model's name and the modality (:func:`error_from_response` does not):
    it makes this error again with them, so that the message names both.
    """
    what = model or "this model"
    kind_of_chat = f"{modality!r} requests" if isinstance(modality, str) else "this kind of request"
    return ModelNotOffered(
        f"the site does not offer {what} for {kind_of_chat} (HTTP 404 Models not found); "
        "choose another model from `lmarena models`",
        detail=detail,
        kind=ErrorKind.MODEL_NOT_OFFERED,
    )


def is_challenge(status: int, body: str, headers: Mapping[str, str]) -> bool:
    """A Cloudflare challenge, whatever the status: ``cf-mitigated: challenge``, or its page.

    A 429 is one too when it is the challenge (seen after bursts, §14.6), but Cloudflare's own
    rate-limit page ("You are being rate limited") stays a rate limit: for a 429 only the
    header or the interstitial's title count.
    """
    mitigated = (_header(headers, facts.CF_MITIGATED) or "").strip().lower()
    if mitigated == facts.CF_CHALLENGE:
        return True
    if status == 429:
        return facts.CLOUDFLARE_MARKERS[0].lower() in body.lower()
    return any(marker in body for marker in facts.CLOUDFLARE_MARKERS)


def looks_like_page(content_type: str | None, head: str) -> bool:
    """An HTML page (by its content type or its first characters), where JSON, a stream or a
    server action's reply was expected: unknown paths answer 200 with a "not found" page."""
    if content_type and "html" in content_type.lower():
        return True
    start = head.lstrip()[:15].lower()
    return start.startswith(("<!doctype html", "<html"))


def error_from_page(
    url: str, body: str, headers: Mapping[str, str], *, expected: str
) -> LmArenaError:
    """The error for a 200 page where ``expected`` (JSON, the answer stream...) was wanted.

    Cloudflare's interstitial is a challenge; any other page (the site's soft 404) says the
    endpoint is not where this version looks for it: a :class:`ProtocolError` naming the URL.
    """
    if is_challenge(200, body, headers):
        return error_from_response(403, body, headers)
    return ProtocolError(
        f"expected {expected} from {url}, but the site answered {excerpt(body) or 'an empty page'} "
        "(HTTP 200): the site moved or changed this endpoint; update lmarena",
        detail=excerpt(body) or None,
        kind=ErrorKind.NOT_JSON,
    )

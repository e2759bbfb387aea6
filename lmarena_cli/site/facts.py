"""Every fact about arena.ai that this tool depends on, in one place.

The site has no public API and changes often (see ``shared/arena-protocol.md`` in the project's
notes). When it changes, this module is where to look first: paths, cookie names, markers of its
error pages and error texts, the names of modes and modalities, and the patterns that discover the
site key, the model list and the action ids. Plain constants only: no I/O, no logic.
Nothing here is a secret and nothing here is a value that can be discovered at run time: the site
key, the model list and the action ids are discovered from the pages themselves.
"""

from __future__ import annotations

import re
from enum import StrEnum

# --- stream (chat) endpoints, relative to the site origin -----------------------------------------
CREATE_EVALUATION = "/nextjs-api/stream/create-evaluation"
POST_TO_EVALUATION = "/nextjs-api/stream/post-to-evaluation/{session_id}"
RETRY_MESSAGE = (
    "/nextjs-api/stream/retry-evaluation-session-message/{session_id}/messages/{message_id}"
)
#: Skips a battle that the site injected into a single-model chat (protocol §14.5).
SKIP_DIRECT_BATTLE = "/nextjs-api/stream/skip-direct-battle/{session_id}"
#: One conversation as JSON with its messages (for its owner; used to find an unskipped battle).
EVALUATION_JSON = "/api/evaluation/{session_id}"
MODEL_CATALOG = "/nextjs-api/model-catalog"
SIGN_UP = "/nextjs-api/sign-up"
#: The account (``{user: {id, touConsentTimestamp, ...}}``), its balance and its "pulse" (§14.8).
ME = "/api/me"
BALANCE = "/api/billing/balance"
PULSE = "/api/me/pulse"
#: The Terms of Use consent the site's "Agree" button sends (``{}``; §14.2), and the server
#: action of the same job (discovered from the JS chunks like the upload actions).
TOU_CONSENT = "/api/me/update-tou-consent"
TOU_CONSENT_ACTION = "updateTouConsent"
#: The field of ``/api/me``'s user that says when the Terms of Use were accepted.
TOU_CONSENT_FIELD = "touConsentTimestamp"

#: Page the browser opens to bootstrap, and the Referer of API calls.
CHAT_PAGE = "/"
#: Page that server actions (uploads) are posted to.
ACTION_PAGE = "/"
#: Sign-in page opened by `lmarena login`.
LOGIN_PAGE = "/login"


def conversation_page(session_id: str) -> str:
    """The path of a conversation's page, which shows (among others) a battle's models."""
    return f"/c/{session_id}"


# --- request shape --------------------------------------------------------------------------------
class Mode(StrEnum):
    """The ``mode`` of a new conversation (create-evaluation's body)."""

    #: Single-model chat (was "direct" until mid 2026; the site now refuses "direct" for new chats).
    DIRECT = "direct-battle"
    #: Two named models answer the same prompt.
    SIDE_BY_SIDE = "side-by-side"
    #: Two anonymous models, picked by the site, revealed after the vote.
    BATTLE = "battle"


class Modality(StrEnum):
    """The ``modality`` a message carries (protocol §9.2): what kind of answer is wanted."""

    CHAT = "chat"
    IMAGE = "image"
    SEARCH = "search"
    #: Code Arena: agentic answers this tool does not show; never picked for chat.
    WEBDEV = "webdev"
    VIDEO = "video"
    #: The site guesses the modality itself.
    AUTO = "auto"


#: reCAPTCHA action names the site's own client uses.
ACTION_CHAT_SUBMIT = "chat_submit"
ACTION_CHAT_RETRY = "chat_retry"
#: The site's own fetch() sends a JSON string as text/plain.
REQUEST_CONTENT_TYPE = "text/plain;charset=UTF-8"
ACTION_ACCEPT = "text/x-component"
#: The constant headers the site's own fetch() sends with every API call, in the browser's order:
#: ``Accept`` and ``Accept-Language`` before Origin and Referer, the Fetch metadata after them.
API_ACCEPT = "*/*"
ACCEPT_LANGUAGE = "en-US,en;q=0.9"
FETCH_METADATA = {
    "Sec-Fetch-Dest": "empty",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Site": "same-origin",
}
#: Server actions the uploader needs, discovered from the JS chunks.
UPLOAD_ACTIONS = ("generateUploadUrl", "getSignedUrl")

# --- cookies --------------------------------------------------------------------------------------
AUTH_COOKIE = "arena-auth-prod-v1"
AUTH_COOKIE_PREFIX = "base64-"
CLEARANCE_COOKIE = "cf_clearance"
#: Large auth cookies are split into ``arena-auth-prod-v1.0``, ``.1``, ... joined in numeric order.
AUTH_CHUNK = re.compile(re.escape(AUTH_COOKIE) + r"\.(\d+)$")

# --- answers that mean something -----------------------------------------------------------------
CLOUDFLARE_MARKERS = (
    "<title>Just a moment...</title>",
    "Enable JavaScript and cookies to continue",
    "cf-spinner-please-wait",
    "cf-please-wait",
    "Attention Required! | Cloudflare",
    "challenge-error-text",
)
RECAPTCHA_FAILED = "recaptcha validation failed"
LOGIN_GATE = "LOGIN_GATE"
#: The JSON field that names the login gate (``"code": "LOGIN_GATE"``, protocol §15.3).
ERROR_CODE_FIELD = "code"
AUTH_EXPIRED_MARKERS = ("token has expired", "jwt expired", "auth token")
ACTION_NOT_FOUND = "Server action not found."
MODERATION_MARKERS = ("violates our terms", "content moderation", "Invalid content")
#: Texts of in-stream ``a3`` errors that mean "over quota, later": a rate limit, not a failure.
STREAM_RATE_MARKERS = ("resource exhausted", "too many requests", "rate limit", "quota")
NOT_SELECTABLE = "not available for user selection"
#: The text of ``a0:"hasArenaError"``: the site's generic "this model failed" marker.
ARENA_ERROR_TEXT = "hasArenaError"
#: 403 text when an endpoint was withdrawn (the site's protocol changed).
ROUTE_NOT_ALLOWED = "route not allowed"
#: 401/403 text when the conversation belongs to another account.
NO_ACCESS = "does not have access"
#: 400/422 texts that refuse the prompt or image itself.
INVALID_CONTENT_MARKERS = ("invalid content", "user message is invalid")
#: 400 text when message ids were used before (each attempt needs fresh ones).
DUPLICATE_MARKER = "duplicate"
#: 404 texts that mean "no such conversation" (rather than "no such endpoint").
CONVERSATION_MARKERS = ("session", "evaluation")
#: Header the site (or Cloudflare) sends with a 429.
RETRY_AFTER = "Retry-After"
#: Absolute Unix seconds when a 429 ends; the site's own client reads it before Retry-After
#: (§15.3).
RATELIMIT_RESET = "RateLimit-Reset"
#: A model row's per-account cooldown (ISO time; §15.3).
RATE_LIMITED_UNTIL = "rateLimitedUntil"
#: Header that marks a Cloudflare challenge, whatever the status (a 429 after a burst too).
CF_MITIGATED = "cf-mitigated"
CF_CHALLENGE = "challenge"
#: The Date header: the site refuses ids minted far from its clock (§14.3).
DATE = "Date"
SPOOFED_ID = "seems spoofed"
#: 400 when a single-model chat was answered as a battle and not skipped (§14.5).
BAD_NEXT_TURN = "Bad next turn request in Battles in Direct mode"
#: A refused skip of such a battle (§15.1): the conversation cannot go on.
SKIP_ONLY_FIRST = "only allowed for first response"
#: 429 that refuses the prompt itself (seen for oversized prompts; §14.6): not a rate limit.
PROMPT_FAILED = "prompt failed"
#: 401 when there is no valid session at all.
USER_NOT_FOUND = "User not found"
#: 404 when the model is not offered for the request's modality.
MODELS_NOT_FOUND = "Models not found"
#: 403 for a route or field this account may not use.
NOT_ALLOWED = "not allowed"
#: 403 of the catalog when a request carries an Origin header (§14.4).
CROSS_ORIGIN_CATALOG = "Cross-origin catalog requests are not permitted"
#: The RSC placeholder an anonymous page carries where the model list used to be (§14.4).
UNDEFINED = "$undefined"
#: Arenas of the grouped catalog whose models answer with something a chat cannot show (Code
#: Arena's agentic WebDev answers, videos): a model listed only there is never offered (§14.4).
NON_CHAT_ARENAS = ("code", "webdev", "text-to-video", "image-to-video", "video")

# --- the chat stream ------------------------------------------------------------------------------
#: The two sides of a conversation, as stream lines prefix them (``a0:``, ``b0:``).
SIDES = ("a", "b")
#: ``type`` of the items of an ``a2:`` data line that this tool reads.
HEARTBEAT_ITEM = "heartbeat"
IMAGE_ITEM = "image"
#: The router model's item: ``{"type":"routed_model","organization":"..."}`` (protocol §15.2).
ROUTED_MODEL_ITEM = "routed_model"
#: A server action's flight row that starts so is an error the action threw on the server.
FLIGHT_ERROR_ROW = "E{"

# --- discovery patterns ---------------------------------------------------------------------------
SITE_KEY_PATTERNS = (
    re.compile(r"recaptcha/(?:enterprise|api)\.js\?render=([0-9A-Za-z_-]{20,})"),
    re.compile(r"grecaptcha\.enterprise\.execute\(\s*[\"']([0-9A-Za-z_-]{20,})[\"']"),
    # Minified bundles alias grecaptcha (``e.enterprise.execute("6L...")``); keys start "6L".
    re.compile(r"\.execute\(\s*[\"'](6L[0-9A-Za-z_-]{38})[\"']"),
)
#: ``(0,x.createServerReference)("<id>",x.callServer,void 0,x.findSourceMapURL,"<name>")``, also
#: unwrapped ``createServerReference("<id>",...,"<name>")``. Ids: 42 hex chars today; 40+ accepted.
SERVER_REFERENCE = re.compile(
    r"createServerReference\)?\(\s*[\"']([0-9a-fA-F]{40,})[\"']\s*,[^\"')]*?"
    r"[\"']([A-Za-z_$][\w$]*)[\"']\s*\)"
)
#: A Turbopack build (protocol §15.4) may reach ``createServerReference`` through a mangled export
#: (``(0,t.s)("<id>",t.c,void 0,t.f,"<name>")``), so the fallbacks ignore the callee's name: any
#: call whose first argument is an action id and whose last is a name...
SERVER_REFERENCE_CALL = re.compile(
    r"\(\s*[\"']([0-9a-fA-F]{40,})[\"']\s*,[^\"'()]*?[\"']([A-Za-z_$][\w$]*)[\"']\s*\)"
)
#: ... or, without the name argument, a local bound to such a call (``i=(0,t.s)("<id>",...``)
#: that the module's export table names: Turbopack's ``e.s(["<name>",()=>i,...])`` or webpack's
#: ``a.d(t,{<name>:()=>i})``.
SERVER_REFERENCE_BINDING = re.compile(
    r"([A-Za-z_$][\w$]*)\s*=\s*(?:\(0\s*,\s*[\w$.]+\)|[\w$.]+)\(\s*[\"']([0-9a-fA-F]{40,})[\"']"
)
EXPORT_GETTER = re.compile(
    r"(?:[\"']([A-Za-z_$][\w$]*)[\"']\s*,|([A-Za-z_$][\w$]*)\s*:)\s*\(\)\s*=>\s*([A-Za-z_$][\w$]*)"
)
#: The mark of a Turbopack build in its chunks (named in the error when no action id is found).
TURBOPACK_MARK = "globalThis.TURBOPACK"
#: Flight rows naming client components:
#: ``1:I[52817,["9731","static/chunks/app/page-x.js"],"Evaluation"]``
#: (module id a number, or a string under Turbopack; chunk list of id/path pairs, or paths only).
#: Apply to decoded flight text, not to the JS-escaped strings inside the HTML.
FLIGHT_COMPONENT_ROW = re.compile(r"I\[(?:\d+|\"[^\"]*\")\s*,\s*(\[[^\]]*\])\s*,\s*\"(\w+)\"")
#: The RSC flight chunks a Next.js page carries: ``self.__next_f.push([1,"<JS string>"])``.
FLIGHT_PUSH = re.compile(r"self\.__next_f\.push\(\[\s*1\s*,\s*\"((?:[^\"\\]|\\.)*)\"\s*\]\)", re.S)
#: Where Next.js serves its assets, and the JS chunks among them (relative to the site origin).
NEXT_ASSETS = "/_next/"
CHUNK_DIR = "/_next/static/chunks/"
#: Script tags and script preloads (``<link rel="preload" as="script" href=...>``), either quote.
SCRIPT_SRC = re.compile(r"<(?:script[^>]+src|link[^>]+href)=[\"']([^\"']+\.js[^\"']*)[\"']")
#: A flight reference (``"$6"``, ``"$@6"``): the value lives in the flight row with that hex id.
FLIGHT_REFERENCE = re.compile(r"^\$@?([0-9a-fA-F]+)$")
#: Components whose chunks hold the chat's server actions, tried first.
ACTION_COMPONENTS = ("Evaluation",)
MODELS_KEY = "initialModels"
#: Row keys the site's picker drops a model row for when they are null (protocol §15.4).
PICKER_REQUIRED = ("provider", "organization")
#: Raw-HTML fallback for the model list when the flight chunks cannot be decoded (escaped JSON).
MODELS_ESCAPED = re.compile(r'\{\\"initialModels\\":(\[.*?\]),\\"initialModel[A-Z]Id', re.S)

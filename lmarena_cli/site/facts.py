"""Every fact about arena.ai that this tool depends on, in one place.

The site has no public API and changes often (see ``shared/arena-protocol.md`` in the project's
notes). When it changes, this module is where to look first: paths, cookie names, markers of its
error pages, and the patterns that discover the site key, the model list and the action ids.
Nothing here is a secret and nothing here is a value that can be discovered at run time: the site
key, the model list and the action ids are discovered from the pages themselves.
"""

from __future__ import annotations

import re

# --- stream (chat) endpoints, relative to the site origin -----------------------------------------
CREATE_EVALUATION = "/nextjs-api/stream/create-evaluation"
POST_TO_EVALUATION = "/nextjs-api/stream/post-to-evaluation/{session_id}"
RETRY_MESSAGE = (
    "/nextjs-api/stream/retry-evaluation-session-message/{session_id}/messages/{message_id}"
)
MODEL_CATALOG = "/nextjs-api/model-catalog"
SIGN_UP = "/nextjs-api/sign-up"

#: Page the browser opens to bootstrap, and the Referer of API calls.
CHAT_PAGE = "/"
#: Page that server actions (uploads) are posted to.
ACTION_PAGE = "/"
#: Sign-in page opened by `lmarena login`.
LOGIN_PAGE = "/login"


def conversation_page(session_id: str) -> str:
    return f"/c/{session_id}"


# --- request shape --------------------------------------------------------------------------------
#: Single-model chat (was "direct" until mid 2026; the site now refuses "direct" for new chats).
MODE_DIRECT = "direct-battle"
MODE_SIDE_BY_SIDE = "side-by-side"
MODE_BATTLE = "battle"
#: reCAPTCHA action names the site's own client uses.
ACTION_CHAT_SUBMIT = "chat_submit"
ACTION_CHAT_RETRY = "chat_retry"
#: The site's own fetch() sends a JSON string as text/plain.
REQUEST_CONTENT_TYPE = "text/plain;charset=UTF-8"
ACTION_ACCEPT = "text/x-component"
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
AUTH_EXPIRED_MARKERS = ("token has expired", "jwt expired", "auth token")
ACTION_NOT_FOUND = "Server action not found."
MODERATION_MARKERS = ("violates our terms", "content moderation", "Invalid content")
#: Texts of in-stream ``a3`` errors that mean "over quota, later": a rate limit, not a failure.
STREAM_RATE_MARKERS = ("resource exhausted", "too many requests", "rate limit", "quota")
NOT_SELECTABLE = "not available for user selection"
ARENA_ERROR_TEXT = "hasArenaError"

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
#: Flight rows naming client components:
#: ``1:I[52817,["9731","static/chunks/app/page-x.js"],"Evaluation"]``
#: (module id a number, or a string under Turbopack; chunk list of id/path pairs, or paths only).
#: Apply to decoded flight text, not to the JS-escaped strings inside the HTML.
FLIGHT_COMPONENT_ROW = re.compile(r"I\[(?:\d+|\"[^\"]*\")\s*,\s*(\[[^\]]*\])\s*,\s*\"(\w+)\"")
#: The RSC flight chunks a Next.js page carries: ``self.__next_f.push([1,"<JS string>"])``.
FLIGHT_PUSH = re.compile(r"self\.__next_f\.push\(\[\s*1\s*,\s*\"((?:[^\"\\]|\\.)*)\"\s*\]\)", re.S)
#: Script tags and script preloads (``<link rel="preload" as="script" href=...>``), either quote.
SCRIPT_SRC = re.compile(r"<(?:script[^>]+src|link[^>]+href)=[\"']([^\"']+\.js[^\"']*)[\"']")
#: Components whose chunks hold the chat's server actions, tried first.
ACTION_COMPONENTS = ("Evaluation",)
MODELS_KEY = "initialModels"
#: Raw-HTML fallback for the model list when the flight chunks cannot be decoded (escaped JSON).
MODELS_ESCAPED = re.compile(r'\{\\"initialModels\\":(\[.*?\]),\\"initialModel[A-Z]Id', re.S)

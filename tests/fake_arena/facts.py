"""Every fact about arena.ai that the fake serves or checks, in one place.

This is the fake's own copy, written from ``shared/arena-protocol.md``. It never imports the product
(``lmarena_cli``): a wrong fact in the product must not hide behind the same wrong fact here, so the
two copies change separately when the site changes. Everything else in the fake (handlers, pages,
scripts) takes its paths, names and texts from here.
"""

from __future__ import annotations

from typing import Any

# --------------------------------------------------------------------------------------------------
# Paths (protocol doc §1, §3-§7, §11.1)
# --------------------------------------------------------------------------------------------------

#: A conversation's page is this + its evaluationSessionId.
CONVERSATION_PAGE = "/c/"
#: Pages of the Next.js app; each also takes server-action POSTs.
PAGE_PATHS = ("/", "/chat", "/text/direct", "/text/{arena}", CONVERSATION_PAGE + "{sid}")
#: The email sign-in form.
LOGIN_PAGE = "/login"
#: Cloudflare's own paths; the interstitial's script posts to the verify endpoint.
CLOUDFLARE_PREFIX = "/cdn-cgi/"
CHALLENGE_ENDPOINT = "/cdn-cgi/challenge-platform/verify"
#: Google's reCAPTCHA host on the real site, served by the fake under this prefix of its origin.
RECAPTCHA_PREFIX = "/recaptcha/"
RECAPTCHA_ENTERPRISE_JS = "/recaptcha/enterprise.js"
RECAPTCHA_API_JS = "/recaptcha/api.js"
#: Fake-only: where the fake's reCAPTCHA script gets its tokens (Google's protocol is opaque).
MINT_ENDPOINT = "/recaptcha/enterprise/mint"
#: Next.js build output; chunk files live under ``/_next/static/chunks/``.
NEXT_PREFIX = "/_next/"
NEXT_STATIC = "/_next/static/"
MODEL_CATALOG = "/nextjs-api/model-catalog"
SIGN_UP = "/nextjs-api/sign-up"
SIGN_IN = "/nextjs-api/sign-in/email"
SIGN_OUT = "/nextjs-api/sign-out"
ME = "/api/me"
#: Terms-of-Use consent (protocol §14.2): ``POST`` with body ``{}``; 401 without a session.
TOU_CONSENT = "/api/me/update-tou-consent"
#: Account state (protocol §14.8).
BALANCE = "/api/billing/balance"
PULSE = "/api/me/pulse"
#: ``GET /api/evaluation/{id}``: one conversation as JSON, for its owner.
EVALUATION = "/api/evaluation/"
#: The old stream API, refused since the move to /nextjs-api/.
LEGACY_STREAM_PREFIX = "/api/stream/"
STREAM_PREFIX = "/nextjs-api/stream/"
CREATE_EVALUATION = STREAM_PREFIX + "create-evaluation"
#: ``POST`` + ``{evaluationSessionId}``.
POST_TO_EVALUATION = STREAM_PREFIX + "post-to-evaluation/"
#: ``PUT`` + ``{evaluationSessionId}/messages/{messageId}``.
RETRY_MESSAGE = STREAM_PREFIX + "retry-evaluation-session-message/"
#: The R2 bucket behind uploads (another host on the real site, a path prefix on the fake).
BUCKET = "arena-uploads"
STORAGE_PREFIX = f"/r2/{BUCKET}/"
#: Paths outside the Cloudflare gate: the challenge itself and the two other hosts.
UNGATED_PREFIXES = (CLOUDFLARE_PREFIX, RECAPTCHA_PREFIX, STORAGE_PREFIX)

# --------------------------------------------------------------------------------------------------
# Cookies
# --------------------------------------------------------------------------------------------------

CF_CLEARANCE = "cf_clearance"
CF_BM = "__cf_bm"
CFUVID = "_cfuvid"
#: The Supabase session (``@supabase/ssr``); long values are split into ``.0``, ``.1``, ...
AUTH_COOKIE = "arena-auth-prod-v1"
#: @supabase/ssr splits cookie values at 3180 characters.
AUTH_COOKIE_CHUNK = 3180
#: The ``@supabase/ssr`` encoding: this prefix, then base64url without padding.
AUTH_VALUE_PREFIX = "base64-"
#: Set by the page's script before the anonymous sign-up (also kept in localStorage).
PROVISIONAL_USER_ID = "provisional_user_id"
COOKIE_CONSENT = "cookie-consent"
SUPABASE_PROJECT = "huogzoeqzcrdvkwtvodi"

# --------------------------------------------------------------------------------------------------
# Headers and markers
# --------------------------------------------------------------------------------------------------

USER_AGENT = "User-Agent"
#: Names the server action a POST to a page runs.
NEXT_ACTION = "Next-Action"
NEXT_ACTION_VARY = "RSC, Next-Router-State-Tree, Next-Router-Prefetch"
RSC_CONTENT_TYPE = "text/x-component"
#: Cloudflare fronts every response of the real site.
SERVER = "Server"
SERVER_NAME = "cloudflare"
CF_RAY = "CF-RAY"
CF_RAY_COLO = "SJC"
CF_MITIGATED = "cf-mitigated"
CHALLENGE_TITLE = "Just a moment..."
CHALLENGE_CACHE_CONTROL = "private, max-age=0, no-store, no-cache, must-revalidate"
#: A User-Agent holding this never passes the challenge.
HEADLESS_MARKER = "HeadlessChrome"
RETRY_AFTER = "Retry-After"
#: Every response carries the site's clock (clients sync their UUIDv7 ids to it, §14.3).
DATE = "Date"
#: A cross-origin request carries this; the 2026 catalog refuses any request that does.
ORIGIN = "Origin"
#: Headers of a chat answer stream (AI SDK v4 data stream).
STREAM_HEADERS = {
    "Content-Type": "text/plain; charset=utf-8",
    "x-vercel-ai-data-stream": "v1",
    "Cache-Control": "no-cache, no-transform",
    "Server": SERVER_NAME,
}
#: Props keys of the page's Evaluation element; clients regex on the first one.
INITIAL_MODELS = "initialModels"
#: The RSC placeholder for a prop the server left out (protocol §14.4).
RSC_UNDEFINED = "$undefined"
#: ``GET /api/me``'s field: when the user accepted the Terms of Use (ISO), or null.
TOU_CONSENT_FIELD = "touConsentTimestamp"
INITIAL_MODEL_A = "initialModelAId"
INITIAL_MODEL_B = "initialModelBId"
INITIAL_SESSION = "initialEvaluationSession"
USER_STATE = "userState"

# --------------------------------------------------------------------------------------------------
# reCAPTCHA Enterprise
# --------------------------------------------------------------------------------------------------

SITE_KEY = "6LeTGMcsAAAAALuIlkVwIxaAuZA8VledA6d3Nnb0"
V2_SITE_KEY = "6Le3_cYsAAAAAGwWOK2RLDgNI15Bh8C0yLBOL1yL"
#: The action the page's script passes to ``grecaptcha.enterprise.execute``.
RECAPTCHA_ACTION = "chat_submit"
#: Body fields carrying the tokens.
V3_TOKEN_FIELD = "recaptchaV3Token"
V2_TOKEN_FIELD = "recaptchaV2Token"
#: Google's tokens start like this; the rest is opaque (~2 KB).
TOKEN_PREFIX = "03AFcWeA"

# --------------------------------------------------------------------------------------------------
# Server actions (gpt4free's table, Apr 2026), by the chunk that references them
# --------------------------------------------------------------------------------------------------

GENERATE_UPLOAD_URL = "generateUploadUrl"
GET_SIGNED_URL = "getSignedUrl"
#: The server action behind the Terms-of-Use dialog's "Agree" (same job as :data:`TOU_CONSENT`).
UPDATE_TOU_CONSENT = "updateTouConsent"
PAGE_ACTIONS = (GENERATE_UPLOAD_URL, GET_SIGNED_URL, UPDATE_TOU_CONSENT, "deleteEvaluationSession")
SHARED_ACTIONS = ("createPointwiseFeedback", "createPairwiseFeedback", "getProxyImage")
ALL_ACTIONS = PAGE_ACTIONS + SHARED_ACTIONS
#: Image types ``generateUploadUrl`` accepts.
ALLOWED_MIME = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")

# --------------------------------------------------------------------------------------------------
# Modes, modalities, arenas
# --------------------------------------------------------------------------------------------------

DIRECT = "direct"
DIRECT_BATTLE = "direct-battle"
SIDE_BY_SIDE = "side-by-side"
BATTLE = "battle"
MODES = (DIRECT, DIRECT_BATTLE, SIDE_BY_SIDE, BATTLE)
#: Modes with two answering sides.
TWO_SIDED_MODES = (BATTLE, SIDE_BY_SIDE)
CHAT = "chat"
IMAGE = "image"
SEARCH = "search"
WEBDEV = "webdev"
VIDEO = "video"
AUTO = "auto"
MODALITIES = (CHAT, IMAGE, SEARCH, WEBDEV, VIDEO, AUTO)
#: The arenas the catalog of Sep-Oct 2026 lists (protocol §14.4); webdev models sit in "code".
CATALOG_ARENAS_2026: tuple[str, ...] = (
    "text",
    "vision",
    "code",
    "document",
    "text-to-image",
    "image-edit",
    "text-to-video",
    "search",
)
#: The arenas the catalog endpoint lists.
CATALOG_ARENAS: tuple[str, ...] = (
    "text",
    "vision",
    "text-to-image",
    "image-edit",
    "search",
    "webdev",
)
#: ``Number.MAX_SAFE_INTEGER``: the site's marker for "unranked in this modality".
UNRANKED = 9007199254740991

# --------------------------------------------------------------------------------------------------
# The answer stream (protocol doc §2): ``<side><code>:<json>``
# --------------------------------------------------------------------------------------------------

SIDE_A = "a"
SIDE_B = "b"
TEXT_CODE = "0"
DATA_CODE = "2"
ERROR_CODE = "3"
FINISH_CODE = "d"
REASONING_CODE = "g"
TOOL_DELTA_CODE = "c"
HEARTBEAT = [{"type": "heartbeat"}]
#: Since Aug-Oct 2026 (protocol §15.2): ``af:{"messageId"}`` (``bf:`` on side B) may open a side's
#: answer; the router model sends ``a2:[{"type":"routed_model","organization"}]``; an image may
#: come inline as ``ak:{"mimeType","data"}`` or as an ``a2`` item with ``data`` instead of a URL;
#: and the stream's Content-Type is ``text/event-stream`` though its body is the same lines.
MESSAGE_ID_CODE = "f"
INLINE_IMAGE_CODE = "k"
ROUTED_MODEL = "routed_model"
EVENT_STREAM_HEADERS = {**STREAM_HEADERS, "Content-Type": "text/event-stream"}
#: ``a0:"hasArenaError"``: the site's server-side failure marker.
ARENA_ERROR_MARKER = "hasArenaError"

# --------------------------------------------------------------------------------------------------
# Error bodies and texts the site answers with
# --------------------------------------------------------------------------------------------------

#: Body of the 401 the login gate answers (the real body was never recorded; doc §13.3).
LOGIN_GATE_BODY: dict[str, str] = {
    "error": "LOGIN_GATE",
    "message": "Please sign in to use Direct Chat and Side by Side. Battle mode stays available "
    "without an account.",
}
#: The login gate named by its ``code`` field (protocol §15.3), whatever its words say.
LOGIN_GATE_CODED_BODY: dict[str, str] = {"code": "LOGIN_GATE", "message": "Unauthorized"}
RECAPTCHA_FAILED = {"error": "recaptcha validation failed"}
RATE_LIMIT_TEXT = "Too many requests, please try again later."
#: What the site answers a body without ``userMessage`` (protocol §1.6): its schema changed.
MISSING_USER_MESSAGE: dict[str, Any] = {
    "success": False,
    "error": {
        "issues": [
            {
                "code": "invalid_type",
                "expected": "object",
                "received": "undefined",
                "path": ["userMessage"],
                "message": "Required",
            }
        ],
        "name": "ZodError",
    },
}
#: Statuses of Sep-Oct 2026 (protocol §14.2, §14.3, §14.4, §14.6).
USER_NOT_FOUND_BODY: dict[str, str] = {"message": "User not found"}
SPOOFED_ID_BODY: dict[str, str] = {"error": "Evaluation session ID seems spoofed, offset too big"}
PROMPT_FAILED_BODY: dict[str, str] = {"error": "prompt failed"}
NOT_ALLOWED_BODY: dict[str, str] = {"error": "Not allowed"}
CROSS_ORIGIN_BODY: dict[str, str] = {"error": "Cross-origin catalog requests are not permitted"}
MODELS_NOT_FOUND = "Models not found for modality {modality}"
#: The soft-404 page's title (unknown paths answer 200 with it on the site).
SOFT_404_TITLE = "404: This page could not be found."
TOU_DIALOG_TITLE = "Terms of Use"
AUTH_EXPIRED = "auth token has expired"
NO_AUTH_SESSION = "Unauthorized: no valid auth session"
NOT_OWNER = "User {user} does not have access to evaluation session {sid}"
SESSION_NOT_FOUND = "Evaluation session not found"
MESSAGE_NOT_FOUND = "Message not found"
ROUTE_NOT_ALLOWED = "Route not allowed"
INVALID_LOGIN = "Invalid login credentials"
USER_EXISTS = "User already exists"
MODERATION = "Request rejected: Content violates our terms of use for evaluation session id: {sid}"
INVALID_CONTENT = "Invalid content"
USER_MESSAGE_INVALID = "user message is invalid"
SERVER_ERROR = "Failed to create session"
INVALID_JSON = "Invalid JSON body"
DUPLICATE_IDS = "duplicate ids"
INVALID_ID = "Invalid {name}: expected a UUIDv7 with a current timestamp"
DIRECT_NOT_SUPPORTED = 'Mode "direct" is not supported for new conversations; use "direct-battle"'
BATTLE_WITH_MODELS = "modelAId and modelBId must not be sent in battle mode"
BODY_ID_MISMATCH = "Body id does not match the evaluation session in the URL"
MODEL_NOT_FOUND = "Model {ref} not found"
MODEL_NOT_SELECTABLE = "Model {ref} is not available for user selection"
MODEL_LACKS_MODALITY = "Model {name} does not support modality {modality}"
NO_BATTLE_MODELS = "No models available for a {modality} battle"
BAD_ATTACHMENT = "Invalid attachment: url is not a valid signed URL of an uploaded file"
NO_IMAGE_INPUT = "Model {name} does not accept image input"
ACTION_NOT_FOUND = "Server action not found."
BAD_ACTION_ARGUMENTS = "Invalid server action arguments"
UPLOAD_ARGS_REQUIRED = "fileName and contentType are required"
UNSUPPORTED_FILE_TYPE = "Unsupported file type: {mime}"
KEY_REQUIRED = "key is required"
FILE_NOT_FOUND = "File not found"
#: R2's (S3's) error codes and messages, as XML bodies.
S3_MESSAGES = {
    "AccessDenied": "Request has expired",
    "SignatureDoesNotMatch": "The request signature we calculated does not match the "
    "signature you provided.",
    "AuthorizationQueryParametersError": "Query-string authentication requires the "
    "X-Amz-Signature parameter.",
    "EntityTooLarge": "Your proposed upload exceeds the maximum size.",
    "NoSuchKey": "The specified key does not exist.",
}

# --------------------------------------------------------------------------------------------------
# A direct-battle chat answered as a battle (protocol doc §14.5; tests/fake_arena/direct_battle.py)
# --------------------------------------------------------------------------------------------------

#: ``POST`` + ``{evaluationSessionId}``, body ``{messageAId, messageBId, modelAMessageId}``.
SKIP_DIRECT_BATTLE = STREAM_PREFIX + "skip-direct-battle/"
#: The 400 of a post-to-evaluation while a battle turn is neither voted on nor skipped.
BAD_NEXT_TURN = (
    "Bad next turn request in Battles in Direct mode. DIRECT was requested, but expected a "
    "BATTLE turn"
)
#: Fake-only texts (the site's were never recorded): a skip with nothing to skip, or wrong ids.
NO_BATTLE_TO_SKIP = "No battle to skip in this evaluation session"
SKIP_IDS_MISMATCH = "messageAId and messageBId must be the battle's message ids"
#: The skip refused (protocol doc §15.1: "only allowed for first response"; the whole text was
#: not recorded, so this one is the fake's).
SKIP_ONLY_FIRST = "Skip is only allowed for first response"

"""A failure's codes: the exit status a command ends with (:class:`ExitStatus`), why it happened
(:class:`ErrorKind`, also ``serve``'s ``error.code``) and what can be done about it
(:class:`Advice`). Each :mod:`lmarena_cli.errors` exception carries them; they are re-exported
there, where the rest of the package imports them from.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ExitStatus(IntEnum):
    """The CLI's exit statuses: part of the interface. ``--help`` and the README's table are
    checked against :attr:`meaning` by the tests."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    UPSTREAM = 3
    SIGN_IN = 4
    BLOCKED = 5
    RATE_LIMITED = 6
    CONTENT_REJECTED = 7
    TIMEOUT = 8
    NO_BROWSER = 9
    #: ``lmarena ask -x``: the answer came, but holds no fenced code block (nothing printed).
    NO_CODE_BLOCK = 10
    #: ``lmarena ask --schema``: the answer came, but its JSON does not match the schema.
    SCHEMA_MISMATCH = 11
    #: Ctrl-C / SIGINT, as shells expect (128 + SIGINT).
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        """A few words for ``--help`` (the README's table says more)."""
        return _MEANINGS[self]


_MEANINGS = {
    ExitStatus.OK: "ok",
    ExitStatus.UNEXPECTED: "unexpected",
    ExitStatus.USAGE: "usage",
    ExitStatus.UPSTREAM: "site unavailable",
    ExitStatus.SIGN_IN: "sign-in required",
    ExitStatus.BLOCKED: "blocked by anti-bot checks",
    ExitStatus.RATE_LIMITED: "rate-limited",
    ExitStatus.CONTENT_REJECTED: "content rejected",
    ExitStatus.TIMEOUT: "timeout",
    ExitStatus.NO_BROWSER: "no usable browser",
    ExitStatus.NO_CODE_BLOCK: "no code block (-x)",
    ExitStatus.SCHEMA_MISMATCH: "the answer did not match the schema",
    ExitStatus.INTERRUPTED: "interrupted",
}


class ErrorKind(StrEnum):
    """Why a failure happened, finer than its class: what the retry policy decides on, and the
    ``error.code`` of ``lmarena serve``. The values are part of the interface."""

    # the anti-bot checks and the session
    CLOUDFLARE = "cloudflare"  # a Cloudflare challenge page instead of an answer
    RECAPTCHA = "recaptcha"  # the site rejected the reCAPTCHA token
    AUTH_EXPIRED = "auth_expired"  # the sign-in cookie expired: a page load renews it
    LOGIN_GATE = "login_gate"  # this mode needs a signed-in account
    NO_SESSION = "no_session"  # no session could be started (sign-up failed)
    LOGIN = "login"  # `lmarena login` ended without a sign-in
    USER_NOT_FOUND = "user_not_found"  # 401 "User not found": no valid session at all
    TERMS_OF_USE = "terms_of_use"  # the account's consent to the Terms of Use could not be given
    NOT_ALLOWED = "not_allowed"  # 403 "Not allowed": a route or field this account may not use
    FORBIDDEN = "forbidden"  # another 401/403 the site gave
    # the network and the site's health
    NETWORK = "network"  # connection refused, reset, DNS failure
    SERVER = "server"  # the site answered 5xx
    TIMEOUT = "timeout"  # no answer in time
    NO_DATA = "no_data"  # the site accepted the message (status, headers) but sent no byte
    REDIRECTED = "redirected"  # the site moved (an old origin)
    CUT = "cut"  # the answer stopped before its finish line
    EMPTY = "empty"  # the answer had no content
    ARENA_ERROR = "arena_error"  # the model failed on the site's side (a3, hasArenaError)
    RATE_LIMITED = "rate_limited"  # 429
    ACCOUNT_FLAGGED = "account_flagged"  # two rejections in a row flagged the account (§15.3)
    MODEL_RATE_LIMITED = "model_rate_limited"  # a model row's rateLimitedUntil (§15.3)
    DAILY_BUDGET = "daily_budget"  # LM_ARENA_DAILY_SENDS spent for the UTC day
    STREAM_RATE_LIMITED = "a3_rate"  # a rate-limit or quota message inside the stream
    STREAM_MODERATION = "a3_moderation"  # a moderation message inside the stream
    STREAM_ERROR = "a3"  # another failure reported inside the stream
    # what the site could not accept
    ZOD = "zod"  # the site's schema check refused the request body
    SPOOFED_ID = "spoofed_id"  # ids minted too far from the site's clock
    BATTLE_TURN = "battle_turn"  # a single-model chat's turn was answered as a battle
    SKIP_REFUSED = "skip_refused"  # the site refused to skip that battle: the chat cannot go on
    PROMPT_REFUSED = "prompt_refused"  # 429 "prompt failed": the site refused the prompt itself
    MODEL_NOT_OFFERED = "model_not_offered"  # 404 "Models not found" for this modality
    NOT_JSON = "not_json"  # a page (a soft 404) where JSON was expected
    DUPLICATE_IDS = "duplicate_ids"  # ids the site has already seen
    NOT_SELECTABLE = "not_selectable"  # the model is not offered for selection
    NOT_FOUND = "not_found"  # a 404 from the site
    MODERATION = "moderation"  # the site's moderation refused the content
    INVALID_CONTENT = "invalid_content"  # the site refused the content as invalid
    TOO_LARGE = "too_large"  # an upload over the site's size limit
    # what the site's pages no longer say
    STALE_ACTION = "stale_action"  # a server action id rotated by a redeploy
    ACTION_FAILED = "action_failed"  # a server action answered an error
    NO_SITE_KEY = "no_site_key"  # the page carries no reCAPTCHA site key
    NO_MODELS = "no_models"  # no model list could be found
    PAGE = "page"  # the page could not be read
    # this tool's own side
    INVALID_FIELD = "invalid_field"  # a request field of `serve` is missing or malformed
    CONTEXT_LENGTH = "context_length_exceeded"  # the prompt is over LM_ARENA_MAX_PROMPT_CHARS
    SCHEMA_MISMATCH = "output_schema_mismatch"  # the answer's JSON does not match the schema
    ADDRESS_REFUSED = "address_refused"  # a URL that points at a private or local address
    STORE_CORRUPT = "store_corrupt"  # the conversation store cannot be read
    STORE_BUSY = "store_busy"  # the conversation store stayed locked too long
    SERVER_SHUTDOWN = "server_shutdown"  # `lmarena serve` stopped mid-answer
    UNEXPECTED = "unexpected"  # anything else


class Advice(StrEnum):
    """What can be done about a failure, as a key that an error carries beside its facts. The
    front ends phrase it for their reader (``cli/advice.py``: a command to run;
    ``server/advice.py``: an API client, whose server's operator runs the commands); the layers
    below never do."""

    SIGN_IN = "sign_in"  # no valid session for the request
    SIGN_IN_WINDOW = "sign_in_window"  # the login gate: an account signed in in a browser window
    SIGN_IN_AGAIN = "sign_in_again"  # the sign-in expired
    SIGN_IN_AS_OWNER = "sign_in_as_owner"  # another account's conversation
    TRY_SIGN_IN = "try_sign_in"  # the site started no session
    LOGIN_AGAIN = "login_again"  # the sign-in window closed before the sign-in finished
    WAIT_OR_SIGN_IN = "wait_or_sign_in"  # reCAPTCHA refused twice
    VISIBLE_BROWSER = "visible_browser"  # reCAPTCHA's score too low for a headless browser
    PASS_CHECK = "pass_check"  # a flagged account: pass the site's check, then clear the flag
    CHECK_ACCOUNT = "check_account"  # no first answer: the account may be held


__all__ = ["Advice", "ErrorKind", "ExitStatus"]

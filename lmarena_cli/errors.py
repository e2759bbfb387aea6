"""Every failure the tool can report, and what each one means to a script.

The tree, with the exit code of the CLI and the HTTP status of ``lmarena serve``::

    LmArenaError                  1   500  unexpected failure
    ├── UsageError                2   400  bad flag, argument, setting or request field
    │   ├── ConfigError           2   400  an LM_ARENA_* variable or the config file is invalid
    │   ├── ModelNotFound         2   404  no model of that name (suggests close names)
    │   ├── ModelNotOffered       2   404  the site does not offer that model for that modality
    │   ├── NotAllowed            2   403  a route or field this account may not use (no retry)
    │   ├── ConversationNotFound  2   404  unknown conversation id, or nothing to continue
    │   ├── InputError            2   400  an image, file or prompt that cannot be sent
    │   └── PromptTooLong         2   400  the prompt is over LM_ARENA_MAX_PROMPT_CHARS (not sent)
    ├── UpstreamUnavailable       3   502  the site cannot be reached, or answered 5xx
    │   ├── UpstreamError         3   502  the site or model reported a failure (a3, hasArenaError),
    │   │                                  or refused our ids as far from its clock twice
    │   ├── ProtocolError         3   502  the site answered something this version cannot read
    │   │                                  (a page where JSON or a stream was expected)
    │   └── IncompleteAnswer      3   502  the stream ended without a finish line (empty or cut)
    ├── SignInRequired            4   503  the site wants a signed-in user: run `lmarena login`
    ├── Blocked                   5   503  the anti-bot checks (Cloudflare or reCAPTCHA) refused us
    │                                      (a Cloudflare challenge sent as 429 too)
    ├── RateLimited               6   429  too many requests; ``retry_after`` when the site said
    ├── ContentRejected           7   400  the site refused the prompt or image (moderation, or
    │                                      "prompt failed": maybe too long)
    ├── Timeout                   8   504  no answer in time (connect, first token, idle stream;
    │                                      kind ``no_data``: status and headers, then no byte)
    ├── BrowserUnavailable        9   503  no usable Chromium, or it could not be started
    │   └── CdpError              9   503  Chromium refused a DevTools command
    ├── SchemaMismatch           11   502  the answer holds no JSON value matching the asked schema
    │                                      (the model's text kept in ``partial``)
    ├── StoreError                1   500  the conversation store is corrupt, locked or unwritable
    └── ShuttingDown              1   503  `lmarena serve` stopped before the answer was complete
    (InputError also has FieldError: 2, 400, a request field of `serve`, named in ``param``)

    PageError                     -    -   a JavaScript exception in the page (the browser layer
                                           turns it into one of the above)
    ConnectionLost                -    -   the DevTools websocket closed (likewise)

Ctrl-C is not in the tree: the CLI exits 130 on ``KeyboardInterrupt``. Nor is exit 10
(``ExitStatus.NO_CODE_BLOCK``): ``lmarena ask -x`` got a whole answer without a fenced code block,
which is no failure of the library. Exit 11 is :class:`SchemaMismatch`'s: the site answered, but
not with the JSON that was asked for.

Each error also carries a :class:`ErrorKind`, the short machine-readable reason that the retry
policy decides on and that ``lmarena serve`` sends as OpenAI's ``error.code``.

Each error keeps the site's own words in ``detail`` (when there were any) so that a user can tell
what the site said from what this tool concluded. ``partial`` carries any answer text that had
already arrived when a stream failed: it is never thrown away.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import ClassVar


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


class LmArenaError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code: ClassVar[ExitStatus] = ExitStatus.UNEXPECTED
    http_status: ClassVar[int] = 500
    #: The OpenAI-style ``error.type`` that ``lmarena serve`` reports.
    error_type: ClassVar[str] = "server_error"

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        partial: str = "",
        kind: ErrorKind | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The site's own words, when it said something.
        self.detail = detail
        #: Answer text that had already arrived when the failure happened.
        self.partial = partial
        #: Why, in one word the retry policy and `serve` read (see :class:`ErrorKind`).
        self.kind = kind

    def __str__(self) -> str:
        if self.detail and self.detail not in self.message:
            return f"{self.message} (the site said: {self.detail})"
        return self.message


class UsageError(LmArenaError):
    exit_code = ExitStatus.USAGE
    http_status = 400
    error_type = "invalid_request_error"


class ConfigError(UsageError):
    pass


class ModelNotFound(UsageError):
    http_status = 404

    def __init__(self, name: str, suggestions: list[str] | None = None) -> None:
        self.name = name
        self.suggestions = suggestions or []
        message = f"unknown model {name!r}"
        if self.suggestions:
            message += "; did you mean: " + ", ".join(self.suggestions) + "?"
        else:
            message += "; `lmarena models` lists the available ones"
        super().__init__(message)


class ModelNotOffered(UsageError):
    """The site answered 404 "Models not found": it does not offer the model for the request's
    modality (protocol §14.6). The message names the model and the modality when the send knew
    them."""

    http_status = 404


class NotAllowed(UsageError):
    """The site answered 403 "Not allowed": a route or field this account may not use (protocol
    §14.6). Not retried: asking again gets the same answer."""

    http_status = 403
    error_type = "permission_error"


class ConversationNotFound(UsageError):
    http_status = 404


class InputError(UsageError):
    pass


class PromptTooLong(UsageError):
    """The prompt as it would be sent (system prompt, folded history, files and instructions
    included) is longer than ``max_prompt_chars``: it was not sent, since the site counts an
    oversized prompt against the account. ``size`` and ``limit`` are in characters."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"the prompt is {size:,} characters, over the limit of {limit:,} "
            "(LM_ARENA_MAX_PROMPT_CHARS); nothing was sent",
            kind=ErrorKind.CONTEXT_LENGTH,
        )
        self.size = size
        self.limit = limit


class UpstreamUnavailable(LmArenaError):
    exit_code = ExitStatus.UPSTREAM
    http_status = 502
    error_type = "upstream_error"


class UpstreamError(UpstreamUnavailable):
    pass


class ProtocolError(UpstreamUnavailable):
    pass


class IncompleteAnswer(UpstreamUnavailable):
    pass


class SignInRequired(LmArenaError):
    exit_code = ExitStatus.SIGN_IN
    http_status = 503
    error_type = "sign_in_required"


class Blocked(LmArenaError):
    exit_code = ExitStatus.BLOCKED
    http_status = 503
    error_type = "blocked"


class RateLimited(LmArenaError):
    exit_code = ExitStatus.RATE_LIMITED
    http_status = 429
    error_type = "rate_limit_error"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        detail: str | None = None,
        partial: str = "",
        kind: ErrorKind | None = None,
    ) -> None:
        super().__init__(message, detail=detail, partial=partial, kind=kind)
        self.retry_after = retry_after


class ContentRejected(LmArenaError):
    exit_code = ExitStatus.CONTENT_REJECTED
    http_status = 400
    error_type = "content_filter"


class Timeout(LmArenaError):
    exit_code = ExitStatus.TIMEOUT
    http_status = 504
    error_type = "timeout"


class BrowserUnavailable(LmArenaError):
    exit_code = ExitStatus.NO_BROWSER
    http_status = 503
    error_type = "browser_unavailable"


class CdpError(BrowserUnavailable):
    """Chromium refused a DevTools command (nodriver's ProtocolException)."""


class SchemaMismatch(LmArenaError):
    """An answer asked for as JSON matching a schema does not match it (or holds no JSON value).

    ``mismatch`` names the first mismatch (``"$.age: 'x' is not of type 'integer'"``); the
    model's whole text is kept in ``partial`` and ``detail``: it is never lost."""

    exit_code = ExitStatus.SCHEMA_MISMATCH
    http_status = 502
    error_type = "invalid_response_error"

    def __init__(self, mismatch: str, text: str) -> None:
        super().__init__(
            f"the answer did not match the schema: {mismatch}",
            detail=text,
            partial=text,
            kind=ErrorKind.SCHEMA_MISMATCH,
        )
        self.mismatch = mismatch

    def __str__(self) -> str:
        return self.message  # the model's text is in ``partial``, not in the one-line message


class StoreError(LmArenaError):
    """The conversation store cannot be used (corrupt, locked too long, unwritable)."""


#: What `serve` says when it stops before an answer is complete.
SHUTDOWN_MESSAGE = "the server is shutting down; the answer was cut short"


class ShuttingDown(LmArenaError):
    """The server stopped before the answer was complete."""

    http_status = 503
    error_type = "server_error"

    def __init__(self, message: str = SHUTDOWN_MESSAGE) -> None:
        super().__init__(message, kind=ErrorKind.SERVER_SHUTDOWN)


class FieldError(InputError):
    """A missing or malformed request field; ``param`` names it (OpenAI's ``error.param``)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message, kind=ErrorKind.INVALID_FIELD)
        self.param = param


class PageError(Exception):
    """A JavaScript exception in the page; the browser layer turns it into an ``LmArenaError``."""


class ConnectionLost(Exception):
    """The DevTools websocket to Chromium closed; the browser layer relaunches or reports it."""


#: Exit code for Ctrl-C / SIGINT, as shells expect (128 + SIGINT).
EXIT_INTERRUPTED = ExitStatus.INTERRUPTED

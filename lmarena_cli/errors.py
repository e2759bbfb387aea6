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
    ├── TimedOut                  8   504  no answer in time (connect, first token, idle stream;
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

What a user can do about a failure is not in its message: the error carries it as an
:class:`Advice` key, and the front end that shows the error says it to its reader
(:meth:`LmArenaError.text`): the CLI names the command to run ("run `lmarena login`"), ``serve``
tells an API client what its server's operator can do. ``str(error)`` is the facts alone.
"""

from __future__ import annotations

from typing import ClassVar

# Re-exported: the package imports a failure's codes from here, with the failures.
from .error_codes import Advice as Advice
from .error_codes import ErrorKind as ErrorKind
from .error_codes import ExitStatus as ExitStatus

#: Where a message wants its advice when not at its end (``"...{advice} Otherwise ..."``).
ADVICE_SLOT = "{advice}"


class LmArenaError(Exception):
    """Base of every error this package raises on purpose: its facts (``message``, ``detail``),
    its ``kind`` and what can be done about it (``advice``, a key the front ends phrase)."""

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
        advice: Advice | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The site's own words, when it said something.
        self.detail = detail
        #: Answer text that had already arrived when the failure happened.
        self.partial = partial
        #: Why, in one word the retry policy and `serve` read (see :class:`ErrorKind`).
        self.kind = kind
        #: What can be done about it; the front end says it in its words (:meth:`text`).
        self.advice = advice

    def text(self, advice: str = "") -> str:
        """The message with ``advice`` (a front end's words for :attr:`advice`) in its slot or
        at its end, then the site's words."""
        message = self.message
        if ADVICE_SLOT in message:
            message = message.replace(ADVICE_SLOT, advice)
        else:
            message += advice
        if self.detail and self.detail not in self.message:
            return f"{message} (the site said: {self.detail})"
        return message

    def __str__(self) -> str:
        return self.text()


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
        advice: Advice | None = None,
    ) -> None:
        super().__init__(message, detail=detail, partial=partial, kind=kind, advice=advice)
        self.retry_after = retry_after


class ContentRejected(LmArenaError):
    exit_code = ExitStatus.CONTENT_REJECTED
    http_status = 400
    error_type = "content_filter"


class TimedOut(LmArenaError):
    """No answer in time. (Named so that it is not read as the builtin ``TimeoutError``, which
    the library catches from asyncio and turns into this.)"""

    exit_code = ExitStatus.TIMEOUT
    http_status = 504
    error_type = "timeout"


#: The name of :class:`TimedOut` before 0.2, kept for programs that catch it.
Timeout = TimedOut


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

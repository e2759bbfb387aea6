"""Every failure the tool can report, and what each one means to a script.

The tree, with the exit code of the CLI and the HTTP status of ``lmarena serve``::

    LmArenaError                  1   500  unexpected failure
    ├── UsageError                2   400  bad flag, argument, setting or request field
    │   ├── ConfigError           2   400  an LM_ARENA_* variable or the config file is invalid
    │   ├── ModelNotFound         2   404  no model of that name (suggests close names)
    │   ├── ConversationNotFound  2   404  unknown conversation id, or nothing to continue
    │   └── InputError            2   400  an image or prompt that cannot be sent
    ├── UpstreamUnavailable       3   502  the site cannot be reached, or answered 5xx
    │   ├── UpstreamError         3   502  the site or model reported a failure (a3, hasArenaError)
    │   ├── ProtocolError         3   502  the site answered something this version cannot read
    │   └── IncompleteAnswer      3   502  the stream ended without a finish line (empty or cut)
    ├── SignInRequired            4   503  the site wants a signed-in user: run `lmarena login`
    ├── Blocked                   5   503  the anti-bot checks (Cloudflare or reCAPTCHA) refused us
    ├── RateLimited               6   429  too many requests; ``retry_after`` when the site said
    ├── ContentRejected           7   400  the site's moderation refused the prompt or image
    ├── Timeout                   8   504  no answer in time (connect, first token, idle stream)
    └── BrowserUnavailable        9   503  no usable Chromium, or it could not be started

Ctrl-C is not in the tree: the CLI exits 130 on ``KeyboardInterrupt``.

Each error keeps the site's own words in ``detail`` (when there were any) so that a user can tell
what the site said from what this tool concluded. ``partial`` carries any answer text that had
already arrived when a stream failed: it is never thrown away.
"""

from __future__ import annotations

from typing import ClassVar


class LmArenaError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500
    #: The OpenAI-style ``error.type`` that ``lmarena serve`` reports.
    error_type: ClassVar[str] = "server_error"

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        partial: str = "",
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The site's own words, when it said something.
        self.detail = detail
        #: Answer text that had already arrived when the failure happened.
        self.partial = partial
        #: A short machine-readable reason ("cloudflare", "recaptcha", "stale_action", ...).
        self.kind = kind

    def __str__(self) -> str:
        if self.detail and self.detail not in self.message:
            return f"{self.message} (the site said: {self.detail})"
        return self.message


class UsageError(LmArenaError):
    exit_code = 2
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


class ConversationNotFound(UsageError):
    http_status = 404


class InputError(UsageError):
    pass


class UpstreamUnavailable(LmArenaError):
    exit_code = 3
    http_status = 502
    error_type = "upstream_error"


class UpstreamError(UpstreamUnavailable):
    pass


class ProtocolError(UpstreamUnavailable):
    pass


class IncompleteAnswer(UpstreamUnavailable):
    pass


class SignInRequired(LmArenaError):
    exit_code = 4
    http_status = 503
    error_type = "sign_in_required"


class Blocked(LmArenaError):
    exit_code = 5
    http_status = 503
    error_type = "blocked"


class RateLimited(LmArenaError):
    exit_code = 6
    http_status = 429
    error_type = "rate_limit_error"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        detail: str | None = None,
        partial: str = "",
        kind: str | None = None,
    ) -> None:
        super().__init__(message, detail=detail, partial=partial, kind=kind)
        self.retry_after = retry_after


class ContentRejected(LmArenaError):
    exit_code = 7
    http_status = 400
    error_type = "content_filter"


class Timeout(LmArenaError):
    exit_code = 8
    http_status = 504
    error_type = "timeout"


class BrowserUnavailable(LmArenaError):
    exit_code = 9
    http_status = 503
    error_type = "browser_unavailable"


#: Exit code for Ctrl-C / SIGINT, as shells expect (128 + SIGINT).
EXIT_INTERRUPTED = 130

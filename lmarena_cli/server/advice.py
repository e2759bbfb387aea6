"""What an API client of ``serve`` is told it can do about a failure.

An error carries its advice as a key (:class:`~lmarena_cli.errors.Advice`); the CLI's words name
a command to run, which means nothing to an OpenAI or Anthropic client. Here the same advice is
said to that client: what can be done, and by whom (the operator of the server, where it runs).
"""

from __future__ import annotations

from ..errors import Advice, LmArenaError

#: Each advice as ``serve`` says it, joined to the error's message where the message puts it.
WORDS: dict[Advice, str] = {
    Advice.SIGN_IN: "; the server's account must sign in (its operator: `lmarena login`)",
    Advice.SIGN_IN_WINDOW: (
        "; the server's account must be signed in in a browser window (its operator: "
        "`lmarena login`)"
    ),
    Advice.SIGN_IN_AGAIN: (
        "; the server's account must sign in again (its operator: `lmarena login`)"
    ),
    Advice.SIGN_IN_AS_OWNER: "; start a new conversation, or continue it with its owner's account",
    Advice.TRY_SIGN_IN: "; the server's operator can sign in with `lmarena login`",
    Advice.LOGIN_AGAIN: "; the server's operator can sign in again with `lmarena login`",
    Advice.WAIT_OR_SIGN_IN: ". Wait a while before sending again",
    Advice.VISIBLE_BROWSER: "; try again later",
    Advice.PASS_CHECK: (
        " The site wants its security check passed in a browser by the server's operator "
        "(`lmarena login`, then `lmarena doctor --clear-flag`)."
    ),
    Advice.CHECK_ACCOUNT: ": the server's operator can check the account with `lmarena doctor`",
}


def say(error: LmArenaError) -> str:
    """The error's message with ``serve``'s advice, and the site's words."""
    return error.text(WORDS.get(error.advice, "") if error.advice is not None else "")


__all__ = ["WORDS", "say"]

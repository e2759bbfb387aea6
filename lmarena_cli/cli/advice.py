"""What a user of the CLI can do about a failure, in the CLI's words: a command to run.

An error carries its advice as a key (:class:`~lmarena_cli.errors.Advice`); the layers below the
front ends never phrase it, so that ``serve`` can say the same thing to an API client in its own
words (``server/advice.py``). :func:`say` is every failure's one line on stderr.
"""

from __future__ import annotations

from ..errors import Advice, LmArenaError

#: Each advice as the CLI says it, joined to the error's message where the message puts it.
WORDS: dict[Advice, str] = {
    Advice.SIGN_IN: "; run `lmarena login` to sign in",
    Advice.SIGN_IN_WINDOW: "; run `lmarena login` and sign in in the browser window",
    Advice.SIGN_IN_AGAIN: "; run `lmarena login` to sign in again",
    Advice.SIGN_IN_AS_OWNER: (
        "; sign in as its owner with `lmarena login`, or start a new conversation"
    ),
    Advice.TRY_SIGN_IN: "; try `lmarena login`",
    Advice.LOGIN_AGAIN: "; run `lmarena login` again",
    Advice.WAIT_OR_SIGN_IN: ". Wait a while, or sign in with `lmarena login`",
    Advice.VISIBLE_BROWSER: (
        "; try again later, or with a visible browser (LM_ARENA_BROWSER_HEADLESS=0)"
    ),
    # Protocol §15.3: the site's own UI shows a "Security Verification" dialog.
    Advice.PASS_CHECK: (
        " The site wants its security check passed in a browser: run `lmarena login`, which "
        "opens the site in a browser window, and pass the check there (on a machine without a "
        "display, do it on one with a display and copy the browser-profile folder of the state "
        "directory back, or wait); then clear the flag with `lmarena doctor --clear-flag`."
    ),
    Advice.CHECK_ACCOUNT: (
        ": `lmarena doctor` checks the account, the session and a send step by step"
    ),
}


def say(error: LmArenaError) -> str:
    """The error's message with the CLI's advice, and the site's words."""
    return error.text(WORDS.get(error.advice, "") if error.advice is not None else "")


__all__ = ["WORDS", "say"]

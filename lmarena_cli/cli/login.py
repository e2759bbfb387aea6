"""``lmarena login``: sign in to the site in a browser window; the session is saved."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import DebugOpt, NoColorOpt, QuietOpt
from .runtime import load_settings, run
from .terminal import Terminal


def login(
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the sign-in.", min=1)
    ] = 600.0,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Sign in to the site in a browser window; the session is saved for later runs."""
    term = Terminal(quiet=quiet, no_color=no_color)
    settings = load_settings(term)
    # A kept server holds the browser profile (this sign-in would land in a throwaway copy) and
    # the old session: it goes first, and the next `ask` starts one with the new session.
    from .kept import stop_for_profile

    stop_for_profile(settings, term.info)

    async def work() -> None:
        from ..browser.options import has_display
        from ..browser.session import Browser
        from ..site import facts

        # Browser.login says what it waits for ("waiting up to N s for you to sign in ..."), or
        # raises UsageError when there is no display to show a window on: a window is promised
        # here only when one can be shown.
        browser = Browser(settings)
        try:
            if settings.browser_headless is True or has_display():
                term.err(f"opening {settings.base_url}{facts.LOGIN_PAGE} in a browser window…")
            await browser.login(timeout=timeout)
            term.err("Signed in; the session is saved for later runs.")
        finally:
            await browser.close()

    # The browser's notices are the instructions of an interactive sign-in: -q does not hide them.
    run(term, work, debug=debug, note=term.err)

"""``lmarena doctor``: check, step by step, everything a send needs, and say what broke.

One line per step on stdout (``ok`` or ``FAIL``, the step, what was expected and what came), or
one JSON object per step with ``--json``; it stops at the first failure and exits with that
failure's status (0 when every step passed). The checks themselves are the library's
(:mod:`lmarena_cli.cli.doctor_checks`); nothing they say is secret, so the output can be pasted into
a bug report.

When a kept server serves the same state folder (``ask`` and ``chat`` answer through it), a notice
on stderr names it: the checks run with a browser of their own, so a kept server that went bad is
the one thing they cannot see, and ``lmarena server stop`` is the cure to try.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .advice import say
from .options import DebugOpt, ModelOpt, NoColorOpt, QuietOpt
from .runtime import load_settings, run
from .terminal import Terminal

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ..settings import Settings
    from .doctor_checks import Check

#: Width of the step column of the text output.
_STEP_WIDTH = 9


def render(check: Check) -> str:
    """One text line: ``ok    site       expected ...; got ...``."""
    mark = "ok" if check.ok else "FAIL"
    return f"{mark:<4}  {check.step:<{_STEP_WIDTH}}  expected {check.expected}; got {check.got}\n"


def kept_server_notice(settings: Settings) -> str | None:
    """What to say about a kept server of this state folder (None when none answers)."""
    from ..client.kept.wire import fingerprint
    from ..state.kept import KeptPaths
    from .kept import probe

    hello = probe(KeptPaths.of(settings.state_dir).socket, wait=1.0)
    if hello is None:
        return None
    if hello.get("fingerprint") != fingerprint(settings):
        return (
            f"a kept server (pid {hello.get('pid')}) holds this state folder with other "
            "settings: the next ask or chat replaces it once it is idle"
        )
    return (
        f"ask and chat answer through a kept server (pid {hello.get('pid')}); these checks use "
        "a browser of their own: if they pass and ask fails, `lmarena server stop` and try again"
    )


def account_check(settings: Settings) -> Check | None:
    """The first step, ``account``: what this machine remembers of the account (a flag or a
    wait the site asked for, its cause and end; today's sends and their budget), read from the
    state directory without a browser. It fails as a send would be refused (protocol §15.3).
    None when there is nothing to say (no wait, flag, budget or send today)."""
    from ..client.session.pacing import Pacing
    from ..errors import RateLimited
    from .doctor_checks import Check

    pacing = Pacing(settings)
    status = pacing.status()
    if not (status.penalty or status.flags_today or status.sends_today or status.daily_sends):
        return None
    error = None
    try:
        pacing.check()
    except RateLimited as refused:
        error = refused
    got = status.describe() if error is None else say(error)
    expected = "no flag or long wait remembered, and sends left today"
    details = status.to_json()
    return Check("account", expected, got, details=details, error=error)


def clear_flag(term: Terminal, settings: Settings) -> None:
    """``--clear-flag``: forget the flag (or wait) remembered for the site, once its security
    check is passed in a browser (protocol §15.3)."""
    from ..client.session.pacing import Pacing, local_time

    pacing = Pacing(settings)
    dropped = pacing.forget()
    if dropped is None:
        term.info(f"no flag or wait is remembered for {settings.base_url}; nothing to clear")
        return
    what = "flag" if dropped.flagged else "wait"
    term.err(
        f"cleared the {what} remembered for {settings.base_url} (it would have lasted until "
        f"{local_time(dropped.until)}): {dropped.reason}. If the site still refuses, it flags "
        "the account again, for longer"
    )


def doctor(
    send: Annotated[
        bool,
        typer.Option(
            "--send",
            help="Also send one short message and wait for its answer (spends the account's "
            "credits).",
        ),
    ] = False,
    model: ModelOpt = None,
    clear: Annotated[
        bool,
        typer.Option(
            "--clear-flag",
            help="Forget the flag (or wait) the site gave the account, once its security check "
            "is passed in a browser (lmarena login), and exit; runs no check.",
        ),
    ] = False,
    json_: Annotated[
        bool, typer.Option("--json", help="One JSON object per step, one per line.")
    ] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Check everything a send needs, step by step; stop at the first failure.

    The steps: the account (a flag or wait the site gave it, today's sends), the browser, the
    site (and its clock), the anti-bot check, the session and the Terms of Use, reCAPTCHA, the
    models, the upload actions, the balance, the transport (aiohttp or the browser page, and
    why), and with --send one short round trip. Exits with the failing step's exit code (0 when
    all pass). Nothing secret is printed. --clear-flag forgets a flag once the site's security
    check is passed in a browser.
    """
    term = Terminal(quiet=quiet, no_color=no_color)
    settings = load_settings(term)
    if clear:
        clear_flag(term, settings)
        return
    kept = kept_server_notice(settings)
    if kept:
        term.info(kept)

    async def work() -> Check | None:
        import orjson

        from ..client.client import Client
        from .doctor_checks import Doctor

        # record=False: the round trip of --send is not a conversation for `ask -c`.
        async def all_checks() -> AsyncIterator[Check]:
            account = account_check(settings)
            if account is not None:
                yield account
            async for check in Doctor(client, send=send, model=model).checks():
                yield check

        client = Client(settings, record=False)
        try:
            async for check in all_checks():
                if json_:
                    term.out(orjson.dumps(check.to_json()).decode() + "\n")
                else:
                    term.out(render(check))
                if not check.ok:
                    return check
            return None
        finally:
            await client.close()

    failed = run(term, work, debug=debug)
    if failed is not None:
        if debug and failed.error is not None:
            import traceback

            traceback.print_exception(failed.error, file=term.stderr)
        term.err(term.style("lmarena: ", "1;31") + f"doctor: {failed.step}: {failed.got}")
        raise typer.Exit(failed.exit_code)


__all__ = ["doctor", "render"]

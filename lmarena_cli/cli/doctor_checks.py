"""``lmarena doctor``'s checks: everything a send needs, one step at a time, as data.

:class:`Doctor` runs the steps of :data:`STEPS` in order against the configured site and yields
one :class:`Check` per step, stopping at the first failure (whose ``error`` carries the exit
status). It prints nothing; the CLI renders the checks. What a check says is safe to paste into a
bug report: no cookie, token or key value (the site key, which is public, shows its first six
characters at most), and every text that may quote one is scrubbed.

Every step is bounded: by ``Settings.timeout``, and the page load and the send, which chain
several bounded waits of their own, by twice that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..browser.options import find_browser
from ..browser.session import Browser
from ..client.client import Client
from ..errors import (
    ErrorKind,
    LmArenaError,
    ProtocolError,
    SignInRequired,
    TimedOut,
)
from ..settings import Settings
from ..site import facts
from ..site.ids import offset_from_date
from ..state.cache import SiteState
from .advice import say

#: The steps, in the order they run (``send`` only when asked for).
STEPS = (
    "browser",
    "site",
    "anti-bot",
    "session",
    "recaptcha",
    "models",
    "actions",
    "balance",
    "transport",
    "send",
)
#: What the optional round trip sends.
SEND_PROMPT = "Reply with the single word: ok"
#: How much of the (public) site key a check shows.
KEY_SHOWN = 6
#: Which step a failure of the page load belongs to, by its kind (others: ``anti-bot``).
_OWNER = {
    ErrorKind.NO_MODELS: "models",
    ErrorKind.NO_SITE_KEY: "recaptcha",
    ErrorKind.STALE_ACTION: "actions",
    ErrorKind.LOGIN_GATE: "session",
    ErrorKind.NO_SESSION: "session",
    ErrorKind.USER_NOT_FOUND: "session",
    ErrorKind.AUTH_EXPIRED: "session",
    ErrorKind.TERMS_OF_USE: "session",
}


@dataclass
class Check:
    """The outcome of one step: what was expected, what came, and the error when it failed."""

    step: str
    expected: str
    got: str
    seconds: float = 0.0
    #: Facts of the step for ``--json`` (never a secret).
    details: dict[str, Any] = field(default_factory=dict)
    error: LmArenaError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def exit_code(self) -> int:
        """0 when it passed, else the exit status of its error."""
        return 0 if self.error is None else int(self.error.exit_code)

    def to_json(self) -> dict[str, Any]:
        """One object per step, as ``lmarena doctor --json`` prints it."""
        data: dict[str, Any] = {
            "step": self.step,
            "ok": self.ok,
            "expected": self.expected,
            "got": self.got,
            "seconds": round(self.seconds, 3),
            "details": self.details,
        }
        if self.error is not None:
            data["exit_code"] = self.exit_code
            data["kind"] = str(self.error.kind) if self.error.kind else None
        return data


class _Outcome:
    """What a step function hands back: the text of what came, and its details."""

    def __init__(self, got: str, **details: Any) -> None:
        self.got = got
        self.details = details


class _Skip(Exception):
    """The step cannot run: an earlier step's failure belongs to a later one (not reported)."""


class Doctor:
    """The checks of one connection. ``send`` adds the round trip (it spends credits);
    ``model`` is the model it asks (default: the settings' model)."""

    def __init__(self, client: Client, *, send: bool = False, model: str | None = None) -> None:
        self.client = client
        self.send = send
        self.model = model or client.settings.model
        self._state: SiteState | None = None
        self._deferred: tuple[str, LmArenaError] | None = None

    @property
    def settings(self) -> Settings:
        return self.client.settings

    def steps(self) -> tuple[str, ...]:
        """The steps this doctor runs, in order."""
        return STEPS if self.send else STEPS[:-1]

    async def checks(self) -> AsyncIterator[Check]:
        """One :class:`Check` per step, in order, ending after the first failure."""
        expected = {
            "browser": "a Chromium-family browser that starts",
            "site": f"an HTTP answer from {self.settings.base_url}",
            "anti-bot": "the site's page, past its anti-bot check",
            "session": "a session cookie (anonymous or signed in)",
            "recaptcha": "a reCAPTCHA site key in the page and a token minted with it",
            "models": "a list of models to chat with",
            "actions": "the server action ids for image uploads ("
            + ", ".join(facts.UPLOAD_ACTIONS)
            + ")",
            "balance": "the account's credits, where the site shows them",
            "transport": "a way for requests to leave (LM_ARENA_TRANSPORT)",
            "send": f"an answer from {self.model}",
        }
        runs: dict[str, tuple[Callable[[], Awaitable[_Outcome]], float]] = {
            "browser": (self._browser, 1),
            "site": (self._site, 1),
            "anti-bot": (self._anti_bot, 2),
            "session": (self._session, 1),
            "recaptcha": (self._recaptcha, 1),
            "models": (self._models, 1),
            "actions": (self._actions, 1),
            "balance": (self._balance, 1),
            "transport": (self._transport, 1),
            "send": (self._send, 2),
        }
        for step in self.steps():
            work, factor = runs[step]
            check = await self._run(step, expected[step], work, self.settings.timeout * factor)
            if check is None:
                continue
            yield check
            if not check.ok:
                return

    async def _run(
        self,
        step: str,
        expected: str,
        work: Callable[[], Awaitable[_Outcome]],
        bound: float,
    ) -> Check | None:
        began = time.monotonic()
        try:
            if self._deferred is not None and self._deferred[0] == step:
                raise self._deferred[1]
            async with asyncio.timeout(bound):
                outcome = await work()
        except _Skip:
            return None
        except TimeoutError:
            error: LmArenaError = TimedOut(
                f"the {step} step took longer than {bound:g} s", kind=ErrorKind.TIMEOUT
            )
        except LmArenaError as exc:
            error = exc
        except Exception as exc:  # a bug: still one line and an exit status, no traceback
            error = LmArenaError(f"unexpected error: {type(exc).__name__}: {exc}")
        else:
            details = {k: v for k, v in outcome.details.items() if v is not None}
            return Check(step, expected, self._scrub(outcome.got), _since(began), details)
        return Check(step, expected, self._scrub(say(error)), _since(began), error=error)

    def _scrub(self, text: str) -> str:
        """``text`` on one line, without any cookie value or site key of the session."""
        text = " ".join(text.split())
        state = self._state or self.client.state
        if state is None:
            return text
        if state.site_key:
            text = text.replace(state.site_key, _key_shown(state.site_key))
        for value in state.cookies.values():
            if len(value) >= 8:
                text = text.replace(value, "<cookie>")
        return text

    # -- the steps ---------------------------------------------------------------------------------

    async def _browser(self) -> _Outcome:
        browser = self.client.browser
        if not isinstance(browser, Browser):
            return _Outcome(f"a stand-in browser ({type(browser).__name__}); nothing to launch")
        path = find_browser(self.settings)
        began = time.monotonic()
        version = await browser.start()
        took = _since(began)
        return _Outcome(
            f"{path}, {version or 'version unknown'}, started in {took:.1f} s",
            path=path,
            version=version or None,
            start_seconds=round(took, 3),
        )

    async def _site(self) -> _Outcome:
        began = time.time()
        status, headers = await self.client.http.probe(facts.CHAT_PAGE)
        offset = offset_from_date(headers.get(facts.DATE.lower()), now=(began + time.time()) / 2)
        challenged = headers.get(facts.CF_MITIGATED.lower()) == facts.CF_CHALLENGE
        said = f"HTTP {status}" + (" (an anti-bot challenge)" if challenged else "")
        clock = (
            f"clock offset {offset:+.1f} s (ids are minted from the site's clock)"
            if offset is not None
            else "no Date header (clock offset unknown)"
        )
        return _Outcome(
            f"{said}, {clock}",
            status=status,
            challenge=challenged,
            clock_offset=round(offset, 3) if offset is not None else None,
        )

    async def _anti_bot(self) -> _Outcome:
        began = time.monotonic()
        try:
            self._state = await self.client.bootstrap()
        except LmArenaError as error:
            owner = _OWNER.get(error.kind) if error.kind else None
            if owner is None:
                raise
            # The page loaded and its check passed; a later step's job failed: report it there.
            self._deferred = (owner, error)
        took = _since(began)
        browser = self.client.browser
        challenge = browser.challenge_seconds if isinstance(browser, Browser) else None
        if challenge is not None:
            got = f"passed in {challenge:.1f} s (the page loaded in {took:.1f} s)"
        else:
            got = f"passed (the page loaded in {took:.1f} s)"
        return _Outcome(
            got,
            challenge_seconds=round(challenge, 3) if challenge is not None else None,
            load_seconds=round(took, 3),
        )

    def _loaded(self) -> SiteState:
        if self._state is None:
            raise _Skip
        return self._state

    async def _session(self) -> _Outcome:
        state = self._loaded()
        session = state.auth_session()
        if session is None:
            raise SignInRequired(
                "the browser holds no readable session cookie "
                f"({facts.AUTH_COOKIE}): the site's sign-up did not happen",
                kind=ErrorKind.NO_SESSION,
            )
        who = "signed in" if session.signed_in else "anonymous"
        accepted = state.tou_consent_user is not None and (
            session.user_id is None or state.tou_consent_user == session.user_id
        )
        terms = "Terms of Use accepted" if accepted else "Terms of Use not accepted"
        return _Outcome(f"{who}, {terms}", signed_in=session.signed_in, terms_of_use=accepted)

    async def _recaptcha(self) -> _Outcome:
        state = self._loaded()
        if not state.site_key:
            raise ProtocolError(
                "the site's page carries no reCAPTCHA site key (looked for "
                'recaptcha/enterprise.js?render=<key> and execute("<key>") in its scripts)',
                kind=ErrorKind.NO_SITE_KEY,
            )
        token = await self.client.session.mint_token(facts.ACTION_CHAT_SUBMIT)
        # The token is never shown: only that one came.
        return _Outcome(
            f"script loaded, site key {_key_shown(state.site_key)} found, a token minted",
            site_key=_key_shown(state.site_key),
            token_minted=bool(token),
        )

    async def _models(self) -> _Outcome:
        state = self._loaded()
        chats = await self.client.list_models()
        if not chats:
            raise ProtocolError(
                f"the site offered {len(state.models)} models, none of them for chat",
                kind=ErrorKind.NO_MODELS,
            )
        source = state.models_source or "unknown"
        where = {"page": "embedded in the page", "catalog": f"from {facts.MODEL_CATALOG}"}
        offered = any(m.name == self.model or m.id == self.model for m in chats)
        return _Outcome(
            f"{len(chats)} models {where.get(source, f'from {source}')}; "
            f"{self.model} {'offered' if offered else 'not offered'}",
            source=source,
            count=len(chats),
            model=self.model,
            model_offered=offered,
        )

    async def _actions(self) -> _Outcome:
        state = self._loaded()
        missing = [name for name in facts.UPLOAD_ACTIONS if name not in state.action_ids]
        if missing:
            raise ProtocolError(
                f"the site's JS chunks name no server action {', '.join(missing)}: image "
                "uploads will fail (the site has changed)",
                kind=ErrorKind.STALE_ACTION,
            )
        return _Outcome(
            f"found {', '.join(facts.UPLOAD_ACTIONS)} ({len(state.action_ids)} actions in all)",
            actions=sorted(state.action_ids),
        )

    async def _balance(self) -> _Outcome:
        state = self._loaded()
        status, data = await self.client.http.get_api(state, facts.BALANCE)
        credits = data.get("creditsRemaining") if isinstance(data, dict) else None
        daily = data.get("dailyFreeCredits") if isinstance(data, dict) else None
        if status != 200 or not isinstance(credits, int | float):
            why = "not JSON" if status == 200 else f"HTTP {status}"
            return _Outcome(f"not shown ({facts.BALANCE} answered {why})", shown=False)
        pulse: Any = None
        pulse_status, pulse_data = await self.client.http.get_api(state, facts.PULSE)
        if pulse_status == 200 and isinstance(pulse_data, dict):
            pulse = pulse_data.get("pulse")
        got = f"{credits:g} credits left"
        if isinstance(daily, int | float):
            got += f", {daily:g} free daily"
        if isinstance(pulse, int | float):
            got += f", pulse {pulse:g}"
        return _Outcome(
            got,
            shown=True,
            credits_remaining=credits,
            daily_free_credits=daily if isinstance(daily, int | float) else None,
            pulse=pulse if isinstance(pulse, int | float) else None,
        )

    async def _transport(self) -> _Outcome:
        transport = self.client.http
        name, why = transport.describe()
        largest_b, timed = self.client.notes.largest_b()  # what the hold is sized from (§15.1)
        details: dict[str, Any] = {"battle_hold": self.settings.battle_hold, "timed_turns": timed}
        details.update(mode=transport.mode, active=transport.active(), largest_b_offset=largest_b)
        return _Outcome(f"{name}: {why}", **details)

    async def _send(self) -> _Outcome:
        self._loaded()
        chat = await self.client.chats.create(model=self.model)
        began = time.monotonic()
        reply = await chat.send(SEND_PROMPT, stream=False)
        took = _since(began)
        first = reply.timings.get("first_token")
        return _Outcome(
            f"{len(reply.text)} characters in {took:.1f} s"
            + (f" (first text after {first:.1f} s)" if isinstance(first, float) else ""),
            characters=len(reply.text),
            finish_reason=reply.finish_reason,
            first_token_seconds=round(first, 3) if isinstance(first, float) else None,
        )


def _since(began: float) -> float:
    return time.monotonic() - began


def _key_shown(key: str) -> str:
    return key[:KEY_SHOWN] + "…"


__all__ = ["KEY_SHOWN", "SEND_PROMPT", "STEPS", "Check", "Doctor"]

"""The account behind the session: consent to the Terms of Use, and the site's clock.

A fresh account (or profile) must accept the site's Terms of Use before its first chat; until it
does, the site holds every message: the request does not fail, the answer never comes (protocol
§14.2). :func:`settle_account` makes sure consent is given, once per account: it reads
``GET /api/me`` from the page and, when ``touConsentTimestamp`` is null, sends what the site's
"Agree" button sends (``POST /api/me/update-tou-consent`` with ``{}``), else calls the
``updateTouConsent`` server action when its id was discovered, else clicks the page's "Agree"
button. The account is remembered in ``SiteState.tou_consent_user`` so that warm runs of the same
user skip both requests; another user (after ``lmarena login``) is checked again. When consent
cannot be given, a notice says so and the bootstrap carries on.

It also learns the site's clock (§14.3): ``SiteState.clock_offset`` is the site's ``Date`` header
minus our clock, from ``/api/me`` when it was read, else from a ``HEAD`` of the chat page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..errors import BrowserUnavailable, LmArenaError
from ..site import facts
from ..site.actions import parse_action_reply
from ..site.classify import error_text, excerpt
from ..site.decode import loads_or_none
from ..state.cache import SiteState
from .cdp import js
from .page import Page, PageReply
from .scripts import ACTION_JS, FIND_BUTTON_JS

logger = logging.getLogger("lmarena.browser")

#: The texts of the consent dialog's button (lower-case), for when no request works.
AGREE_BUTTONS = ("agree", "i agree", "accept", "accept all", "agree and continue")
#: Seconds to wait, after clicking "Agree", for ``/api/me`` to show the consent.
CLICK_CONFIRM_WAIT = 5.0
#: What the notice of a failed consent says to do.
CONSENT_ADVICE = (
    "the site may hold every message until they are accepted: open {url} in a browser and "
    'press "Agree", or run `lmarena login`'
)


async def settle_account(page: Page, state: SiteState, previous: SiteState | None) -> None:
    """Make sure the session's account consented to the Terms of Use, and learn the clock.

    Fills ``state.tou_consent_user`` and ``state.clock_offset``; never raises for what the site
    answers (a notice says what went wrong), only for a browser that stopped working.
    """
    state.clock_offset = previous.clock_offset if previous is not None else 0.0
    try:
        me = await _ensure_consent(page, state, previous)
    except BrowserUnavailable:
        raise
    except LmArenaError as exc:
        me = None
        logger.info(
            f"could not accept the site's Terms of Use for this account ({exc}); "
            + CONSENT_ADVICE.format(url=page.base_url)
        )
    if me is None or not _learn_clock(state, me):
        try:
            head = await page.request(facts.CHAT_PAGE, method="HEAD", accept="text/html")
        except BrowserUnavailable:
            raise
        except LmArenaError as exc:
            logger.debug(f"could not read the site's clock: {exc}")
            return
        _learn_clock(state, head)


def _learn_clock(state: SiteState, reply: PageReply) -> bool:
    offset = reply.clock_offset()
    if offset is None:
        return False
    state.clock_offset = offset
    if abs(offset) > 30:
        logger.debug(f"the site's clock is {offset:+.1f} s from this machine's")
    return True


async def _ensure_consent(
    page: Page, state: SiteState, previous: SiteState | None
) -> PageReply | None:
    """Consent for the session's user; ``/api/me``'s answer when it was read (for the clock)."""
    session = state.auth_session()
    user = session.user_id if session is not None else None
    remembered = previous.tou_consent_user if previous is not None else None
    if user is not None and user == remembered:
        state.tou_consent_user = user
        return None
    me = await page.request(facts.ME, accept="application/json")
    account = _account(me)
    if account is not None:
        user = user or _string(account.get("supabaseUserId")) or _string(account.get("id"))
        if account.get(facts.TOU_CONSENT_FIELD) is not None:
            state.tou_consent_user = user
            return me
    if me.status == 401:
        logger.info(
            "could not accept the site's Terms of Use: the site sees no valid session "
            f"(GET {facts.ME} answered HTTP 401: {_words(me)}); "
            + CONSENT_ADVICE.format(url=page.base_url)
        )
        return me
    tried: list[str] = []
    given = (
        await _consent_by_request(page, tried)
        or await _consent_by_action(page, state, tried)
        or await _consent_by_click(page, tried)
    )
    if given:
        state.tou_consent_user = user
        logger.info("accepted the site's Terms of Use for this account")
    else:
        logger.info(
            "could not accept the site's Terms of Use for this account ("
            + "; ".join(tried)
            + "); "
            + CONSENT_ADVICE.format(url=page.base_url)
        )
    return me


async def _consent_by_request(page: Page, tried: list[str]) -> bool:
    """What the "Agree" button sends: ``POST /api/me/update-tou-consent`` with ``{}``."""
    reply = await page.request(
        facts.TOU_CONSENT, method="POST", accept="application/json", body="{}"
    )
    if 200 <= reply.status < 300 and not reply.is_html:
        return True
    tried.append(f"POST {facts.TOU_CONSENT} answered HTTP {reply.status}: {_words(reply)}")
    return False


async def _consent_by_action(page: Page, state: SiteState, tried: list[str]) -> bool:
    """The ``updateTouConsent`` server action, when its id was discovered."""
    action_id = state.action_ids.get(facts.TOU_CONSENT_ACTION)
    if not action_id:
        tried.append(f"no id for the server action {facts.TOU_CONSENT_ACTION} was found")
        return False
    reply = await page.eval(
        ACTION_JS
        % (
            js(page.base_url + facts.ACTION_PAGE),
            js(action_id),
            js(facts.ACTION_ACCEPT),
            js(facts.REQUEST_CONTENT_TYPE),
        ),
        what=f"calling the {facts.TOU_CONSENT_ACTION} action",
        timeout=page.settings.timeout,
        await_promise=True,
    )
    status = int(reply.get("status") or 0) if isinstance(reply, dict) else 0
    text = str(reply.get("text") or "") if isinstance(reply, dict) else ""
    if status == 200:
        try:
            parse_action_reply(text)
            return True
        except LmArenaError as exc:
            tried.append(f"the {facts.TOU_CONSENT_ACTION} action failed: {exc}")
            return False
    tried.append(f"the {facts.TOU_CONSENT_ACTION} action answered HTTP {status}: {excerpt(text)}")
    return False


async def _consent_by_click(page: Page, tried: list[str]) -> bool:
    """Press the dialog's "Agree" button, then wait for ``/api/me`` to show the consent."""
    where = await page.eval(FIND_BUTTON_JS % js(list(AGREE_BUTTONS)), what="finding Agree")
    if not (isinstance(where, list) and len(where) == 2):
        tried.append('the page shows no "Agree" button')
        return False
    await page.click(float(where[0]), float(where[1]), what='pressing "Agree"')
    deadline = time.monotonic() + CLICK_CONFIRM_WAIT
    while True:
        await asyncio.sleep(0.3)
        account = _account(await page.request(facts.ME, accept="application/json"))
        if account is None:
            return True  # nothing to confirm with: the click is all the site offers
        if account.get(facts.TOU_CONSENT_FIELD) is not None:
            return True
        if time.monotonic() > deadline:
            tried.append(f'pressing "Agree" left {facts.TOU_CONSENT_FIELD} empty')
            return False


def _account(reply: PageReply) -> dict[str, Any] | None:
    """The user object of an ``/api/me`` answer (``{user: {...}}`` or the user itself)."""
    if reply.status != 200 or reply.is_html:
        return None
    data = loads_or_none(reply.text)
    if not isinstance(data, dict):
        return None
    user = data.get("user")
    return user if isinstance(user, dict) else data


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _words(reply: PageReply) -> str:
    """The site's words in an answer: its error text, else an excerpt of the body."""
    data = loads_or_none(reply.text)
    said = error_text(data) if data is not None else None
    return excerpt(said or reply.text or "(empty)", 160)


__all__ = ["AGREE_BUTTONS", "settle_account"]

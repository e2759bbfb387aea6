"""What the loaded page tells: a :class:`SiteState` of cookies, User-Agent, site key, models and
server action ids, read with the site layer's pure parsers (:mod:`lmarena_cli.site.pages`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from ..errors import ErrorKind, ProtocolError
from ..site import facts, models, pages
from ..state.cache import SiteState
from .cdp import cookie_map
from .page import Page

logger = logging.getLogger("lmarena.browser")


async def read_site(
    page: Page,
    cookies: list[dict[str, Any]],
    previous: SiteState | None,
    *,
    rediscover: bool,
) -> SiteState:
    """The state of the loaded page. The model list and action ids are rediscovered when
    ``rediscover`` is true or ``previous`` ones are stale; the site key is read every time."""
    html = await page.read_html()
    user_agent = str(await page.eval("navigator.userAgent", what="reading the User-Agent"))
    now = time.time()
    state = SiteState(
        base_url=page.base_url,
        user_agent=user_agent,
        cookies=cookie_map(cookies),
        cookie_records=cookies,
        site_key=pages.find_site_key(html),
        created_at=previous.created_at if previous else now,
        updated_at=now,
    )
    if state.site_key is None:
        # The page may name the key only in its bundle's execute("<key>") call (§4.2).
        state.site_key = await _site_key_from_chunks(page, html)
    if state.site_key is None:
        logger.info(
            "the site's page carries no reCAPTCHA site key (expected "
            "recaptcha/enterprise.js?render=<key>); sending messages will fail"
        )
    stale = previous is None or rediscover or previous.discovery_stale(now)
    await _fill_models(page, state, html, previous if not stale else None)
    if stale or previous is None:
        state.action_ids = await _discover_actions(page, html)
        state.discovered_at = now
    else:
        state.action_ids = dict(previous.action_ids)
        state.discovered_at = previous.discovered_at
    page.loaded_with(html)
    return state


async def _fill_models(page: Page, state: SiteState, html: str, cached: SiteState | None) -> None:
    """Models from the page, else the cached ones when fresh, else the catalog endpoint."""
    embedded = pages.models_from_html(html)
    if embedded:
        state.models = [model.raw for model in embedded]
        return
    if cached is not None and cached.models:
        state.models = list(cached.models)
        return
    status, text = await page.fetch(facts.MODEL_CATALOG, accept="application/json")
    if status != 200:
        raise ProtocolError(
            "the site's page embeds no model list and "
            f"{facts.MODEL_CATALOG} answered HTTP {status} instead of a JSON catalog",
            detail=text[:300],
            kind=ErrorKind.NO_MODELS,
        )
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ProtocolError(
            f"{facts.MODEL_CATALOG} answered something that is not JSON",
            detail=text[:300],
            kind=ErrorKind.NO_MODELS,
        ) from None
    state.models = [model.raw for model in models.models_from_catalog(data)]


async def _site_key_from_chunks(page: Page, html: str) -> str | None:
    """The reCAPTCHA site key from the page's JS chunks (the components' chunks first)."""
    for path in pages.chunk_paths(html):
        status, text = await page.fetch(path, accept="*/*")
        key = pages.find_site_key(text) if status == 200 else None
        if key is not None:
            return key
    return None


async def _discover_actions(page: Page, html: str) -> dict[str, str]:
    """Fetch the page's JS chunks in order until both upload actions are found."""
    actions: dict[str, str] = {}
    paths = pages.chunk_paths(html)
    for path in paths:
        status, text = await page.fetch(path, accept="*/*")
        if status != 200:
            continue
        for name, action_id in pages.find_actions(text).items():
            actions.setdefault(name, action_id)
        if all(name in actions for name in facts.UPLOAD_ACTIONS):
            break
    if not all(name in actions for name in facts.UPLOAD_ACTIONS):
        logger.info(
            f"found no server action ids for {', '.join(facts.UPLOAD_ACTIONS)} in the site's "
            f"{len(paths)} JS chunks; image uploads will fail"
        )
    return actions


def missing_upload_actions(actions: dict[str, str]) -> ProtocolError | None:
    """The error for action ids that lack an upload action, or None when all are there."""
    missing = [name for name in facts.UPLOAD_ACTIONS if name not in actions]
    if not missing:
        return None
    return ProtocolError(
        "expected the site's JS chunks to define the server actions "
        + ", ".join(facts.UPLOAD_ACTIONS)
        + f", but {', '.join(missing)} could not be found; the site has changed",
        kind=ErrorKind.STALE_ACTION,
    )


__all__ = ["missing_upload_actions", "read_site"]

"""What the loaded page tells: a :class:`SiteState` of cookies, User-Agent, site key, models and
server action ids, read with the site layer's pure parsers (:mod:`lmarena_cli.site.pages`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..errors import ErrorKind, ProtocolError
from ..site import facts, models, pages
from ..site.classify import error_text, excerpt
from ..site.decode import loads_or_none
from ..state.cache import SiteState
from .cdp import cookie_map
from .page import Page, PageReply

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
        page_transport_until=previous.page_transport_until if previous else 0.0,
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
    """Models from the page, else the cached ones when fresh, else the catalog endpoint.

    Anonymous pages stopped embedding the list (``initialModels`` absent or ``"$undefined"``,
    protocol §14.4); the catalog is fetched from the page as a same-origin GET, which carries no
    ``Origin`` header (the catalog refuses requests that do).
    """
    embedded = pages.models_from_html(html)
    if embedded:
        state.models = [model.raw for model in embedded]
        state.models_source = "page"
        return
    if cached is not None and cached.models:
        state.models = list(cached.models)
        state.models_source = cached.models_source
        return
    why = _no_list_reason(html, embedded)
    reply = await page.request(facts.MODEL_CATALOG, accept="application/json")
    state.models = [model.raw for model in catalog_models(reply, why)]
    state.models_source = "catalog"


def _no_list_reason(html: str, embedded: list[models.Model] | None) -> str:
    """Why the page gave no models, in words for an error message."""
    if embedded is not None:
        return "its model list is empty"
    text = (pages.flight_text(html) + html).replace("\\", "").replace(" ", "")
    if f'"{facts.MODELS_KEY}":"{facts.UNDEFINED}"' in text:
        return f"its model list is {facts.UNDEFINED!r}"
    return "it has no model list"


def catalog_models(reply: PageReply, why: str) -> list[models.Model]:
    """The usable models of the catalog's answer; ProtocolError saying what came instead."""
    lead = f"the site's page embeds no models ({why}), and {facts.MODEL_CATALOG} answered"
    expected = "a JSON catalog ({arenas: [{arena, models: [...]}]})"
    if reply.status != 200:
        data = loads_or_none(reply.text)
        said = excerpt((error_text(data) if data is not None else None) or reply.text or "")
        hint = ""
        if facts.CROSS_ORIGIN_CATALOG.lower() in reply.text.lower():
            hint = (
                " (the catalog refuses requests that carry an Origin header; this one was a "
                "same-origin GET from the page, which should carry none)"
            )
        raise ProtocolError(
            f"{lead} HTTP {reply.status} instead of {expected}: {said or '(empty)'}{hint}",
            detail=reply.text[:300],
            kind=ErrorKind.NO_MODELS,
        )
    data = None if reply.is_html else loads_or_none(reply.text)
    if data is None:
        came = reply.content_type or "no content type"
        raise ProtocolError(
            f"{lead} {excerpt(reply.text) or 'nothing'} ({came}) instead of {expected}",
            detail=reply.text[:300],
            kind=ErrorKind.NO_MODELS,
        )
    found = models.models_from_catalog(data)
    if not found:
        raise ProtocolError(
            f"{lead} a catalog without a single usable model; expected {expected}",
            detail=reply.text[:300],
            kind=ErrorKind.NO_MODELS,
        )
    return found


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
    turbopack = False
    for path in paths:
        status, text = await page.fetch(path, accept="*/*")
        if status != 200:
            continue
        turbopack = turbopack or pages.is_turbopack(text)
        for name, action_id in pages.find_actions(text).items():
            actions.setdefault(name, action_id)
        if all(name in actions for name in facts.UPLOAD_ACTIONS):
            break
    if not all(name in actions for name in facts.UPLOAD_ACTIONS):
        build = " (a Turbopack build)" if turbopack else ""
        logger.info(
            f"found no server action ids for {', '.join(facts.UPLOAD_ACTIONS)} in the site's "
            f"{len(paths)} JS chunks{build}, neither by createServerReference nor by the "
            "fallbacks (the call's shape, the export table); image uploads will fail"
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
        + f", but {', '.join(missing)} could not be found there, neither by "
        "createServerReference nor by the Turbopack fallbacks (protocol §15.4: the call's "
        "shape, the export table); the site has changed and lmarena needs an update",
        kind=ErrorKind.STALE_ACTION,
    )


__all__ = ["catalog_models", "missing_upload_actions", "read_site"]

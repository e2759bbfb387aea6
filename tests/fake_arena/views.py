"""The pages and read-only JSON of the fake site: the chat page, JS chunks, catalog, a session.

The chat page (``/``, ``/text/direct``, ``/c/{id}``...) embeds the model list and the selected
models in its RSC props (``models_in_page`` says what anonymous pages carry instead) and shows the
Terms-of-Use dialog to a user who has not agreed yet (``tou_required``). For its owner,
``/c/{id}`` shows the conversation and which models answered, which is how a battle's models
become visible. ``GET /api/evaluation/{id}`` returns the same session as JSON.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import pages, turbopack
from .accounts import AccountsMixin
from .facts import (
    CATALOG_ARENAS,
    CATALOG_ARENAS_2026,
    CROSS_ORIGIN_BODY,
    INITIAL_MODEL_A,
    INITIAL_MODEL_B,
    INITIAL_MODELS,
    INITIAL_SESSION,
    ORIGIN,
    ROUTE_NOT_ALLOWED,
    RSC_UNDEFINED,
    SESSION_NOT_FOUND,
    USER_STATE,
)
from .responses import json_response


class ViewsMixin(AccountsMixin):
    """Page and read-only API handlers of :class:`~tests.fake_arena.app.FakeArena`."""

    async def _page(self, request: web.Request) -> web.Response:
        resp = web.Response(content_type="text/html", charset="utf-8")
        user = self._refresh_on_page(request, resp)
        session = self.sessions.get(request.match_info.get("sid", ""))
        selectable = [m for m in self.models if m.user_selectable and m.chats]
        model_a = selectable[0].id if selectable else None
        model_b = selectable[1].id if len(selectable) > 1 else None
        wanted = self.model(request.query.get("model_a", ""))
        if wanted is not None:
            model_a = wanted.id
        session_json: dict[str, Any] | None = None
        if session is not None and user is not None and session.owner == user.id:
            # Reopening /c/{id} shows the conversation, including which models answered: this is
            # how a battle's models become visible to the fake's clients.
            model_a, model_b = session.model_a, session.model_b
            session_json = session.to_json()
        props: dict[str, Any] = {}
        # Since Sep 2026 anonymous pages leave the list out (protocol §14.4); signed-in keep it.
        anonymous = user is None or user.is_anonymous
        in_page = self.models_in_page if anonymous else "embedded"
        if self.embed_models and in_page == "embedded":
            props[INITIAL_MODELS] = [m.to_wire() for m in self.models]
        elif self.embed_models and in_page == "undefined":
            props[INITIAL_MODELS] = RSC_UNDEFINED
        props[INITIAL_MODEL_A] = model_a
        props[INITIAL_MODEL_B] = model_b
        props[INITIAL_SESSION] = session_json
        props[USER_STATE] = {
            "isLoggedIn": bool(user and not user.is_anonymous),
            "userId": user.id if user else None,
        }
        # A user who has not accepted the Terms of Use yet (a first visit too) sees the dialog.
        tou_dialog = self.tou_required and (user is None or self.consent_time(user) is None)
        # Pages that embed the list carry an id-only array of it first (protocol §15.4).
        id_only = None
        if self.models_2026_10 and isinstance(props.get(INITIAL_MODELS), list):
            id_only = [{"id": m.id, "rankByModality": m.rank_by_modality} for m in self.models]
        resp.text = pages.app_page(
            self.deploy,
            site_key=self.site_key,
            props=props,
            user_id=user.id if user else None,
            tou_dialog=tou_dialog,
            id_only_models=id_only,
            turbopack=self.turbopack,
        )
        return resp

    async def _chunk(self, request: web.Request) -> web.Response:
        role = self.deploy.role_of("static/" + request.match_info["path"])
        if role is None:
            return web.Response(status=404, text="Not Found")
        build = turbopack if self.turbopack else pages
        return web.Response(
            text=build.chunk_js(self.deploy, role, self.site_key),
            content_type="application/javascript",
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    async def _model_catalog(self, request: web.Request) -> web.Response:
        if self.catalog_2026:
            return self._catalog_2026(request)
        catalog = [
            {
                "arena": arena,
                "complete": True,
                "models": [m.to_wire(catalog=True) for m in self.models if arena in m.arenas],
            }
            for arena in CATALOG_ARENAS
        ]
        return json_response(catalog)

    def _catalog_2026(self, request: web.Request) -> web.Response:
        """``{"arenas": [...]}``: models repeated across arenas, a few plain strings among them;
        any request with an ``Origin`` header is refused (protocol §14.4)."""
        if ORIGIN in request.headers:
            return json_response(dict(CROSS_ORIGIN_BODY), status=403)
        arenas: list[dict[str, Any]] = []
        for arena in CATALOG_ARENAS_2026:
            rows: list[Any] = [
                m.to_wire(catalog=True)
                for m in self.models
                if arena in m.arenas or (arena == "code" and "webdev" in m.arenas)
            ]
            if arena == "text":
                # Entries that are no model objects at all (a client crashed on them).
                rows[1:1] = [m.public_name for m in self.models[:1]]
                rows.append("deprecated-model")
            arenas.append({"arena": arena, "complete": True, "models": rows})
        return json_response({"arenas": arenas})

    async def _evaluation_json(self, request: web.Request) -> web.Response:
        user = self._api_user(request)
        if isinstance(user, web.Response):
            return user
        session = self.sessions.get(request.match_info["sid"])
        if session is None:
            return json_response({"error": SESSION_NOT_FOUND}, status=404)
        if session.owner != user.id:
            return self._not_owner(user.id, session.id)
        return json_response(session.to_json())

    async def _legacy_stream(self, request: web.Request) -> web.Response:
        return json_response({"error": ROUTE_NOT_ALLOWED}, status=403)

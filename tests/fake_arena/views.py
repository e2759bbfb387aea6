"""The pages and read-only JSON of the fake site: the chat page, JS chunks, catalog, a session.

The chat page (``/``, ``/text/direct``, ``/c/{id}``...) embeds the model list and the selected
models in its RSC props; for its owner, ``/c/{id}`` shows the conversation and which models
answered, which is how a battle's models become visible. ``GET /api/evaluation/{id}`` returns the
same session as JSON.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import pages
from .accounts import AccountsMixin
from .facts import (
    CATALOG_ARENAS,
    INITIAL_MODEL_A,
    INITIAL_MODEL_B,
    INITIAL_MODELS,
    INITIAL_SESSION,
    ROUTE_NOT_ALLOWED,
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
        if self.embed_models:
            props[INITIAL_MODELS] = [m.to_wire() for m in self.models]
        props[INITIAL_MODEL_A] = model_a
        props[INITIAL_MODEL_B] = model_b
        props[INITIAL_SESSION] = session_json
        props[USER_STATE] = {
            "isLoggedIn": bool(user and not user.is_anonymous),
            "userId": user.id if user else None,
        }
        resp.text = pages.app_page(
            self.deploy, site_key=self.site_key, props=props, user_id=user.id if user else None
        )
        return resp

    async def _chunk(self, request: web.Request) -> web.Response:
        role = self.deploy.role_of("static/" + request.match_info["path"])
        if role is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(
            text=pages.chunk_js(self.deploy, role, self.site_key),
            content_type="application/javascript",
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    async def _model_catalog(self, request: web.Request) -> web.Response:
        catalog = [
            {
                "arena": arena,
                "complete": True,
                "models": [m.to_wire(catalog=True) for m in self.models if arena in m.arenas],
            }
            for arena in CATALOG_ARENAS
        ]
        return json_response(catalog)

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

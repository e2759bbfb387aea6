"""The models: :class:`ModelCatalog`, the list a chat picks from, and a battle's revealed names.

The list is the site state's (the cache's when it has one: no browser for ``lmarena models``);
a battle's two anonymous models are named, when the conversation's page names them, after its
answer has ended.
"""

from __future__ import annotations

from ...errors import TimedOut, UpstreamUnavailable, UsageError
from ...site import facts
from ...site.models import Model, model_from_row, resolve_model, usable_models_from_rows
from ...site.pages import message_models
from ..reply import Reply
from ..transport.site_transport import SiteTransport
from .site_session import SiteSession


class ModelCatalog:
    """The models the ``session`` learned; the conversation page read through ``http``."""

    def __init__(self, session: SiteSession, http: SiteTransport) -> None:
        self._session = session
        self._http = http

    async def list_models(self, *, refresh: bool = False) -> list[Model]:
        """The models one can chat with. Answered from the cache when it has them (no browser)."""
        return [model for model in await self._selectable(refresh) if model.chats]

    async def _selectable(self, refresh: bool = False) -> list[Model]:
        if not refresh:
            state = self._session.known_state()
            if state is not None and state.models:
                return usable_models_from_rows(state.models)
        return usable_models_from_rows((await self._session.bootstrap(refresh=refresh)).models)

    async def model(self, name: str | Model) -> Model:
        """A model by name (or id); ``ModelNotFound`` names the closest ones."""
        if isinstance(name, Model):
            return name
        selectable = await self._selectable()
        found = resolve_model(name, selectable)
        if not found.chats:
            # Named exactly, but it answers with video (or only in the WebDev arena): say so
            # before any request, rather than let the site refuse a "chat" it cannot serve.
            raise UsageError(
                f"{found.name} does not answer with text, images or search results (it is a "
                "video or WebDev model), which lmarena cannot show; `lmarena models` lists the "
                "models it can use"
            )
        return found

    async def reveal(self, reply: Reply) -> None:
        """A battle's models, when the conversation's page names them; unknown otherwise."""
        state = await self._session.current_state()
        ids = {a.side: a.message_id for a in reply.answers if a.message_id}
        try:
            html = await self._http.get_page(
                state, facts.conversation_page(reply.evaluation_session_id)
            )
        except (TimedOut, UpstreamUnavailable):
            return  # the answers stand without names; nothing else depends on them
        found = message_models(html, ids)
        by_id = {str(row.get("id")): row for row in state.models if isinstance(row, dict)}
        for answer in reply.answers:
            if answer.side in found:
                answer.model_id = found[answer.side]
                row = model_from_row(by_id.get(answer.model_id))
                answer.model = row.name if row is not None else None


__all__ = ["ModelCatalog"]

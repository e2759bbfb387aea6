"""``client.chats``: :class:`Chats` starts a conversation or picks one up again.

A conversation started here is a :class:`~.chats.ChatSession`; one picked up again by its id gets
the models and mode this tool's store kept for it, and a conversation the site recycled or let
end is followed to the one it went on in (:mod:`.recycled`, :mod:`.carry_over`).
"""

from __future__ import annotations

from ...errors import ConversationNotFound, UsageError
from ...site import facts
from ...site.ids import is_uuid
from ...site.models import Model
from ..session.turn_site import TurnSite
from ..turn.attachments import Uploader
from .chats import ChatSession
from .recording import Recorder
from .recycled import follow


class Chats:
    """``client.chats``: start a conversation or pick one up again.

    Its conversations send through ``turns``, record in ``recorder`` and upload with
    ``uploader``; models are named through ``turns.catalog``.
    """

    def __init__(self, turns: TurnSite, recorder: Recorder, uploader: Uploader) -> None:
        self._turns = turns
        self._recorder = recorder
        self._uploader = uploader

    def session(self, model: Model | None, model_b: Model | None, mode: facts.Mode) -> ChatSession:
        """A conversation of these models and mode, with no id yet (nothing is checked: the
        kept server rebuilds a command's conversation with it)."""
        return ChatSession(self._turns, self._recorder, self._uploader, model, model_b, mode)

    async def create(
        self,
        model: str | Model | None = None,
        *,
        versus: str | Model | None = None,
        battle: bool = False,
        system: str | None = None,
    ) -> ChatSession:
        """A new conversation: one model, two side by side (``versus``), or an anonymous battle.

        ``system`` is a system prompt. The site has no system role, so it is folded into the
        conversation's first prompt (:func:`~lmarena_cli.site.prompts.fold_system`, exactly as
        ``lmarena serve`` folds a system message) and stored as a ``system`` turn.
        """
        turns, catalog = self._turns, self._turns.catalog
        turns.pacing.check()  # the site said to wait: refuse before a browser starts
        if battle:
            if model is not None or versus is not None:
                raise UsageError("a battle picks its two models itself; do not name a model")
            chat = self.session(None, None, facts.Mode.BATTLE)
        else:
            model_a = await catalog.model(model or turns.settings.model)
            model_b = await catalog.model(versus) if versus is not None else None
            if model_b is not None and model_b.id == model_a.id:
                raise UsageError("side by side needs two different models")
            mode = facts.Mode.DIRECT if model_b is None else facts.Mode.SIDE_BY_SIDE
            chat = self.session(model_a, model_b, mode)
        chat.system = system or None
        return chat

    async def resume(
        self,
        chat_id: str,
        *,
        model: str | Model | None = None,
        versus: str | Model | None = None,
    ) -> ChatSession:
        """Continue a conversation by its ``evaluationSessionId``; the site keeps its history.

        The model comes from the argument, else from this tool's conversation store, else from
        the settings' default model.
        """
        turns, catalog = self._turns, self._turns.catalog
        turns.pacing.check()  # the site said to wait: refuse before a browser starts
        chat_id = chat_id.strip()
        if not is_uuid(chat_id):
            raise ConversationNotFound(f"{chat_id!r} is not a conversation id (a UUID)")
        chat_id = follow(self._recorder, chat_id)
        known = self._recorder.store.get(chat_id)
        mode = _stored_mode(known.mode) if known else facts.Mode.DIRECT
        if model is None and known is not None:
            model = known.model
        if versus is None and known is not None and known.model_b:
            versus = known.model_b
        if mode == facts.Mode.BATTLE:
            chat = self.session(None, None, mode)
        else:
            model_a = await catalog.model(model or turns.settings.model)
            model_b = await catalog.model(versus) if versus else None
            if model_b is not None:
                mode = facts.Mode.SIDE_BY_SIDE
            chat = self.session(model_a, model_b, mode)
        chat.id = chat_id
        chat.answer_id = known.answer_id if known is not None else None
        return chat

    async def latest(self) -> ChatSession:
        """The conversation this tool most recently used (``lmarena ask -c``)."""
        known = self._recorder.store.latest()
        if known is None:
            raise ConversationNotFound("there is no earlier conversation to continue")
        return await self.resume(known.id)


def _stored_mode(value: str) -> facts.Mode:
    try:
        return facts.Mode(value)
    except ValueError:  # "direct": the site's name for a single-model chat until mid 2026
        return facts.Mode.DIRECT


__all__ = ["Chats"]

"""What one turn asks of the site: :class:`TurnSite`, handed to each send, regenerate and skip.

A turn (:class:`~..turn.exchange.ReplyStream`, :class:`~..turn.regenerate.RegenerateStream`, a
battle's skip in :mod:`..turn.battles`) needs the site's state and tokens
(:class:`~.site_session.SiteSession`), the transport its request takes and the site's clock
(:class:`~..transport.site_transport.SiteTransport`), its turn among this user's sends
(:class:`~.pacing.Pacing`), its retry policy and the conversation's JSON
(:class:`~.site_calls.SiteCalls`), a battle's model names (:class:`~.catalog.ModelCatalog`), and how
long a single-model answer's first text is held to catch a battle (``battle_hold``, seconds).
Nothing else of the client: not the conversation store, not uploads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ...settings import Settings
from ...site import facts
from ...site.ids import SiteClock
from ...site.models import Model
from ..transport.site_transport import SiteTransport
from .catalog import ModelCatalog
from .pacing import Pacing
from .site_calls import SiteCalls
from .site_session import SiteSession


class Conversation(Protocol):
    """What a send needs to know of its conversation (a
    :class:`~..conversation.chats.ChatSession`)."""

    @property
    def id(self) -> str | None:
        """The ``evaluationSessionId``; None before the first exchange."""
        ...

    @property
    def model(self) -> Model | None:
        """Model A; None in a battle."""
        ...

    @property
    def model_b(self) -> Model | None:
        """Model B in side by side; None otherwise."""
        ...

    @property
    def mode(self) -> facts.Mode:
        """Direct, side by side or battle."""
        ...

    @property
    def modality(self) -> facts.Modality:
        """What kind of answer is wanted (model A's modality)."""
        ...

    #: The message ids (A, B) of a battle the site put into this chat that is not skipped yet.
    pending_battle: tuple[str, str] | None

    def cannot_go_on(self, conversation_id: str, reason: str) -> None:
        """The site will not let this conversation go on (a refused skip, protocol §15.1):
        its next turn starts a new conversation with the history folded in."""
        ...


@dataclass(frozen=True)
class TurnSite:
    """The parts of a client one turn uses (see the module doc)."""

    settings: Settings
    session: SiteSession
    http: SiteTransport
    pacing: Pacing
    calls: SiteCalls
    catalog: ModelCatalog
    #: Seconds side A's first content is held in a single-model chat (0: not held).
    battle_hold: float

    @property
    def clock(self) -> SiteClock:
        """The site's clock, as last learned (§14.3): what a send's ids are minted from."""
        return self.http.clock

    async def send_token(self, deadline: float, action: str = facts.ACTION_CHAT_SUBMIT) -> str:
        """The token of one send (``action``: ``chat_retry`` for a regenerate), once it may
        leave: no penalty of the site's runs, and ``LM_ARENA_MIN_INTERVAL`` has passed since any
        send of this user (by ``deadline``, in ``time.monotonic()`` time, or ``RateLimited``).
        The send is counted as it returns."""
        async with self.pacing.turn(deadline):
            return await self.session.mint_token(action)


__all__ = ["Conversation", "TurnSite"]

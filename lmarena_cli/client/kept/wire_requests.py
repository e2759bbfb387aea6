"""The kept server's requests, typed: one class per request, one module both sides import.

A command writes one request line (:func:`request_line`); the server reads it back into the same
class (:func:`read_request`) and dispatches on the class, not on a string. Every request line
carries the wire's version (:data:`~.wire.WIRE_VERSION`); ``hello``'s answer says the server's.
A command run with ``--debug`` marks its request line ``"debug": true``: the server then relays
the library's DEBUG records of that request too (INFO and above otherwise).
A conversation travels as a :class:`ChatState` in both directions: the server keeps none.

==============  ======================================================================
request         what the server does
==============  ======================================================================
``Hello``       answers who serves (pid, fingerprint, wire version, activity)
``Stop``        answers ``ok`` and stops
``OpenChat``    creates, resumes or picks up the latest conversation: ``ok`` with its state
``Send``        one turn: ``started``, its ``event`` lines, then ``done`` (or ``error``)
``Retry``       regenerates the latest answer, answered as ``Send``
``ListModels``  ``ok`` with the models
``Download``    ``ok`` with a generated image's bytes (base64)
==============  ======================================================================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ...site import facts
from ...site.models import Model
from . import wire


class HasChatState(Protocol):
    """A conversation's fields (a ``ChatSession`` or a ``RemoteChatSession``)."""

    mode: facts.Mode
    model: Model | None
    model_b: Model | None
    id: str | None
    system: str | None
    answer_id: str | None
    pending_battle: tuple[str, str] | None


@dataclass
class ChatState:
    """A conversation as it crosses the socket (a ``ChatSession``'s fields)."""

    mode: facts.Mode
    model: Model | None = None
    model_b: Model | None = None
    id: str | None = None
    system: str | None = None
    answer_id: str | None = None
    pending_battle: tuple[str, str] | None = None

    @classmethod
    def of(cls, chat: HasChatState) -> ChatState:
        """The state of ``chat``."""
        return cls(
            mode=chat.mode,
            model=chat.model,
            model_b=chat.model_b,
            id=chat.id,
            system=chat.system,
            answer_id=chat.answer_id,
            pending_battle=chat.pending_battle,
        )

    def apply(self, chat: HasChatState) -> None:
        """Give ``chat`` this state."""
        chat.mode, chat.model, chat.model_b = self.mode, self.model, self.model_b
        chat.id, chat.system, chat.answer_id = self.id, self.system, self.answer_id
        chat.pending_battle = self.pending_battle

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": str(self.mode),
            "model": wire.model_to_json(self.model),
            "model_b": wire.model_to_json(self.model_b),
            "id": self.id,
            "system": self.system,
            "answer_id": self.answer_id,
            "pending_battle": list(self.pending_battle) if self.pending_battle else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatState:
        pending = data.get("pending_battle")
        return cls(
            mode=wire.mode_of(data["mode"]),
            model=wire.model_from_json(data.get("model")),
            model_b=wire.model_from_json(data.get("model_b")),
            id=data.get("id"),
            system=data.get("system"),
            answer_id=data.get("answer_id"),
            pending_battle=(pending[0], pending[1]) if pending else None,
        )


@dataclass(frozen=True)
class Hello:
    """Who serves; ``touch``: a request follows (the server is not idle now)."""

    touch: bool = False


@dataclass(frozen=True)
class Stop:
    """End the server."""


@dataclass(frozen=True)
class OpenChat:
    """Start a conversation (``create``), continue one (``resume``) or the latest."""

    how: Literal["create", "resume", "latest"] = "create"
    chat_id: str | None = None
    model: str | None = None
    versus: str | None = None
    battle: bool = False
    system: str | None = None


@dataclass(frozen=True)
class Send:
    """One user turn of ``chat``; ``images`` as :mod:`.wire_images` writes them."""

    chat: ChatState
    prompt: str
    images: list[dict[str, Any]] = field(default_factory=list)
    timeout: float | None = None
    rate_limit_wait: float = 0.0


@dataclass(frozen=True)
class Retry:
    """Regenerate the latest answer of ``chat``."""

    chat: ChatState
    timeout: float | None = None
    rate_limit_wait: float = 0.0


@dataclass(frozen=True)
class ListModels:
    """The models (``refresh``: ask the site again)."""

    refresh: bool = False


@dataclass(frozen=True)
class Download:
    """A generated image's bytes."""

    url: str


@dataclass(frozen=True)
class Unknown:
    """A request this server does not know (a command of another version), or cannot read:
    answered with an error."""

    op: str
    #: Why a known request could not be read; empty for an unknown one.
    reason: str = ""


Request = Hello | Stop | OpenChat | Send | Retry | ListModels | Download
#: Each request's name on the wire.
OPS: dict[type[Any], str] = {
    Hello: "hello",
    Stop: "stop",
    OpenChat: "open",
    Send: "send",
    Retry: "retry",
    ListModels: "models",
    Download: "download",
}
_BY_OP = {op: cls for cls, op in OPS.items()}


def request_line(request: Request, *, debug: bool = False) -> bytes:
    """``request`` as one line of the wire, with its op and the wire's version; ``debug``: the
    command wants the library's DEBUG records of this request too."""
    fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(request)}
    if "chat" in fields:
        fields["chat"] = fields["chat"].to_json()
    envelope: dict[str, Any] = {"op": OPS[type(request)], "wire": wire.WIRE_VERSION}
    if debug:
        envelope["debug"] = True
    return wire.line({**envelope, **fields})


@dataclass(frozen=True)
class Incoming:
    """A request line as the server read it."""

    request: Request | Unknown
    #: The command runs with ``--debug``: relay DEBUG records too.
    debug: bool = False


def read_request(raw: bytes) -> Incoming:
    """The request a line holds (:class:`Unknown` for a request that cannot be served); and
    ``ValueError`` when the line is no message at all."""
    message = wire.parse(raw)
    return Incoming(_request_of(message), debug=message.get("debug") is True)


def _request_of(message: dict[str, Any]) -> Request | Unknown:
    op = str(message.get("op"))
    cls = _BY_OP.get(op)
    if cls is None:
        return Unknown(op)
    known = {f.name for f in dataclasses.fields(cls)}
    values = {name: value for name, value in message.items() if name in known}
    try:
        if "chat" in values:
            values["chat"] = ChatState.from_json(values["chat"])
        request: Request = cls(**values)
    except (KeyError, TypeError, ValueError) as exc:
        return Unknown(op, reason=f"{type(exc).__name__}: {exc}")
    return request


__all__ = [
    "OPS",
    "ChatState",
    "Download",
    "HasChatState",
    "Hello",
    "Incoming",
    "ListModels",
    "OpenChat",
    "Request",
    "Retry",
    "Send",
    "Stop",
    "Unknown",
    "read_request",
    "request_line",
]

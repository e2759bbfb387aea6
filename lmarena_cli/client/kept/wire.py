"""The kept server's wire format: the library's objects as JSON lines, and back.

A command talks to a kept server (``lmarena server``) over a Unix socket: one request line, then
answer lines, each one JSON object with a ``t`` (its type). Everything that crosses is one of the
library's own objects, written here and read back into an equal object on the other side, so that
the CLI renders a kept server's answer exactly as an in-process one: stream events, the reply,
the models, a conversation's state, the library's notices (log records) and failures (the
exception's class, message, site's words, kind, partial answer and ``retry_after``).

No I/O and nothing heavy (no aiohttp): the command that talks to a server imports this.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import Any

import orjson

from ... import errors
from ...errors import Advice, ErrorKind, LmArenaError
from ...settings import Settings
from ...site import events as site_events
from ...site import facts
from ...site.models import Model
from ..reply import Answer, Reply, SkippedBattle

#: Bumped whenever a line changes shape: a server and a command of different versions do not talk.
WIRE_VERSION = 2

#: Settings that shape a request of the command itself, not the server's connection to the site:
#: a kept server serves commands that differ only in these. (``timeout`` travels with each send;
#: a kept server's browser is always headless.)
PER_REQUEST = frozenset(
    {
        "model",
        "timeout",
        "host",
        "port",
        "api_key",
        "roles",
        "serve_history",
        "browser_headless",
        "keep_alive",
    }
)

_EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        site_events.TextDelta,
        site_events.ReasoningDelta,
        site_events.ImageOutput,
        site_events.Citation,
        site_events.Finish,
        site_events.StreamError,
        site_events.Heartbeat,
        site_events.MessageStart,
        site_events.RoutedModel,
        site_events.RawEvent,
        SkippedBattle,
    )
}
#: Attributes some errors carry besides the common ones.
_ERROR_EXTRAS = ("retry_after", "name", "suggestions", "param", "size", "limit", "mismatch")


def fingerprint(settings: Settings) -> str:
    """What a command and a server must agree on to share the server: the settings of the
    connection to the site (site, browser, profile, proxy, transport, pacing) and the wire's
    version."""
    chosen = {
        f.name: _text(getattr(settings, f.name))
        for f in dataclasses.fields(settings)
        if f.name not in PER_REQUEST
    }
    chosen["wire"] = str(WIRE_VERSION)
    return hashlib.sha256(orjson.dumps(chosen, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _text(value: Any) -> str:
    return str(value.expanduser().absolute()) if isinstance(value, Path) else str(value)


def absolute_paths(settings: Settings) -> Settings:
    """``settings`` with its folders made absolute (a server changes its working directory)."""
    changes = {
        f.name: value.expanduser().absolute()
        for f in dataclasses.fields(settings)
        if isinstance(value := getattr(settings, f.name), Path)
    }
    return settings.replace(**changes)


def line(message: dict[str, Any]) -> bytes:
    """One message as a line of the wire."""
    return orjson.dumps(message) + b"\n"


def parse(raw: bytes) -> dict[str, Any]:
    """One line of the wire as a message; ``ValueError`` when it is not one."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a JSON line: {exc}") from None
    if not isinstance(message, dict):
        raise ValueError("a line of the wire is a JSON object")
    return message


# -- events, replies, models ---------------------------------------------------------------------


def event_to_json(event: Any) -> dict[str, Any]:
    return {"type": type(event).__name__, "fields": dataclasses.asdict(event)}


def event_from_json(data: dict[str, Any]) -> Any:
    cls = _EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown event type {data.get('type')!r}")
    return cls(**data["fields"])


def reply_to_json(reply: Reply) -> dict[str, Any]:
    return {
        "evaluation_session_id": reply.evaluation_session_id,
        "mode": str(reply.mode),
        "answers": [dataclasses.asdict(answer) for answer in reply.answers],
        "user_message_id": reply.user_message_id,
        "timings": dict(reply.timings),
        "battle_skipped": dataclasses.asdict(reply.battle_skipped)
        if reply.battle_skipped
        else None,
    }


def reply_from_json(data: dict[str, Any]) -> Reply:
    skipped = data.get("battle_skipped")
    return Reply(
        evaluation_session_id=data["evaluation_session_id"],
        mode=data["mode"],
        answers=[Answer(**answer) for answer in data["answers"]],
        user_message_id=data["user_message_id"],
        timings=dict(data.get("timings") or {}),
        battle_skipped=SkippedBattle(**skipped) if skipped else None,
    )


def model_to_json(model: Model | None) -> dict[str, Any] | None:
    return dataclasses.asdict(model) if model is not None else None


def model_from_json(data: dict[str, Any] | None) -> Model | None:
    return Model(**data) if data is not None else None


def mode_of(value: str) -> facts.Mode:
    return facts.Mode(value)


# -- failures ------------------------------------------------------------------------------------


class RelayedError(Exception):
    """An unexpected failure (a bug) inside a kept server; carries its class's name."""


def error_to_json(error: BaseException) -> dict[str, Any]:
    """A failure as a message: its class and everything the CLI shows or decides on."""
    if isinstance(error, LmArenaError):
        data: dict[str, Any] = {
            "class": type(error).__name__,
            "message": error.message,
            "detail": error.detail,
            "partial": error.partial,
            "kind": str(error.kind) if error.kind is not None else None,
            "advice": str(error.advice) if error.advice is not None else None,
        }
        for name in _ERROR_EXTRAS:
            if hasattr(error, name):
                data[name] = getattr(error, name)
        return data
    return {"class": type(error).__name__, "message": str(error), "unexpected": True}


def error_from_json(data: dict[str, Any]) -> Exception:
    """The failure a message describes: an instance of the same class of :mod:`errors`, with
    the same message, site's words, kind, partial answer and extras."""
    name = str(data.get("class") or "LmArenaError")
    cls = getattr(errors, name, None)
    if data.get("unexpected") or not (isinstance(cls, type) and issubclass(cls, LmArenaError)):
        # Shown as "unexpected error: <class>: <message>", exit 1, as in-process.
        relayed: type[RelayedError] = type(name, (RelayedError,), {})
        return relayed(str(data.get("message", "")))
    error: LmArenaError = cls.__new__(cls)
    kind, advice = str(data.get("kind")), str(data.get("advice"))
    LmArenaError.__init__(
        error,
        str(data.get("message", "")),
        detail=data.get("detail"),
        partial=str(data.get("partial") or ""),
        kind=ErrorKind(kind) if kind in ErrorKind._value2member_map_ else None,
        advice=Advice(advice) if advice in Advice._value2member_map_ else None,
    )
    for extra in _ERROR_EXTRAS:
        if extra in data:
            setattr(error, extra, data[extra])
    return error


# -- notices -------------------------------------------------------------------------------------


def record_to_json(record: logging.LogRecord) -> dict[str, Any]:
    """A notice of the library (a record of the ``lmarena`` logger) as a ``log`` message."""
    return {"t": "log", "name": record.name, "level": record.levelno, "msg": record.getMessage()}


def replay_record(data: dict[str, Any]) -> None:
    """Log a relayed notice again here, on the logger it was logged on."""
    name = str(data.get("name") or "lmarena")
    if not (name == "lmarena" or name.startswith("lmarena.")):
        name = "lmarena"
    level = data.get("level")
    logging.getLogger(name).log(
        level if isinstance(level, int) else logging.INFO, "%s", str(data.get("msg", ""))
    )


__all__ = [
    "PER_REQUEST",
    "WIRE_VERSION",
    "RelayedError",
    "absolute_paths",
    "error_from_json",
    "error_to_json",
    "event_from_json",
    "event_to_json",
    "fingerprint",
    "line",
    "mode_of",
    "model_from_json",
    "model_to_json",
    "parse",
    "record_to_json",
    "replay_record",
    "reply_from_json",
    "reply_to_json",
]

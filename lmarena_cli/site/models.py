"""The site's model list (protocol §3.2): rows in, :class:`Model` out, and picking one by name.

Rows come from the model catalog, from a page's ``initialModels`` (see :mod:`.pages`) or from the
site cache (``SiteState.models``); :func:`usable_models_from_rows` is how the cached rows become
the list a user picks from, for the library and the CLI alike.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ..errors import ErrorKind, ModelNotFound, ProtocolError
from . import facts
from .facts import Modality
from .ids import uuid7_timestamp_ms


@dataclass(frozen=True)
class Model:
    """One row of the site's model list (protocol §3.2).

    ``name`` is the public name users type (``publicName``, else ``displayName``, else ``name``);
    several rows may share it (checkpoints), :func:`usable_models` keeps one. ``raw`` is the row as
    the site sent it.
    """

    id: str
    name: str
    organization: str | None
    capabilities: dict[str, Any]
    user_selectable: bool
    rank: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    def _caps(self, direction: str) -> dict[str, Any]:
        caps = self.capabilities.get(direction)
        return caps if isinstance(caps, dict) else {}

    @property
    def takes_images(self) -> bool:
        """The model accepts image inputs (``inputCapabilities.image`` is true or an object)."""
        return _capable(self._caps("inputCapabilities").get("image"))

    @property
    def takes_files(self) -> bool:
        """The model takes PDF attachments (``inputCapabilities.file``, protocol §15.4)."""
        return _capable(self._caps("inputCapabilities").get("file"))

    @property
    def listed(self) -> bool:
        """Whether the site's own picker lists the row: it drops rows whose ``provider`` or
        ``organization`` is null, even when ``userSelectable`` is true (protocol §15.4). A row
        without those keys at all (older shapes, stealth models) is not dropped for it."""
        return all(
            key not in self.raw or self.raw[key] is not None for key in facts.PICKER_REQUIRED
        )

    @property
    def outputs_images(self) -> bool:
        """The model generates images (``outputCapabilities.image``)."""
        return _capable(self._caps("outputCapabilities").get("image"))

    @property
    def searches(self) -> bool:
        """The model is a search/grounding model (``outputCapabilities.search``)."""
        return _capable(self._caps("outputCapabilities").get("search"))

    @property
    def arenas(self) -> tuple[str, ...]:
        """The catalog's arenas that list the model (``text``, ``code``, ...); () when unknown."""
        arenas = self.raw.get("arenas")
        if not isinstance(arenas, list):
            return ()
        return tuple(a for a in arenas if isinstance(a, str))

    @property
    def chats(self) -> bool:
        """The model answers with something this tool can show: text, images or search results.

        Video-only or WebDev-only rows need arenas of their own (protocol §9.2, §14.4): so does a
        model that the catalog lists only in such arenas. A row that states no output
        capabilities at all is taken for a text model.
        """
        if self.arenas and all(a in facts.NON_CHAT_ARENAS for a in self.arenas):
            return False
        outputs = self.capabilities.get("outputCapabilities")
        if not isinstance(outputs, dict) or not outputs:
            return True
        return bool(outputs.get("text")) or self.outputs_images or self.searches

    @property
    def modality(self) -> Modality:
        """The ``modality`` a request to this model carries: "image", "search" or "chat"."""
        if self.outputs_images:
            return Modality.IMAGE
        if self.searches:
            return Modality.SEARCH
        return Modality.CHAT

    @property
    def rate_limited_until(self) -> float | None:
        """Until when (Unix time) the site rate-limits this model for this account: the row's
        ``rateLimitedUntil``, an ISO time (protocol §15.3); None when the row has none."""
        return _iso_time(self.raw.get(facts.RATE_LIMITED_UNTIL))

    def to_json(self) -> dict[str, Any]:
        """The model as the CLI's ``--json`` and the server's ``/v1/models`` describe it."""
        return {
            "name": self.name,
            "id": self.id,
            "organization": self.organization,
            "modality": str(self.modality),
            "takes_images": self.takes_images,
            "takes_files": self.takes_files,
            "outputs_images": self.outputs_images,
            "searches": self.searches,
            "user_selectable": self.user_selectable,
            "rank": self.rank,
            "capabilities": self.capabilities,
            "rate_limited_until": _iso_utc(self.rate_limited_until),
        }


def _iso_time(value: Any) -> float | None:
    """An ISO 8601 time (``2026-12-06T04:00:00.000Z``) as Unix time; None if it is not one (a
    time without zone is read as UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _iso_utc(when: float | None) -> str | None:
    """Unix time as ``2026-12-06T04:00:00Z``; None stays None."""
    if when is None:
        return None
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _capable(value: Any) -> bool:
    """A capability is on when the site says ``true`` or describes it with an object.

    Objects carry options (``{"requiresUpload": true}``, ``{"aspectRatios": [...]}``) whose keys
    are all optional (protocol §3.2): an empty ``{}`` still means "yes", though ``bool({})`` is
    false; but an object that says ``{"enabled": false}`` is off (``search``, protocol §15.4).
    """
    if isinstance(value, dict):
        return value.get("enabled") is not False
    return value is True or (isinstance(value, list) and bool(value))


def model_from_row(row: Any) -> Model | None:
    """A Model from one row of the site's list, or None when the row lacks an id or a name."""
    if not isinstance(row, dict):
        return None
    model_id = row.get("id")
    name = next(
        (row[k] for k in ("publicName", "displayName", "name") if isinstance(row.get(k), str)),
        "",
    ).strip()
    if not isinstance(model_id, str) or not model_id or not name:
        return None
    organization = row.get("organization")
    capabilities = row.get("capabilities")
    rank = row.get("rank")
    return Model(
        id=model_id,
        name=name,
        organization=organization if isinstance(organization, str) and organization else None,
        capabilities=capabilities if isinstance(capabilities, dict) else {},
        # A row that does not say is selectable: the site only marks the exceptions.
        user_selectable=row.get("userSelectable") is not False,
        rank=rank if isinstance(rank, int) and not isinstance(rank, bool) else None,
        raw=row,
    )


def models_from_rows(rows: Iterable[Any]) -> list[Model]:
    """Models from rows, once per id, in the order given."""
    seen: set[str] = set()
    models: list[Model] = []
    for row in rows:
        model = model_from_row(row)
        if model is not None and model.id not in seen:
            seen.add(model.id)
            models.append(model)
    return models


def models_from_catalog(data: Any) -> list[Model]:
    """Models from ``GET /nextjs-api/model-catalog``, once per id across arenas.

    The catalog is ``{"arenas": [{"arena", "complete", "models": [...]}]}`` (§14.4): a model
    listed in several arenas comes once, its row's ``arenas`` the names of all of them (which
    :attr:`Model.chats` reads). A bare list of arenas, a plain list of model rows and a
    ``{"models": [...]}`` object are read too. Entries that are not model rows (plain strings,
    rows without an id or a name) are skipped; what is no list at all raises ProtocolError.
    """
    if isinstance(data, dict):
        for key in ("arenas", "models", "data"):
            if isinstance(data.get(key), list):
                return models_from_catalog(data[key])
    if not isinstance(data, list):
        raise ProtocolError(
            "expected the model catalog as a JSON list of arenas with their models, but the site "
            f"sent {type(data).__name__}: {orjson.dumps(data)[:120].decode(errors='replace')}",
            kind=ErrorKind.UNEXPECTED,
        )
    rows: list[Any] = []
    arenas_of: dict[str, list[str]] = {}
    for item in data:
        if not (isinstance(item, dict) and isinstance(item.get("models"), list)):
            rows.append(item)  # a model row itself (the old flat shape), or junk skipped below
            continue
        arena = item.get("arena")
        for row in item["models"]:
            rows.append(row)
            if isinstance(arena, str) and isinstance(row, dict) and isinstance(row.get("id"), str):
                arenas_of.setdefault(row["id"], []).append(arena)
    return [_with_arenas(model, arenas_of.get(model.id, [])) for model in models_from_rows(rows)]


def _with_arenas(model: Model, arenas: list[str]) -> Model:
    """The model with the arenas that list it added to its row's own ``arenas``."""
    merged = list(dict.fromkeys([*model.arenas, *arenas]))
    if not arenas or merged == list(model.arenas):
        return model
    return model_from_row({**model.raw, "arenas": merged}) or model


def request_models(rows: Iterable[Any], body: Mapping[str, Any]) -> str | None:
    """The models a request body names (``modelAId``, ``modelBId``), by the names the rows give
    them (else their ids), joined with "and"; None when it names none (a battle, a follow-up)."""
    by_id = {row.get("id"): row for row in rows if isinstance(row, dict)}
    names = []
    for key in ("modelAId", "modelBId"):
        model_id = body.get(key)
        if isinstance(model_id, str) and model_id:
            model = model_from_row(by_id.get(model_id))
            names.append(model.name if model is not None else model_id)
    return " and ".join(names) or None


def _age_key(model: Model) -> int:
    # v4 ids (old models) carry no time: they count as older than any v7 id.
    stamp = uuid7_timestamp_ms(model.id)
    return -1 if stamp is None else stamp


def _best(rows: list[Model]) -> Model:
    """The row to use among rows of one name: selectable first, then one that chats (a name
    may also have a WebDev-only row), then the newest UUIDv7.

    ``max`` keeps the first of equal rows, so ties go to the site's own order.
    """
    return max(rows, key=lambda m: (m.user_selectable, m.chats, _age_key(m)))


def usable_models(models: list[Model]) -> list[Model]:
    """The models a user can pick: selectable rows only, one per name (the newest UUIDv7).

    Like the site's own picker, rows with a null ``provider`` or ``organization`` are left out
    (:attr:`Model.listed`, protocol §15.4).

    Names compare case-insensitively. The order is the site's: each name stands where its first
    row stood (the site lists by its own ranking, which ``lmarena models`` shows as is).
    """
    groups: dict[str, list[Model]] = {}
    for model in models:
        if model.user_selectable and model.listed:
            groups.setdefault(model.name.casefold(), []).append(model)
    return [_best(rows) for rows in groups.values()]


def usable_models_from_rows(rows: Iterable[Any]) -> list[Model]:
    """The models a user can pick among cached rows (``SiteState.models``).

    As :func:`usable_models`; rows that are not models (no id or no name) are skipped.
    """
    return usable_models([model for row in rows if (model := model_from_row(row)) is not None])


def resolve_model(name: str, models: list[Model]) -> Model:
    """The model a user means by ``name`` (case-insensitive), or by its id.

    Raises ModelNotFound with up to five suggestions: close spellings, then names containing it.
    """
    wanted = name.strip().casefold()
    matches = [m for m in models if m.name.casefold() == wanted]
    if not matches:
        matches = [m for m in models if m.id.casefold() == wanted]
    if matches:
        return _best(matches)
    raise ModelNotFound(name, _suggestions(wanted, models))


def _suggestions(wanted: str, models: list[Model]) -> list[str]:
    """Up to five names a user may have meant: close spellings, then names containing it."""
    if not wanted:
        return []
    by_folded: dict[str, str] = {}
    for model in models:
        by_folded.setdefault(model.name.casefold(), model.name)
    close = difflib.get_close_matches(wanted, list(by_folded), n=3)
    containing = [folded for folded in by_folded if wanted in folded]
    ordered = list(dict.fromkeys(close + containing))
    return [by_folded[folded] for folded in ordered[:5]]

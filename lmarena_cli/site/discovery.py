"""What the site's pages and scripts reveal: models, the reCAPTCHA site key, server action ids.

Pure functions over text the browser (or a plain GET) fetched; nothing here does I/O. The patterns
live in :mod:`site`. A Next.js page carries its React Server Components payload ("flight") as
``self.__next_f.push([1,"<JS string>"])`` scripts; decoding those strings and joining them gives
the flight rows, where the model list (``initialModels``) and the client components with their JS
chunks (``I[id,[chunks],"Evaluation"]``) are found.
"""

from __future__ import annotations

import difflib
import html as html_lib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from ..errors import ModelNotFound, ProtocolError
from . import facts
from .protocol import uuid7_timestamp_ms

# --- models ---------------------------------------------------------------------------------------


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
    def outputs_images(self) -> bool:
        """The model generates images (``outputCapabilities.image``)."""
        return _capable(self._caps("outputCapabilities").get("image"))

    @property
    def searches(self) -> bool:
        """The model is a search/grounding model (``outputCapabilities.search``)."""
        return _capable(self._caps("outputCapabilities").get("search"))

    @property
    def chats(self) -> bool:
        """The model answers with something this tool can show: text, images or search results.

        Video-only or WebDev-only rows need arenas of their own (protocol §9.2). A row that
        states no output capabilities at all is taken for a text model.
        """
        outputs = self.capabilities.get("outputCapabilities")
        if not isinstance(outputs, dict) or not outputs:
            return True
        return bool(outputs.get("text")) or self.outputs_images or self.searches

    @property
    def modality(self) -> str:
        """The ``modality`` a request to this model carries: "image", "search" or "chat"."""
        if self.outputs_images:
            return "image"
        if self.searches:
            return "search"
        return "chat"

    def to_json(self) -> dict[str, Any]:
        """The model as the CLI's ``--json`` and the server's ``/v1/models`` describe it."""
        return {
            "name": self.name,
            "id": self.id,
            "organization": self.organization,
            "modality": self.modality,
            "takes_images": self.takes_images,
            "outputs_images": self.outputs_images,
            "searches": self.searches,
            "user_selectable": self.user_selectable,
            "rank": self.rank,
            "capabilities": self.capabilities,
        }


def _capable(value: Any) -> bool:
    """A capability is on when the site says ``true`` or describes it with an object.

    Objects carry options (``{"requiresUpload": true}``, ``{"aspectRatios": [...]}``) whose keys
    are all optional (protocol §3.2): an empty ``{}`` still means "yes", though ``bool({})`` is
    false.
    """
    return value is True or isinstance(value, dict) or (isinstance(value, list) and bool(value))


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


def _models(rows: Iterable[Any]) -> list[Model]:
    """Models from rows, once per id, in the order given."""
    seen: set[str] = set()
    models: list[Model] = []
    for row in rows:
        model = model_from_row(row)
        if model is not None and model.id not in seen:
            seen.add(model.id)
            models.append(model)
    return models


def models_from_html(html: str) -> list[Model] | None:
    """The model list embedded in a page (``initialModels``); None when the page has none.

    Anonymous pages stopped embedding it in late 2026; the catalog endpoint is the other source.
    """
    rows = _find_models_value(flight_text(html))
    if rows is None:
        rows = _models_from_raw_html(html)
    return None if rows is None else _models(rows)


def _find_models_value(text: str) -> list[Any] | None:
    """The JSON array after ``"initialModels":`` in decoded text, read with a real JSON decoder."""
    decoder = json.JSONDecoder()
    key = f'"{facts.MODELS_KEY}":'
    start = text.find(key)
    while start != -1:
        index = start + len(key)
        while index < len(text) and text[index].isspace():
            index += 1
        value = _decode_at(decoder, text, index)
        if isinstance(value, str):
            value = _flight_reference(decoder, text, value)
        if isinstance(value, list):
            return value
        start = text.find(key, start + 1)
    return None


def _decode_at(decoder: json.JSONDecoder, text: str, index: int) -> Any:
    try:
        return decoder.raw_decode(text, index)[0]
    except json.JSONDecodeError:
        return None


_REFERENCE = re.compile(r"^\$@?([0-9a-fA-F]+)$")


def _flight_reference(decoder: json.JSONDecoder, text: str, value: str) -> Any:
    """The row a flight reference (``"$6"``, ``"$@6"``) points to: React moves shared or
    streamed-later values into rows of their own (``6:[...]``)."""
    match = _REFERENCE.match(value)
    if match is None:
        return None
    row = re.search(rf"(?:^|\n){match.group(1)}:", text)
    return None if row is None else _decode_at(decoder, text, row.end())


def _models_from_raw_html(html: str) -> list[Any] | None:
    """Fallback when the flight scripts could not be decoded: the escaped JSON in the raw HTML."""
    match = facts.MODELS_ESCAPED.search(html)
    if match is not None:
        value = _loads_maybe(js_unescape(match.group(1)))
        if isinstance(value, list):
            return value
    # A page that embeds the list unescaped (plain JSON in a script tag).
    return _find_models_value(html)


def _loads_maybe(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def models_from_catalog(data: Any) -> list[Model]:
    """Models from ``GET /nextjs-api/model-catalog``, deduplicated by id across arenas.

    The catalog is a list of ``{arena, complete, models[]}``; a plain list of model rows and a
    ``{"models": [...]}`` object are accepted too, in case the endpoint changes shape.
    """
    if isinstance(data, dict):
        for key in ("models", "data", "arenas"):
            if isinstance(data.get(key), list):
                return models_from_catalog(data[key])
    if not isinstance(data, list):
        raise ProtocolError(
            "expected the model catalog as a JSON list of arenas with their models, but the site "
            f"sent {type(data).__name__}: {orjson.dumps(data)[:120].decode(errors='replace')}",
            kind="unexpected",
        )
    rows: list[Any] = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("models"), list):
            rows.extend(item["models"])
        else:
            rows.append(item)
    return _models(rows)


def _age_key(model: Model) -> int:
    # v4 ids (old models) carry no time: they count as older than any v7 id.
    stamp = uuid7_timestamp_ms(model.id)
    return -1 if stamp is None else stamp


def _best(rows: list[Model]) -> Model:
    """The row to use among rows of one name: selectable first, then the newest UUIDv7.

    ``max`` keeps the first of equal rows, so ties go to the site's own order.
    """
    return max(rows, key=lambda m: (m.user_selectable, _age_key(m)))


def usable_models(models: list[Model]) -> list[Model]:
    """The models a user can pick: selectable rows only, one per name (the newest UUIDv7).

    Names compare case-insensitively. The order is the site's: each name stands where its first
    row stood (the site lists by its own ranking, which ``lmarena models`` shows as is).
    """
    groups: dict[str, list[Model]] = {}
    for model in models:
        if model.user_selectable:
            groups.setdefault(model.name.casefold(), []).append(model)
    return [_best(rows) for rows in groups.values()]


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
    if not wanted:
        return []
    by_folded: dict[str, str] = {}
    for model in models:
        by_folded.setdefault(model.name.casefold(), model.name)
    close = difflib.get_close_matches(wanted, list(by_folded), n=3)
    containing = [folded for folded in by_folded if wanted in folded]
    ordered = list(dict.fromkeys(close + containing))
    return [by_folded[folded] for folded in ordered[:5]]


# --- flight payload -------------------------------------------------------------------------------

_HEX_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def js_unescape(literal: str) -> str | None:
    """The value of a double-quoted JS string literal's body, or None when it is not one.

    Next.js writes these with JSON.stringify (plus ``\\u003c``-style escapes), so JSON decoding
    reads them; ``\\x41`` and ``\\'`` are JS-only escapes, rewritten first should they appear.
    The stdlib decoder is used for ``strict=False``: JS allows raw tabs that strict JSON refuses.
    """
    for candidate in (literal, _HEX_ESCAPE.sub(r"\\u00\1", literal).replace("\\'", "'")):
        try:
            value = json.loads(f'"{candidate}"', strict=False)
        except json.JSONDecodeError:
            continue
        if isinstance(value, str):
            return value
    return None


def flight_text(html: str) -> str:
    """The page's RSC flight payload: every ``self.__next_f.push([1,"..."])`` string, decoded
    and joined in page order (a row may be split across two pushes)."""
    parts = (js_unescape(m.group(1)) for m in facts.FLIGHT_PUSH.finditer(html))
    return "".join(part for part in parts if part is not None)


# --- site key, chunks, actions --------------------------------------------------------------------


def find_site_key(html: str) -> str | None:
    """The reCAPTCHA site key of a page: ``enterprise.js?render=<key>`` or ``execute("<key>"``.

    Searched in the raw HTML and in the decoded flight text (where quotes are not escaped).
    """
    for text in (html, flight_text(html)):
        for pattern in facts.SITE_KEY_PATTERNS:
            match = pattern.search(text)
            if match is not None:
                return match.group(1)
    return None


def _chunk_path(path: str) -> str | None:
    """``static/chunks/x.js`` (flight) or a script URL → ``/_next/static/chunks/x.js``."""
    path = html_lib.unescape(path.strip())
    if "://" in path or path.startswith("//"):
        parts = urlsplit(path)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    if path.startswith("/_next/"):
        return path
    if path.startswith("static/"):
        return "/_next/" + path
    if path.startswith("_next/"):
        return "/" + path
    return None


def _component_chunks(text: str) -> list[tuple[str, list[str]]]:
    """(component name, chunk paths) for every client-component row of the flight text."""
    rows: list[tuple[str, list[str]]] = []
    for match in facts.FLIGHT_COMPONENT_ROW.finditer(text):
        items = _loads_maybe(match.group(1))
        if not isinstance(items, list):
            continue
        # Webpack lists [id, path, id, path, ...]; other bundlers list paths only. Paths are the
        # strings ending in .js either way.
        paths = [p for item in items if isinstance(item, str) and (p := _chunk_path(item))]
        rows.append((match.group(2), [p for p in paths if ".js" in p]))
    return rows


def chunk_paths(html: str) -> list[str]:
    """The page's JS chunk paths (``/_next/static/chunks/...``, relative to the site origin).

    Chunks of the components that hold the chat's server actions (``Evaluation``) come first,
    then those of the other components, then the page's script tags; no path twice.
    """
    rows = _component_chunks(flight_text(html))
    if not rows:  # undecodable flight scripts: read the escaped rows with their quotes restored
        rows = _component_chunks(html.replace('\\"', '"'))
    wanted = [paths for name, paths in rows if name in facts.ACTION_COMPONENTS]
    others = [paths for name, paths in rows if name not in facts.ACTION_COMPONENTS]
    scripts = [p for m in facts.SCRIPT_SRC.finditer(html) if (p := _chunk_path(m.group(1)))]
    ordered = [p for group in wanted + others for p in group] + [
        p for p in scripts if p.startswith("/_next/static/chunks/")
    ]
    return list(dict.fromkeys(ordered))


def find_actions(js: str) -> dict[str, str]:
    """Server action ids by name (``{"generateUploadUrl": "<42 hex>", ...}``) from a JS chunk.

    The first id seen for a name wins: one chunk never registers a name twice.
    """
    actions: dict[str, str] = {}
    for match in facts.SERVER_REFERENCE.finditer(js):
        actions.setdefault(match.group(2), match.group(1))
    return actions


# --- a conversation's page ------------------------------------------------------------------------


def message_models(html: str, message_ids: dict[str, str]) -> dict[str, str]:
    """Which model wrote each of our messages, as a conversation's page (``/c/{id}``) shows it.

    A battle hides its models while it runs; the site reveals them by showing the conversation
    with each assistant message's ``modelId``. ``message_ids`` maps a side ("a", "b") to the
    message id we sent; the answer maps the sides found to their model ids.
    """
    text = flight_text(html) or html
    decoder = json.JSONDecoder(strict=False)
    found: dict[str, str] = {}
    for side, message_id in message_ids.items():
        for match in re.finditer(re.escape(f'"{message_id}"'), text):
            start = text.rfind("{", 0, match.start())
            while start >= 0 and start > match.start() - 4096:
                try:
                    value, _ = decoder.raw_decode(text, start)
                except json.JSONDecodeError:
                    start = text.rfind("{", 0, start)
                    continue
                if isinstance(value, dict) and value.get("id") == message_id:
                    model_id = value.get("modelId")
                    if isinstance(model_id, str) and model_id:
                        found[side] = model_id
                break
            if side in found:
                break
    return found

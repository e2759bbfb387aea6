"""What the site's pages and scripts reveal: the model list, the reCAPTCHA site key, JS chunks,
server action ids, and which model wrote which message of a conversation.

Pure functions over text the browser (or a plain GET) fetched; nothing here does I/O. The patterns
live in :mod:`.facts`. A Next.js page carries its React Server Components payload ("flight") as
``self.__next_f.push([1,"<JS string>"])`` scripts; decoding those strings and joining them gives
the flight rows, where the model list (``initialModels``) and the client components with their JS
chunks (``I[id,[chunks],"Evaluation"]``) are found.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from typing import Any
from urllib.parse import urlsplit

from . import facts
from .decode import loads_or_none
from .models import Model, model_from_row, models_from_rows

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
    if path.startswith(facts.NEXT_ASSETS):
        return path
    if path.startswith("static/"):
        return facts.NEXT_ASSETS + path
    if path.startswith(facts.NEXT_ASSETS.lstrip("/")):
        return "/" + path
    return None


def _component_chunks(text: str) -> list[tuple[str, list[str]]]:
    """(component name, chunk paths) for every client-component row of the flight text."""
    rows: list[tuple[str, list[str]]] = []
    for match in facts.FLIGHT_COMPONENT_ROW.finditer(text):
        items = loads_or_none(match.group(1))
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
        p for p in scripts if p.startswith(facts.CHUNK_DIR)
    ]
    return list(dict.fromkeys(ordered))


def find_actions(js: str) -> dict[str, str]:
    """Server action ids by name (``{"generateUploadUrl": "<42 hex>", ...}``) from a JS chunk.

    The usual pattern first: ``createServerReference("<id>", ..., "<name>")``. When it finds
    nothing (the site is a Turbopack build, protocol §15.4, whose chunks may reach that function
    through a mangled export and leave out the name argument), two fallbacks, in order:

    1. *the call's shape*: any call whose first argument is an action id (40+ hex digits) and
       whose last argument is a name, whatever the function is called;
    2. *the export table*: a local bound to a call whose first argument is an action id
       (``i=(0,t.s)("<id>",...)``), named by the module's exports: Turbopack's
       ``e.s(["<name>",()=>i,...])`` or webpack's ``a.d(t,{<name>:()=>i})``.

    The first id seen for a name wins: one chunk never registers a name twice.
    """
    actions: dict[str, str] = {}
    for match in facts.SERVER_REFERENCE.finditer(js):
        actions.setdefault(match.group(2), match.group(1))
    if actions:
        return actions
    for match in facts.SERVER_REFERENCE_CALL.finditer(js):
        actions.setdefault(match.group(2), match.group(1))
    bound = {local: action_id for local, action_id in facts.SERVER_REFERENCE_BINDING.findall(js)}
    for quoted, bare, local in facts.EXPORT_GETTER.findall(js):
        if local in bound:
            actions.setdefault(quoted or bare, bound[local])
    return actions


def is_turbopack(js: str) -> bool:
    """Whether a JS chunk comes from a Turbopack build (``globalThis.TURBOPACK``, §15.4)."""
    return facts.TURBOPACK_MARK in js


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


# --- the model list in a page ---------------------------------------------------------------------


def models_from_html(html: str) -> list[Model] | None:
    """The model list embedded in a page (``initialModels``); None when the page has none.

    Anonymous pages stopped embedding it in late 2026; the catalog endpoint is the other source.
    """
    rows = _find_models_value(flight_text(html))
    if rows is None:
        rows = _models_from_raw_html(html)
    return None if rows is None else models_from_rows(rows)


def _find_models_value(text: str) -> list[Any] | None:
    """The JSON array after ``"initialModels":`` in decoded text, read with a real JSON decoder.

    A signed-in page may embed several such arrays, some of whose rows carry an id and no name
    (protocol §15.4): the one with the most named rows wins (the first of equals).
    """
    decoder = json.JSONDecoder()
    key = f'"{facts.MODELS_KEY}":'
    found: list[list[Any]] = []
    start = text.find(key)
    while start != -1:
        index = start + len(key)
        while index < len(text) and text[index].isspace():
            index += 1
        value = _decode_at(decoder, text, index)
        if isinstance(value, str):
            value = _flight_reference(decoder, text, value)
        if isinstance(value, list):
            found.append(value)
        start = text.find(key, start + 1)
    return max(found, key=_named_rows) if found else None


def _named_rows(rows: list[Any]) -> int:
    """How many rows of a model array are models with a name (see :func:`model_from_row`)."""
    return sum(1 for row in rows if model_from_row(row) is not None)


def _decode_at(decoder: json.JSONDecoder, text: str, index: int) -> Any:
    try:
        return decoder.raw_decode(text, index)[0]
    except json.JSONDecodeError:
        return None


def _flight_reference(decoder: json.JSONDecoder, text: str, value: str) -> Any:
    """The row a flight reference (``"$6"``, ``"$@6"``) points to: React moves shared or
    streamed-later values into rows of their own (``6:[...]``)."""
    match = facts.FLIGHT_REFERENCE.match(value)
    if match is None:
        return None
    row = re.search(rf"(?:^|\n){match.group(1)}:", text)
    return None if row is None else _decode_at(decoder, text, row.end())


def _models_from_raw_html(html: str) -> list[Any] | None:
    """Fallback when the flight scripts could not be decoded: the escaped JSON in the raw HTML."""
    arrays = [
        value
        for match in facts.MODELS_ESCAPED.finditer(html)
        if isinstance(value := loads_or_none(js_unescape(match.group(1))), list)
    ]
    if arrays:
        return max(arrays, key=_named_rows)
    # A page that embeds the list unescaped (plain JSON in a script tag).
    return _find_models_value(html)

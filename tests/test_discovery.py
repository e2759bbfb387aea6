"""Discovery: models, site key, JS chunks and server action ids from the site's pages."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from lmarena_cli import errors
from lmarena_cli.site.facts import Modality
from lmarena_cli.site.models import (
    Model,
    model_from_row,
    models_from_catalog,
    resolve_model,
    usable_models,
    usable_models_from_rows,
)
from lmarena_cli.site.pages import (
    chunk_paths,
    find_actions,
    find_site_key,
    js_unescape,
    models_from_html,
)

SITE_KEY = "6LeTGMcsAAAAALuIlkVwIxaAuZA8VledA6d3Nnb0"
UPLOAD_ID = "40" + "a1" * 20
SIGNED_ID = "60" + "b2" * 20

# Ids: v7 ids carry their creation time, so the later "gemini-3-pro" row is the newer one.
GEMINI_OLD = "019a98f7-afcd-779f-8dcb-856cc3b3f078"
GEMINI_NEW = "019b0000-0000-7000-8000-000000000001"
OLD_V4 = "0f6d1c1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"

ROWS: list[dict[str, Any]] = [
    {
        "id": GEMINI_OLD,
        "publicName": "gemini-3-pro",
        "name": "fiercefalcon",
        "displayName": "gemini-3-pro",
        "organization": "google",
        "provider": "googleVertexGlobal",
        "capabilities": {
            "inputCapabilities": {"text": True, "image": True, "file": True},
            "outputCapabilities": {"text": True, "web": True},
        },
        "userSelectable": True,
        "rank": 1,
        "rankByModality": {"chat": 1, "webdev": 4},
    },
    {
        "id": "019a0000-1111-7222-8333-444455556666",
        "publicName": "claude-opus-4-5",
        "name": "claude-opus-4-5-20251101",
        "organization": "anthropic",
        "provider": "anthropic",
        "capabilities": {
            "inputCapabilities": {"text": True, "image": {"requiresUpload": False}},
            "outputCapabilities": {"text": True},
        },
        "rank": 2,
    },
    {
        "id": GEMINI_NEW,
        "publicName": "gemini-3-pro",
        "name": "gemini-3-pro-2",
        "organization": "google",
        "provider": "googleVertexGlobal",
        "capabilities": {
            "inputCapabilities": {"text": True, "image": True},
            "outputCapabilities": {"text": True},
        },
        "userSelectable": True,
    },
    {
        "id": OLD_V4,
        "displayName": "flux-1.1-pro",
        "name": "flux",
        "organization": "",
        "provider": "bfl",
        "capabilities": {
            "inputCapabilities": {"text": True, "image": False},
            "outputCapabilities": {"image": {"aspectRatios": ["1:1"]}},
        },
        "userSelectable": True,
    },
    {
        "id": "019a1111-2222-7333-8444-555566667777",
        "publicName": "ppl-sonar-pro",
        "name": "sonar",
        "provider": "perplexity",
        "capabilities": {
            "inputCapabilities": {"text": True},
            "outputCapabilities": {"text": True, "search": True},
        },
        "userSelectable": True,
        "description": 'says "hi" </script><script>alert(1)</script> ünïcode 🚀',
    },
    {
        "id": "019a2222-3333-7444-8555-666677778888",
        "publicName": "secret-model",
        "name": "secret",
        "capabilities": {
            "inputCapabilities": {"text": True},
            "outputCapabilities": {"text": True},
        },
        "userSelectable": False,
    },
]


def js_string(text: str) -> str:
    """How Next.js writes flight text into a script: a JSON string with ``<`` escaped."""
    return orjson.dumps(text).decode().replace("<", "\\u003c")


def page(rows: list[dict[str, Any]] | None = ROWS, *, split_at: int = 300) -> str:
    """A chat page shaped like arena.ai's: script tags, render key, flight pushes."""
    props: dict[str, Any] = {}
    if rows is not None:
        props = {"initialModels": rows, "initialModelAId": rows[0]["id"], "initialModelBId": None}
    flight = (
        '1:"$Sreact.fragment"\n'
        '2:I[87921,["4bd1b696","static/chunks/4bd1b696-aa.js","1684","static/chunks/1684-bb.js",'
        '"7177","static/chunks/app/layout-cc.js"],"Providers"]\n'
        '3:I[52817,["1684","static/chunks/1684-bb.js","9731","static/chunks/app/page-dd.js"],'
        '"Evaluation"]\n'
        "4:" + orjson.dumps(["$", "$L3", None, props]).decode() + "\n"
        '0:{"P":null,"b":"build1","p":"","c":["",""],"i":false}\n'
    )
    # Next streams the payload in pieces; a row (here: the model list) may span two pushes.
    pieces = [flight[:split_at], flight[split_at:]]
    pushes = "".join(f"<script>self.__next_f.push([1,{js_string(p)}])</script>" for p in pieces)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/>'
        '<link rel="preload" as="script" href="/_next/static/chunks/webpack-ee.js"/>'
        '<script src="/_next/static/chunks/webpack-ee.js" async=""></script>'
        '<script src="https://arena.ai/_next/static/chunks/main-app-ff.js?dpl=dpl_1&amp;x=1" '
        'async=""></script>'
        '<script src="/_next/static/chunks/app/page-dd.js" async=""></script>'
        f'<script src="https://www.google.com/recaptcha/enterprise.js?render={SITE_KEY}" '
        'async=""></script>'
        "<title>LMArena</title></head><body><main></main>"
        "<script>(self.__next_f=self.__next_f||[]).push([0])</script>"
        f"{pushes}</body></html>"
    )


# --- models ---------------------------------------------------------------------------------------


def test_models_are_read_from_the_escaped_flight_payload_of_a_page() -> None:
    models = models_from_html(page())
    assert models is not None
    assert [m.id for m in models] == [row["id"] for row in ROWS]
    sonar = models[4]
    assert sonar.raw["description"] == ROWS[4]["description"]


@pytest.mark.parametrize("split_at", [1, 120, 400, 700, 1500])
def test_models_are_found_wherever_the_payload_is_split(split_at: int) -> None:
    models = models_from_html(page(split_at=split_at))
    assert models is not None and len(models) == len(ROWS)


def test_models_behind_a_flight_reference_are_followed() -> None:
    flight = (
        '3:["$","$L2",null,{"initialModels":"$a","initialModelAId":"x"}]\n'
        "a:" + orjson.dumps(ROWS[:2]).decode() + "\n"
    )
    html = f"<script>self.__next_f.push([1,{js_string(flight)}])</script>"
    models = models_from_html(html)
    assert models is not None and [m.name for m in models] == ["gemini-3-pro", "claude-opus-4-5"]


def test_a_page_without_a_model_list_gives_none() -> None:
    assert models_from_html(page(None)) is None
    undefined = '4:["$","$L3",null,{"initialModels":"$undefined"}]\n'
    assert (
        models_from_html(f"<script>self.__next_f.push([1,{js_string(undefined)}])</script>") is None
    )
    assert models_from_html("<html><title>Just a moment...</title></html>") is None


def test_models_fall_back_to_the_raw_html_when_flight_scripts_are_unusual() -> None:
    # A push whose string has a JS-only escape the JSON decoder refuses as is (\x41) still reads,
    # and a page whose pushes are wrapped differently is read by the raw-HTML pattern.
    escaped = js_string(orjson.dumps({"initialModels": ROWS[:2], "initialModelAId": "x"}).decode())
    odd = f'<script>self.__next_f.push([1, {escaped}, "extra"])</script>'
    models = models_from_html(odd)
    assert models is not None and [m.name for m in models] == ["gemini-3-pro", "claude-opus-4-5"]
    hexed = '<script>self.__next_f.push([1,"\\x41"])</script>' + page()
    assert models_from_html(hexed) is not None


def test_js_unescape_reads_js_only_escapes() -> None:
    assert js_unescape("\\x41\\'b\\u003c") == "A'b<"
    assert js_unescape("broken \\q") is None


def test_model_fields_follow_the_site_rows() -> None:
    models = models_from_html(page())
    assert models is not None
    gemini, claude, _, flux, sonar, secret = models
    assert (gemini.name, gemini.organization, gemini.rank) == ("gemini-3-pro", "google", 1)
    assert gemini.takes_images and not gemini.outputs_images and gemini.modality is Modality.CHAT
    assert claude.takes_images  # an object counts as "yes"
    assert claude.user_selectable  # missing userSelectable means selectable
    assert flux.name == "flux-1.1-pro"  # no publicName: displayName
    assert flux.organization is None  # empty organization: stealth model
    assert not flux.takes_images and flux.outputs_images and flux.modality is Modality.IMAGE
    assert sonar.searches and sonar.modality is Modality.SEARCH and sonar.organization is None
    assert not secret.user_selectable


def test_model_to_json_describes_the_model_for_scripts() -> None:
    model = model_from_row(ROWS[3])
    assert model is not None
    data = model.to_json()
    assert data["name"] == "flux-1.1-pro" and data["id"] == OLD_V4
    assert data["modality"] == "image" and data["takes_images"] is False
    assert orjson.loads(orjson.dumps(data)) == data


def test_rows_without_id_or_name_are_skipped() -> None:
    assert model_from_row({"publicName": "x"}) is None
    assert model_from_row({"id": "abc"}) is None
    assert model_from_row("not a row") is None


def test_catalog_arenas_are_merged_without_duplicates() -> None:
    catalog = [
        {"arena": "text", "complete": True, "models": [ROWS[0], ROWS[1]]},
        {"arena": "vision", "complete": True, "models": [ROWS[1], ROWS[2]]},
        {"arena": "text-to-image", "complete": False, "models": [ROWS[3]]},
    ]
    assert [m.id for m in models_from_catalog(catalog)] == [r["id"] for r in ROWS[:4]]


def test_catalog_as_a_plain_list_or_an_object_is_accepted() -> None:
    assert len(models_from_catalog(ROWS)) == len(ROWS)
    assert len(models_from_catalog({"models": ROWS})) == len(ROWS)


def test_catalog_of_an_unknown_shape_says_what_came() -> None:
    with pytest.raises(errors.ProtocolError, match="expected the model catalog"):
        models_from_catalog({"error": "nope"})


def test_usable_models_keep_one_selectable_row_per_name_in_site_order() -> None:
    models = models_from_catalog(ROWS)
    usable = usable_models(models)
    assert [m.name for m in usable] == [
        "gemini-3-pro",
        "claude-opus-4-5",
        "flux-1.1-pro",
        "ppl-sonar-pro",
    ]
    assert usable[0].id == GEMINI_NEW  # the newest UUIDv7 of the two gemini rows


def test_cached_rows_give_the_same_usable_models_as_the_catalog() -> None:
    # What `Client.list_models` and `lmarena models` read from the site cache (SiteState.models).
    cached = [model.raw for model in models_from_catalog(ROWS)]
    from_cache = usable_models_from_rows([*cached, {"id": "no-name"}, "not a row"])
    assert from_cache == usable_models(models_from_catalog(ROWS))
    assert [m.name for m in from_cache] == [
        "gemini-3-pro",
        "claude-opus-4-5",
        "flux-1.1-pro",
        "ppl-sonar-pro",
    ]
    assert from_cache[0].id == GEMINI_NEW
    assert usable_models_from_rows([]) == []


def test_v4_ids_count_as_older_than_v7_ids() -> None:
    rows = [
        {**ROWS[0], "id": GEMINI_OLD},
        {**ROWS[0], "id": OLD_V4},
    ]
    assert usable_models(models_from_catalog(rows))[0].id == GEMINI_OLD


def test_resolve_model_ignores_case_and_accepts_an_id() -> None:
    models = usable_models(models_from_catalog(ROWS))
    assert resolve_model("Gemini-3-Pro", models).id == GEMINI_NEW
    assert resolve_model(OLD_V4.upper(), models).name == "flux-1.1-pro"


def test_resolve_model_over_all_rows_prefers_the_newest_selectable_one() -> None:
    assert resolve_model("gemini-3-pro", models_from_catalog(ROWS)).id == GEMINI_NEW


def test_unknown_model_suggests_close_names() -> None:
    models = usable_models(models_from_catalog(ROWS))
    with pytest.raises(errors.ModelNotFound) as caught:
        resolve_model("gemini-3-prp", models)
    assert caught.value.suggestions == ["gemini-3-pro"]
    assert "did you mean: gemini-3-pro?" in str(caught.value)


def test_unknown_model_suggests_names_containing_it() -> None:
    models = usable_models(models_from_catalog(ROWS))
    with pytest.raises(errors.ModelNotFound) as caught:
        resolve_model("sonar", models)
    assert caught.value.suggestions == ["ppl-sonar-pro"]


def test_unknown_model_without_anything_close_points_to_the_list() -> None:
    with pytest.raises(errors.ModelNotFound, match="lmarena models"):
        resolve_model("zzzzzzzz", usable_models(models_from_catalog(ROWS)))


def test_unselectable_models_are_not_usable() -> None:
    with pytest.raises(errors.ModelNotFound):
        resolve_model("secret-model", usable_models(models_from_catalog(ROWS)))


# --- site key -------------------------------------------------------------------------------------


def test_site_key_comes_from_the_recaptcha_script_url() -> None:
    assert find_site_key(page()) == SITE_KEY


def test_site_key_comes_from_an_execute_call_in_js() -> None:
    js = (
        'async function u(){return await grecaptcha.enterprise.execute("'
        + SITE_KEY
        + '",{action:"chat_submit"})}'
    )
    assert find_site_key(js) == SITE_KEY


def test_site_key_is_none_when_the_page_has_none() -> None:
    assert (
        find_site_key('<script src="https://www.google.com/recaptcha/api.js?render=explicit">')
        is None
    )


# --- chunks ---------------------------------------------------------------------------------------


def test_chunk_paths_list_the_evaluation_chunks_first_without_duplicates() -> None:
    assert chunk_paths(page()) == [
        "/_next/static/chunks/1684-bb.js",
        "/_next/static/chunks/app/page-dd.js",
        "/_next/static/chunks/4bd1b696-aa.js",
        "/_next/static/chunks/app/layout-cc.js",
        "/_next/static/chunks/webpack-ee.js",
        "/_next/static/chunks/main-app-ff.js?dpl=dpl_1&x=1",
    ]


def test_chunk_paths_read_escaped_rows_when_the_pushes_cannot_be_decoded() -> None:
    html = (
        '<script>self.__next_f.push([1,"3:I[52817,[\\"9731\\",\\"static/chunks/app/page-x.js\\"],'
        '\\"Evaluation\\"]\\n\\q"])</script>'  # \q: not a valid escape anywhere
    )
    assert chunk_paths(html) == ["/_next/static/chunks/app/page-x.js"]


def test_chunk_paths_accept_path_only_chunk_lists() -> None:
    row = '5:I["abc",["static/chunks/x.js"],"Evaluation"]\n'
    html = f"<script>self.__next_f.push([1,{js_string(row)}])</script>"
    assert chunk_paths(html) == ["/_next/static/chunks/x.js"]


# --- actions --------------------------------------------------------------------------------------


def test_actions_are_found_in_a_minified_chunk() -> None:
    js = (
        "(self.webpackChunk_N_E=self.webpackChunk_N_E||[]).push([[9731],"
        '{52817:(e,t,a)=>{"use strict";'
        f'var c=a(34477);let i=(0,c.createServerReference)("{UPLOAD_ID}",c.callServer,void 0,'
        f'c.findSourceMapURL,"generateUploadUrl"),j=(0,c.createServerReference)("{SIGNED_ID}",'
        'c.callServer,void 0,c.findSourceMapURL,"getSignedUrl");}}]);'
    )
    assert find_actions(js) == {"generateUploadUrl": UPLOAD_ID, "getSignedUrl": SIGNED_ID}


def test_actions_are_found_in_an_unwrapped_call() -> None:
    js = (
        f'createServerReference("{UPLOAD_ID}", callServer, void 0, findSourceMapURL, '
        '"generateUploadUrl")'
    )
    assert find_actions(js) == {"generateUploadUrl": UPLOAD_ID}


def test_short_ids_are_not_actions() -> None:
    js = '(0,c.createServerReference)("abc123",c.callServer,void 0,c.findSourceMapURL,"x")'
    assert find_actions(js) == {}


def test_model_dataclass_is_frozen() -> None:
    model = model_from_row(ROWS[0])
    assert isinstance(model, Model)
    with pytest.raises(AttributeError):
        model.name = "other"  # type: ignore[misc]


# --- against the fake site over HTTP ------------------------------------------------------------


async def test_everything_is_discovered_from_the_fake_sites_real_pages() -> None:
    import aiohttp

    from tests.fake_arena import FakeArena

    async with FakeArena(challenge=False) as arena, aiohttp.ClientSession() as http:
        async with http.get(arena.url + "/") as response:
            html = await response.text()
        models = models_from_html(html)
        assert models is not None
        assert {m.id for m in models} == {m.id for m in arena.models}
        assert find_site_key(html) == arena.site_key
        actions: dict[str, str] = {}
        for path in chunk_paths(html):
            assert path.startswith("/_next/static/chunks/")
            async with http.get(arena.url + path) as response:
                assert response.status == 200, path
                actions.update(find_actions(await response.text()))
        assert actions == arena.action_ids
        async with http.get(arena.url + "/nextjs-api/model-catalog") as response:
            catalog = models_from_catalog(await response.json())
        assert {m.id for m in catalog} == {m.id for m in models}


@pytest.mark.parametrize(
    "outputs, chats",
    [
        ({"text": True}, True),
        ({"image": {"aspectRatios": ["1:1"]}}, True),
        ({"text": True, "search": True}, True),
        ({"video": True}, False),
        ({"web": True}, False),
        (None, True),  # a row that states no outputs is taken for a text model
    ],
)
def test_only_models_that_answer_in_text_images_or_search_count_as_chat_models(
    outputs: dict[str, Any] | None, chats: bool
) -> None:
    capabilities: dict[str, Any] = {"inputCapabilities": {"text": True}}
    if outputs is not None:
        capabilities["outputCapabilities"] = outputs
    model = model_from_row(
        {
            "id": "019a98f7-afcd-779f-8dcb-856cc3b3f078",
            "publicName": "m",
            "capabilities": capabilities,
        }
    )
    assert model is not None and model.chats is chats

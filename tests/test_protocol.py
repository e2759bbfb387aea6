"""The wire format: UUIDv7, the stream parser, request bodies, action replies, error answers."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

import orjson
import pytest

from lmarena_cli import errors
from lmarena_cli.cli.advice import say as cli_words
from lmarena_cli.server.advice import say as serve_words
from lmarena_cli.site.actions import parse_action_reply
from lmarena_cli.site.bodies import MessageIds, create_evaluation_body, post_to_evaluation_body
from lmarena_cli.site.classify import error_from_response, error_from_stream, parse_retry_after
from lmarena_cli.site.events import (
    Citation,
    Event,
    Finish,
    Heartbeat,
    ImageOutput,
    MessageStart,
    RawEvent,
    ReasoningDelta,
    StreamError,
    TextDelta,
)
from lmarena_cli.site.facts import Modality, Mode
from lmarena_cli.site.ids import is_uuid, is_uuid7, uuid7, uuid7_timestamp_ms
from lmarena_cli.site.stream import StreamParser
from tests.fake_arena.replies import MISSING_USER_MESSAGE

# --- UUIDv7 ---------------------------------------------------------------------------------------


def test_uuid7_has_the_canonical_shape_version_and_variant() -> None:
    for _ in range(200):
        value = uuid7()
        assert len(value) == 36
        assert [len(p) for p in value.split("-")] == [8, 4, 4, 4, 12]
        assert value == value.lower()
        assert value[14] == "7"
        assert value[19] in "89ab"
        assert is_uuid7(value)


def test_uuid7_carries_the_current_time_in_milliseconds_and_never_goes_back() -> None:
    before = int(time.time() * 1000)
    stamps = [uuid7_timestamp_ms(uuid7()) or 0 for _ in range(500)]
    after = int(time.time() * 1000)
    assert all(before - 1 <= s <= after + 1 for s in stamps)
    assert stamps == sorted(stamps)


def test_uuid7_values_are_distinct() -> None:
    assert len({uuid7() for _ in range(2000)}) == 2000


@pytest.mark.parametrize(
    "value",
    [
        "0f6d1c1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f",  # v4
        "019a98f7-afcd-779f-cdcb-856cc3b3f078",  # variant 110
        "019a98f7afcd779f8dcb856cc3b3f078",  # no dashes
        "019a98f7-afcd-779f-8dcb-856cc3b3f07",  # short
        "",
    ],
)
def test_is_uuid7_refuses_other_ids(value: str) -> None:
    assert not is_uuid7(value)


def test_is_uuid7_accepts_a_site_model_id() -> None:
    assert is_uuid7("019a98f7-afcd-779f-8dcb-856cc3b3f078")
    assert uuid7_timestamp_ms("019a98f7-afcd-779f-8dcb-856cc3b3f078") == 0x019A98F7AFCD


@pytest.mark.parametrize(
    "value",
    [
        "0f6d1c1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f",  # v4: old conversations and models
        "019a98f7-afcd-779f-8dcb-856cc3b3f078",
        "019A98F7-AFCD-779F-8DCB-856CC3B3F078",
        "00000000-0000-0000-0000-000000000000",
    ],
)
def test_is_uuid_accepts_any_version_in_either_case(value: str) -> None:
    assert is_uuid(value)


@pytest.mark.parametrize(
    "value",
    [
        "019a98f7afcd779f8dcb856cc3b3f078",  # no dashes
        "019a98f7-afcd-779f-8dcb-856cc3b3f07",  # short
        "019a98f7-afcd-779f-8dcb-856cc3b3f078\n",  # a pasted line keeps its newline
        "019a98f7-afcd-779f-8dcb-856cc3b3f07g",
        "{019a98f7-afcd-779f-8dcb-856cc3b3f078}",
        "gemini-3-pro",
        "",
    ],
)
def test_is_uuid_refuses_anything_else(value: str) -> None:
    assert not is_uuid(value)


def test_fresh_message_ids_are_three_distinct_uuid7s_every_time() -> None:
    first, second = MessageIds.fresh(), MessageIds.fresh()
    ids = [first.user, first.model_a, first.model_b, second.user, second.model_a, second.model_b]
    assert len(set(ids)) == 6
    assert all(is_uuid7(i) for i in ids)


# --- stream parser --------------------------------------------------------------------------------

IMAGE_URL = "https://cdn.arena.ai/generated/abc.png?X-Amz-Date=20261124T201500Z&X-Amz-Expires=3600"
CITE_ARGS = orjson.dumps(
    {
        "query": "weather tokyo",
        "source": [
            {"url": "https://example.org/tokyo", "title": "Tokyo 天気", "snippet": "sunny"},
            {"url": "https://example.com/jp"},
        ],
    }
).decode()

#: A side-by-side answer touching every line type, with non-ASCII text in several scripts.
STREAM = (
    'a2:[{"type":"heartbeat"}]\n'
    'b2:[{"type":"heartbeat"}]\n'
    'ag:"Let me think… 🤔"\n'
    'bg:{"thinking":"考えています"}\n'
    'ag:{"text":" done"}\n'
    'a0:"Héllo 👋🏽, "\n'
    'b0:"こんにちは"\n'
    'a0:"wörld\\n"\n'
    'ac:{"toolCallId":"call_1","argsTextDelta":' + orjson.dumps(CITE_ARGS[:20]).decode() + "}\n"
    'ac:{"toolCallId":"call_1","argsTextDelta":' + orjson.dumps(CITE_ARGS[20:]).decode() + "}\n"
    'b2:[{"type":"image","image":"' + IMAGE_URL + '","mimeType":"image/webp"}]\n'
    'af:{"messageId":"019a98f7-afcd-779f-8dcb-856cc3b3f078"}\n'
    'ae:{"finishReason":"stop","isContinued":false}\n'
    "a9:{not json\n"
    "\n"
    "   \r\n"
    'ad:{"finishReason":"stop","usage":{"promptTokens":12,"completionTokens":34}}\n'
    'bd:{"finishReason":"length"}'  # no final newline: close() must read it
).encode()

EXPECTED: list[Event] = [
    Heartbeat("a"),
    Heartbeat("b"),
    ReasoningDelta("a", "Let me think… 🤔"),
    ReasoningDelta("b", "考えています"),
    ReasoningDelta("a", " done"),
    TextDelta("a", "Héllo 👋🏽, "),
    TextDelta("b", "こんにちは"),
    TextDelta("a", "wörld\n"),
    Citation(
        "a",
        "https://example.org/tokyo",
        "Tokyo 天気",
        {"url": "https://example.org/tokyo", "title": "Tokyo 天気", "snippet": "sunny"},
    ),
    Citation("a", "https://example.com/jp", None, {"url": "https://example.com/jp"}),
    ImageOutput("b", IMAGE_URL, "image/webp"),
    MessageStart("a", "019a98f7-afcd-779f-8dcb-856cc3b3f078"),  # protocol §15.2
    RawEvent("a", "e", {"finishReason": "stop", "isContinued": False}),
    RawEvent("a", "9", "{not json"),
    Finish("a", "stop", {"promptTokens": 12, "completionTokens": 34}),
    Finish("b", "length", None),
]


def parse(*pieces: bytes) -> list[Event]:
    parser = StreamParser()
    events: list[Event] = []
    for piece in pieces:
        events += parser.feed(piece)
    return events + parser.close()


def test_parser_reads_every_line_type_of_a_side_by_side_stream() -> None:
    assert parse(STREAM) == EXPECTED


def test_parser_gives_the_same_events_whichever_byte_the_stream_is_cut_at() -> None:
    for i in range(len(STREAM) + 1):
        assert parse(STREAM[:i], STREAM[i:]) == EXPECTED, f"cut at byte {i}"


def test_parser_gives_the_same_events_when_fed_one_byte_at_a_time() -> None:
    assert parse(*(STREAM[i : i + 1] for i in range(len(STREAM)))) == EXPECTED


def test_parser_joins_text_when_a_four_byte_emoji_is_split_between_reads() -> None:
    data = 'a0:"🦊"\n'.encode()
    emoji_start = data.index(b"\xf0")
    parser = StreamParser()
    assert parser.feed(data[: emoji_start + 2]) == []
    assert parser.feed(data[emoji_start + 2 :]) == [TextDelta("a", "🦊")]


def test_parser_joins_an_emoji_whose_utf16_halves_come_in_two_text_lines() -> None:
    events = parse(b'a0:"ok \\ud83d"\nb0:"x"\na0:"\\ude00!"\n')
    assert events == [TextDelta("a", "ok "), TextDelta("b", "x"), TextDelta("a", "😀!")]


def test_parser_replaces_a_surrogate_half_that_never_finds_its_pair() -> None:
    events = parse(b'ag:{"thinking":"\\ude00a"}\nag:"b\\ud83d"\n')
    assert events == [
        ReasoningDelta("a", "\ufffda"),
        ReasoningDelta("a", "b"),
        ReasoningDelta("a", "\ufffd"),
    ]
    for event in events:
        assert isinstance(event, ReasoningDelta)
        event.text.encode("utf-8")  # printable: no lone surrogate left


def test_parser_holds_a_line_until_its_newline_arrives() -> None:
    parser = StreamParser()
    assert parser.feed(b'a0:"Hel') == []
    assert parser.feed(b'lo"') == []
    assert parser.feed(b"\n") == [TextDelta("a", "Hello")]
    assert parser.close() == []


def test_parser_reports_the_arena_error_marker_as_an_error_not_as_text() -> None:
    (event,) = parse(b'a0:"hasArenaError"\n')
    assert isinstance(event, StreamError)
    assert event == StreamError("a", "hasArenaError", arena_error=True)


def test_parser_reports_a3_lines_with_the_sites_text() -> None:
    assert parse(b'b3:"Resource exhausted. Please try again later."\n') == [
        StreamError("b", "Resource exhausted. Please try again later.")
    ]


def test_parser_strips_a_defensive_sse_data_prefix() -> None:
    assert parse(b'data: a0:"hi"\r\ndata: ad:{"finishReason":"stop"}\r\n') == [
        TextDelta("a", "hi"),
        Finish("a", "stop", None),
    ]


def test_parser_turns_every_image_of_one_line_into_its_own_event() -> None:
    line = (
        b'a2:[{"type":"image","image":"data:image/png;base64,iVBORw0KGgo="},'
        b'{"type":"heartbeat"},{"type":"image","image":"https://x.test/b.png","mimeType":"image/png"},'
        b'{"type":"surprise"}]\n'
    )
    assert parse(line) == [
        ImageOutput("a", "data:image/png;base64,iVBORw0KGgo=", None),
        Heartbeat("a"),
        ImageOutput("a", "https://x.test/b.png", "image/png"),
        RawEvent("a", "2", {"type": "surprise"}),
    ]


def test_parser_reads_a_single_source_object_as_one_citation() -> None:
    args = orjson.dumps({"source": {"url": "https://a.test/", "title": "A"}}).decode()
    line = b'bc:{"toolCallId":"t9","argsTextDelta":' + orjson.dumps(args) + b"}\n"
    assert parse(line) == [
        Citation("b", "https://a.test/", "A", {"url": "https://a.test/", "title": "A"})
    ]


def test_parser_keeps_partial_tool_arguments_of_interleaved_calls_apart() -> None:
    one = orjson.dumps({"source": {"url": "https://one.test/"}}).decode()
    two = orjson.dumps({"source": {"url": "https://two.test/"}}).decode()

    def delta(call: str, text: str) -> bytes:
        return orjson.dumps({"toolCallId": call, "argsTextDelta": text}) + b"\n"

    data = (
        b"ac:"
        + delta("c1", one[:10])
        + b"ac:"
        + delta("c2", two[:7])
        + b"ac:"
        + delta("c2", two[7:])
        + b"ac:"
        + delta("c1", one[10:])
    )
    events = parse(data)
    assert [e.url for e in events if isinstance(e, Citation)] == [
        "https://two.test/",
        "https://one.test/",
    ]


def test_parser_reports_tool_arguments_that_never_become_json_at_the_end() -> None:
    data = b'ac:{"toolCallId":"c1","argsTextDelta":"{\\"source\\":"}\n'
    parser = StreamParser()
    assert parser.feed(data) == []
    assert parser.close() == [RawEvent("a", "c", {"toolCallId": "c1", "argsText": '{"source":'})]


def test_parser_passes_tool_calls_without_sources_on_as_raw_events() -> None:
    (event,) = parse(b'ac:{"toolCallId":"c1","argsTextDelta":"{\\"query\\":\\"x\\"}"}\n')
    assert isinstance(event, RawEvent) and event.code == "c"
    assert event.value["args"] == {"query": "x"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'c0:"hello"', RawEvent("c", "0", "hello")),  # a third side: not a model answer
        (b'0:"no side"', RawEvent("", "0", "no side")),
        (b'ak:{"file":1}', RawEvent("a", "k", {"file": 1})),
        (b'a0:"unterminated', RawEvent("a", "0", '"unterminated')),
        (b"a0:42", RawEvent("a", "0", 42)),
        (b'ag:{"other":"x"}', RawEvent("a", "g", {"other": "x"})),
        (b'a2:{"type":"heartbeat"}', RawEvent("a", "2", {"type": "heartbeat"})),
        (b'ad:"stop"', RawEvent("a", "d", "stop")),
        (b"<html>oops</html>", RawEvent("", "", "<html>oops</html>")),
        (b"data: [DONE]", RawEvent("", "", "[DONE]")),
        (b"\xff\xfea0", RawEvent("", "", "\ufffd\ufffda0")),
    ],
)
def test_parser_never_raises_on_unknown_or_broken_lines(line: bytes, expected: RawEvent) -> None:
    assert parse(line + b"\n") == [expected]


def test_parser_reports_a3_objects_as_text() -> None:
    (event,) = parse(b'a3:{"code":"overloaded"}\n')
    assert event == StreamError("a", '{"code":"overloaded"}')


def test_finish_without_a_reason_still_ends_the_side() -> None:
    assert parse(b'ad:{"usage":{"promptTokens":1}}\n') == [
        Finish("a", "unknown", {"promptTokens": 1})
    ]


# --- request bodies -------------------------------------------------------------------------------

IDS = MessageIds(uuid7(), uuid7(), uuid7())
SESSION = uuid7()
MODEL_A = "019a98f7-afcd-779f-8dcb-856cc3b3f078"
MODEL_B = "0f6d1c1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
ATTACHMENT = {"name": "key/abc.png", "contentType": "image/png", "url": "https://r2.test/abc.png"}


def create(mode: Mode, **overrides: object) -> dict[str, object]:
    kwargs: dict[str, object] = {
        "session_id": SESSION,
        "mode": mode,
        "modality": Modality.CHAT,
        "model_a_id": MODEL_A,
        "model_b_id": MODEL_B,
        "ids": IDS,
        "content": "hi ✨",
        "attachments": [],
        "recaptcha_token": "tok",
    }
    kwargs.update(overrides)
    return create_evaluation_body(**kwargs)  # type: ignore[arg-type]


def test_create_body_for_a_direct_chat_matches_the_sites_shape() -> None:
    body = create(Mode.DIRECT, modality=Modality.IMAGE, attachments=[ATTACHMENT])
    assert body == {
        "id": SESSION,
        "mode": "direct-battle",
        "modelAId": MODEL_A,
        "userMessageId": IDS.user,
        "modelAMessageId": IDS.model_a,
        "modelBMessageId": IDS.model_b,
        "userMessage": {
            "content": "hi ✨",
            "experimental_attachments": [ATTACHMENT],
            "metadata": {},
        },
        "modality": "image",
        "recaptchaV3Token": "tok",
    }
    assert list(body) == [
        "id",
        "mode",
        "modelAId",
        "userMessageId",
        "modelAMessageId",
        "modelBMessageId",
        "userMessage",
        "modality",
        "recaptchaV3Token",
    ]
    # Plain strings on the wire, whatever enum the caller passed.
    assert type(body["mode"]) is str and type(body["modality"]) is str


def test_create_body_side_by_side_names_both_models() -> None:
    body = create(Mode.SIDE_BY_SIDE)
    assert body["modelAId"] == MODEL_A and body["modelBId"] == MODEL_B
    assert set(body) == {
        "id", "mode", "modelAId", "modelBId", "userMessageId", "modelAMessageId",
        "modelBMessageId", "userMessage", "modality", "recaptchaV3Token",
    }  # fmt: skip


def test_create_body_in_battle_mode_names_no_model() -> None:
    body = create(Mode.BATTLE, model_a_id=None, model_b_id=None)
    assert "modelAId" not in body and "modelBId" not in body
    assert body["modelBMessageId"] == IDS.model_b


def test_create_body_always_carries_empty_attachments_and_metadata() -> None:
    body = create(Mode.DIRECT, attachments=None)
    assert body["userMessage"] == {
        "content": "hi ✨",
        "experimental_attachments": [],
        "metadata": {},
    }


def test_create_body_refuses_a_direct_chat_without_a_model() -> None:
    with pytest.raises(ValueError, match="model_a_id"):
        create(Mode.DIRECT, model_a_id=None)


def test_follow_up_body_has_no_mode_and_only_known_models() -> None:
    body = post_to_evaluation_body(
        session_id=SESSION,
        modality=Modality.CHAT,
        model_a_id=MODEL_A,
        model_b_id=None,
        ids=IDS,
        content="and then?",
        attachments=[],
        recaptcha_token="tok2",
    )
    assert body == {
        "id": SESSION,
        "modelAId": MODEL_A,
        "userMessageId": IDS.user,
        "modelAMessageId": IDS.model_a,
        "modelBMessageId": IDS.model_b,
        "userMessage": {"content": "and then?", "experimental_attachments": [], "metadata": {}},
        "modality": "chat",
        "recaptchaV3Token": "tok2",
    }
    battle = post_to_evaluation_body(
        session_id=SESSION, modality=Modality.CHAT, model_a_id=None, model_b_id=None, ids=IDS,
        content="x", attachments=None, recaptcha_token="t",
    )  # fmt: skip
    assert "modelAId" not in battle and "modelBId" not in battle and "mode" not in battle


# --- server action replies ------------------------------------------------------------------------


def test_action_reply_value_is_the_json_on_line_one() -> None:
    text = (
        '0:{"a":"$@1","f":"","b":"build-123"}\n'
        '1:{"success":true,"data":{"uploadUrl":"https://r2.test/up?X-Amz-Date=1","key":"k/1.png"}}\n'
    )
    assert parse_action_reply(text) == {
        "success": True,
        "data": {"uploadUrl": "https://r2.test/up?X-Amz-Date=1", "key": "k/1.png"},
    }


def test_action_reply_without_line_one_says_what_came() -> None:
    with pytest.raises(errors.ProtocolError) as caught:
        parse_action_reply("<!DOCTYPE html><html><head><title>LMArena</title>")
    assert "'1:'" in str(caught.value)
    assert "answered: an HTML page titled 'LMArena'" in str(caught.value)
    with pytest.raises(errors.ProtocolError, match="answered: 0:"):
        parse_action_reply('0:{"a":"$@1"}\n')


def test_action_reply_with_broken_json_is_a_protocol_error() -> None:
    with pytest.raises(errors.ProtocolError, match="not JSON"):
        parse_action_reply('0:{}\n1:{"success":tru\n')


def test_action_reply_reporting_failure_raises_with_the_sites_words() -> None:
    with pytest.raises(errors.UpstreamError) as caught:
        parse_action_reply('0:{}\n1:{"success":false,"error":"File type not allowed"}\n')
    assert "File type not allowed" in str(caught.value)
    assert caught.value.detail == "File type not allowed"


def test_action_reply_for_a_stale_action_id_is_marked_stale() -> None:
    with pytest.raises(errors.ProtocolError) as caught:
        parse_action_reply("Server action not found.")
    assert caught.value.kind == "stale_action"


# --- error answers --------------------------------------------------------------------------------

CLOUDFLARE_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body>'
    '<div id="challenge-error-text">Enable JavaScript and cookies to continue</div>'
    + "<script>/* big challenge script */</script>" * 200
    + "</body></html>"
)


def classify(
    status: int, body: str | Mapping[str, object], headers: dict[str, str] | None = None
) -> errors.LmArenaError:
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    return error_from_response(status, text, headers or {})


def test_cloudflare_challenge_is_blocked_and_keeps_only_the_page_title() -> None:
    error = classify(403, CLOUDFLARE_PAGE)
    assert isinstance(error, errors.Blocked) and error.kind == "cloudflare"
    assert "anti-bot check" in error.message and "Cloudflare" in error.message
    assert error.detail is not None and "Just a moment..." in error.detail
    assert len(error.detail) < 100 and "<script" not in str(error)


def test_recaptcha_rejection_is_blocked() -> None:
    error = classify(403, {"error": "recaptcha validation failed"})
    assert isinstance(error, errors.Blocked) and error.kind == "recaptcha"
    assert "reCAPTCHA" in error.message
    assert error.detail == "recaptcha validation failed"


def test_login_gate_asks_to_run_lmarena_login() -> None:
    body = {
        "error": "LOGIN_GATE",
        "message": "Please sign in to use Direct Chat and Side by Side.",
    }
    error = classify(401, body)
    assert isinstance(error, errors.SignInRequired) and error.kind == "login_gate"
    # The library says what happened; the front end says what to do, each in its own words.
    assert "lmarena login" not in str(error) and error.advice == errors.Advice.SIGN_IN_WINDOW
    assert cli_words(error) == (
        "the site wants a signed-in account for this kind of chat; run `lmarena login` and sign "
        "in in the browser window (the site said: LOGIN_GATE: Please sign in to use Direct Chat "
        "and Side by Side.)"
    )
    assert serve_words(error).startswith(
        "the site wants a signed-in account for this kind of chat; the server's account must "
        "be signed in in a browser window (its operator: `lmarena login`)"
    )
    assert error.detail == "LOGIN_GATE: Please sign in to use Direct Chat and Side by Side."


def test_expired_sign_in_is_reported_as_expired() -> None:
    error = classify(401, {"error": "auth token has expired"})
    assert isinstance(error, errors.SignInRequired) and error.kind == "auth_expired"
    assert "expired" in error.message and error.advice == errors.Advice.SIGN_IN_AGAIN
    assert cli_words(error).startswith(
        "the sign-in has expired; run `lmarena login` to sign in again"
    )


def test_foreign_conversation_says_it_belongs_to_another_account() -> None:
    body = {
        "error": "User 019a98f7-afcd-779f-8dcb-856cc3b3f078 does not have access to evaluation "
        "session 019a98f7-afcd-779f-8dcb-856cc3b3f079"
    }
    error = classify(401, body)
    assert isinstance(error, errors.SignInRequired) and error.kind == "forbidden"
    assert "another account" in error.message


def test_rate_limit_reads_retry_after_seconds() -> None:
    error = classify(429, "Too many requests, please try again later.", {"retry-after": "17"})
    assert isinstance(error, errors.RateLimited) and error.kind == "rate_limited"
    assert error.retry_after == 17.0
    assert "17 s" in error.message
    assert error.detail == "Too many requests, please try again later."


def test_rate_limit_reads_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    error = classify(429, "Too many requests, please try again later.", {"Retry-After": when})
    assert isinstance(error, errors.RateLimited)
    assert error.retry_after is not None and 110 <= error.retry_after <= 121


def test_rate_limit_without_retry_after_leaves_the_wait_open() -> None:
    error = classify(429, "Too many requests, please try again later.")
    assert isinstance(error, errors.RateLimited) and error.retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0.0), ("2.5", 2.5), ("-3", 0.0), ("soon", None), ("", None), (None, None)],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_date_in_the_past_means_now() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_moderation_is_content_rejected() -> None:
    body = {
        "error": "Request rejected: Content violates our terms of use for evaluation session id: "
        "019a98f7-afcd-779f-8dcb-856cc3b3f078"
    }
    error = classify(422, body)
    assert isinstance(error, errors.ContentRejected) and error.kind == "moderation"
    assert "violates our terms" in (error.detail or "")


@pytest.mark.parametrize(
    "body", [{"error": "Invalid content"}, {"error": "user message is invalid"}]
)
def test_invalid_content_is_content_rejected(body: dict[str, object]) -> None:
    error = classify(400, body)
    assert isinstance(error, errors.ContentRejected) and error.kind == "invalid_content"


def test_zod_error_names_the_field_and_says_the_protocol_changed() -> None:
    body = MISSING_USER_MESSAGE
    error = classify(400, body)
    assert isinstance(error, errors.ProtocolError) and error.kind == "zod"
    assert error.message == (
        "the site rejected the request body: field userMessage: Required — the site's protocol "
        "changed; update lmarena"
    )


def test_zod_error_as_a_json_string_names_nested_paths() -> None:
    issues = [
        {"code": "invalid_string", "path": ["userMessage", "experimental_attachments", 0, "url"],
         "message": "Invalid url"},
        {"code": "invalid_type", "path": ["modality"], "message": "Required"},
    ]  # fmt: skip
    error = classify(400, {"error": {"name": "ZodError", "message": orjson.dumps(issues).decode()}})
    assert error.kind == "zod"
    assert "field userMessage.experimental_attachments.0.url: Invalid url" in error.message
    assert "field modality: Required" in error.message


def test_unselectable_model_is_a_usage_error() -> None:
    error = classify(400, {"error": "Model gpt-x is not available for user selection"})
    assert type(error) is errors.UsageError and error.kind == "not_selectable"
    assert "lmarena models" in error.message


def test_duplicate_ids_ask_for_fresh_ids() -> None:
    error = classify(400, {"error": "duplicate ids"})
    assert isinstance(error, errors.UpstreamError) and error.kind == "duplicate_ids"


def test_stale_action_is_marked_for_rediscovery() -> None:
    error = classify(404, "Server action not found.")
    assert isinstance(error, errors.ProtocolError) and error.kind == "stale_action"
    assert error.detail == "Server action not found."


def test_other_404_is_not_found() -> None:
    error = classify(404, "<html><head><title>404: This page could not be found.</title></head>")
    assert isinstance(error, errors.ProtocolError) and error.kind == "not_found"


def test_legacy_route_refusal_says_the_protocol_changed() -> None:
    error = classify(403, {"error": "Route not allowed"})
    assert isinstance(error, errors.ProtocolError) and error.kind == "forbidden"


def test_other_403_is_blocked() -> None:
    error = classify(403, {"error": "Forbidden"})
    assert isinstance(error, errors.Blocked) and error.kind == "forbidden"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"error": "Failed to create session"}),
        (502, "<html><head><title>502: origin error</title></head></html>"),
        (503, ""),
        (522, "<html><head><title>522: Connection timed out</title></head></html>"),
    ],
)
def test_server_failures_are_upstream_unavailable(
    status: int, body: str | Mapping[str, object]
) -> None:
    error = classify(status, body)
    assert type(error) is errors.UpstreamUnavailable and error.kind == "server"
    assert str(status) in error.message


def test_server_failure_keeps_the_sites_words() -> None:
    error = classify(500, {"error": "Failed to create session"})
    assert error.detail == "Failed to create session"
    assert str(error).endswith("(the site said: Failed to create session)")


def test_too_large_upload_is_an_input_error() -> None:
    error = classify(413, "")
    assert isinstance(error, errors.InputError) and error.kind == "too_large"


def test_an_unexpected_status_is_reported_with_its_number() -> None:
    error = classify(418, "I'm a teapot")
    assert isinstance(error, errors.ProtocolError) and error.kind == "unexpected"
    assert "418" in error.message


def test_long_bodies_are_shortened_in_detail() -> None:
    error = classify(500, "x" * 10_000)
    assert error.detail is not None and len(error.detail) <= 300


@pytest.mark.parametrize(
    "message, kind, exit_code",
    [
        ("Resource exhausted. Please try again later.", "a3_rate", 6),
        ("too many requests", "a3_rate", 6),
        ("Your request was blocked by our content moderation system.", "a3_moderation", 7),
        ("internal server error", "a3", 3),
        ("hasArenaError", "arena_error", 3),
    ],
)
def test_stream_errors_are_classified_by_what_the_site_says(
    message: str, kind: str, exit_code: int
) -> None:
    error = error_from_stream(message)
    assert (error.kind, error.exit_code) == (kind, exit_code)
    assert error.detail == message

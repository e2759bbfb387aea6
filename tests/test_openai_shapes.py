"""The pure request checks (server.requests) and response shapes (server.openai_shapes) of serve."""

from __future__ import annotations

from typing import Any

import pytest

from lmarena_cli.client.content.usage import site_counts
from lmarena_cli.errors import ErrorKind, FieldError, ModelNotFound, RateLimited, UpstreamError
from lmarena_cli.server import chat_codec, engine, openai_shapes, requests, tools
from lmarena_cli.site.models import model_from_row


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}


def test_a_minimal_request_is_accepted_with_defaults() -> None:
    request = requests.parse_chat_request(body())
    assert (request.model, request.stream, request.include_usage) == ("m", False, False)
    assert request.conversation_id is None and request.versus is None and not request.battle
    assert request.turn == requests.UserTurn("hi", [])
    assert request.history == []


@pytest.mark.parametrize(
    ("extra", "conversation_id"),
    [
        ({"conversation": {"evaluationSessionId": " abc "}}, "abc"),
        ({"conversation_id": "def"}, "def"),
        ({"conversation": "ghi"}, "ghi"),
    ],
)
def test_conversation_id_comes_from_either_extension_field(
    extra: dict[str, Any], conversation_id: str
) -> None:
    assert requests.parse_chat_request(body(**extra)).conversation_id == conversation_id


def test_arena_field_selects_side_by_side_or_battle() -> None:
    assert requests.parse_chat_request(body(arena={"versus": "b"})).versus == "b"
    assert requests.parse_chat_request(body(arena={"battle": True})).battle
    with pytest.raises(FieldError) as caught:
        requests.parse_chat_request(body(arena={"battle": True, "versus": "b"}))
    assert caught.value.param == "arena"


@pytest.mark.parametrize(
    ("request_body", "param", "said"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model", "'model' is required"),
        ({"model": "m"}, "messages", "'messages' is required"),
        ({"model": "m", "messages": []}, "messages", "non-empty array"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]", "must be an object, not a string"),
        (body(messages=[{"role": "user", "content": [{"type": "audio"}]}]),
         "messages[0].content[0].type", "'text', 'image_url' or 'file'"),
        (body(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]),
         "messages[0].content[0].image_url.url", "must be a URL"),
        (body(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
         "messages[1].role", "the last message must come from the user"),
        (body(n=2), "n", "n must be 1"),
        (body(stop=["a", "b", "c", "d", "e"]), "stop", "at most 4"),
        (body(max_tokens=0), "max_tokens", "at least 1"),
        (body(tools=[{"type": "function", "function": {"description": "x"}}]),
         "tools[0].function.name", "non-empty string"),
        (body(tool_choice={"type": "function", "function": {"name": "nope"}}), "tool_choice",
         "names no declared function"),
        (body(response_format={"type": "xml"}), "response_format.type", "json_schema"),
        (body(messages=[{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]),
         "messages[0].content[0].file.file_data", "uploaded file ids are not supported"),
        (body(stream_options={"include_usage": 1}), "stream_options.include_usage",
         "true or false"),
        (body(model=""), "model", "non-empty string"),
        ("text", "", "must be a JSON object, not a string"),
    ],
)  # fmt: skip
def test_bad_requests_name_the_field(request_body: Any, param: str, said: str) -> None:
    with pytest.raises(FieldError) as caught:
        requests.parse_chat_request(request_body)
    assert caught.value.param == param
    assert said in str(caught.value)
    assert caught.value.http_status == 400


def test_the_new_turn_is_the_trailing_run_of_user_messages() -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u2"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "u3"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
                {"type": "image_url", "image_url": "https://example.com/a.png"},
            ],
        },
    ]
    request = requests.parse_chat_request(body(messages=messages))
    assert request.turn_start == 3
    assert request.turn == requests.UserTurn(
        "u2\n\nu3", ["data:image/png;base64,AA==", "https://example.com/a.png"]
    )


def test_fold_writes_a_plain_transcript_ending_with_the_new_turn() -> None:
    history: list[dict[str, Any]] = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url"}]},
        {"role": "assistant", "content": "nice\nphoto"},
    ]
    assert requests.fold_history(history, "and now?") == (
        "[System]\nBe brief.\n\n[User]\nlook\n[image]\n\n[Assistant]\nnice\nphoto\n\n"
        "[User]\nand now?"
    )
    assert requests.fold_history([], "alone") == "alone"


def test_usage_is_converted_from_the_sites_words() -> None:
    outcome = engine.Outcome(prompt_tokens=2, completion_tokens=5)
    assert site_counts({"promptTokens": 2, "completionTokens": 5}) == (2, 5)
    assert outcome.usage == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}
    assert site_counts(None) == (0, 0)  # unknown: the server's estimate is used
    assert site_counts({"other": 1}) == (0, 0)


@pytest.mark.parametrize(
    ("site", "openai"),
    [("stop", "stop"), ("length", "length"), ("content-filter", "content_filter"),
     # The site's own tool use (a search model's) is no call the client must answer: only an
     # emulated call (server.tools) ends an answer with tool_calls.
     ("tool-calls", "stop"), ("unknown", "stop"), (None, "stop")],
)  # fmt: skip
def test_finish_reasons_use_openai_words(site: str | None, openai: str) -> None:
    assert engine.finish_reason(site) == openai
    assert openai_shapes.finish_reason is engine.finish_reason  # one mapping, used by the chunks


def outcome(*sides: engine.Side, mode: str = "direct-battle") -> engine.Outcome:
    return engine.Outcome("sid-1", list(sides), prompt_tokens=1, completion_tokens=2, mode=mode)


MAKER = openai_shapes.ChunkMaker("chatcmpl-1", 5, "m")


def test_completion_has_content_reasoning_usage_and_the_conversation() -> None:
    side = engine.Side(
        model="m", text="Here:\n\n![image](https://x/1.png)", reasoning="hmm", finish_reason="stop"
    )
    out = chat_codec.completion(outcome(side), MAKER)
    assert out["object"] == "chat.completion"
    assert (out["id"], out["created"], out["model"]) == ("chatcmpl-1", 5, "m")
    message = out["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": "Here:\n\n![image](https://x/1.png)",
        "reasoning_content": "hmm",
    }
    assert out["choices"][0]["logprobs"] is None
    assert out["usage"]["total_tokens"] == 3
    assert out["conversation_id"] == "sid-1"
    assert out["conversation"] == {"evaluationSessionId": "sid-1"}
    assert "arena" not in out


def test_a_completion_that_calls_tools_has_tool_calls_and_null_content() -> None:
    call = tools.ToolCall("call_1", "get_weather", '{"city":"Paris"}')
    side = engine.Side(model="m", calls=[call], finish_reason="tool_calls")
    out = chat_codec.completion(outcome(side), MAKER)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }


def test_side_by_side_completion_has_two_choices() -> None:
    out = chat_codec.completion(
        outcome(engine.Side(model="x", text="A"), engine.Side(model="y", text="B"), mode="battle"),
        openai_shapes.ChunkMaker("chatcmpl-1", 5, "battle"),
    )
    assert [(c["index"], c["message"]["content"], c["model"]) for c in out["choices"]] == [
        (0, "A", "x"),
        (1, "B", "y"),
    ]
    assert out["arena"] == {"mode": "battle", "models": ["x", "y"]}
    assert out["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


def test_chunks_have_the_openai_shape() -> None:
    maker = openai_shapes.ChunkMaker("chatcmpl-1", 5, "m", include_usage=True)
    first = maker.first("sid", 1)
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    ]
    assert first["conversation_id"] == "sid" and first["usage"] is None
    assert maker.delta(1, content="x")["choices"][0] == {
        "index": 1,
        "delta": {"content": "x"},
        "finish_reason": None,
    }
    assert maker.finish(0, "content-filter")["choices"][0]["finish_reason"] == "content_filter"
    final = maker.usage({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})
    assert final["choices"] == [] and final["usage"]["total_tokens"] == 2
    error = maker.error(UpstreamError("boom", kind=ErrorKind.STREAM_ERROR))
    assert error["error"] == {"message": "boom", "type": "upstream_error", "param": None,
                              "code": "a3"}  # fmt: skip


def test_error_envelope_codes() -> None:
    assert openai_shapes.error_body(ModelNotFound("x", ["y"]))["error"]["code"] == "model_not_found"
    limited = openai_shapes.error_body(RateLimited("slow down", retry_after=3))["error"]
    assert (limited["type"], limited["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    field = openai_shapes.error_body(FieldError("messages", "bad"))["error"]
    assert field["param"] == "messages" and field["type"] == "invalid_request_error"


def test_model_entry_has_openai_fields_and_capabilities() -> None:
    model = model_from_row(
        {
            "id": "019a0000-0000-7000-8000-000000000000",
            "publicName": "pic",
            "organization": "acme",
            "capabilities": {"outputCapabilities": {"image": True}},
            "userSelectable": True,
        }
    )
    assert model is not None
    entry = openai_shapes.model_entry(model)
    assert (entry["id"], entry["object"], entry["owned_by"]) == ("pic", "model", "acme")
    assert entry["created"] == 0x019A00000000 // 1000
    assert entry["outputs_images"] is True and entry["modality"] == "image"


def test_image_request_defaults_and_limits() -> None:
    request = requests.parse_image_request({"prompt": "a cat"})
    assert (request.model, request.n, request.b64) == (None, 1, False)
    with pytest.raises(FieldError) as caught:
        requests.parse_image_request({"prompt": "a cat", "n": 9})
    assert caught.value.param == "n"
    with pytest.raises(FieldError) as caught:
        requests.parse_image_request({"prompt": " "})
    assert caught.value.param == "prompt"
    assert openai_shapes.images_response(1, ["u"]) == {"created": 1, "data": [{"url": "u"}]}
    assert openai_shapes.images_response(1, ["u"], [b"\x00"])["data"] == [{"b64_json": "AA=="}]

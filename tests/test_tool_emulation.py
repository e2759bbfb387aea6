"""The pure parts of serve's emulation: the tool contract, the call scanner, the output limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lmarena_cli.client.content.usage import estimate_tokens
from lmarena_cli.server.limits import Limiter
from lmarena_cli.server.tools import (
    CallScanner,
    Piece,
    Tool,
    ToolCall,
    ToolChoice,
    compact_schema,
    contract,
    new_call_id,
    render_assistant,
    render_result,
    short_description,
)
from lmarena_cli.server.turn import Limits

WEATHER = Tool(
    "get_weather",
    "Get the weather for a city. Long prose follows that no model needs to choose the tool.",
    {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "e.g. Paris", "examples": ["x"]}},
        "required": ["city"],
    },
)
CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'


def scan(chunks: list[str], tools: list[Tool] | None = None, **options: Any) -> list[Piece]:
    log: list[str] = options.pop("log", [])
    scanner = CallScanner(tools or [WEATHER], log=log.append, **options)
    pieces: list[Piece] = []
    for chunk in chunks:
        pieces += scanner.feed(chunk)
    return pieces + scanner.end()


def calls(pieces: list[Piece]) -> list[tuple[str, Any]]:
    return [(p.name, json.loads(p.arguments)) for p in pieces if isinstance(p, ToolCall)]


def text(pieces: list[Piece]) -> str:
    return "".join(p for p in pieces if isinstance(p, str))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 11, 200])
def test_a_call_is_found_however_the_answer_is_split(size: int) -> None:
    answer = f"Checking.\n{CALL}"
    pieces = scan([answer[i : i + size] for i in range(0, len(answer), size)])
    assert text(pieces) == "Checking.\n"
    assert calls(pieces) == [("get_weather", {"city": "Paris"})]


def test_text_is_held_back_only_while_it_could_start_an_envelope() -> None:
    scanner = CallScanner([WEATHER])
    assert scanner.feed("Hello <tool") == ["Hello "]
    assert scanner.feed("box> and more") == ["<toolbox> and more"]
    assert scanner.feed(" <") == [" "]
    assert scanner.end() == ["<"]


def test_the_usual_slips_are_forgiven_fences_inside_and_trailing_commas() -> None:
    body = '{"name": "get_weather", "arguments": {"city": "Oslo",},}'
    slipped = f"<tool_call>\n```json\n{body}\n```\n</tool_call>"
    assert calls(scan([slipped])) == [("get_weather", {"city": "Oslo"})]


def test_arguments_given_as_a_json_string_are_read_as_the_object() -> None:
    stringly = (
        '<tool_call>{"name": "get_weather", "arguments": "{\\"city\\": \\"Rome\\"}"}</tool_call>'
    )
    assert calls(scan([stringly])) == [("get_weather", {"city": "Rome"})]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ('<tool_call>{"name": "nope", "arguments": {}}</tool_call>', "no tool named 'nope'"),
        ('<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>',
         "$: 'city' is a required property"),
        ('<tool_call>{"name": "get_weather", "arguments": [1]}</tool_call>', "not a JSON object"),
        ("<tool_call>not json</tool_call>", "does not hold a JSON object"),
        ('<tool_call>{"name": "get_weather"', "never closed"),
    ],
)  # fmt: skip
def test_what_fails_stays_text_and_the_log_says_why(answer: str, reason: str) -> None:
    log: list[str] = []
    pieces = scan([answer], log=log)
    assert text(pieces) == answer and calls(pieces) == []
    assert len(log) == 1 and reason in log[0]


def test_envelopes_in_fenced_code_blocks_are_text_and_outside_again_count() -> None:
    answer = f"~~~\n{CALL}\n~~~\n```python\n{CALL}\n```\n{CALL}"
    pieces = scan([answer])
    assert calls(pieces) == [("get_weather", {"city": "Paris"})]
    assert text(pieces) == answer[: -len(CALL)]


def test_several_calls_unless_parallel_calls_are_off() -> None:
    two = CALL + "\n" + CALL.replace("Paris", "Lyon")
    assert [a["city"] for _, a in calls(scan([two]))] == ["Paris", "Lyon"]
    log: list[str] = []
    pieces = scan([two], parallel=False, log=log)
    assert [a["city"] for _, a in calls(pieces)] == ["Paris"]
    assert "Lyon" in text(pieces) and "parallel_tool_calls is false" in log[0]


def test_call_ids_are_unique_and_carry_the_prefix() -> None:
    ids = {new_call_id("toolu_") for _ in range(2000)}
    assert len(ids) == 2000 and all(i.startswith("toolu_") and len(i) > 20 for i in ids)


def test_the_contract_states_each_tool_compactly() -> None:
    text_ = contract([WEATHER], ToolChoice())
    assert '- get_weather {"type":"object","properties":{"city":{"type":"string"}},' in text_
    assert "Get the weather for a city." in text_ and "Long prose" not in text_
    assert "e.g. Paris" not in text_ and "examples" not in text_
    assert contract([WEATHER], ToolChoice("none")) == ""
    assert contract([], ToolChoice()) == ""
    assert "one block per call" not in contract([WEATHER], ToolChoice(), parallel=False)


def test_a_long_agent_tool_set_makes_a_short_contract() -> None:
    prose = "Runs a command. " + "Explains at length when and how to use it. " * 250
    schema = {
        "type": "object",
        "properties": {
            f"p{i}": {"type": "string", "description": "x" * 400, "examples": ["y" * 200]}
            for i in range(6)
        },
    }
    tools = [Tool(f"tool_{i}", prose, schema) for i in range(24)]
    full = sum(len(prose) + len(json.dumps(schema)) for _ in tools)
    short = contract(tools, ToolChoice())
    assert full > 250_000 and len(short) < 6_000


def test_short_description_cuts_to_the_first_sentence_and_a_cap() -> None:
    assert short_description("Reads a file. Then more.") == "Reads a file."
    assert short_description("Line one\n\nParagraph two.") == "Line one"
    assert len(short_description("x" * 500)) == 160


def test_compact_schema_keeps_structure_and_drops_prose() -> None:
    schema = {"title": "T", "type": "object", "properties": {"description": {"type": "string"}}}
    assert compact_schema(schema) == {
        "type": "object",
        "properties": {"description": {"type": "string"}},  # a property may be called so
    }


def test_history_renders_calls_as_envelopes_and_results_with_their_ids() -> None:
    assert render_assistant(" Let me check. ", [("get_weather", '{"city": "Paris"}')]) == (
        'Let me check.\n<tool_call>{"name":"get_weather","arguments":{"city":"Paris"}}</tool_call>'
    )
    assert (
        render_result("call_1", "get_weather", "21 C") == "[Tool result call_1 get_weather]\n21 C"
    )
    assert render_result("toolu_2", "x", "boom", error=True) == "[Tool error toolu_2 x]\nboom"


def test_stop_sequences_cut_the_answer_even_across_pieces() -> None:
    limiter = Limiter(Limits(stop=("END",)), estimate_tokens)
    assert limiter.feed("one E") == "one "
    assert limiter.feed("N") == ""
    assert limiter.feed("D two") == ""
    assert limiter.reason == "stop" and limiter.feed("more") == ""


def test_a_held_back_prefix_that_was_no_stop_comes_out_at_the_end() -> None:
    limiter = Limiter(Limits(stop=("END",)), estimate_tokens)
    assert limiter.feed("so E") == "so "
    assert limiter.flush() == "E" and limiter.reason is None


def test_max_tokens_cuts_at_the_estimated_count() -> None:
    limiter = Limiter(Limits(max_tokens=10), estimate_tokens)
    out = "".join(limiter.feed("word " * 5) for _ in range(10))
    assert limiter.reason == "length"
    assert ("word " * 50).startswith(out) and len("word " * 5) <= len(out) < len("word " * 50)
    assert estimate_tokens(out) <= 10

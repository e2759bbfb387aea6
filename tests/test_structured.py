"""Structured output: the instruction a model is given, the JSON taken out of its answer, and
the first mismatch against the schema, named as a user reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lmarena_cli.client.content.structured import (
    NO_JSON,
    OutputFormat,
    check,
    extract_json,
    instruction,
    with_instruction,
)
from lmarena_cli.errors import ErrorKind, ExitStatus, InputError, SchemaMismatch

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
        "odd key": {"type": "boolean"},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}
SCHEMA = OutputFormat("json_schema", PERSON, name="person", strict=True)


def test_the_schema_instruction_is_one_short_paragraph_with_the_schema_as_compact_json() -> None:
    text = instruction(SCHEMA)
    compact = json.dumps(PERSON, separators=(",", ":"))
    assert text.endswith(compact)
    assert "\n" not in text
    assert len(text) - len(compact) < 120
    assert "JSON" in text and "no prose" in text


def test_the_json_object_instruction_asks_for_one_object() -> None:
    text = instruction(OutputFormat("json_object"))
    assert text == "Answer with one JSON object only: no prose, no code fences."


def test_the_instruction_comes_after_the_prompt_with_a_blank_line() -> None:
    assert with_instruction("Invent a person.\n", SCHEMA) == (
        "Invent a person.\n\n" + instruction(SCHEMA)
    )
    assert with_instruction("", SCHEMA) == instruction(SCHEMA)


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  [1, 2, 3]\n", [1, 2, 3]),
        ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
        ('Sure! Here it is:\n\n```\n{"a": 1}\n```\n\nAnything else?', {"a": 1}),
        ('Here you go: {"a": {"b": "}"}} and that is all.', {"a": {"b": "}"}}),
        # Trailing commas, a model's usual slip; a comma inside a string stays.
        ('{"a": [1, 2,], "b": "x,}",\n}', {"a": [1, 2], "b": "x,}"}),
        # Prose with braces that are not JSON before the real value.
        ('Use {name} as a placeholder:\n{"name": "Ada"}', {"name": "Ada"}),
        ('A list: ["x", "y"] (done)', ["x", "y"]),
        ('~~~json\n{"t": "tildes"}\n~~~', {"t": "tildes"}),
        ("42", 42),
        ('"a string"', "a string"),
    ],
)
def test_the_first_json_value_is_taken_out_of_the_answer(answer: str, value: Any) -> None:
    found = extract_json(answer)
    assert found is not None
    assert found == (value, json.dumps(value, separators=(",", ":")))


@pytest.mark.parametrize(
    "answer", ["", "no JSON here", "{not: json}", '{"unclosed": 1', "NaN", "[Infinity]"]
)
def test_an_answer_without_json_has_none(answer: str) -> None:
    assert extract_json(answer) is None


def test_a_matching_answer_gives_its_value_and_compact_json() -> None:
    result = check(SCHEMA, 'Here:\n```json\n{"name": "Ada", "age": 36, "tags": ["math"]}\n```')
    assert result.ok and result.mismatch is None
    assert result.value == {"name": "Ada", "age": 36, "tags": ["math"]}
    assert result.json == '{"name":"Ada","age":36,"tags":["math"]}'
    result.raise_for_mismatch()  # nothing to raise


@pytest.mark.parametrize(
    ("answer", "mismatch"),
    [
        ('{"name": "Ada", "age": "x"}', "$.age: 'x' is not of type 'integer'"),
        ('{"name": "Ada"}', "$: 'age' is a required property"),
        ('{"name": "Ada", "age": -1}', "$.age: -1 is less than the minimum of 0"),
        ('{"name": "Ada", "age": 1, "tags": ["a", 2]}', "$.tags[1]: 2 is not of type 'string'"),
        (
            '{"name": "Ada", "age": 1, "odd key": "yes"}',
            "$[\"odd key\"]: 'yes' is not of type 'boolean'",
        ),
        ("[1, 2]", "$: [1, 2] is not of type 'object'"),
        ("I cannot help with that.", NO_JSON),
    ],
)
def test_a_mismatch_names_its_path_and_what_is_wrong(answer: str, mismatch: str) -> None:
    result = check(SCHEMA, answer)
    assert not result.ok
    assert result.mismatch == mismatch
    assert result.text == answer


def test_json_object_takes_any_object_but_not_an_array() -> None:
    fmt = OutputFormat("json_object")
    assert check(fmt, 'ok: {"anything": [1]}').mismatch is None
    assert check(fmt, "[1]").mismatch == "$: [1] is not of type 'object'"


def test_a_mismatch_raises_an_error_that_keeps_the_models_text() -> None:
    answer = 'My answer: {"name": "Ada", "age": "thirty-six"}'
    with pytest.raises(SchemaMismatch) as caught:
        check(SCHEMA, answer).raise_for_mismatch()
    error = caught.value
    assert str(error) == (
        "the answer did not match the schema: $.age: 'thirty-six' is not of type 'integer'"
    )
    assert (error.partial, error.detail) == (answer, answer)
    assert error.mismatch == "$.age: 'thirty-six' is not of type 'integer'"
    assert (error.exit_code, error.http_status) == (ExitStatus.SCHEMA_MISMATCH, 502)
    assert error.kind == ErrorKind.SCHEMA_MISMATCH
    assert str(error.kind) == "output_schema_mismatch"


def test_an_invalid_schema_is_an_input_error_before_anything_is_asked() -> None:
    with pytest.raises(InputError, match=r"not a valid JSON Schema: \$\.properties\.age"):
        OutputFormat("json_schema", {"type": "object", "properties": {"age": {"type": "int"}}})
    with pytest.raises(InputError, match="needs a schema"):
        OutputFormat("json_schema")


def test_a_long_answer_full_of_brackets_is_read_in_reasonable_time() -> None:
    noise = "{[(" * 2_000 + ", }" * 2_000
    answer = noise + '\n{"name": "Ada", "age": 1}'
    # Far more brackets than are tried: the value after them is not found, and that is said.
    assert check(SCHEMA, answer).mismatch == NO_JSON
    assert check(SCHEMA, '{"name": "Ada", "age": 1}\n' + noise).ok

"""`tools` and `call` without an agent: arguments read by the tool's input schema,
the parameter line drawn from one, and results shown as text. The schemas and
results are answers recorded from a real SDK 3.8.0 agent (tests/mesh/three/hello.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshcompose.app.tools import parse_arguments
from meshcompose.cli.commands.call import visible
from meshcompose.cli.commands.tools import parameters
from meshcompose.errors import UsageError

RECORDED = json.loads((Path(__file__).parent / "registry_answers" / "hello_mcp_3.8.0.json").read_text())
SCHEMAS = {tool["name"]: tool["inputSchema"] for tool in RECORDED["tools"]["tools"]}


def test_key_value_words_follow_the_schema():
    assert parse_arguments(["name=123"], SCHEMAS["hello"]) == {"name": "123"}  # a string parameter stays text
    assert parse_arguments(["count=3", "flags=[1, 2]", "word=plain"], {}) == {
        "count": 3, "flags": [1, 2], "word": "plain"}
    assert parse_arguments(['{"name": "Ada"}'], SCHEMAS["hello"]) == {"name": "Ada"}
    assert parse_arguments([], SCHEMAS["ping_hello"]) == {}


@pytest.mark.parametrize("words, problem", [(["name"], "expected KEY=VALUE"), (["=x"], "expected KEY=VALUE"),
                                            (["{bad"], "not valid JSON"), (["[1]"], "expected KEY=VALUE")])
def test_bad_arguments_are_a_clear_usage_error(words, problem):
    with pytest.raises(UsageError, match=problem.replace("[", r"\[")):
        parse_arguments(words, SCHEMAS["hello"])


def test_the_parameter_line_of_a_recorded_schema():
    assert parameters(SCHEMAS["hello"]) == ['name: string = "world"']
    assert parameters(SCHEMAS["ping_hello"]) == []
    assert parameters({"properties": {"a": {"type": "integer"}, "b": {}}, "required": ["b"]}) == ["b: any", "a: integer"]


def test_recorded_results_and_tool_output_shown_as_text():
    assert RECORDED["call_ok"]["content"][0]["text"] == "Hello, Ada!"
    assert RECORDED["call_error"]["isError"] is True
    assert visible("line one\nline\ttwo\x1b[2J\x07") == "line one\nline\ttwo^[[2J^G"

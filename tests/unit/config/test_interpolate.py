"""Every compose interpolation form, as a table."""

from __future__ import annotations

import pytest

from meshcompose.config.interpolate import InterpolationError, interpolate

VARS = {"SET": "value", "EMPTY": "", "OTHER": "other"}


@pytest.mark.parametrize(
    "template, expected",
    [
        ("plain", "plain"),
        ("$SET", "value"),
        ("${SET}", "value"),
        ("a${SET}b", "avalueb"),
        ("$SET/x", "value/x"),
        ("$$", "$"),
        ("$$SET", "$SET"),
        ("cost: $$5", "cost: $5"),
        ("${SET:-d}", "value"),
        ("${EMPTY:-d}", "d"),
        ("${UNSET:-d}", "d"),
        ("${SET-d}", "value"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${SET:?boom}", "value"),
        ("${EMPTY?boom}", ""),
        ("${SET:+r}", "r"),
        ("${EMPTY:+r}", ""),
        ("${UNSET:+r}", ""),
        ("${SET+r}", "r"),
        ("${EMPTY+r}", "r"),
        ("${UNSET+r}", ""),
        ("${UNSET:-${OTHER}}", "other"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${UNSET:-a $$ b}", "a $ b"),
        ("${UNSET:-}", ""),
        ("${SET:+[${OTHER}]}", "[other]"),
        ("x${UNSET:-{}}y", "x{}y"),
    ],
)
def test_forms(template: str, expected: str) -> None:
    assert interpolate(template, VARS) == expected


def test_unset_without_default_is_empty_and_reported_once() -> None:
    unset: list[str] = []
    assert interpolate("$MISSING-${MISSING}-${OTHER_MISSING}", VARS, unset) == "--"
    assert interpolate("$MISSING", VARS, unset) == ""
    assert unset == ["MISSING", "OTHER_MISSING"]


def test_unused_default_is_not_evaluated() -> None:
    unset: list[str] = []
    assert interpolate("${SET:-${NOPE}}", VARS, unset) == "value"
    assert unset == []
    assert interpolate("${SET:-${UNSET:?never raised}}", VARS) == "value"


@pytest.mark.parametrize(
    "template, words",
    [
        ("${UNSET:?set UNSET please}", "set UNSET please"),
        ("${EMPTY:?must not be empty}", "must not be empty"),
        ("${UNSET?needed}", "needed"),
        ("${UNSET:?}", "empty or not set"),
    ],
)
def test_required_failures_carry_the_message(template: str, words: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate(template, VARS)
    assert words in caught.value.message
    assert caught.value.variable in ("UNSET", "EMPTY")


@pytest.mark.parametrize("template", ["${", "${SET", "$", "a $ b", "$1", "${}", "${1X}", "${SET!x}", "${SET:x}"])
def test_malformed_templates_are_errors(template: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate(template, VARS)
    assert "invalid interpolation format" in caught.value.message

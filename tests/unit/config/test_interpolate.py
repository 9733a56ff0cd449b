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


@pytest.mark.parametrize("template", ["${", "${SET", "${}", "${1X}", "${SET!x}", "${SET:x}", "a ${ b", "${ SET}"])
def test_malformed_templates_are_errors(template: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate(template, VARS)
    assert "invalid interpolation format" in caught.value.message


# compose-go (compose v2) template/template_test.go, case by case: a `$` that starts neither a
# name nor `{` is kept as written; `${` with a bad name is an error; `$$` is a literal `$`.
COMPOSE = {"FOO": "first", "BAR": "", "JSON": '{"json":2}'}


@pytest.mark.parametrize(
    "template, expected",
    [
        ("$${foo}", "${foo}"),  # TestEscaped
        ("foo", "foo"),  # TestSubstituteNoMatch
        ("a $ string", "a $ string"),  # TestUnescaped
        ("^REGEX$", "^REGEX$"),
        ("$}", "$}"),
        ("$", "$"),
        ("$1 and $-x and $.", "$1 and $-x and $."),
        ("$FOO-bar", "first-bar"),  # TestNonBraced
        ("This ${missing} var", "This  var"),  # TestNoValueNoDefault
        ("This ${BAR} var", "This  var"),
        ("This $FOO var", "This first var"),  # TestValueNoDefault
        ("This ${FOO} var", "This first var"),
        ("ok ${missing:-def}", "ok def"),  # TestNoValueWithDefault
        ("ok ${missing-def}", "ok def"),
        ("${A:+${A},}B", "B"),  # TestLazyDefaultDoesNotWarn
        ("ok ${BAR:-def}", "ok def"),  # TestEmptyValueWithSoftDefault
        ("ok ${FOO:-def}", "ok first"),  # TestValueWithSoftDefault
        ("ok ${BAR-def}", "ok "),  # TestEmptyValueWithHardDefault
        ("ok ${UNSET_VAR:+presence_value}", "ok "),  # TestPresentValueWithUnset
        ("ok ${UNSET_VAR+presence_value}", "ok "),
        ("ok ${FOO:+presence_value}", "ok presence_value"),  # TestPresentValueWithNonEmpty
        ("ok ${FOO+presence_value}", "ok presence_value"),
        ("ok ${BAR+presence_value}", "ok presence_value"),  # TestPresentValueWithSet
        ("ok ${BAR:+presence_value}", "ok "),
        ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),  # TestNonAlphanumericDefault
        ("-ok ${BAR:-defaultValue}", "-ok defaultValue"),  # TestInterpolationExternalInterference
        ("+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
        ("-ok ${FOO:-defaultValue}", "-ok first"),
        (":-ok ${UNSET-defaultValue}", ":-ok defaultValue"),
        (":-ok ${BAR-defaultValue}", ":-ok "),
        (":?ok ${BAR-defaultValue}", ":?ok "),
        (":?ok ${BAR:-defaultValue}", ":?ok defaultValue"),
        (":+ok ${BAR:-defaultValue}", ":+ok defaultValue"),
        ("+ok ${BAR-defaultValue}", "+ok "),
        ("?ok ${BAR:-defaultValue}", "?ok defaultValue"),
        ("ok ${UNSET_VAR-$FOO}", "ok first"),  # TestDefaultsWithNestedExpansion
        ("ok ${UNSET_VAR-${FOO}}", "ok first"),
        ("ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR:-$FOO}", "ok first"),
        ("ok ${BAR:-${FOO}}", "ok first"),
        ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR+$FOO}", "ok first"),
        ("ok ${BAR+$FOO ${FOO:+second}}", "ok first second"),
        ("ok ${FOO:?err}", "ok first"),  # TestDefaultsForMandatoryVariables
        ("ok ${FOO?err}", "ok first"),
        ("ok ${BAR?err}", "ok "),
        ("ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first"),
        ("$JSON", '{"json":2}'),
        ("${UNSET:-{a}b}", "{a}b"),  # every brace counts, as compose-go's getFirstBraceClosingIndex
    ],
)
def test_compose_v2_substitution(template: str, expected: str) -> None:
    assert interpolate(template, COMPOSE) == expected


@pytest.mark.parametrize(
    "template, message",
    [
        ("not ok ${UNSET_VAR:?Mandatory Variable Unset}", "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"),
        ("not ok ${BAR:?Mandatory Variable Empty}", "required variable BAR is missing a value: Mandatory Variable Empty"),
        ("not ok ${UNSET_VAR?Mandatory Variable Unset}", "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"),
        ("not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}", "required variable UNSET_VAR is missing a value: Mandatory Variable first"),
        ("${", "invalid interpolation format"),  # TestInvalid
        ("${}", "invalid interpolation format"),
        ("${ }", "invalid interpolation format"),
        ("${ foo}", "invalid interpolation format"),
        ("${foo }", "invalid interpolation format"),
        ("${foo!}", "invalid interpolation format"),
    ],
)
def test_compose_v2_errors(template: str, message: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate(template, COMPOSE)
    assert caught.value.message.startswith(message)


def test_lazy_defaults_warn_only_when_used() -> None:
    unset: list[str] = []
    assert interpolate("${A:+${A},}B", COMPOSE, unset) == "B" and unset == []  # TestLazyDefaultDoesNotWarn
    assert interpolate("${A:-${B}}", COMPOSE, unset) == "" and unset == ["B"]  # TestLazyDefaultWarnsWhenUsed
    assert interpolate("${A?${C}}", {"A": "value"}, unset) == "value" and unset == ["B"]  # TestLazyRequiredMessageDoesNotWarn

"""Compose-style variable interpolation in strings, pure.

Supported, with docker compose semantics:

    $VAR  ${VAR}            value, or empty (and the name is reported as unset)
    ${VAR:-default}         default when VAR is unset or empty
    ${VAR-default}          default when VAR is unset
    ${VAR:?message}         error when VAR is unset or empty
    ${VAR?message}          error when VAR is unset
    ${VAR:+replacement}     replacement when VAR is set and not empty, else empty
    ${VAR+replacement}      replacement when VAR is set, else empty
    $$                      a literal $
    $ before anything else  kept as written ("a $ string", a regex ending in $)

Defaults, messages and replacements may themselves contain interpolations
(`${A:-${B:-x}}`); they are only evaluated when used. The rules are compose
v2's (compose-go's template package): `${` must be followed by a variable
name, or it is an error.

Interpolation runs in time linear in the text: the braces are matched in one
pass, and each character is then read by one level only. Nesting stops at
MAX_DEPTH levels, and what variables add to the text is counted against an
`ExpansionBudget` (one per load: a variable written half a million times, or
an env file whose lines double the one above, is an error, not gigabytes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from meshcompose.config.limits import MAX_DEPTH, MAX_EXPANSION, TOO_DEEP

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Longest operators first so `:-` is not read as `:` + `-`.
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_LITERAL = "; write $$ for a literal $"
_BRACES = re.compile(r"[{}]")
_SHOWN = 60  # characters of a template quoted in an error


class InterpolationError(ValueError):
    """A `${VAR:?message}` whose variable is missing, or a malformed template."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.variable = variable


class ExpansionBudget:
    """How many more characters interpolation may add (variables' values, env files read)."""

    def __init__(self, limit: int = MAX_EXPANSION) -> None:
        self.limit = limit
        self.left = limit

    @property
    def exhausted(self) -> bool:
        """Whether it ran out: said once, where it did; what comes after is skipped."""
        return self.left < 0

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise InterpolationError(f"interpolation makes more than {self.limit:,} characters "
                                     "(a variable used too often, or values built from each other)")


def interpolate(
    text: str, variables: Mapping[str, str], unset: list[str] | None = None, used: list[str] | None = None,
    budget: ExpansionBudget | None = None,
) -> str:
    """Substitute variables in `text`.

    Names of variables used without a default that are not set are appended
    to `unset` (once each), so the caller can warn; they become empty.
    Names of variables whose value went into the result are appended to
    `used` (once each): the result then carries a value from outside the file.
    Values substituted are charged to `budget` (by default, one of its own).
    """
    if "$" not in text:
        return text
    interpolator = _Interpolator(text, variables, unset if unset is not None else [],
                                 used if used is not None else [], budget or ExpansionBudget())
    return interpolator.expand(0, len(text), 0)


class _Interpolator:
    def __init__(self, text: str, variables: Mapping[str, str], unset: list[str], used: list[str],
                 budget: ExpansionBudget) -> None:
        self.text = text
        self.variables = variables
        self.unset = unset
        self.used = used
        self.budget = budget
        self.closing = _matching_braces(text)

    def _value_of(self, name: str, value: str) -> str:
        if name not in self.used:
            self.used.append(name)
        self.budget.spend(len(value))
        return value

    def expand(self, start: int, stop: int, depth: int) -> str:
        """The text between `start` and `stop`, substituted; `depth` levels of `${` enclose it."""
        if depth > MAX_DEPTH:
            raise InterpolationError(f"interpolation {TOO_DEEP} in {_shown(self.text)}")
        text = self.text
        out: list[str] = []
        pos = start
        while True:
            dollar = text.find("$", pos, stop)
            if dollar < 0:
                out.append(text[pos:stop])
                return "".join(out)
            out.append(text[pos:dollar])
            value, pos = self._substitution(dollar, stop, depth)
            out.append(value)

    def _substitution(self, dollar: int, stop: int, depth: int) -> tuple[str, int]:
        """The value of the `$...` starting at `dollar`, and where scanning resumes."""
        text = self.text
        after = dollar + 1
        if after < stop and text[after] == "$":
            return "$", after + 1
        if after < stop and text[after] == "{":
            end = self.closing.get(after, -1)
            if end < 0 or end >= stop:
                raise InterpolationError(f"invalid interpolation format in {_shown(text)!r}: "
                                         f"'${{' without a closing '}}'{_LITERAL}")
            return self._braced(after + 1, end, depth + 1), end + 1
        match = _NAME.match(text, after, stop)
        if not match:
            return "$", after  # compose v2 keeps a `$` that starts no variable: "a $ string", "^ready$"
        return self._lookup(match.group(0)), match.end()

    def _braced(self, start: int, stop: int, depth: int) -> str:
        """The value of `${...}` whose body is text[start:stop]."""
        text = self.text
        match = _NAME.match(text, start, stop)
        if not match:
            raise InterpolationError(f"invalid interpolation format: ${{{_shown(text[start:stop])}}} "
                                     f"does not start with a variable name{_LITERAL}")
        name, rest = match.group(0), match.end()
        if rest == stop:
            return self._lookup(name)
        for operator in _OPERATORS:
            if text.startswith(operator, rest, stop):
                return self._apply(name, operator, rest + len(operator), stop, depth)
        raise InterpolationError(f"invalid interpolation format: ${{{_shown(text[start:stop])}}} "
                                 f"(unknown operator after {name}){_LITERAL}")

    def _apply(self, name: str, operator: str, start: int, stop: int, depth: int) -> str:
        """`${name<operator>word}`, the word being text[start:stop], expanded only when used."""
        value = self.variables.get(name)
        is_set = value is not None
        usable = bool(value) if operator.startswith(":") else is_set
        kind = operator[-1]
        if kind == "-":
            return self._value_of(name, value) if usable else self.expand(start, stop, depth)  # type: ignore[arg-type]
        if kind == "+":
            return self.expand(start, stop, depth) if usable else ""
        if usable:
            return self._value_of(name, value)  # type: ignore[arg-type]
        detail = self.expand(start, stop, depth) or ("is empty or not set" if operator == ":?" else "is not set")
        raise InterpolationError(f"required variable {name} is missing a value: {_shown(detail)}", variable=name)

    def _lookup(self, name: str) -> str:
        value = self.variables.get(name)
        if value is None:
            if name not in self.unset:
                self.unset.append(name)
            return ""
        return self._value_of(name, value)


def _matching_braces(text: str) -> dict[int, int]:
    """Index of each `{` -> index of the `}` that closes it, in one pass.

    Every `{` opens and every `}` closes, as in compose-go: `${X:-{a}b}` defaults to `{a}b`.
    A `}` with nothing open is left alone (outside `${...}` it is text).
    """
    closing: dict[int, int] = {}
    opened: list[int] = []
    for match in _BRACES.finditer(text):
        if match.group() == "{":
            opened.append(match.start())
        elif opened:
            closing[opened.pop()] = match.start()
    return closing


def _shown(text: str) -> str:
    """A template as an error quotes it: whole when short, its ends when long."""
    if len(text) <= _SHOWN:
        return text
    return f"{text[:_SHOWN // 2]}...{text[-_SHOWN // 4:]} ({len(text):,} characters)"


# -- an agent's own variables ---------------------------------------------------
# `$${NAME}` in the file survives interpolation as `${NAME}`: in a
# healthcheck it names a variable of the agent's own environment (compose's
# idiom for a variable the container resolves), filled in per replica.

_OWN_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def own_variables(text: str) -> list[str]:
    """The names `text` refers to as `${NAME}`."""
    return _OWN_VARIABLE.findall(text)


def fill_own_variables(text: str, values: Mapping[str, str]) -> str:
    """`text` with each `${NAME}` of `values` replaced by its value; others kept as written."""
    return _OWN_VARIABLE.sub(lambda found: values.get(found.group(1), found.group(0)), text)

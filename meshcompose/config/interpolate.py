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
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Longest operators first so `:-` is not read as `:` + `-`.
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_LITERAL = "; write $$ for a literal $"


class InterpolationError(ValueError):
    """A `${VAR:?message}` whose variable is missing, or a malformed template."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.variable = variable


def interpolate(
    text: str, variables: Mapping[str, str], unset: list[str] | None = None, used: list[str] | None = None,
) -> str:
    """Substitute variables in `text`.

    Names of variables used without a default that are not set are appended
    to `unset` (once each), so the caller can warn; they become empty.
    Names of variables whose value went into the result are appended to
    `used` (once each): the result then carries a value from outside the file.
    """
    if "$" not in text:
        return text
    return _Interpolator(variables, unset if unset is not None else [], used if used is not None else []).expand(text)


class _Interpolator:
    def __init__(self, variables: Mapping[str, str], unset: list[str], used: list[str]) -> None:
        self.variables = variables
        self.unset = unset
        self.used = used

    def _value_of(self, name: str, value: str) -> str:
        if name not in self.used:
            self.used.append(name)
        return value

    def expand(self, text: str) -> str:
        out: list[str] = []
        pos = 0
        while True:
            dollar = text.find("$", pos)
            if dollar < 0:
                out.append(text[pos:])
                return "".join(out)
            out.append(text[pos:dollar])
            value, pos = self._substitution(text, dollar)
            out.append(value)

    def _substitution(self, text: str, dollar: int) -> tuple[str, int]:
        """The value of the `$...` starting at `dollar`, and where scanning resumes."""
        after = dollar + 1
        if text.startswith("$", after):
            return "$", after + 1
        if text.startswith("{", after):
            end = _closing_brace(text, after + 1)
            return self._braced(text[after + 1:end]), end + 1
        match = _NAME.match(text, after)
        if not match:
            return "$", after  # compose v2 keeps a `$` that starts no variable: "a $ string", "^ready$"
        return self._lookup(match.group(0)), match.end()

    def _braced(self, body: str) -> str:
        match = _NAME.match(body)
        if not match:
            raise InterpolationError(f"invalid interpolation format: ${{{body}}} "
                                     f"does not start with a variable name{_LITERAL}")
        name, rest = match.group(0), body[match.end():]
        if not rest:
            return self._lookup(name)
        for operator in _OPERATORS:
            if rest.startswith(operator):
                return self._apply(name, operator, rest[len(operator):])
        raise InterpolationError(f"invalid interpolation format: ${{{body}}} (unknown operator after {name}){_LITERAL}")

    def _apply(self, name: str, operator: str, word: str) -> str:
        value = self.variables.get(name)
        is_set = value is not None
        usable = bool(value) if operator.startswith(":") else is_set
        kind = operator[-1]
        if kind == "-":
            return self._value_of(name, value) if usable else self.expand(word)  # type: ignore[arg-type]
        if kind == "+":
            return self.expand(word) if usable else ""
        if usable:
            return self._value_of(name, value)  # type: ignore[arg-type]
        detail = self.expand(word) or ("is empty or not set" if operator == ":?" else "is not set")
        raise InterpolationError(f"required variable {name} is missing a value: {detail}", variable=name)

    def _lookup(self, name: str) -> str:
        value = self.variables.get(name)
        if value is None:
            if name not in self.unset:
                self.unset.append(name)
            return ""
        return self._value_of(name, value)


def _closing_brace(text: str, start: int) -> int:
    """Index of the `}` that closes a `${` whose body starts at `start`.

    Every `{` opens and every `}` closes, as in compose-go: `${X:-{a}b}` defaults to `{a}b`.
    """
    depth = 1
    for pos in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[pos], 0)
        if depth == 0:
            return pos
    raise InterpolationError(f"invalid interpolation format in {text!r}: '${{' without a closing '}}'{_LITERAL}")

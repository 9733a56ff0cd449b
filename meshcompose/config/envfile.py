"""`.env` and `env_file` parsing, with docker compose's rules (compose-go's dotenv).

    # comment
    KEY=value            value up to an unquoted ` #`; $VAR and ${VAR...} are interpolated
    export KEY=value     `export` is ignored
    KEY="a\\n${B}"        double quotes: \\n \\t \\r \\" \\\\ \\$ escapes, interpolated, may span lines
    KEY='raw $x'         single quotes: taken literally (only \\' is an escape), may span lines
    KEY=                 empty value
    KEY                  no `=`: takes the caller's value (omitted if unset)

Interpolation uses compose's rules (see `interpolate`); a variable is looked
up in the caller's environment first, then in the lines above it in the
same file. python-dotenv reads a different dialect (no $VAR, no ${VAR:?},
${VAR} inside single quotes...): tests/unit/config/test_envfile.py shows where.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path

from meshcompose.config.interpolate import ExpansionBudget, InterpolationError, interpolate
from meshcompose.config.limits import InputError, read_regular_file

_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(=?)")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "$": "$$", '"': '"',
            "\\": "\\"}
# What ends a quoted value: its quote, unless a backslash escapes it (compose-go: \" and \' do not close).
_CLOSING = {quote: re.compile(r"\\.|" + quote, re.DOTALL) for quote in "'\""}


class EnvFileError(ValueError):
    """A line that is not `KEY=VALUE`; line is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def read_env_file(path: Path, environ: Mapping[str, str] | None = None,
                  unset: list[str] | None = None, budget: ExpansionBudget | None = None) -> dict[str, str]:
    """Parse a file. Raises OSError when unreadable, EnvFileError when malformed, and
    InputError (limits) when it is no regular file, too large, or not within `budget`."""
    content = read_regular_file(path)
    if budget is not None:
        try:
            budget.spend(len(content))
        except InterpolationError as error:
            raise InputError(error.message) from None
    return parse_env(content.decode("utf-8", errors="replace"), environ, unset, budget)


def parse_env(text: str, environ: Mapping[str, str] | None = None,
              unset: list[str] | None = None, budget: ExpansionBudget | None = None) -> dict[str, str]:
    """KEY -> value. `environ` is the caller's environment: bare keys and interpolation read it;
    names interpolated but set nowhere are appended to `unset`."""
    values: dict[str, str] = {}
    caller: Mapping[str, str] = environ or {}
    lookup = ChainMap(dict(caller), values)  # the caller's value wins over a line above
    spent = budget or ExpansionBudget()  # one for the whole file: lines built from the lines above
    lines = text.lstrip("\ufeff").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _KEY.match(line)
        if not match:
            raise EnvFileError(index, f"expected KEY=VALUE, got {line.strip()[:60]!r}")
        key, has_value = match.group(1), match.group(2)
        rest = line[match.end():]
        if not has_value:
            if rest.strip() and not rest.strip().startswith("#"):
                raise EnvFileError(index, f"expected KEY=VALUE, got {line.strip()[:60]!r}")
            if key in caller:
                values[key] = caller[key]
            continue
        value, consumed = _value(rest, lines, index, lookup, unset, spent)
        if "\0" in value:
            raise EnvFileError(index, "a NUL character cannot be in an environment value")
        values[key] = value
        index += consumed
    return values


def _value(rest: str, lines: list[str], index: int, lookup: Mapping[str, str],
           unset: list[str] | None, budget: ExpansionBudget) -> tuple[str, int]:
    """The value after `=`, and how many extra lines a quoted value used."""
    stripped = rest.lstrip()
    if stripped[:1] == "'":
        return _quoted(stripped, lines, index)
    if stripped[:1] == '"':
        raw, extra = _quoted(stripped, lines, index)
        return _expand(_unescape(raw), lookup, unset, index, budget), extra
    comment = re.search(r"\s#", stripped)
    return _expand((stripped[: comment.start()] if comment else stripped).rstrip(), lookup, unset, index, budget), 0


def _expand(text: str, lookup: Mapping[str, str], unset: list[str] | None, index: int,
            budget: ExpansionBudget) -> str:
    try:
        return interpolate(text, lookup, unset, budget=budget)
    except InterpolationError as error:
        raise EnvFileError(index, error.message) from None


def _quoted(text: str, lines: list[str], index: int) -> tuple[str, int]:
    """The text between the quotes, escapes still in it (but for the quote's own), and the extra lines used.

    Each line is searched once for the closing quote: a quote left open reads to the end of the
    file once, not once per line. A backslash at the end of a line escapes the line break.
    """
    quote, parts, extra = text[0], [], 0
    line, start = text, 1
    while True:
        end = _closing_quote(line, start, quote)
        if end >= 0:
            parts.append(line[start:end])
            break
        parts.append(line[start:])
        if index + extra >= len(lines):
            raise EnvFileError(index, f"unterminated {quote} quote")
        line, start = lines[index + extra], 0
        extra += 1
    inner, after = "\n".join(parts), line[end + 1:].strip()
    if after and not after.startswith("#"):
        raise EnvFileError(index, f"unexpected text after the closing quote: {after[:40]!r}")
    if quote == "'":
        inner = inner.replace("\\'", "'")
    return inner, extra


def _closing_quote(line: str, start: int, quote: str) -> int:
    for match in _CLOSING[quote].finditer(line, start):
        if match.group() == quote:
            return match.start()
    return -1


def _unescape(text: str) -> str:
    """compose-go's escapes in double quotes; `\\$` becomes `$$`, which interpolation reads as `$`."""
    return re.sub(r"\\([abfnrtv$\"\\])", lambda m: _ESCAPES[m.group(1)], text)

"""YAML syntax errors in words a user can act on, located at the character at fault.

PyYAML's wording ("found character '\\t' that cannot start any token",
"expected <block end>, but found '<block mapping start>'") describes the
parser, not the mistake, and libyaml words the same errors differently. The
common mistakes are recognized here by what is at the error's position and
by either parser's phrase; anything else keeps the parser's own words.
"""

from __future__ import annotations

import re

import yaml

from meshcompose.errors import Problem

PREFIX = "not valid YAML: "
TAB = "tab character: indent with spaces (YAML does not allow tabs for indentation)"
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
_CHARACTER_NAMES = {0x00: "NUL", 0x07: "bell", 0x08: "backspace", 0x0B: "vertical tab", 0x0C: "form feed",
                    0x1B: "escape", 0x7F: "delete"}
# (phrase of PyYAML or libyaml, what the user reads); the first match wins.
_PHRASES: tuple[tuple[str, str], ...] = (
    ("maximum nesting depth", "{too_deep}"),
    ("mapping values are not allowed",
     "unexpected ':' (put a value that contains ': ' in quotes, or check the indentation of this line)"),
    ("expected <block end>", "bad indentation: this line does not line up with the keys above it"),
    ("did not find expected key", "bad indentation: this line does not line up with the keys above it"),
    ("block sequence entries are not allowed", "a '- ' list item is not allowed here: check the indentation"),
    ("expected '-' indicator", "bad indentation: this line is neither a '- ' item of the list above nor after its end"),
    ("expected node content", "a value is missing (is a '[' or '{' not closed?)"),
    ("expected the node content", "a value is missing (is a '[' or '{' not closed?)"),
    ("could not find expected ':'", "expected 'key: value' (is a ':' missing, or a quote not closed above?)"),
    ("expected ',' or ']'", "a list opened with '[' is not closed with ']' (or a ',' is missing)"),
    ("expected ',' or '}'", "a map opened with '{' is not closed with '}' (or a ',' is missing)"),
    ("found unexpected end of stream", "a quoted string is not closed"),
    ("unknown escape character",
     "unknown escape in a double-quoted string: write \\\\ for a backslash, or use single quotes"),
    ("found undefined alias", "an alias (*name) must refer to an anchor (&name) defined above it"),
    ("found duplicate anchor", "the same anchor (&name) is defined twice"),
    ("expected alphabetic or numeric character",
     "an anchor or alias name (&name, *name) must start with a letter or digit"),
    ("expected a single document", "only one YAML document is allowed: remove the '---' and what follows"),
    ("but found another document", "only one YAML document is allowed: remove the '---' and what follows"),
)


def syntax_problem(error: yaml.MarkedYAMLError, text: str, file: str, too_deep: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return Problem(file, line, column, "", PREFIX + _explain(error, _character_at(text, line, column), too_deep))


def character_problem(text: str, file: str) -> Problem | None:
    """The first character YAML does not allow anywhere (even in a comment), located; None if there is none.

    Found here rather than read from the parser's error, whose position is a
    character index for PyYAML and may be a byte offset for libyaml.
    """
    match = _NON_PRINTABLE.search(text)
    if match is None:
        return None
    code, before = ord(match.group()), text[: match.start()]
    line, column = before.count("\n") + 1, match.start() - (before.rfind("\n") + 1) + 1
    kind = "control character" if code < 0x20 or 0x7F <= code < 0xA0 else "character"
    name = f" ({_CHARACTER_NAMES[code]})" if code in _CHARACTER_NAMES else ""
    escape = f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    return Problem(file, line, column, "",
                   f"{PREFIX}{kind} U+{code:04X}{name} is not allowed; "
                   f"remove it, or write {escape} inside double quotes")


def _explain(error: yaml.MarkedYAMLError, character: str, too_deep: str) -> str:
    said = " ".join(part for part in (error.context, error.problem) if part)
    if character == "\t" or "tab character" in said:
        return TAB
    if "cannot start any token" in said:
        return f"{character!r} cannot start a value: put the value in quotes"
    for phrase, words in _PHRASES:
        if phrase in said:
            return words.replace("{too_deep}", too_deep)
    return said or str(error)


def _character_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        return ""
    row = lines[line - 1]
    return row[column - 1] if 0 < column <= len(row) else ""

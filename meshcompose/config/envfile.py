"""`.env` and `env_file` parsing, in the dialect docker compose reads.

    # comment
    KEY=value            value up to an unquoted ` #`
    export KEY=value     `export` is ignored
    KEY="a\\nb"           double quotes: \\n \\t \\" \\\\ escapes, may span lines
    KEY='raw $x'         single quotes: taken literally
    KEY=                 empty value
    KEY                  no `=`: takes the caller's value (omitted if unset)

Values are not interpolated: they are data, not templates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Mapping, Optional

_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(=?)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


class EnvFileError(ValueError):
    """A line that is not `KEY=VALUE`; line is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def read_env_file(path: Path, environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Parse a file. Raises OSError when unreadable, EnvFileError when malformed."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return parse_env(text, environ)


def parse_env(text: str, environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    values: Dict[str, str] = {}
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
            if environ is not None and key in environ:
                values[key] = environ[key]
            continue
        value, consumed = _value(rest, lines, index)
        values[key] = value
        index += consumed
    return values


def _value(rest: str, lines: List[str], index: int) -> "tuple[str, int]":
    """The value after `=`, and how many extra lines a quoted value used."""
    stripped = rest.lstrip()
    if stripped[:1] in ("'", '"'):
        return _quoted(stripped, lines, index)
    comment = re.search(r"\s#", stripped)
    return (stripped[: comment.start()] if comment else stripped).rstrip(), 0


def _quoted(text: str, lines: List[str], index: int) -> "tuple[str, int]":
    quote, body, extra = text[0], text[1:], 0
    while True:
        end = _closing_quote(body, quote)
        if end >= 0:
            break
        if index + extra >= len(lines):
            raise EnvFileError(index, f"unterminated {quote} quote")
        body += "\n" + lines[index + extra]
        extra += 1
    inner, after = body[:end], body[end + 1:].strip()
    if after and not after.startswith("#"):
        raise EnvFileError(index, f"unexpected text after the closing quote: {after[:40]!r}")
    return (_unescape(inner) if quote == '"' else inner), extra


def _closing_quote(body: str, quote: str) -> int:
    pos = 0
    while pos < len(body):
        if quote == '"' and body[pos] == "\\":
            pos += 2
            continue
        if body[pos] == quote:
            return pos
        pos += 1
    return -1


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text, flags=re.DOTALL)

"""`.env` / `env_file` syntax: docker compose's documented rules, as a table.

The rules are those of the compose documentation ("Syntax for environment
files": quotes, escapes, comments, interpolation) and of compose-go's dotenv
parser and fixtures (`export`, multi-line values, keys with dots). Each case
runs against our parser, and against python-dotenv: the owners would use
python-dotenv if it read compose's dialect. It does not, and
`DOTENV_DIFFERS` lists where; if python-dotenv changes, this test says so.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Union

import pytest
from dotenv import dotenv_values

from meshcompose.config import envfile, loader
from meshcompose.errors import ConfigError

CALLER = {"OTHER": "other", "EMPTY": ""}
ERROR = "error"
Expected = Union[dict[str, str], str]

COMPOSE_RULES: dict[str, tuple] = {
    # name: (file text, what compose reads; ERROR: compose refuses the file)
    "unquoted": ("VAR=VAL", {"VAR": "VAL"}),
    "double quotes": ('VAR="VAL"', {"VAR": "VAL"}),
    "single quotes": ("VAR='VAL'", {"VAR": "VAL"}),
    "comment after a space": ("VAR=VAL # comment", {"VAR": "VAL"}),
    "hash without a space": ("VAR=VAL# not a comment", {"VAR": "VAL# not a comment"}),
    "hash inside double quotes": ('VAR="VAL # not a comment"', {"VAR": "VAL # not a comment"}),
    "comment after the closing quote": ('VAR="VAL" # comment', {"VAR": "VAL"}),
    "single quotes keep $VAR": ("VAR='$OTHER'", {"VAR": "$OTHER"}),
    "single quotes keep ${VAR}": ("VAR='${OTHER}'", {"VAR": "${OTHER}"}),
    "escaped single quote": ("VAR='Let\\'s go!'", {"VAR": "Let's go!"}),
    "escaped double quotes": ('VAR="{\\"hello\\": \\"json\\"}"', {"VAR": '{"hello": "json"}'}),
    "\\t in double quotes": ('VAR="some\\tvalue"', {"VAR": "some\tvalue"}),
    "\\t in single quotes": ("VAR='some\\tvalue'", {"VAR": "some\\tvalue"}),
    "\\t unquoted": ("VAR=some\\tvalue", {"VAR": "some\\tvalue"}),
    "\\n \\r \\\\ in double quotes": ('VAR="a\\nb\\rc\\\\d"', {"VAR": "a\nb\rc\\d"}),
    "comment and blank lines": ("# c\n\n  # indented\nVAR=1\n", {"VAR": "1"}),
    "export": ("export VAR=VAL\nexport B='\\n'", {"VAR": "VAL", "B": "\\n"}),
    "spaces around =": ("A =4\nB = 5\nC= 3", {"A": "4", "B": "5", "C": "3"}),
    "empty value": ("VAR=\nW=''\nX=\"\"", {"VAR": "", "W": "", "X": ""}),
    "keys with dots and dashes": ("VAR.WITH.DOTS=dots\nVAR-WITH-DASHES=dashes", {"VAR.WITH.DOTS": "dots", "VAR-WITH-DASHES": "dashes"}),
    "multi-line double quotes": ('VAR="line 1\nline 2"', {"VAR": "line 1\nline 2"}),
    "multi-line single quotes": ("VAR='line 1\nline 2\nline 3'", {"VAR": "line 1\nline 2\nline 3"}),
    "bare key takes the caller's value": ("OTHER", {"OTHER": "other"}),
    "bare key unset is omitted": ("NOPE", {}),
    "${VAR}": ("VAR=${OTHER}", {"VAR": "other"}),
    "$VAR": ("VAR=$OTHER", {"VAR": "other"}),
    "${VAR} in double quotes": ('VAR="x ${OTHER}"', {"VAR": "x other"}),
    "${VAR:-default}": ("VAR=${EMPTY:-def}", {"VAR": "def"}),
    "${VAR-default}": ("VAR=${EMPTY-def}\nW=${NOPE-def}", {"VAR": "", "W": "def"}),
    "${VAR:+replacement}": ("VAR=${OTHER:+yes}\nW=${EMPTY:+yes}", {"VAR": "yes", "W": ""}),
    "${VAR+replacement}": ("VAR=${EMPTY+yes}\nW=${NOPE+yes}", {"VAR": "yes", "W": ""}),
    "${VAR:?error}": ("VAR=${NOPE:?missing}", ERROR),
    "${VAR?error}": ("VAR=${NOPE?missing}", ERROR),
    "a line above": ("A=1\nB=${A}2", {"A": "1", "B": "12"}),
    "the caller wins over a line above": ("OTHER=file\nB=${OTHER}", {"OTHER": "file", "B": "other"}),
    "\\$ in double quotes": ('VAR="\\$OTHER"', {"VAR": "$OTHER"}),
    "$$": ("VAR=$$OTHER", {"VAR": "$OTHER"}),
    "unquoted value is trimmed": ("VAR=  a b  ", {"VAR": "a b"}),
    "a lone $": ("VAR=a $ b", {"VAR": "a $ b"}),
}

# Where python-dotenv (1.x) reads these files differently from compose.
DOTENV_DIFFERS = {
    "single quotes keep ${VAR}",  # it interpolates inside single quotes
    "bare key takes the caller's value",  # it gives None
    "$VAR", "${VAR:+replacement}", "${VAR+replacement}", "${VAR-default}",  # only ${VAR} and ${VAR:-default}
    "${VAR:-default}",  # and `:-` treats a set-but-empty variable as set
    "${VAR:?error}", "${VAR?error}",  # no required variables
    "the caller wins over a line above",  # the file wins
    "\\$ in double quotes", "$$",  # no escape for a literal $
}


def ours(text: str) -> Expected:
    try:
        return envfile.parse_env(text, CALLER)
    except envfile.EnvFileError:
        return ERROR


def python_dotenv(text: str, monkeypatch: pytest.MonkeyPatch) -> Expected:
    for key, value in CALLER.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NOPE", raising=False)
    try:
        values = dotenv_values(stream=io.StringIO(text), interpolate=True)
    except Exception:  # noqa: BLE001 - any refusal counts as an error
        return ERROR
    return {key: value for key, value in values.items() if value is not None}


@pytest.mark.parametrize("name", sorted(COMPOSE_RULES))
def test_our_parser_reads_env_files_as_compose_does(name: str) -> None:
    text, expected = COMPOSE_RULES[name]
    assert ours(text) == expected


def test_where_python_dotenv_reads_env_files_differently(monkeypatch: pytest.MonkeyPatch) -> None:
    differs = {name for name, (text, expected) in COMPOSE_RULES.items() if python_dotenv(text, monkeypatch) != expected}
    assert differs == DOTENV_DIFFERS


def test_errors_and_unset_variables_carry_their_line() -> None:
    with pytest.raises(envfile.EnvFileError) as caught:
        envfile.parse_env("A=1\nB='two\nlines'\nC=${NOPE:?set NOPE}\n", CALLER)
    assert (caught.value.line, caught.value.message) == (4, "required variable NOPE is missing a value: set NOPE")
    unset: list = []
    assert envfile.parse_env("A=$NOPE\nB=${NOPE}${ALSO}\n", CALLER, unset) == {"A": "", "B": ""}
    assert unset == ["NOPE", "ALSO"]


def test_dotenv_interpolation_reaches_the_project_and_env_files(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("")
    (tmp_path / ".env").write_text("HOST=db\nURL=postgres://${HOST}:${PORT:-5432}/x\n")
    (tmp_path / "agent.env").write_text("DSN=$URL\nRAW='$URL'\nMISSING=${GONE:?set GONE}\n")
    path = tmp_path / "mesh-compose.yaml"
    path.write_text("agents:\n  a: {script: a.py, args: ['${URL}'], env_file: agent.env}\n")
    with pytest.raises(ConfigError) as caught:
        loader.load_project([path], environ={})
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'agent.env'}:3:1: required variable GONE is missing a value: set GONE"]
    (tmp_path / "agent.env").write_text("DSN=$URL\nRAW='$URL'\n")
    agent = loader.load_project([path], environ={"PORT": "6543"}).agents["a"]
    assert agent.args == ("postgres://db:6543/x",)
    assert dict(agent.environment) == {"DSN": "postgres://db:6543/x", "RAW": "$URL"}

"""JSON Schema validation of one project document, with located, readable problems.

jsonschema (Python) is the reference, and the one that explains; it takes
0.25 s for a 1,000-agent file, most of it walking its own machinery per
value. jsonschema-rs (Rust, the same draft 2020-12) answers "valid?" in
about 1 ms, so a valid document is settled by it wherever its answer must be
jsonschema's (see `_fast_verdict`); anything else goes to jsonschema, as
before.

jsonschema's own messages for `oneOf` and `additionalProperties` are hard to
act on ("is not valid under any of the given schemas"), so each error is
explained here from the schema itself: the allowed keys, the expected forms,
the description of the value.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from typing import Any

from meshcompose.config import memo
from meshcompose.config.yamlload import Mark, Path_, dotted
from meshcompose.errors import Problem

SCHEMA_FILE = "mesh-compose.schema.json"
_TYPE_WORDS = {
    "string": "a string", "number": "a number", "integer": "an integer", "boolean": "true or false",
    "object": "a map", "array": "a list", "null": "null",
}


_NAME_RULE = "use letters, digits, '_', '.' and '-', starting with a letter or digit"
# The rule a pattern enforces, in words: a schema description says what a value is, not how to write it.
_PATTERN_WORDS = {
    "^[A-Za-z0-9][A-Za-z0-9_.-]*$": ("name", _NAME_RULE),
    "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$":
        ("module name", "use a dotted Python name such as mypkg.agent"),
    "^(SIG)?[A-Za-z0-9]+$": ("signal", "use a name such as SIGTERM, TERM or SIGHUP"),
}

_VALID = memo.Memo("valid-documents")


@functools.lru_cache(maxsize=1)
def schema_text() -> str:
    # one part per joinpath: Python 3.9's takes one
    return resources.files("meshcompose").joinpath("schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(schema_text())
    return document


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # lazy: only validation pays for it

    return jsonschema.Draft202012Validator(schema())


@functools.lru_cache(maxsize=1)
def _fast_validator() -> Any:
    """jsonschema-rs's validator of the schema; None where it is not installed (Python 3.9)."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.Draft202012Validator(schema())


# An escape JSON writes for a control character or anything past ASCII (`\\"` and `\\\\` are neither).
_ESCAPED = re.compile(r'\\[^"]')


def _fast_verdict(text: str, data: Any) -> bool:
    """True if jsonschema-rs says `data` is valid and jsonschema would say the same.

    Both implement draft 2020-12, but `pattern` runs Python's `re` in one and
    ECMA 262 regular expressions in the other, which differ only past
    printable ASCII (what `\\s`, `\\d` and `.` match, `$` before a final
    newline). So the verdict is trusted only for documents whose every string
    is printable ASCII: `text`, the document as JSON, has no escape but `\\"`
    and `\\\\`.
    """
    validator = _fast_validator()
    if validator is None or _ESCAPED.search(text.replace("\\\\", "")):
        return False
    try:
        return bool(validator.is_valid(data))
    except (ValueError, TypeError, OverflowError):  # a value it cannot convert: jsonschema decides
        return False


def schema_problems(data: Any, marks: Mapping[Path_, Mark]) -> list[tuple[Path_, Problem]]:
    """Problems of one document, located with its marks.

    A `oneOf` of `required` alternatives (script/module/command, the
    healthcheck kinds) is only enforced when two are present: an override file
    may leave them out, and the merged project is checked for exactly one.
    """
    text = memo.canonical(data)
    key = memo.digest(schema_text(), text)
    if _VALID.get(key):
        return []  # this very document passed this very schema before: skip validating
    if _fast_verdict(text, data):
        _VALID.put(key, True)
        return []
    found: dict[Problem, Path_] = {}
    for error in _validator().iter_errors(data):
        for path, message in _explain(error, ""):
            found.setdefault(locate(marks, path, message), path)
    if not found:
        _VALID.put(key, True)
    return [(path, problem) for problem, path in sorted(found.items())]


def locate(marks: Mapping[Path_, Mark], path: Path_, message: str) -> Problem:
    probe = tuple(path)
    while probe not in marks and probe:
        probe = probe[:-1]
    mark = marks.get(probe) or next(iter(marks.values()), Mark("", 0, 0))
    return Problem(mark.file, mark.line, mark.column, dotted(path), message)


def _explain(error: Any, description: str) -> Iterator[tuple[Path_, str]]:
    path = tuple(error.absolute_path)
    description = error.schema.get("description", description) if isinstance(error.schema, dict) else description
    kind, value, instance = error.validator, error.validator_value, error.instance
    if "propertyNames" in error.schema_path:
        yield path + (instance,), f"invalid name {instance!r}: {_NAME_RULE}"
    elif kind == "additionalProperties":
        yield from _unknown_keys(error.schema, instance, path)
    elif kind in ("oneOf", "anyOf"):
        yield from _alternatives(error, path, description)
    elif kind == "type":
        yield path, f"expected {_type_words(value)}, got {_type_name(instance)}"
    elif kind == "enum":
        shown = [v if isinstance(v, str) else json.dumps(v) for v in value]  # YAML's spelling: true
        close = difflib.get_close_matches(str(instance), shown, n=1)
        guess = f"did you mean '{close[0]}'? " if close else ""  # as for keys
        yield path, f"{guess}must be one of: {', '.join(shown)} (got {instance!r})"
    elif kind == "const":
        yield path, f"must be {json.dumps(value)} (got {instance!r})"
    elif kind in ("minItems", "minLength"):
        yield path, "must not be empty"
    elif kind in ("minimum", "exclusiveMinimum"):
        yield path, f"must be {'at least' if kind == 'minimum' else 'greater than'} {value} (got {instance!r})"
    elif kind == "uniqueItems":
        yield path, "contains the same entry twice"
    elif kind == "pattern" and value in _PATTERN_WORDS:
        what, rule = _PATTERN_WORDS[value]
        yield path, f"invalid {what} {instance!r}: {rule}"
    elif kind == "pattern":
        yield path, f"invalid value {instance!r}" + (f": {description}" if description else "")
    else:
        yield path, error.message


def _unknown_keys(subschema: Mapping[str, Any], instance: Mapping[str, Any],
                  path: Path_) -> Iterator[tuple[Path_, str]]:
    allowed = list(subschema.get("properties", {}))
    patterns = list(subschema.get("patternProperties", {}))
    for key in instance:
        if key in allowed or any(re.search(p, str(key)) for p in patterns):
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1)
        guess = f"did you mean '{close[0]}'? " if close else ""
        yield path + (key,), (f"unknown key '{key}'; {guess}allowed: {', '.join(allowed)}"
                              + (", x-*" if patterns else ""))


def _alternatives(error: Any, path: Path_, description: str) -> Iterator[tuple[Path_, str]]:
    branches: Sequence[Any] = error.validator_value
    if all(isinstance(b, dict) and set(b) == {"required"} for b in branches):
        yield from _exclusive_keys(branches, error.instance, path)
        return
    if not error.context:
        yield path, "matches more than one form; " + (description or "make it unambiguous")
        return
    by_branch: dict[int, list[Any]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [errs for errs in by_branch.values() if not any(_is_shape_error(e) for e in errs)]
    if fitting:
        for sub in fitting[0]:
            yield from _explain(sub, description)
        return
    forms = " or ".join(_describe(_resolve(b)) for b in branches)
    yield path, f"expected {forms}, got {_type_name(error.instance)} {_short(error.instance)}".rstrip()


def _exclusive_keys(branches: Sequence[Any], instance: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
    names = [b["required"][0] for b in branches]
    present = [n for n in names if isinstance(instance, dict) and n in instance]
    if len(present) > 1:
        yield path, f"use only one of {', '.join(present)}"


def _is_shape_error(error: Any) -> bool:
    """An error saying this whole alternative has the wrong type, not a detail inside it."""
    return not error.relative_path and error.validator in ("type", "const")


def _resolve(subschema: Any) -> Any:
    ref = subschema.get("$ref", "") if isinstance(subschema, dict) else ""
    if ref.startswith("#/$defs/"):
        return schema()["$defs"].get(ref[len("#/$defs/"):], subschema)
    return subschema


def _describe(subschema: Any) -> str:
    if not isinstance(subschema, dict):
        return "a value"
    if "const" in subschema:
        return json.dumps(subschema["const"])
    if "enum" in subschema:
        return "one of " + ", ".join(str(v) for v in subschema["enum"])
    if "type" in subschema:
        return _type_words(subschema["type"])
    if "$ref" in subschema:
        return _describe(_resolve(subschema))
    return "a value"


def _type_words(value: Any) -> str:
    names: list[str] = value if isinstance(value, list) else [value]
    return " or ".join(_TYPE_WORDS.get(name, name) for name in names)


def _type_name(instance: Any) -> str:
    if isinstance(instance, bool):
        return "a boolean"
    for python_type, word in ((dict, "a map"), (list, "a list"), (str, "a string"), (int, "an integer"),
                              (float, "a number")):
        if isinstance(instance, python_type):
            return word
    return "null"


def _short(instance: Any) -> str:
    return f"({instance!r})" if isinstance(instance, (str, int, float)) and len(repr(instance)) <= 40 else ""

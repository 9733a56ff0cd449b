"""Frozen dataclasses to JSON values and back, checked against their type hints.

The run plan carries the whole project model (agents, healthchecks, restart
policies, resources) and the launch specs to a supervisor in another
process. Rather than a hand-written `to_dict`/`from_dict` per class, which
drift from the classes, this walks the dataclass fields: enums become their
values, paths strings, tuples and mappings lists and objects. Decoding checks
every value against the field's type and names where a wrong one is
(`project.agents.api.restart.mode`), so a damaged file is a clear error, not
a traceback deep in the supervisor.

Handles what the model uses: dataclasses, enums, `Path`, `str`/`int`/
`float`/`bool`, `Optional`/`Union`, `Tuple[X, ...]`, `List`, `Mapping`/`Dict`
with string keys, and `Any`.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import functools
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_NONE = type(None)
_PLAIN = frozenset({str, int, float, bool, _NONE})
_SEQUENCES = (list, tuple, collections.abc.Sequence)
_MAPPINGS = (dict, collections.abc.Mapping)


class DecodeError(ValueError):
    """A value that does not fit its field; `where` is the dotted path to it."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where, self.problem = where, problem


def encode(value: Any) -> Any:
    """`value` as JSON types (dict, list, str, int, float, bool, None)."""
    if type(value) in _PLAIN:  # most values (environments are most of a plan): checked first
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: encode(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, collections.abc.Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, (set, frozenset)):  # e.g. Agent.external; sorted, so a plan is reproducible
        return sorted(encode(item) for item in value)
    return value


def decode(kind: type[T], raw: Any, where: str = "") -> T:
    """`raw` (as `encode` made it) back as a `kind`; DecodeError if it does not fit."""
    return _decode(kind, raw, where)


def _decode(kind: Any, raw: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if kind is Any:
        return raw
    if origin is typing.Union:
        return _union(typing.get_args(kind), raw, where)
    if origin in _SEQUENCES:
        return _sequence(origin, typing.get_args(kind), raw, where)
    if origin in (set, frozenset):
        return origin(_sequence(list, typing.get_args(kind), raw, where))
    if origin in _MAPPINGS:
        return _mapping(typing.get_args(kind), raw, where)
    if dataclasses.is_dataclass(kind):
        return _dataclass(kind, raw, where)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _enum(kind, raw, where)
    return _scalar(kind, raw, where)


def _union(options: tuple, raw: Any, where: str) -> Any:
    if raw is None:
        if _NONE in options:
            return None
        raise DecodeError(where, "must not be null")
    problems = []
    for option in options:
        if option is _NONE:
            continue
        try:
            return _decode(option, raw, where)
        except DecodeError as error:
            problems.append(error)
    raise problems[0] if len(problems) == 1 else DecodeError(where, f"unexpected value {_show(raw)}")


def _sequence(origin: Any, args: tuple, raw: Any, where: str) -> Any:
    if not isinstance(raw, list):
        raise DecodeError(where, f"expected a list, got {_show(raw)}")
    if origin is tuple and args and args[-1] is not Ellipsis:  # a fixed-length tuple
        if len(raw) != len(args):
            raise DecodeError(where, f"expected {len(args)} items, got {len(raw)}")
        return tuple(_decode(arg, item, f"{where}[{i}]") for i, (arg, item) in enumerate(zip(args, raw)))
    item_kind = args[0] if args else Any
    if _all_plain(item_kind, raw):
        return raw if origin is list else tuple(raw)
    items = [_decode(item_kind, item, f"{where}[{i}]") for i, item in enumerate(raw)]
    return items if origin is list else tuple(items)


def _mapping(args: tuple, raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DecodeError(where, f"expected an object, got {_show(raw)}")
    value_kind = args[1] if len(args) == 2 else Any
    if _all_plain(value_kind, raw.values()):  # an environment: thousands of strings, checked at once
        return dict(raw)
    return {key: _decode(value_kind, item, _join(where, key)) for key, item in raw.items()}


def _dataclass(kind: Any, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise DecodeError(where, f"expected an object, got {_show(raw)}")
    hints = _hints(kind)
    known = {field.name: field for field in dataclasses.fields(kind) if field.init}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise DecodeError(where, f"unknown field(s): {', '.join(unknown)}")
    values = {}
    for name, field in known.items():
        if name in raw:
            values[name] = _decode(hints[name], raw[name], _join(where, name))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise DecodeError(_join(where, name), "missing")
    return kind(**values)


def _enum(kind: type[enum.Enum], raw: Any, where: str) -> Any:
    try:
        return kind(raw)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in kind)
        raise DecodeError(where, f"expected one of {choices}, got {_show(raw)}") from None


def _scalar(kind: Any, raw: Any, where: str) -> Any:
    if type(raw) is kind and kind in _PLAIN:
        return raw
    if kind is Path:
        if isinstance(raw, str):
            return Path(raw)
        raise DecodeError(where, f"expected a path, got {_show(raw)}")
    if kind is float and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    if kind is int and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if kind in (str, bool) and type(raw) is kind:
        return raw
    if kind not in (str, bool, int, float):
        raise TypeError(f"the codec does not handle {kind!r} (at {where or 'the top'})")
    raise DecodeError(where, f"expected {kind.__name__}, got {_show(raw)}")


def _all_plain(kind: Any, values: Any) -> bool:
    return kind in (str, int, bool) and all(type(value) is kind for value in values)


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _show(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."

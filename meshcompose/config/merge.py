"""Merging several project files, with docker compose's rules.

Maps merge key by key, lists append, scalars are replaced; except `command`,
`args`, `healthcheck.cmd`, `increment_var` and `registry.command`, which are replaced whole
(appending to an argv is never what anyone meant). Marks follow the value
that wins, so a problem in the merged project points at the file it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meshcompose.config.yamlload import Loaded, Mark, Path_

_REPLACED_IN_AGENT = {("command",), ("args",), ("healthcheck", "cmd"), ("increment_var",)}


def merge_documents(documents: Sequence[Loaded]) -> Loaded:
    """The first document with each later one merged over it (inputs are not modified)."""
    merged = Loaded(documents[0].data, dict(documents[0].marks), broken=set(documents[0].broken))
    for document in documents[1:]:
        merged.data = _merge(merged.data, document.data, (), merged.marks, document.marks)
        merged.broken |= document.broken
    return merged


def is_replaced(path: Path_) -> bool:
    if path == ("registry", "command"):
        return True
    return len(path) >= 3 and path[0] == "agents" and tuple(path[2:]) in _REPLACED_IN_AGENT


def _merge(base: Any, over: Any, path: Path_, marks: dict[Path_, Mark], over_marks: dict[Path_, Mark]) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        result = dict(base)
        for key, value in over.items():
            child = path + (key,)
            if key in base:
                result[key] = _merge(base[key], value, child, marks, over_marks)
            else:
                result[key] = value
                _copy_marks(over_marks, child, marks, child)
            if child in over_marks:
                marks[child] = over_marks[child]
        return result
    if isinstance(base, list) and isinstance(over, list) and not is_replaced(path):
        for index in range(len(over)):
            _copy_marks(over_marks, path + (index,), marks, path + (len(base) + index,))
        return [*base, *over]
    _drop_marks(marks, path)
    _copy_marks(over_marks, path, marks, path)
    return over


def _copy_marks(src: dict[Path_, Mark], old: Path_, dst: dict[Path_, Mark], new: Path_) -> None:
    size = len(old)
    for path, mark in src.items():
        if path[:size] == old:
            dst[new + path[size:]] = mark


def _drop_marks(marks: dict[Path_, Mark], prefix: Path_) -> None:
    size = len(prefix)
    for path in [p for p in marks if p[:size] == prefix and len(p) > size]:
        del marks[path]

"""The bounds on user input, in one place, and the checks made where input enters.

Every recursive walk of user input (YAML nesting, interpolation, regular
expressions) stops at MAX_DEPTH levels; a document has at most MAX_NODES
values; a file is read only when it is a regular file, and at most
MAX_FILE_BYTES of it; interpolation (variables substituted, env files read)
produces at most MAX_EXPANSION characters per load. A path or value the
system cannot take (a NUL character, a name too long) is refused where it
is read, so no later step meets it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from meshcompose.units import path_problem

__all__ = ["path_problem", "read_regular_file", "file_kind_problem", "text_problem", "regex_nesting_problem"]

# Deeper than any real project file, and far from Python's recursion limit:
# PyYAML's composer, the builder, interpolation, `re` and jsonschema all recurse once per level.
MAX_DEPTH = 100
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
MAX_NODES = 200_000
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_EXPANSION = 32 * 1024 * 1024


class InputError(ValueError):
    """A file or value refused: the message says why, without the path (the caller places it)."""


def read_regular_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The content of a regular file of at most `limit` bytes.

    Raises InputError for a path the system would refuse, anything but a regular file (a FIFO
    would block, /dev/zero never ends) and a file over `limit`; OSError when it cannot be read.
    Looked at before it is opened (opening a device may act), and opened without blocking, so
    a FIFO put in its place meanwhile is seen for what it is instead of waited on.
    """
    problem = path_problem(path)
    if problem:
        raise InputError(problem)
    if not stat.S_ISREG(os.stat(path).st_mode):  # before opening: opening some devices acts
        raise InputError("not a regular file")
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InputError("not a regular file")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            content = handle.read(limit + 1)
    finally:
        os.close(descriptor)
    if len(content) > limit:
        raise InputError(f"larger than {limit // (1024 * 1024)} MiB")
    return content


def file_kind_problem(path: Path) -> str:
    """Why `path` cannot be read as a file (it is missing, not a regular file, unreachable), or ""."""
    problem = path_problem(path)
    if problem:
        return problem
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "no such file"
    except OSError as error:
        return f"cannot be read ({(error.strerror or str(error)).lower()})"
    return "" if stat.S_ISREG(info.st_mode) else "not a regular file"


def text_problem(text: str) -> str:
    """Why a value cannot be an argument, environment value or path, or "": a NUL character
    (the system ends a string there), or a lone surrogate (no encoding writes it; one from the
    caller's environment, where undecodable bytes are escaped, is kept)."""
    if "\0" in text:
        return "a NUL character cannot be in a path, argument or environment value"
    if not text.isascii():
        try:
            text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as error:
            return f"not valid text: a lone surrogate at character {error.start + 1}"
    return ""


def regex_nesting_problem(pattern: str) -> str:
    """The regular expression nested too deep for `re` (it recurses once per group), or ""."""
    depth = deepest = 0
    index, length = 0, len(pattern)
    in_class = False
    while index < length:
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            index += 1
            index += pattern.startswith("^", index)
            index += pattern.startswith("]", index)  # a `]` first in a class is itself
            continue
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(0, depth - 1)
        index += 1
    return TOO_DEEP if deepest > MAX_DEPTH else ""

"""Problems located by the document's marks, and values converted without a traceback.

What the builder reports goes through `Located`: each problem gets the
FILE:LINE:COL of the key it is about, and a value that does not parse
(a duration, a size, a whole number) becomes a problem and a default.
"""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, TypeVar

from meshcompose import units
from meshcompose.config.discovery import absolute_path
from meshcompose.config.limits import path_problem
from meshcompose.config.validate import locate
from meshcompose.config.yamlload import Loaded, Path_, dotted
from meshcompose.errors import Problem
from meshcompose.model import PythonRequirements

T = TypeVar("T")
Q = TypeVar("Q")
D = TypeVar("D")


class Located:
    """Collects problems located by the document's marks; converts values safely."""

    def __init__(self, loaded: Loaded) -> None:
        self.marks = loaded.marks
        self.problems: list[Problem] = []
        # Paths whose value holds interpolated variables (few: found once, not per agent).
        self.interpolated = [path for path, mark in loaded.marks.items() if mark.variables]

    def add(self, path: Path_, message: str) -> None:
        self.problems.append(locate(self.marks, path, message))

    def convert(self, path: Path_, raw: Any, parse: Callable[[Any], T], default: T) -> T:
        if raw is None:
            return default
        try:
            return parse(raw)
        except (ValueError, TypeError, OverflowError) as error:
            self.add(path, str(error))
            return default

    def quantity(self, path: Path_, raw: Any, parse: Callable[[Any], Q], default: D, what: str) -> Q | D:
        """A duration, size or CPU count: like `convert`, but one too large for a float is an error too."""
        if raw is None:
            return default
        try:
            value = parse(raw)
        except (ValueError, TypeError) as error:  # OverflowError is an ArithmeticError: below
            self.add(path, str(error))
            return default
        except OverflowError:
            value = None
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            self.add(path, f"too large for {what} (got {_abridged(raw)})")
            return default
        return value

    def duration(self, path: Path_, raw: Any, default: float) -> float:
        return self.quantity(path, raw, units.parse_duration, default, "a duration")

    def integer(self, path: Path_, raw: Any, default: int | None, low: int = 0, high: int | None = None) -> int | None:
        value = self.convert(path, raw, _whole_number, default)
        if value is not None and (value < low or (high is not None and value > high)):
            self.add(path, f"must be between {low} and {high}" if high is not None else f"must be at least {low}")
            return default
        return value

    def existing(self, where: Path_, target: Path, kind: str = "") -> None:
        """A path the agent needs must be there now: `config -q` in CI says so, not `up` later.

        Located at the key; labelled with its owner (`agents.api: script ... does not exist`).
        """
        problem = _unusable(target, kind)
        if not problem:
            return
        mark = locate(self.marks, where, "")
        self.problems.append(Problem(mark.file, mark.line, mark.column, dotted(where[:-1]),
                                     f"{where[-1]} {target} {problem}"))

    def interpreter(self, where: Path_, spec: str | None, directory: Path) -> str | None:
        """A path must exist; a bare name such as python3.12 must be a file in the
        project directory or a command on PATH, as pyenv.resolve looks for it."""
        if spec is not None and looks_like_path(spec):
            self.existing(where, absolute_path(directory, spec))
        elif spec is not None and not (directory / spec).exists() and shutil.which(spec) is None:
            mark = locate(self.marks, where, "")
            self.problems.append(Problem(mark.file, mark.line, mark.column, dotted(where[:-1]),
                                         f"{where[-1]} {spec} is not a command on PATH "
                                         "(nor a file in the project directory)"))
        return spec

    def requirements(self, path: Path_, raw: Mapping[str, Any], fallback: PythonRequirements) -> PythonRequirements:
        """`requires` and `packages` as written at `path`; what is not written comes from `fallback`
        (checked where it was written, or the model's default), so it is not checked again."""
        requires = raw.get("requires", fallback.requires)
        if "requires" in raw:
            problem = _specifier_problem(requires)
            if problem:
                self.add(path + ("requires",), problem)
        packages = tuple(raw.get("packages", ()))
        for index, package in enumerate(packages):
            problem = _requirement_problem(package)
            if problem:
                self.add(path + ("packages", index), problem)
        return PythonRequirements(requires=requires, packages=packages)


def looks_like_path(spec: str) -> bool:
    """An interpreter written as a path, not a command name: pyenv tells them apart by the same rule."""
    return any(sep in spec for sep in ("/", "\\")) or spec.startswith((".", "~"))


# A project of many agents repeats the same few strings: each is parsed once (packaging is
# imported only when a file names one).
@functools.lru_cache(maxsize=256)
def _specifier_problem(requires: str) -> str:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(requires)
    except InvalidSpecifier:
        return f"not a PEP 440 version specifier: {requires!r} (e.g. '>=3.10')"
    return ""


@functools.lru_cache(maxsize=256)
def _requirement_problem(package: str) -> str:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        Requirement(package)
    except InvalidRequirement as error:
        return f"not a PEP 508 requirement: {package!r} ({error})"
    return ""


def _abridged(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 24 else f"{text[:12]}...{text[-8:]} ({len(text) - 2} characters)"


def _whole_number(raw: Any) -> int:
    text = str(raw).strip()
    if not re.fullmatch(r"-?\d+", text):
        raise ValueError(f"expected a whole number, got {raw!r}")
    return int(text)


def _unusable(target: Path, kind: str) -> str:
    """Why `target` cannot serve as a `kind` ("file", "directory" or any), or "".

    A directory must let this user in, and a file be readable: `config -q` says so, not `up`.
    """
    problem = path_problem(target)
    if problem:
        return problem
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return "does not exist"
    except OSError as error:  # e.g. another user's project: no permission to look
        return f"cannot be read ({error.strerror})"
    if kind == "file" and not stat.S_ISREG(info.st_mode):
        return "is not a file"
    if kind == "directory" and not stat.S_ISDIR(info.st_mode):
        return "is not a directory"
    if kind == "directory" and not os.access(target, os.X_OK):
        return "cannot be entered (permission denied)"
    if kind == "file" and not os.access(target, os.R_OK):
        return "cannot be read (permission denied)"
    return ""

"""Find the project directory without loading the configuration.

`ps`, `logs` and `down` must answer even when the project file no longer
validates, and must not pay for jsonschema or networkx: they only need the
directory that holds `.mesh-compose/`, which is the directory of the project
file. This is the same search `config` does, reduced to file names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from meshcompose import ownership
from meshcompose.errors import ConfigError, Problem, ProjectNotFoundError

PROJECT_FILES = ("mesh-compose.yaml", "mesh-compose.yml")


def absolute_path(directory: str | Path, text: str | Path) -> Path:
    """`text` made absolute against `directory`, `~` expanded, `..` folded; symlinks kept.

    os.path on strings, not pathlib: a `~user` that does not exist stays as it was written
    (then reported as a path that does not exist; Path.expanduser raises RuntimeError), and one
    Path is made instead of three (a 1,000-agent file resolves 1,000 scripts).
    """
    return Path(os.path.abspath(os.path.join(directory, os.path.expanduser(text))))


def project_dir(files: Sequence[str], cwd: Path | None = None) -> Path:
    """The directory of the first `-f` file (or the directory itself when a
    directory is given), else the nearest directory from `cwd` upwards that
    holds a project file. A `-f` path that does not exist is a ConfigError, and
    a file another user could have written an UntrustedPathError, as `config`
    says them. Raises ProjectNotFoundError."""
    if files:
        given = [Path(os.path.expanduser(file)) for file in files]  # resolve() below follows symlinks before `..`
        given = [path if path.is_absolute() or cwd is None else cwd / path for path in given]
        for path in given:
            if not _is_dir(path):
                check_given_file(Path(os.path.abspath(path)))
        return (given[0] if _is_dir(given[0]) else given[0].parent).resolve()
    return find_project_file((cwd or Path.cwd()).resolve()).parent


def check_given_file(path: Path, what: str = "the project file") -> None:
    """A file named on the command line: it exists (a ConfigError, exit 3, like every invalid
    input) and it passes the ownership rule."""
    try:
        found = path.is_file()
    except OSError as error:  # EACCES, a name too long: said, never a traceback
        raise ConfigError([Problem(str(path), 0, 0, "", (error.strerror or str(error)).lower())],
                          hint="check the -f paths") from None
    if not found:
        raise ConfigError([Problem(str(path), 0, 0, "", "no such file")], hint="check the -f paths")
    ownership.check_trusted(path, what)


def find_project_file(start: Path) -> Path:
    """mesh-compose.yaml (or .yml) in `start` or the nearest parent: the one
    search every command uses. A file found must pass the ownership rule
    (UntrustedPathError); the search stops at a directory that belongs to
    another user. Raises ProjectNotFoundError."""
    for directory in (start, *start.parents):
        candidate = _candidate_in(directory)
        if candidate is not None:
            ownership.check_trusted(candidate, "the project file")
            return candidate
        owner = ownership.foreign_owner(directory)
        if owner is not None:
            raise _stopped(start, directory, owner)
    raise ProjectNotFoundError(str(start))


def _candidate_in(directory: Path) -> Path | None:
    for name in PROJECT_FILES:
        candidate = directory / name
        try:
            if candidate.is_file():
                return candidate
        except OSError as error:  # is_file() answers False only for "no such file"; EACCES raises
            reason = (error.strerror or str(error)).lower()
            raise ConfigError(f"cannot look for {name} in {directory}: {reason}",
                              hint="run as a user who may read that directory, or pass -f FILE") from None
    return None


def _stopped(start: Path, directory: Path, owner: str) -> ProjectNotFoundError:
    error = ProjectNotFoundError(str(start))
    error.hint = (f"the search stopped at {directory}, which belongs to {owner}; to look there too, "
                  f"allow it: {ownership.SAFE_DIRECTORIES_VARIABLE}={directory}, or pass -f FILE")
    return error


def _is_dir(path: Path) -> bool:
    """is_dir() answers False only for "no such file"; a directory the user may not search raises."""
    try:
        return path.is_dir()
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise ConfigError(f"cannot look at {path}: {reason}",
                          hint="run as a user who may read that directory") from None

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

from meshcompose.errors import ConfigError, ProjectNotFoundError

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
    holds a project file. Raises ProjectNotFoundError."""
    if files:
        given = Path(os.path.expanduser(files[0]))  # resolve() below follows symlinks before `..`
        if not given.is_absolute() and cwd is not None:
            given = cwd / given
        try:
            is_directory = given.is_dir()
        except OSError as error:  # is_dir() answers False only for "no such file"; EACCES raises
            reason = (error.strerror or str(error)).lower()
            raise ConfigError(f"cannot look at {given}: {reason}",
                              hint="run as a user who may read that directory") from None
        return (given if is_directory else given.parent).resolve()
    return find_project_file((cwd or Path.cwd()).resolve()).parent


def find_project_file(start: Path) -> Path:
    """mesh-compose.yaml (or .yml) in `start` or the nearest parent: the one
    search every command uses. Raises ProjectNotFoundError."""
    for directory in (start, *start.parents):
        for name in PROJECT_FILES:
            candidate = directory / name
            try:
                if candidate.is_file():
                    return candidate
            except OSError as error:  # is_file() answers False only for "no such file"; EACCES raises
                reason = (error.strerror or str(error)).lower()
                raise ConfigError(f"cannot look for {name} in {directory}: {reason}",
                                  hint="run as a user who may read that directory, or pass -f FILE") from None
    raise ProjectNotFoundError(str(start))

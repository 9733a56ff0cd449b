"""Which project a command acts on: loaded, or only located."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from meshcompose.config import locate

if TYPE_CHECKING:  # the model costs `ps` ~20 ms; only `load` returns one
    from meshcompose.model import Project

Notify = Callable[[str], None]  # a one-line message for the user


def ignore(_message: str) -> None:
    """The default Notify: nobody is listening."""


@dataclass(frozen=True)
class ProjectSelection:
    """Which project: -f files (none: search upwards from cwd), -p, --profile, --env-file."""

    files: tuple[str, ...] = ()
    name: str | None = None
    profiles: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    cwd: Path | None = None


def load(selection: ProjectSelection, warn: Notify = ignore) -> Project:
    """The validated project; interpolation warnings go to `warn` even when
    loading then fails. Raises ConfigError."""
    from meshcompose.config import loader  # yaml and the builders: not for `ps` and `logs`

    warnings: list = []
    try:
        return loader.load_project(
            selection.files, project_name=selection.name, profiles=selection.profiles,
            env_files=selection.env_files, cwd=selection.cwd, warnings=warnings,
        )
    finally:
        for warning in warnings:
            warn(warning)


def directory(selection: ProjectSelection) -> Path:
    """The project directory, found without loading the configuration (fast,
    and it works when the project file no longer validates)."""
    return locate.project_dir(selection.files, selection.cwd)

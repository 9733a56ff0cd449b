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
        project = loader.load_project(
            selection.files, project_name=selection.name, profiles=selection.profiles,
            env_files=selection.env_files, cwd=selection.cwd, warnings=warnings,
        )
    finally:
        for warning in warnings:
            warn(warning)
    script = _bare_script(selection)
    if script is None:
        return project
    from meshcompose.mesh import meshplan

    return meshplan.simple_mode(project, script)


def _bare_script(selection: ProjectSelection) -> Path | None:
    """The agent file of simple mode (`up hello.py`), or None."""
    if len(selection.files) != 1 or not selection.files[0].endswith(".py"):
        return None
    path = Path(selection.files[0]).expanduser()
    return path if path.is_absolute() or selection.cwd is None else selection.cwd / path


def directory(selection: ProjectSelection) -> Path:
    """The project directory, found without loading the configuration (fast,
    and it works when the project file no longer validates)."""
    from meshcompose.errors import ProjectNotFoundError

    try:
        return locate.project_dir(selection.files, selection.cwd)
    except ProjectNotFoundError:
        # No project file: the project simple mode (`up hello.py`) last ran
        # here, which left its state directory in this very directory.
        from meshcompose.control.paths import state_file

        here = (selection.cwd or Path.cwd()).resolve()
        if state_file(here).is_file():
            return here
        raise

"""Which project a command acts on: loaded, or only located."""

from __future__ import annotations

from pathlib import Path

from meshcompose.app.options import Notify, ProjectSelection, ignore
from meshcompose.config import locate
from meshcompose.model import Project


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

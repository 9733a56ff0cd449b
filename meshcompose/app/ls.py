"""`ls`: the projects running on this machine (compose's `ls`), from the
machine-wide index their supervisors keep (`control.index`); each project's
status comes from its state file, as `ps` reads it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from meshcompose.app.project import ProjectIdentity
from meshcompose.control import index
from meshcompose.errors import MeshComposeError


@dataclass(frozen=True)
class ProjectRow:
    """One project; the JSON output is this, as compose's `ls --format json`."""

    Name: str
    Status: str  # e.g. "running(3), exited(1)"
    ConfigFiles: str  # comma-separated, as compose's
    Directory: str
    Running: bool


@dataclass(frozen=True)
class LsOptions:
    all: bool = False  # also projects whose supervisor is gone (agents may be orphaned)


def ls(options: LsOptions) -> tuple[ProjectRow, ...]:
    """One row per registered project. A project whose state cannot be read
    (damaged, refused) still gets its row, its status saying so in one line:
    one project's damage never hides the others."""
    rows = []
    for entry in index.entries(include_stale=options.all):
        try:
            status = _status(ProjectIdentity(Path(entry.directory), entry.name))
        except MeshComposeError as error:
            status = f"unknown: {error.message}"
        rows.append(ProjectRow(entry.name, status, ",".join(entry.files), entry.directory, entry.alive))
    return tuple(rows)


def _status(project: ProjectIdentity) -> str:
    """Counts of the agents' states, running first: `running(3), exited(1)`."""
    from meshcompose.app.ps import PsOptions, ps
    from meshcompose.lifecycle import RUNNING_STATES

    result = ps(project, PsOptions(all=True, mesh=False))
    words = Counter("running" if row.State in RUNNING_STATES else row.State for row in result.rows)
    ordered = sorted(words.items(), key=lambda item: (item[0] != "running", item[0]))
    return ", ".join(f"{word}({count})" for word, count in ordered) or "-"

"""Which project a command acts on: loaded, or only located."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from meshcompose import ownership
from meshcompose.config import discovery
from meshcompose.control.paths import projects_in
from meshcompose.errors import MeshComposeError, ProjectNotFoundError
from meshcompose.names import PROJECT_NAME_MAX, checked_project_name

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
    from meshcompose.plan.planner import find_cycles

    warnings: list = []
    try:
        project = loader.load_project(
            selection.files, project_name=selection.name, profiles=selection.profiles,
            env_files=selection.env_files, cwd=selection.cwd, warnings=warnings, find_cycles=find_cycles,
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
    return discovery.absolute_path(selection.cwd or os.getcwd(), selection.files[0])


def directory(selection: ProjectSelection) -> Path:
    """The project directory, found without loading the configuration (fast,
    and it works when the project file no longer validates)."""
    return discovery.project_dir(selection.files, selection.cwd)


PROJECT_NAME_VARIABLE = "MESH_COMPOSE_PROJECT_NAME"
# The file's own top-level `name:` (no indentation), quoted or not, comment allowed.
_NAME_LINE = re.compile(r"""^name:[ \t]*(?P<q>['"]?)(?P<name>[^'"#\s]+)(?P=q)[ \t]*(?:#.*)?$""", re.MULTILINE)
_AGENT_LINE = re.compile(r"^agent:", re.MULTILINE)  # the single-agent YAML form: named after its file
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_OVERRIDE_FILES = ("mesh-compose.override.yaml", "mesh-compose.override.yml")
_AGENT_FILE_READ = 1 << 20  # enough of a single-agent YAML to find its `agent:` line


@dataclass(frozen=True)
class ProjectIdentity:
    """Which running project a command means: the directory that holds
    `.mesh-compose/` and the project's name (the key of its state, lock,
    logs and socket)."""

    directory: Path
    name: str
    # Why this project and not the one the directory's file names, for the user.
    note: str | None = None

    def __post_init__(self) -> None:
        checked_project_name(self.name)  # before any path is built from it


def identify(selection: ProjectSelection) -> ProjectIdentity:
    """The project's directory and name without validating the configuration
    (`ps`, `down`, `logs`, `stop`: fast, and they work when the file no longer
    validates). The name, as `load` would find it: -p, $MESH_COMPOSE_PROJECT_NAME,
    the file's `name:` (a bare agent.py or single-agent YAML: its file name),
    else the directory's name; when only guessed from the directory and no
    project of that name ran here, the one project that did."""
    given = selection.name or os.environ.get(PROJECT_NAME_VARIABLE) or None
    if given is not None:
        checked_project_name(given, f"-p or {PROJECT_NAME_VARIABLE}")
    try:
        where = directory(selection)
    except ProjectNotFoundError:
        where = (selection.cwd or Path.cwd()).resolve()
        ran = projects_in(where)
        if given is None and not ran:
            raise
        return ProjectIdentity(where, given or _only_one(where, ran))
    if given is not None:
        return ProjectIdentity(where, given)
    declared = _declared_name(selection.files, where, selection.cwd)
    if declared is not None:
        if not selection.files:
            return _running_here(where, declared)
        return ProjectIdentity(where, declared)
    guessed = _normalized(where.name.lower(), "project")
    ran = projects_in(where)
    if guessed in ran or not ran:
        return ProjectIdentity(where, guessed)
    return ProjectIdentity(where, _only_one(where, ran))


def _running_here(where: Path, declared: str) -> ProjectIdentity:
    """The directory's own project, unless it is not running and the one
    project that does run from here is a single agent started beside it
    (`up -d hello.py`): that is what the user means, and is told so."""
    others = [name for name in projects_in(where) if name != declared]
    if not others:
        return ProjectIdentity(where, declared)
    from meshcompose.control import state

    if state.supervisor_alive(state.StateStore(where, declared).read()):
        return ProjectIdentity(where, declared)
    running = [(name, doc) for name in others
               if state.supervisor_alive(doc := state.StateStore(where, name).read()) and doc is not None]
    if len(running) != 1 or not _single_agent(running[0][1]["files"]):
        return ProjectIdentity(where, declared)
    name, doc = running[0]
    started_from = Path(doc["files"][0]).name
    return ProjectIdentity(where, name, note=f"{declared} is not running here; {name} (`up {started_from}`) is: "
                                              f"acting on it (-p {declared} for the file's project)")


def _single_agent(files: list[str]) -> bool:
    """Started from one agent file: a bare `agent.py` or a single-agent YAML."""
    if len(files) != 1:
        return False
    path = Path(files[0])
    if path.suffix == ".py":
        return True
    try:
        with open(path, encoding="utf-8") as handle:
            return _AGENT_LINE.search(handle.read(_AGENT_FILE_READ)) is not None
    except (OSError, UnicodeDecodeError):
        return False


def _only_one(where: Path, ran: list[str]) -> str:
    """The one project that ran here, else the one whose supervisor still runs."""
    if len(ran) == 1:
        return ran[0]
    from meshcompose.control import state

    running = [name for name in ran if state.supervisor_alive(state.StateStore(where, name).read())]
    if len(running) == 1:
        return running[0]
    raise MeshComposeError(f"several projects ran in {where}: {', '.join(running or ran)}",
                           hint="pick one with -p NAME (or -f FILE)")


def _declared_name(files: tuple[str, ...], where: Path, cwd: Path | None) -> str | None:
    """The name the project file gives itself, read lightly: the last file
    that sets a top-level `name:` wins, as in the merge."""
    base = cwd or Path.cwd()
    paths = [base / Path(f).expanduser() for f in files] if files else [
        where / name for name in (*discovery.PROJECT_FILES, *_OVERRIDE_FILES)]
    found: str | None = None
    for path in paths:
        if path.suffix == ".py":
            return _normalized(path.stem, "agent")
        if path.name in _OVERRIDE_FILES and ownership.untrusted_reason(path) and not ownership.is_allowed(path):
            continue  # `load` refuses it; the name of a project that ran here is not another user's to change
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        match = _NAME_LINE.search(text)
        if match and "$" not in match["name"]:
            found = match["name"]
        elif found is None and _AGENT_LINE.search(text):
            found = _normalized(path.stem, "agent")
    return found


def _normalized(text: str, fallback: str) -> str:
    """A valid name from a file or directory name (config.forms.name_from, the
    one rule; imported only when the text is not already a valid name, since
    that module brings PyYAML)."""
    if _VALID_NAME.match(text) and text == text.strip("-._") and len(text) <= PROJECT_NAME_MAX:
        return text
    from meshcompose.config.forms import name_from

    return name_from(text, fallback)

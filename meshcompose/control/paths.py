"""Where a project's cross-process state lives: `.mesh-compose/<name>/`
beside the project file (keyed by project name, as compose keys by it), and
a short private runtime directory for the control socket.

Stdlib only: `ps` and `down` import this on their fast path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from meshcompose.errors import ControlError
from meshcompose.names import checked_project_name, valid_project_name
from meshcompose.privatefiles import check_private_dir, private_dir

STATE_DIR_NAME = ".mesh-compose"
STATE_FILE_NAME = "state.json"
LOCK_FILE_NAME = "lock"
PLAN_FILE_NAME = "run-plan.json"  # what the detached supervisor starts from
SPAWNS_FILE_NAME = "spawns.jsonl"  # spawn records not yet in state.json (see control.state)
# A unix socket path must fit in sun_path (104 bytes on macOS, 108 on Linux).
_MAX_RUNTIME_DIR = 60


def project_root(project_dir: Path) -> Path:
    """`.mesh-compose/` beside the project file (not created here): one
    subdirectory per project name run from that directory."""
    return Path(project_dir) / STATE_DIR_NAME


def project_state_path(project_dir: Path, project: str) -> Path:
    """`.mesh-compose/<project>/` (not created here): the one place a project
    name becomes a path, so it is checked here, whatever the caller did."""
    return project_root(project_dir) / checked_project_name(project)


def state_dir(project_dir: Path, project: str) -> Path:
    """`.mesh-compose/<project>/` beside the project file, created 0700 (and
    its parent): projects are kept apart by name, as compose does."""
    where = project_state_path(project_dir, project)
    private_dir(where.parent)
    return private_dir(where)


def check_state_dir(project_dir: Path, project: str) -> Path:
    """For readers: `.mesh-compose/<project>/` and its parent, if they exist,
    pass `private_dir`'s checks (nothing is created or changed)."""
    where = project_state_path(project_dir, project)
    check_private_dir(where.parent)
    check_private_dir(where)
    return where


def state_file(project_dir: Path, project: str) -> Path:
    """`.mesh-compose/<project>/state.json` (not created here)."""
    return project_state_path(project_dir, project) / STATE_FILE_NAME


def lock_file(project_dir: Path, project: str) -> Path:
    """`.mesh-compose/<project>/lock` (not created here)."""
    return project_state_path(project_dir, project) / LOCK_FILE_NAME


def plan_file(project_dir: Path, project: str) -> Path:
    """`.mesh-compose/<project>/run-plan.json` (not created here)."""
    return project_state_path(project_dir, project) / PLAN_FILE_NAME


def projects_in(project_dir: Path) -> list[str]:
    """The names of the projects that ran from `project_dir` (each has a state
    file); an entry whose name breaks the rule is no project of ours."""
    try:
        entries = sorted(os.scandir(project_root(project_dir)), key=lambda entry: entry.name)
    except OSError:
        return []
    return [entry.name for entry in entries
            if valid_project_name(entry.name) and entry.is_dir(follow_symlinks=False)
            and os.path.isfile(os.path.join(entry.path, STATE_FILE_NAME))]


def runtime_dir() -> Path:
    """A short private directory for sockets: $XDG_RUNTIME_DIR/mesh-compose if
    that is short, else /tmp/mesh-compose-UID (0700, must be ours)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg) and len(xdg) <= _MAX_RUNTIME_DIR and os.path.isdir(xdg):
        base = Path(xdg) / "mesh-compose"
    elif os.name == "posix":
        base = Path("/tmp") / f"mesh-compose-{os.getuid()}"
    else:
        import tempfile  # here, as hashlib below: `ps` imports this module and needs neither

        base = Path(tempfile.gettempdir()) / "mesh-compose"
    private_dir(base)
    _check_owner(base)
    return base


def _check_owner(path: Path) -> None:
    """/tmp is shared: refuse a directory someone else made (or a symlink)."""
    if os.name != "posix":
        return
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        raise ControlError(f"{path} is not a directory owned by you",
                           hint="remove it, or set XDG_RUNTIME_DIR to a private directory")


def socket_path(project_dir: Path, project: str) -> Path:
    """The control socket of a project: short, whatever the project path's
    length; hashed from the directory and the name (two projects, one directory)."""
    import hashlib

    key = f"{Path(project_dir).resolve()}\0{project}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return runtime_dir() / f"{digest}.sock"

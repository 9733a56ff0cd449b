"""Where a project's cross-process state lives: `.mesh-compose/` beside the
project file, and a short private runtime directory for the control socket.

Stdlib only: `ps` and `down` import this on their fast path.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from meshcompose.errors import ControlError
from meshcompose.privatefiles import private_dir

STATE_DIR_NAME = ".mesh-compose"
STATE_FILE_NAME = "state.json"
LOCK_FILE_NAME = "lock"
PLAN_FILE_NAME = "run-plan.json"  # what the detached supervisor starts from
# A unix socket path must fit in sun_path (104 bytes on macOS, 108 on Linux).
_MAX_RUNTIME_DIR = 60


def state_dir(project_dir: Path) -> Path:
    """`.mesh-compose/` beside the project file, created 0700."""
    return private_dir(Path(project_dir) / STATE_DIR_NAME)


def state_file(project_dir: Path) -> Path:
    """`.mesh-compose/state.json` (not created here)."""
    return Path(project_dir) / STATE_DIR_NAME / STATE_FILE_NAME


def lock_file(project_dir: Path) -> Path:
    """`.mesh-compose/lock` (not created here)."""
    return Path(project_dir) / STATE_DIR_NAME / LOCK_FILE_NAME


def plan_file(project_dir: Path) -> Path:
    """`.mesh-compose/run-plan.json` (not created here)."""
    return Path(project_dir) / STATE_DIR_NAME / PLAN_FILE_NAME


def runtime_dir() -> Path:
    """A short private directory for sockets: $XDG_RUNTIME_DIR/mesh-compose if
    that is short, else /tmp/mesh-compose-UID (0700, must be ours)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg) and len(xdg) <= _MAX_RUNTIME_DIR and os.path.isdir(xdg):
        base = Path(xdg) / "mesh-compose"
    elif os.name == "posix":
        base = Path("/tmp") / f"mesh-compose-{os.getuid()}"
    else:
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


def socket_path(project_dir: Path) -> Path:
    """The control socket of a project: short, whatever the project path's length."""
    digest = hashlib.sha256(str(Path(project_dir).resolve()).encode()).hexdigest()[:16]
    return runtime_dir() / f"{digest}.sock"

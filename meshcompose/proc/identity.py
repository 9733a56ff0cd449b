"""Which process is an agent's: a pid paired with its create time, and a token.

A pid alone never identifies a process (pids are reused), so every pid
written to disk goes with its create time, and a recorded process counts as
alive only while both still match. Each agent also runs with a unique token
in its environment (`TOKEN_VAR`), which every process it starts inherits.

Cheap to import (stdlib; psutil inside the functions): `ps` and `down` check
liveness through here without paying for the async process layer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

TOKEN_VAR = "MESH_COMPOSE_TOKEN"

# psutil derives create times from the boot time, which the kernel recomputes
# when the wall clock is adjusted; a recorded value can drift by a fraction of
# a second. A different process reusing the pid within this window is not a
# realistic case, a drifted boot time is.
CREATE_TIME_TOLERANCE = 1.0


def new_token() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    create_time: float


def same_process(create_time: float, recorded: float) -> bool:
    """Whether a process created at `create_time` is the one recorded at `recorded`."""
    return abs(create_time - recorded) <= CREATE_TIME_TOLERANCE


def identity(pid: int) -> ProcessIdentity | None:
    """The identity of `pid` now (a zombie still has one), or None if gone."""
    import psutil

    try:
        return ProcessIdentity(pid, psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def matching(ident: ProcessIdentity | None) -> psutil.Process | None:
    """The process behind `ident` if it is still that process (zombie or not)."""
    if ident is None:
        return None
    import psutil

    try:
        proc = psutil.Process(ident.pid)
        if same_process(proc.create_time(), ident.create_time):
            return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    return None


def running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (a zombie is dead: it only waits to be reaped)."""
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def is_alive(ident: ProcessIdentity | None) -> bool:
    """False for a gone pid, a zombie, and a pid now used by another process."""
    proc = matching(ident)
    return proc is not None and running(proc)


def process_alive(pid: int | None, create_time: float | None) -> bool:
    """`is_alive` for a pid and create time as recorded in the state file."""
    if not pid or create_time is None:
        return False
    return is_alive(ProcessIdentity(int(pid), float(create_time)))

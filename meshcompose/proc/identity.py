"""Which process is an agent's: a pid paired with its create time, and a token.

A pid alone never identifies a process (pids are reused), so every pid
written to disk goes with its create time, and a recorded process counts as
alive only while both still match. Each agent also runs with a unique token
in its environment (`TOKEN_VAR`), which every process it starts inherits.

Cheap to import (stdlib; psutil inside the functions): `ps` and `down` check
liveness through here without paying for the async process layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

TOKEN_VAR = "MESH_COMPOSE_TOKEN"

_TOKEN_ENTRY = (TOKEN_VAR + "=").encode()

# psutil derives create times from the boot time, which the kernel recomputes
# when the wall clock is adjusted; a recorded value can drift by a fraction of
# a second. Good enough to say whether a recorded process still lives, never
# enough to signal it: see `belongs`.
CREATE_TIME_TOLERANCE = 1.0
# Before a signal, where the environment cannot be read: the create time must
# be the recorded one, to the clock tick (plus float rounding).
EXACT_CREATE_TIME = 0.011


def new_token() -> str:
    import uuid  # only a start needs one: readers of the state file skip the import

    return uuid.uuid4().hex


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    create_time: float


def same_process(create_time: float, recorded: float) -> bool:
    """Whether a process created at `create_time` is the one recorded at `recorded`."""
    return abs(create_time - recorded) <= CREATE_TIME_TOLERANCE


def belongs(recorded: ProcessIdentity, token: str | None, create_time: float,
            seen_token: str | None, readable: bool) -> bool:
    """Whether a process at the recorded pid, created at `create_time` and
    carrying `seen_token`, is the recorded agent process, sure enough to signal.

    Only a record that carries a token names a process to signal: a record
    without one (a hand-written or forged line) never does. Where the
    process's environment is `readable` (same user, or root; not mid-exec),
    the token decides: a reused pid, or an unrelated process of the same user
    named by a forged record, never carries the agent's. Only where the
    environment cannot be read does the create time decide, and then it must
    be the exact recorded one, to the clock tick: the 1 s tolerance of a
    liveness check leaves room for a new process to take the pid."""
    if not token:
        return False
    if readable:
        return seen_token == token
    return abs(create_time - recorded.create_time) <= EXACT_CREATE_TIME


def own_child(pid: int, parent_pid: int) -> bool:
    """A child this process has not reaped yet keeps its pid (the kernel
    cannot reuse it), so it is surely the one spawned, whatever its
    environment now says (a setproctitle may overwrite it)."""
    import os

    return parent_pid == os.getpid() and pid != os.getpid()


def token_in(environ: bytes) -> str | None:
    """TOKEN_VAR's value in a NUL-separated environment (a byte search: a stop
    scans every process, and splitting each environment costs several times more)."""
    if environ.startswith(_TOKEN_ENTRY):
        start = len(_TOKEN_ENTRY)
    else:
        at = environ.find(b"\0" + _TOKEN_ENTRY)
        if at < 0:
            return None
        start = at + 1 + len(_TOKEN_ENTRY)
    end = environ.find(b"\0", start)
    return environ[start:end if end >= 0 else len(environ)].decode("ascii", "replace")


def environ_token(pid: int) -> tuple[str | None, bool]:
    """(the token in `pid`'s environment, whether that environment was readable).
    An empty environment (a process in the middle of exec) counts as unreadable."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read()
    except FileNotFoundError:
        return _psutil_environ_token(pid)  # no /proc here
    except OSError:
        return None, False
    return (token_in(environ), True) if environ else (None, False)


def _psutil_environ_token(pid: int) -> tuple[str | None, bool]:
    import psutil

    try:
        environ = psutil.Process(pid).environ()
    except (psutil.Error, OSError):
        return None, False
    return (environ.get(TOKEN_VAR), True) if environ else (None, False)


def identity(pid: int) -> ProcessIdentity | None:
    """The identity of `pid` now (a zombie still has one), or None if gone."""
    import psutil

    try:
        return ProcessIdentity(pid, psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def matching(ident: ProcessIdentity | None, token: str | None = None, *,
             to_signal: bool = False) -> psutil.Process | None:
    """The process behind `ident` if it is still that process (zombie or not).
    `to_signal`: sure enough to send it a signal (`belongs`), not just alive-looking."""
    if ident is None:
        return None
    import psutil

    try:
        proc = psutil.Process(ident.pid)
        created = proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    if not to_signal:
        return proc if same_process(created, ident.create_time) else None
    try:
        if own_child(ident.pid, proc.ppid()) and same_process(created, ident.create_time):
            return proc
    except psutil.Error:
        return None
    seen, readable = environ_token(ident.pid)
    return proc if belongs(ident, token, created, seen, readable) else None


def running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (a zombie is dead: it only waits to be reaped)."""
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def is_alive(ident: ProcessIdentity | None, token: str | None = None, *, to_signal: bool = False) -> bool:
    """False for a gone pid, a zombie, and a pid now used by another process."""
    proc = matching(ident, token, to_signal=to_signal)
    return proc is not None and running(proc)


def process_alive(pid: int | None, create_time: float | None) -> bool:
    """`is_alive` for a pid and create time as recorded in the state file."""
    if not pid or create_time is None:
        return False
    return is_alive(ProcessIdentity(int(pid), float(create_time)))


def wait_process_gone(pid: int, create_time: float, timeout: float, poll: float = 0.05) -> bool:
    """Until the recorded process is gone (True) or `timeout` seconds passed
    (False). Where the kernel has pidfds (Linux 5.3+), woken by its exit
    itself, not by the next poll: `down` returns as the supervisor ends."""
    import os
    import select
    import time

    deadline = time.monotonic() + timeout
    try:
        descriptor = os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        descriptor = None  # not Linux, an old kernel, or already gone: the polls decide
    try:
        while process_alive(pid, create_time):  # checked after the open: the pidfd is of this very process
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if descriptor is not None:
                select.select([descriptor], [], [], remaining)  # readable once it has exited
            else:
                time.sleep(min(poll, remaining))
        return True
    finally:
        if descriptor is not None:
            os.close(descriptor)

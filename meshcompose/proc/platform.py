"""The operating-system seam of `process`: everything that differs by platform.

`process` decides *what* to signal and checks identities; this module knows
*how* on POSIX and on Windows. Tests patch `IS_WINDOWS` (and `os.kill`) to
exercise the Windows branch on any machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

import psutil

from meshcompose.errors import ProcessError
from meshcompose.units import parse_signal

IS_WINDOWS = os.name == "nt"

# Missing from the `signal`/`subprocess` modules off Windows; the values are
# Windows' own, so the patched Windows branch sends what Windows would get.
CTRL_BREAK_EVENT = getattr(signal, "CTRL_BREAK_EVENT", 1)
CREATE_NEW_PROCESS_GROUP = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)

KILL = "SIGKILL"


def signal_name(sig: int | str) -> str:
    """`"SIGTERM"`, `"term"`, `15` → `"SIGTERM"` (`units.parse_signal`); an
    unknown one is a `ProcessError` (config validated it: a state file did not)."""
    try:
        return parse_signal(sig)
    except ValueError as error:
        raise ProcessError(f"cannot send a stop signal: {error}",
                           hint="use a name such as SIGTERM, SIGINT or SIGHUP") from None


def spawn_options() -> dict[str, Any]:
    """Keyword arguments for `anyio.open_process` that give the child its own group."""
    if IS_WINDOWS:
        return {"creationflags": CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def send_to_group(pid: int, name: str) -> None:
    """Deliver a stop signal to the group led by `pid` (caller checked identity).

    Windows has no signals for another process group: the only graceful
    request that reaches a CREATE_NEW_PROCESS_GROUP child is CTRL_BREAK_EVENT
    (CTRL_C is disabled in new groups), whatever stop_signal says.
    """
    if IS_WINDOWS:
        if name == KILL:
            psutil.Process(pid).kill()
        else:
            os.kill(pid, CTRL_BREAK_EVENT)
        return
    number = _posix_number(name)
    if _leads_group(pid):
        os.killpg(pid, number)
    else:
        os.kill(pid, number)


def kill_group(pid: int) -> None:
    """SIGKILL the whole group led by `pid` at once. Windows has no group kill;
    there `process.kill_tree` terminates each member it finds."""
    if IS_WINDOWS:
        return
    if _leads_group(pid):
        os.killpg(pid, signal.SIGKILL)


PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
_subreaper = False


def is_subreaper() -> bool:
    """Whether `become_subreaper` succeeded in this process."""
    return _subreaper


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (Linux): an
    orphaned grandchild is reparented to us instead of init, so it stays
    among our descendants while we live. False where that is not available."""
    import sys

    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    global _subreaper
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        _subreaper = False
    return _subreaper


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def _posix_number(name: str) -> int:
    number: int | None = getattr(signal, name, None)
    if number is None:
        # SIGBREAK from a Windows-first project: the nearest POSIX meaning.
        return int(signal.SIGTERM)
    return int(number)


def watch_children_with_pidfds() -> bool:
    """Have asyncio learn of child exits through pidfds, where it would
    otherwise start one waiting thread per child (Python < 3.12 on Linux:
    ThreadedChildWatcher). 50 agents cost 50 threads, each with its stack
    and, past a few, its own malloc arena: megabytes of an idle supervisor.
    Python 3.12 makes the same choice by itself. True if the choice was made.
    Call before the event loop starts."""
    import sys

    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))  # the kernel (>= 5.3) and any seccomp filter allow it
    except OSError:
        return False
    import asyncio

    asyncio.get_event_loop_policy().set_child_watcher(asyncio.PidfdChildWatcher())
    return True

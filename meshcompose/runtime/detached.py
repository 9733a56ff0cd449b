"""The detached supervisor of `up -d`: how it is started, and what it runs.

`up -d` plans the run, writes the plan file, takes the project lock, and
starts the supervisor's entry module (`app.detach`, which brings watch
mode's rebuild) with PLAN in a new session. The child
inherits the lock's open file (its descriptor number travels in
LOCK_FD_VAR), so the lock passes from parent to child without a moment in
which a second `up` could take it. The child reads the plan and supervises
it: it never reads the project file or probes an interpreter.

Its stdout and stderr are `.mesh-compose/supervisor.log` (0600, never
opened through a symlink): the supervisor's own messages go there (agents'
output goes to their log files only), and so does the reason when it cannot
start. It is rotated like the agents' logs (`logs.logfiles`): past
SUPERVISOR_LOG_MAX_BYTES (1 MiB; MESH_COMPOSE_SUPERVISOR_LOG_MAX_BYTES
overrides it) it becomes supervisor.log.1, up to 3 backups, and a new file
takes over stdout and stderr.

The supervisor's interpreter is started before the run is planned
(`Standby`): `up -d` starts it first thing, and it imports the runtime
while `up -d` loads the project and plans, on the other core (a 50-agent
`up -d` took 15-20 % less once it did). It holds nothing until it is
handed the plan file's path, the lock's open file and its log over a socket
(SCM_RIGHTS). An `up -d` that ends without a plan for it (a bad file, a
project already running, Ctrl+C) kills and reaps it; one that is killed
outright closes the socket, and it exits.

Light at import time: `up -d` imports `Standby` and `start` from here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from meshcompose.control.lock import ProjectLock

if TYPE_CHECKING:
    from meshcompose.plan.runplan import RunPlan
    from meshcompose.runtime.events import AgentStatus, Notice
    from meshcompose.runtime.watch import Rebuild

# Set for the detached supervisor: the descriptor of the project lock its parent took.
LOCK_FD_VAR = "MESH_COMPOSE_LOCK_FD"
# Set for a standby supervisor: its end of the socket its plan comes through.
STANDBY_FD_VAR = "MESH_COMPOSE_STANDBY_FD"
STANDBY_ARG = "--standby"
SUPERVISOR_LOG_MAX_BYTES = 1024 * 1024
SUPERVISOR_LOG_BACKUPS = 3
MAX_BYTES_VAR = "MESH_COMPOSE_SUPERVISOR_LOG_MAX_BYTES"


class Standby:
    """A detached supervisor started ahead of its plan (see the module's text)."""

    def __init__(self, entry: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.child = subprocess.Popen(
                [sys.executable, "-m", entry, STANDBY_ARG], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env={**os.environ, STANDBY_FD_VAR: str(theirs.fileno())},
                pass_fds=(theirs.fileno(),), start_new_session=True, close_fds=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock: socket.socket | None = ours

    def hand(self, plan_path: Path, lock: ProjectLock, log_path: Path) -> subprocess.Popen | None:
        """Start supervising `plan_path` with `lock` and its log. None when the
        standby is gone (it could not start): the caller starts one by `start`."""
        from meshcompose.logs.logfiles import open_private

        assert self.sock is not None, "a standby is handed one plan"
        log = open_private(log_path)
        try:
            socket.send_fds(self.sock, [os.fsencode(plan_path)], [lock.fileno(), log])
        except OSError:
            return None
        finally:
            os.close(log)
        self.sock.close()
        self.sock = None
        _hand_lock(lock, self.child)
        return self.child

    def close(self) -> None:
        """Ends a standby that was never handed a plan. It holds nothing yet,
        so it is killed (it may still be importing) and reaped: the command
        leaves no process behind, even for a moment."""
        if self.sock is None:
            return
        self.sock.close()
        self.sock = None
        self.child.kill()
        self.child.wait()


def start(plan_path: Path, lock: ProjectLock, log_path: Path, entry: str) -> subprocess.Popen:
    """Starts the supervisor of `plan_path` in its own session and hands it
    `lock`. `entry`: the module it runs as, which calls `main`."""
    from meshcompose.logs.logfiles import open_private

    env = {**os.environ, LOCK_FD_VAR: str(lock.fileno())}
    log = open_private(log_path)
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", entry, str(plan_path)], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=env, pass_fds=(lock.fileno(),), start_new_session=True, close_fds=True,
        )
    finally:
        os.close(log)
    _hand_lock(lock, child)
    return child


def _hand_lock(lock: ProjectLock, supervisor: subprocess.Popen) -> None:
    """The supervisor, which holds the lock's open file now, is its holder;
    this short-lived parent lets go of its own descriptor (a concurrent `up`
    names the supervisor)."""
    lock.write_holder(supervisor.pid)
    lock.hand_over()


def main(argv: Sequence[str], out: TextIO | None = None,
         rebuild_for: Callable[[RunPlan], Rebuild] | None = None) -> int:
    """The supervisor's process (`python -m ENTRY PLAN`): supervise the plan until `down`.
    With STANDBY_ARG instead of PLAN, the plan comes from `up -d` later.
    `rebuild_for`: watch mode's rebuild for the plan, from the caller's layer."""
    from meshcompose.errors import MeshComposeError
    from meshcompose.plan import runplan

    out = out or sys.stdout
    lock_fd: int | None
    if list(argv) == [STANDBY_ARG]:
        handed = _await_plan()
        if handed is None:
            return 0  # `up -d` ended without a plan for this supervisor
        plan_arg, lock_fd = handed
    elif len(argv) == 1:
        plan_arg, lock_fd = argv[0], _inherited_lock_fd()
    else:
        out.write(f"usage: RUN_PLAN | {STANDBY_ARG}\n")
        return 2
    try:
        plan = runplan.read(Path(plan_arg))
        lock = _take_lock(plan.project.directory, plan.project.name, lock_fd)
    except MeshComposeError as error:
        out.write(f"error: {error.message}\n" + (f"hint: {error.hint}\n" if error.hint else ""))
        return error.exit_code
    from meshcompose.runtime import host

    try:
        log = RotatingStdout(plan.project.state_dir / "supervisor.log") if out is sys.stdout else None
        rebuild = rebuild_for(plan) if rebuild_for is not None and plan.settings.watch is not None else None
        return host.supervise(plan, console=NoticeLog(out, log), detached=True, rebuild=rebuild)
    finally:
        lock.release()


def _await_plan() -> tuple[str, int] | None:
    """A standby's wait: the runtime imported first (the point of starting
    early), then the plan's path with the lock and the log, which becomes
    stdout and stderr. None when the socket closes without them."""
    from meshcompose.runtime import host  # noqa: F401  # now, while `up -d` plans

    number = os.environ.pop(STANDBY_FD_VAR, "")
    if not number.isdigit():
        return None
    with socket.socket(fileno=int(number)) as sock:
        try:
            message, fds, _flags, _address = socket.recv_fds(sock, 4096, 2)
        except OSError:
            return None
    if not message or len(fds) != 2:
        for fd in fds:
            os.close(fd)
        return None
    lock_fd, log = fds
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    return os.fsdecode(message), lock_fd


def _inherited_lock_fd() -> int | None:
    inherited = os.environ.pop(LOCK_FD_VAR, "")
    return int(inherited) if inherited.isdigit() else None


def _take_lock(directory: Path, project: str, fd: int | None) -> ProjectLock:
    """The lock `up -d` handed over (`fd`), or (started by hand) taken here."""
    lock = ProjectLock(directory, project)
    if fd is not None:
        lock.adopt(fd)
    else:
        lock.acquire()
    return lock


class RotatingStdout:
    """Rotates the file that is this process's stdout and stderr by size."""

    def __init__(self, path: Path) -> None:
        self.path = path
        limit = os.environ.get(MAX_BYTES_VAR, "")
        self.max_bytes = int(limit) if limit.isdigit() else SUPERVISOR_LOG_MAX_BYTES

    def rotate_if_full(self) -> None:
        from meshcompose.logs.logfiles import open_private, rotate_files

        try:
            if os.fstat(1).st_size < self.max_bytes:
                return
            rotate_files(self.path, SUPERVISOR_LOG_BACKUPS)
            fresh = open_private(self.path)
        except OSError:
            return  # a full disk: keep the current file
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fresh, 1)
        os.dup2(fresh, 2)
        os.close(fresh)


class NoticeLog:
    """The supervisor's own messages, one timestamped line each, into its log."""

    def __init__(self, out: TextIO, rotation: RotatingStdout | None = None) -> None:
        self.out = out
        self.rotation = rotation

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None:
        pass  # each agent's output is in its own log file

    def agent_status(self, status: AgentStatus) -> None:
        pass

    def notice(self, notice: Notice) -> None:
        from meshcompose.logs.logrecord import utc_timestamp

        word = "" if notice.level == "info" else f"{notice.level}: "
        arrow = "⟳" if notice.kind == "watch" else "=>"
        line = f"{utc_timestamp(notice.when)} {notice.agent or '-'} {arrow} {word}{notice.text}\n"
        try:
            self.out.write(line)
        except (OSError, ValueError):
            pass  # a full disk or a closed log must not stop the supervisor

    def flush(self) -> None:
        try:
            self.out.flush()
        except (OSError, ValueError):
            pass  # a full disk or a closed log must not stop the supervisor
        if self.rotation is not None:
            self.rotation.rotate_if_full()

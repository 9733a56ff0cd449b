"""The detached supervisor of `up -d`: how it is started, and what it runs.

`up -d` plans the run, writes the plan file, takes the project lock, and
starts `python -m meshcompose.runtime PLAN` in a new session. The child
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

Light at import time: `up -d` imports `start` from here.
"""

from __future__ import annotations

import os
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
ENTRY_MODULE = "meshcompose.runtime"
SUPERVISOR_LOG_MAX_BYTES = 1024 * 1024
SUPERVISOR_LOG_BACKUPS = 3
MAX_BYTES_VAR = "MESH_COMPOSE_SUPERVISOR_LOG_MAX_BYTES"


def start(plan_path: Path, lock: ProjectLock, log_path: Path, entry: str = ENTRY_MODULE) -> subprocess.Popen:
    """Starts the supervisor of `plan_path` in its own session and hands it
    `lock`. `entry`: the module it runs as (`up -d --watch` names one that
    brings the application layer's rebuild)."""
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
    lock.write_holder(child.pid)  # a concurrent `up` names the supervisor, not this short-lived parent
    lock.hand_over()
    return child


def main(argv: Sequence[str], out: TextIO | None = None,
         rebuild_for: Callable[[RunPlan], Rebuild] | None = None) -> int:
    """`python -m meshcompose.runtime PLAN`: supervise the plan until `down`.
    `rebuild_for`: watch mode's rebuild for the plan, from the caller's layer."""
    from meshcompose.errors import MeshComposeError
    from meshcompose.plan import runplan

    out = out or sys.stdout
    if len(argv) != 1:
        out.write("usage: python -m meshcompose.runtime RUN_PLAN\n")
        return 2
    try:
        plan = runplan.read(Path(argv[0]))
        lock = _take_lock(plan.project.directory, plan.project.name)
    except MeshComposeError as error:
        out.write(f"error: {error.message}\n" + (f"hint: {error.hint}\n" if error.hint else ""))
        return error.exit_code
    from meshcompose.runtime import session

    try:
        log = RotatingStdout(plan.project.state_dir / "supervisor.log") if out is sys.stdout else None
        rebuild = rebuild_for(plan) if rebuild_for is not None and plan.settings.watch is not None else None
        return session.supervise(plan, console=NoticeLog(out, log), detached=True, rebuild=rebuild)
    finally:
        lock.release()


def _take_lock(directory: Path, project: str) -> ProjectLock:
    """The lock inherited from `up -d`, or (started by hand) taken here."""
    lock = ProjectLock(directory, project)
    inherited = os.environ.pop(LOCK_FD_VAR, None)
    if inherited is not None and inherited.isdigit():
        lock.adopt(int(inherited))
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

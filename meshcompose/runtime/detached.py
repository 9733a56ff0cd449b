"""The detached supervisor of `up -d`: how it is started, and what it runs.

`up -d` plans the run, writes the plan file, takes the project lock, and
starts `python -m meshcompose.runtime PLAN` in a new session. The child
inherits the lock's open file (its descriptor number travels in
LOCK_FD_VAR), so the lock passes from parent to child without a moment in
which a second `up` could take it. The child reads the plan and supervises
it: it never reads the project file or probes an interpreter.

Its stdout and stderr are `.mesh-compose/supervisor.log`: the supervisor's
own messages go there (agents' output goes to their log files), and so does
the reason when it cannot start.

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


def start(plan_path: Path, lock: ProjectLock, log_path: Path, entry: str = ENTRY_MODULE) -> subprocess.Popen:
    """Starts the supervisor of `plan_path` in its own session and hands it
    `lock`. `entry`: the module it runs as (`up -d --watch` names one that
    brings the application layer's rebuild)."""
    env = {**os.environ, LOCK_FD_VAR: str(lock.fileno())}
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", entry, str(plan_path)], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=env, pass_fds=(lock.fileno(),), start_new_session=True, close_fds=True,
        )
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
        rebuild = rebuild_for(plan) if rebuild_for is not None and plan.settings.watch is not None else None
        return session.supervise(plan, console=NoticeLog(out), detached=True, rebuild=rebuild)
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


class NoticeLog:
    """The supervisor's own messages, one timestamped line each, into its log."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

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

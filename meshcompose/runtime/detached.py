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
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from meshcompose.control.lock import ProjectLock

if TYPE_CHECKING:
    from meshcompose.runtime.events import AgentStatus, Notice

# Set for the detached supervisor: the descriptor of the project lock its parent took.
LOCK_FD_VAR = "MESH_COMPOSE_LOCK_FD"
ENTRY_MODULE = "meshcompose.runtime"


def start(plan_path: Path, lock: ProjectLock, log_path: Path) -> subprocess.Popen:
    """Starts the supervisor of `plan_path` in its own session and hands it `lock`."""
    env = {**os.environ, LOCK_FD_VAR: str(lock.fileno())}
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", ENTRY_MODULE, str(plan_path)], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=env, pass_fds=(lock.fileno(),), start_new_session=True, close_fds=True,
        )
    lock.write_holder(child.pid)  # a concurrent `up` names the supervisor, not this short-lived parent
    lock.hand_over()
    return child


def main(argv: Sequence[str], out: TextIO | None = None) -> int:
    """`python -m meshcompose.runtime PLAN`: supervise the plan until `down`."""
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
        return session.supervise(plan, console=NoticeLog(out), detached=True)
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
        line = f"{utc_timestamp(notice.when)} {notice.agent or '-'} => {word}{notice.text}\n"
        try:
            self.out.write(line)
        except (OSError, ValueError):
            pass  # a full disk or a closed log must not stop the supervisor

    def flush(self) -> None:
        try:
            self.out.flush()
        except (OSError, ValueError):
            pass  # a full disk or a closed log must not stop the supervisor

"""The supervisor as a process other terminals can reach.

Wraps `Supervisor.run` with what makes a running project visible and
controllable: the state file (kept current by a `StateRecorder`), the control
socket (requests answered by `control.handler.ControlHandler`), and periodic
flushing of buffered output (`Flusher`). Used by the foreground `up` and by
the detached supervisor.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from meshcompose.control import index, protocol
from meshcompose.control.handler import ControlHandler
from meshcompose.control.paths import socket_path
from meshcompose.control.state import StateStore, SupervisorRecord
from meshcompose.proc import platform
from meshcompose.runtime.recorder import Flusher, StateRecorder
from meshcompose.runtime.supervisor import Supervisor

if TYPE_CHECKING:
    from meshcompose.runtime.watch import Watcher


async def host(
    supervisor: Supervisor,
    names: Sequence[str],
    *,
    store: StateStore,
    recorder: StateRecorder,
    flusher: Flusher,
    detached: bool = False,
    watcher: Watcher | None = None,
) -> int:
    """Runs the supervisor, serving control requests and keeping state current.
    `flusher` must be among the supervisor's observers."""
    # Orphaned descendants of the agents (a daemonizing grandchild) are
    # reparented to us, not init, while we live (Linux; a no-op elsewhere).
    platform.become_subreaper()
    socket = socket_path(supervisor.project.directory, supervisor.project.name)
    token = secrets.token_hex(16)
    handler = ControlHandler(supervisor, recorder)
    async with anyio.create_task_group() as tg:
        port = await tg.start(lambda task_status: protocol.serve(
            socket, handler, token=token, task_status=task_status))
        store.set_supervisor(SupervisorRecord(
            pid=os.getpid(), create_time=_own_create_time(), started_at=time.time(),
            socket=str(socket), token=token, port=port, detached=detached))
        store.write_now()
        listed = _register(supervisor)
        tg.start_soon(flusher.run)
        if watcher is not None:  # --watch: in the supervisor's task group, cancelled with it
            await tg.start(watcher.run)
        try:
            code = await supervisor.run(names)
        finally:
            tg.cancel_scope.cancel()
            with anyio.CancelScope(shield=True):
                index.unregister(listed)
                store.set_supervisor(None)
                store.write_now()
    return code


def _register(supervisor: Supervisor) -> Path:
    """In the machine-wide index, so `mesh-compose ls` finds this project."""
    project = supervisor.project
    return index.register(project.name, Path(project.directory), [str(f) for f in project.files],
                          os.getpid(), _own_create_time())


def _own_create_time() -> float:
    import psutil

    return psutil.Process().create_time()

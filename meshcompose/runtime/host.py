"""One supervised run of a run plan, hosted in this process.

Sets up what makes the run visible and controllable from other terminals
around the supervisor: the state file (kept current by a `StateRecorder`),
the per-agent log files, the control socket (requests answered by
`control.handler.ControlHandler`), the machine-wide index and periodic
flushing of buffered output (`Flusher`); then runs it until it ends. The
foreground `up` calls this with the plan it just made and a console; the
detached supervisor (`python -m meshcompose.app.detach PLAN`) with the plan read
back from the file and no console. Either way the caller holds the project
lock.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from meshcompose.control import index, protocol, state
from meshcompose.control.handler import ControlHandler
from meshcompose.control.paths import socket_path
from meshcompose.control.state import StateStore, SupervisorRecord
from meshcompose.logs.keeper import KeeperClient
from meshcompose.mesh import meshplan, registry
from meshcompose.plan.runplan import RunPlan
from meshcompose.proc import platform, process
from meshcompose.runtime.events import EVENTS_FILE_NAME, EventRecorder, FanOut, Notice
from meshcompose.runtime.recorder import Flusher, LogRecorder, StateRecorder
from meshcompose.runtime.supervisor import RunOptions, Supervisor

if TYPE_CHECKING:
    from meshcompose.runtime.watch import Rebuild, Watcher


def supervise(plan: RunPlan, *, console: Any | None = None, detached: bool = False,
              rebuild: Rebuild | None = None) -> int:
    """Runs `plan` to its end; the exit code of `up`. `console`: an observer
    with `flush()` that shows the run; `detached`: keep running when every
    agent has ended, until `down`; `rebuild`: how watch mode settles an
    agent's packages again (the application layer's environment step)."""
    project = plan.project
    store = state.StateStore(project.directory, project.name)
    doc = state.new_document(project.name, project.directory, [str(path) for path in project.files])
    doc["registry_url"] = plan.published_registry_url
    doc["tracing_url"] = plan.tracing_url
    store.write(doc)
    observers: list[Any] = []

    def warn(notice: Notice) -> None:  # a logging failure is told to every observer, and stops nothing
        for observer in observers:
            observer.notice(notice)

    recorder = LogRecorder(project.state_dir / "logs", warn=warn)
    state_recorder = StateRecorder(store, recorder.directory)
    if console is not None and meshplan.REGISTRY_AGENT in plan.launches:
        console = QuietRegistry(console)
    shown: list[Any] = [console] if console is not None else []
    flusher = Flusher([*shown, recorder, store], warn=warn)
    settings = plan.settings
    options = RunOptions(abort_on_exit=settings.abort_on_exit, exit_code_from=settings.exit_code_from,
                         stop_timeout=settings.stop_timeout, linger=detached)
    events = EventRecorder(project.state_dir / EVENTS_FILE_NAME, project.name)  # for `mesh-compose events`
    observers.extend([*shown, recorder, state_recorder, events, flusher])
    supervisor = Supervisor(project, plan.launches, FanOut(observers), options)
    supervisor.registry_url = plan.registry_url
    supervisor.mesh = plan.published_registry_url is not None
    state_recorder.add_agents(supervisor, plan.launches)
    if supervisor.mesh:
        _watch_mesh(supervisor, plan.registry_url)
    keeper = _start_keeper(recorder.directory)
    watcher = None
    if settings.watch is not None:
        from meshcompose.runtime.watch import Watcher  # watchfiles: only when watching

        watcher = Watcher(supervisor, plan.selected, rebuild, plan.launches)
    platform.watch_children_with_pidfds()
    try:
        return anyio.run(lambda: _host(supervisor, plan.selected, store=store, recorder=state_recorder,
                                           flusher=flusher, detached=detached, watcher=watcher))
    finally:
        if keeper is not None:
            process.set_output_keeper(None)
            keeper.close()
        recorder.close()
        store.close()
        for sink in shown:
            sink.flush()
            if hasattr(sink, "close"):
                sink.close()  # the console drains its output (a reader that is not reading is not waited for long)


async def _host(
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


def _watch_mesh(supervisor: Supervisor, url: str) -> None:
    """Mesh events from the registry reads the run makes anyway."""
    from meshcompose.mesh.registered import poller
    from meshcompose.runtime.meshevents import MeshEvents

    def started_at(name: str) -> float | None:
        runner = supervisor.runner(name)
        return runner.status.started_at if runner is not None and runner.status.pid is not None else None

    poller(url).listeners.append(
        MeshEvents(supervisor.project.name, lambda: supervisor.project.agents, started_at, supervisor.observer))


class QuietRegistry:
    """The console, shown a managed registry's output without the access-log
    lines of routine requests (mesh-compose's polls, the agents' heartbeats):
    a line each, several a second, they buried everything else. The
    registry's log file still gets every line (`logs mesh-registry`)."""

    def __init__(self, console: Any) -> None:
        self.console = console

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None:
        if agent == meshplan.REGISTRY_AGENT:
            lines = registry.without_routine_requests(lines)
            if not lines:
                return
        self.console.agent_lines(agent, stream, lines)

    def __getattr__(self, name: str) -> Any:  # agent_status, notice, flush, close: the console's own
        return getattr(self.console, name)


def _start_keeper(log_dir: Path) -> KeeperClient | None:
    """The log keeper of this run (see logs.keeper), where the platform has one."""
    if not hasattr(socket, "send_fds") or not hasattr(socket, "SOCK_SEQPACKET"):
        return None
    try:
        keeper = KeeperClient(log_dir)
    except OSError:
        return None
    process.set_output_keeper(keeper.keep)
    return keeper

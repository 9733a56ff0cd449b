"""The supervisor as a process other terminals can reach.

Wraps `Supervisor.run` with what makes a running project visible and
controllable: the state file (kept current by `StateRecorder`), the control
socket (requests handled by `ControlHandler`), and periodic flushing of
buffered output. Used by the foreground `up` and by the detached supervisor.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Sequence

import anyio

from meshcompose.control import protocol
from meshcompose.logs import logfiles
from meshcompose.control import state
from meshcompose.runtime.events import AgentStatus, Notice
from meshcompose.plan.launch import LaunchSpec
from meshcompose.model import AgentState
from meshcompose.runtime.supervisor import Supervisor

# Buffered console, log-file and state output is flushed this long after it
# was written; an idle project is never woken up for it.
FLUSH_DELAY = 0.05
SETTLE_SECONDS = 5.0  # a stopped runner's pipes drain for at most runner.PIPE_DRAIN_SECONDS


class StateRecorder:
    """Mirrors every agent status into `.mesh-compose/state.json`."""

    def __init__(self, store: state.StateStore, log_dir: Path) -> None:
        self.store = store
        self.log_dir = log_dir

    def add_agents(self, supervisor: Supervisor, launches: Mapping[str, LaunchSpec]) -> None:
        for name, launch in launches.items():
            agent = supervisor.project.agents[name]
            self.store.update_agent(
                name, interpreter=launch.interpreter, python_version=launch.python_version,
                venv=launch.is_venv, log_path=str(logfiles.log_path(self.log_dir, name)),
                depends_on=[dep.name for dep in agent.depends_on],
                stop_signal=agent.stop_signal, stop_grace=agent.stop_grace_period,
            )

    def mark_starting(self, names: Sequence[str]) -> None:
        """Written before the start request is answered, so a client polling
        the state file never mistakes the previous run's `exited (0)` for this one."""
        for name in names:
            self.store.update_agent(name, status=AgentState.WAITING.value, exit_code=None,
                                    message=None, health=None)
        self.store.write_now()

    def agent_lines(self, agent: str, stream: str, lines: List[str]) -> None:
        pass

    def agent_status(self, status: AgentStatus) -> None:
        health = {AgentState.HEALTHY: "healthy", AgentState.UNHEALTHY: "unhealthy"}.get(status.state)
        self.store.update_agent(
            status.name, status=status.state.value, exit_code=status.exit_code, message=status.message,
            pid=status.pid, create_time=status.create_time, pgid=status.pid, token=status.token,
            restarts=status.restarts, started_at=status.started_at, health=health, limits=status.limits,
        )

    def notice(self, notice: Notice) -> None:
        pass


class ControlHandler:
    """Answers control requests (`down`, `stop`, `start`, `restart`, `ping`)."""

    def __init__(self, supervisor: Supervisor, recorder: StateRecorder) -> None:
        self.supervisor = supervisor
        self.recorder = recorder

    async def __call__(self, request: Dict[str, Any]) -> Dict[str, Any]:
        op = request.get("op")
        handler = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        if handler is None:
            return protocol.failure(f"unknown request {op!r}")
        return await handler(request)

    async def op_ping(self, request: Dict[str, Any]) -> Dict[str, Any]:
        return {"ok": True, "pid": os.getpid(), "project": self.supervisor.project.name}

    async def op_down(self, request: Dict[str, Any]) -> Dict[str, Any]:
        self.supervisor.request_shutdown(timeout=request.get("timeout"))
        return {"ok": True}

    async def op_stop(self, request: Dict[str, Any]) -> Dict[str, Any]:
        names = self._known(request.get("names"))
        if isinstance(names, dict):
            return names
        warnings = self._dependents_warnings(names)
        await self.supervisor.stop(names, timeout=request.get("timeout"))
        await self._settled(names)
        return {"ok": True, "stopped": names, "warnings": warnings}

    async def _settled(self, names: Sequence[str]) -> None:
        """Until each stopped runner has recorded its end (its pipes drain after
        the process exits), and the state file says so: a `start` right after
        must find it final, and a `ps` right after must see it exited."""
        with anyio.move_on_after(SETTLE_SECONDS):
            for name in names:
                runner = self.supervisor.runners.get(name)
                while runner is not None and not runner.status.final:
                    await runner.wait_changed()
        self.recorder.store.write_now()

    async def op_start(self, request: Dict[str, Any]) -> Dict[str, Any]:
        launches = {name: LaunchSpec.from_dict(raw) for name, raw in (request.get("launches") or {}).items()}
        names = self._known(request.get("names"), extra=launches)
        if isinstance(names, dict):
            return names
        if self.supervisor.stopping:
            return protocol.failure("the project is stopping")
        self.supervisor.launches.update(launches)
        self.recorder.add_agents(self.supervisor, launches)
        started = self.supervisor.start(names)
        self.recorder.mark_starting(started)
        return {"ok": True, "started": started}

    async def op_restart(self, request: Dict[str, Any]) -> Dict[str, Any]:
        stopped = await self.op_stop(request)
        if not stopped.get("ok"):
            return stopped
        started = await self.op_start({"names": stopped["stopped"]})
        return {**started, "warnings": stopped["warnings"]}

    def _known(self, names: Any, extra: Mapping[str, Any] = {}):
        """The requested names, or a failure response naming the unknown ones."""
        if not isinstance(names, list) or not names:
            names = list(self.supervisor.launches)
        unknown = [n for n in names if n not in self.supervisor.launches and n not in extra]
        if unknown:
            return protocol.failure(f"not part of the running project: {', '.join(map(str, unknown))}",
                                   hint="start them with `mesh-compose up NAME`")
        return names

    def _dependents_warnings(self, names: Sequence[str]) -> List[str]:
        chosen, warnings = set(names), []
        for name in names:
            active = [other for other, runner in self.supervisor.runners.items()
                      if other not in chosen and not runner.status.final
                      and any(dep.name == name for dep in runner.agent.depends_on)]
            if active:
                warnings.append(f"{', '.join(active)} depend(s) on {name} and keep running")
        return warnings


async def host(
    supervisor: Supervisor,
    names: Sequence[str],
    *,
    store: state.StateStore,
    recorder: StateRecorder,
    flusher: Flusher,
    detached: bool = False,
) -> int:
    """Runs the supervisor, serving control requests and keeping state current.
    `flusher` must be among the supervisor's observers."""
    project = supervisor.project
    socket = state.socket_path(project.directory)
    token = secrets.token_hex(16)
    async with anyio.create_task_group() as tg:
        port = await tg.start(lambda task_status: protocol.serve(
            socket, ControlHandler(supervisor, recorder), token=token, task_status=task_status))
        store.set_supervisor(state.SupervisorRecord(
            pid=os.getpid(), create_time=_own_create_time(), started_at=time.time(),
            socket=str(socket), token=token, port=port, detached=detached))
        store.write_now()
        tg.start_soon(flusher.run)
        try:
            code = await supervisor.run(names)
        finally:
            tg.cancel_scope.cancel()
            with anyio.CancelScope(shield=True):
                store.set_supervisor(None)
                store.write_now()
    return code


class Flusher:
    """An observer that flushes the buffered sinks shortly after anything
    happened, and sleeps while nothing does: an idle supervisor does not
    wake up (no measurable CPU), a busy one flushes every FLUSH_DELAY."""

    def __init__(self, sinks: Iterable[Any], delay: float = FLUSH_DELAY) -> None:
        self.sinks = list(sinks)
        self.delay = delay
        self._pending = anyio.Event()

    def _wake(self) -> None:
        if not self._pending.is_set():
            self._pending.set()

    def agent_lines(self, agent: str, stream: str, lines: List[str]) -> None:
        self._wake()

    def agent_status(self, status: AgentStatus) -> None:
        self._wake()

    def notice(self, notice: Notice) -> None:
        self._wake()

    async def run(self) -> None:
        try:
            while True:
                await self._pending.wait()
                await anyio.sleep(self.delay)
                self._pending = anyio.Event()
                self.flush()
        finally:
            self.flush()

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()


def _own_create_time() -> float:
    import psutil

    return psutil.Process().create_time()

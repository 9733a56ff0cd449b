"""The observers that keep a run on disk, and the one that flushes them.

`LogRecorder` writes every agent's output to its log file; `StateRecorder`
mirrors every agent's status into the state file; `Flusher` flushes both
(and the console) shortly after something happened, and never while idle.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Callable, Protocol

import anyio

from meshcompose.control.state import StateStore
from meshcompose.lifecycle import HEALTH_STATES, INITIAL, AgentState
from meshcompose.logs.logfiles import LogFile, log_path
from meshcompose.logs.logrecord import RUN_STREAM, WATCH_STREAM, run_record_text
from meshcompose.model import Project
from meshcompose.plan.launch import LaunchSpec
from meshcompose.privatefiles import private_dir
from meshcompose.runtime.events import WATCH, AgentStatus, Notice

# Buffered console, log-file and state output is flushed this long after it
# was written; an idle project is never woken up for it.
FLUSH_DELAY = 0.05
# The health word of a running agent whose healthcheck has not given its
# verdict yet (compose's `health: starting`): `ps` shows `running (starting)`.
HEALTH_STARTING = "starting"


Warn = Callable[[Notice], None]


class LogRecorder:
    """Every line of every agent into `.mesh-compose/logs/NAME.log`.

    A log that cannot be written (a full disk) drops lines, never the agent:
    `warn` gets one notice per agent when its log starts failing, and one
    when it works again with the count of bytes lost in between.
    """

    def __init__(self, directory: Path, warn: Warn | None = None) -> None:
        self.directory = private_dir(directory)
        self.files: dict[str, LogFile] = {}
        self.warn: Warn = warn or (lambda notice: None)
        self._failing: dict[str, int] = {}  # agent -> dropped bytes when its log began failing
        self._pids: dict[str, int] = {}  # agent -> the pid of its current process
        self.started = time.time()

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None:
        log = self._log(agent)
        log.write_lines(stream, lines)
        if log.failure is not None or agent in self._failing:
            self._check(agent, log)

    def _log(self, agent: str) -> LogFile:
        log = self.files.get(agent)
        if log is None:
            log = self.files[agent] = LogFile(log_path(self.directory, agent))
            # The separator between runs: `logs` shows it as a rule with the start
            # time and the agent's pid (the supervisor's only before its first start).
            log.write(RUN_STREAM, run_record_text(self._pids.get(agent) or os.getpid()), self.started)
        return log

    def _check(self, agent: str, log: LogFile) -> None:
        """Warn once when `agent`'s log starts failing, and once when it recovers."""
        if log.failure is not None and agent not in self._failing:
            self._failing[agent] = log.dropped_bytes
            reason = log.failure.strerror or str(log.failure)
            self.warn(Notice(f"cannot write {log.path.name} ({reason}): its lines are dropped "
                             "until it can be written again; the agent keeps running",
                             agent=agent, level="warning"))
        elif log.failure is None and agent in self._failing:
            lost = log.dropped_bytes - self._failing.pop(agent)
            self.warn(Notice(f"{log.path.name} is written again; {lost} bytes of output were dropped",
                             agent=agent, level="warning"))

    def agent_status(self, status: AgentStatus) -> None:
        if status.pid is not None:
            self._pids[status.name] = status.pid

    def notice(self, notice: Notice) -> None:
        if notice.kind == WATCH and notice.agent:  # `logs` shows reloads and rejected edits among the lines
            self._log(notice.agent).write(WATCH_STREAM, notice.text)

    def flush(self) -> None:
        for agent, log in self.files.items():
            log.flush()
            if log.failure is not None or agent in self._failing:
                self._check(agent, log)

    @property
    def dropped_bytes(self) -> int:
        return sum(log.dropped_bytes for log in self.files.values())

    def close(self) -> None:
        for log in self.files.values():
            log.close()
        self.files.clear()


class _HasProject(Protocol):
    @property
    def project(self) -> Project: ...


class StateRecorder:
    """Mirrors every agent status into `.mesh-compose/state.json`."""

    def __init__(self, store: StateStore, log_dir: Path) -> None:
        self.store = store
        self.log_dir = log_dir
        self._checked: set[str] = set()  # agents with a healthcheck
        self._written: anyio.Event | None = None  # made by the first waiter: it needs the event loop
        self._waiters = 0  # clients waiting for the next write (`op changed`)
        store.on_write.append(self._wake_waiters)

    def _wake_waiters(self) -> None:
        if self._written is not None:
            self._written.set()
            self._written = None

    async def wait_written(self, since: float, timeout: float) -> float:
        """Until the state file was written after `since` (its `updated_at`),
        or `timeout` seconds passed; the `updated_at` of the latest write."""
        self._waiters += 1
        try:
            with anyio.move_on_after(timeout):
                while self._updated_at() <= since:
                    if self._written is None:
                        self._written = anyio.Event()
                    await self._written.wait()
        finally:
            self._waiters -= 1
        return self._updated_at()

    def _updated_at(self) -> float:
        doc = self.store.doc
        return float(doc.get("updated_at") or 0.0) if doc else 0.0

    def add_agents(self, project: Project | _HasProject, launches: Mapping[str, LaunchSpec]) -> None:
        """Record how each agent runs and how to stop it (a `down` after the
        supervisor died reads `depends_on`, `stop_signal` and `stop_grace`)."""
        # cli/up_run.py still passes the supervisor; remove once it passes the project.
        agents = (project.project if not isinstance(project, Project) else project).agents
        for name, launch in launches.items():
            agent = agents[name]
            if agent.healthcheck is not None:
                self._checked.add(name)
            else:
                self._checked.discard(name)  # a recreate without one
            self.store.update_agent(
                name, interpreter=launch.interpreter, python_version=launch.python_version,
                venv=launch.is_venv, log_path=str(log_path(self.log_dir, name)),
                depends_on=[dep.name for dep in agent.depends_on],
                stop_signal=agent.stop_signal, stop_grace=agent.stop_grace_period,
            )

    def forget(self, names: Sequence[str]) -> None:
        """Drop the records of agents the run no longer has (replicas scaled away)."""
        for name in names:
            self._checked.discard(name)
            self.store.remove_agent(name)
        self.write_now()

    def mark_starting(self, names: Sequence[str]) -> None:
        """Written before the start request is answered, so a client polling
        the state file never mistakes the previous run's `exited (0)` for this one."""
        for name in names:
            self.store.update_agent(name, status=INITIAL.value, exit_code=None,
                                    message=None, health=None)
        self.write_now()

    def write_now(self) -> None:
        with contextlib.suppress(OSError):  # a full disk: the Flusher retries (the store stays dirty) and warns
            self.store.write_now()

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None:
        pass

    def agent_status(self, status: AgentStatus) -> None:
        health = status.state.value if status.state in HEALTH_STATES else None
        if status.state is AgentState.RUNNING and status.name in self._checked:
            health = HEALTH_STARTING  # not unhealthy: not yet registered (or probed) is starting
        doc = self.store.doc
        record = doc["agents"].get(status.name) if doc else None
        spawn_before = (record.get("token"), record.get("pid")) if record else None
        self.store.update_agent(
            status.name, status=status.state.value, exit_code=status.exit_code, message=status.message,
            restarts=status.restarts, started_at=status.started_at, health=health, limits=status.limits,
            exposed=list(status.exposed),
        )
        spawn = dict(pid=status.pid, create_time=status.create_time, pgid=status.pid, token=status.token,
                     cgroup=status.cgroup)
        if spawn_before != (status.token, status.pid):
            # A spawn's intent (token, cgroup) and then its pid: on disk before
            # the supervisor does anything else, or a SIGKILL in between
            # leaves an agent no `down` can find.
            with contextlib.suppress(OSError):  # a full disk: the Flusher's document write retries and warns
                self.store.record_spawn(status.name, **spawn)
        else:
            self.store.update_agent(status.name, **spawn)
        if self._waiters:
            self.write_now()  # a client waits for a change (`up -d`): it hears of this one now, not a flush later

    def notice(self, notice: Notice) -> None:
        if notice.kind == WATCH and notice.agent and self.store.doc and notice.agent in self.store.doc["agents"]:
            self.store.update_agent(notice.agent, watch=notice.text)  # `ps` shows the last one


class Flushable(Protocol):
    def flush(self) -> object: ...


class Flusher:
    """An observer that flushes the buffered sinks shortly after anything
    happened, and sleeps while nothing does: an idle supervisor does not
    wake up (no measurable CPU), a busy one flushes every FLUSH_DELAY."""

    def __init__(self, sinks: Iterable[Flushable], delay: float = FLUSH_DELAY, warn: Warn | None = None) -> None:
        self.sinks = list(sinks)
        self.delay = delay
        self.warn: Warn = warn or (lambda notice: None)
        self._failing: set[int] = set()  # sinks whose last flush failed (warned once)
        self._pending = anyio.Event()

    def _wake(self) -> None:
        if not self._pending.is_set():
            self._pending.set()

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None:
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
        """Flush every sink; one that fails (the state file on a full disk)
        is warned about once and retried on the next flush, never fatal."""
        for sink in self.sinks:
            try:
                sink.flush()
            except OSError as error:
                if id(sink) not in self._failing:
                    self._failing.add(id(sink))
                    self.warn(Notice(f"cannot write {getattr(error, 'filename', None) or 'a file'}: "
                                     f"{error.strerror or error}; retrying", level="warning"))
                self._wake()  # retry on the next round, as for new output
            else:
                self._failing.discard(id(sink))

"""Runs a project's agents under one anyio task group.

Agents start as soon as their own conditions hold (each runner waits for
its dependencies); shutdown is the mirror image: an agent is stopped only
after every agent that depends on it has stopped, unrelated agents together.
Reports through an `Observer`; never prints.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
from collections.abc import Awaitable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Callable

import anyio
import anyio.abc

from meshcompose.lifecycle import AgentState
from meshcompose.mesh import registry_client
from meshcompose.mesh.registered import Registration
from meshcompose.model import Agent, Project
from meshcompose.plan import planner
from meshcompose.plan.launch import LaunchSpec
from meshcompose.proc import process
from meshcompose.runtime.events import Notice, Observer
from meshcompose.runtime.resources import ResourceWatcher
from meshcompose.runtime.runner import AgentRunner
from meshcompose.runtime.system import System

EXIT_FORCED = 130


@dataclass(frozen=True)
class RunOptions:
    abort_on_exit: bool = False
    exit_code_from: str | None = None
    stop_timeout: float | None = None  # -t: overrides every stop_grace_period
    handle_signals: bool = True
    # Keep running when every agent has ended (a detached project waits for `down`).
    linger: bool = False


class Supervisor:
    def __init__(
        self,
        project: Project,
        launches: Mapping[str, LaunchSpec],
        observer: Observer,
        options: RunOptions = RunOptions(),
        system: System | None = None,
    ) -> None:
        self.project = project
        self._launches = dict(launches)
        self.observer = observer
        self.options = options
        self.system = system or System()  # processes and time: fakes in unit tests
        self._runners: dict[str, AgentRunner] = {}
        self.stopping = False
        self.forced = False
        self._first_exit: AgentRunner | None = None
        self.dependency_failed = False  # in the foreground, `up` then fails as compose's does
        self._agents_tg: anyio.abc.TaskGroup | None = None
        self._stopped_all = anyio.Event()
        self.registry_url: str | None = None
        self.mesh = False  # the run involves MCP Mesh: every agent was asked to listen on loopback
        self.resources = ResourceWatcher()  # one loop enforces every agent's limits

    # -- running -------------------------------------------------------------

    async def run(self, names: Sequence[str]) -> int:
        async with anyio.create_task_group() as outer:
            if self.options.handle_signals and sys.platform != "win32":
                await outer.start(self._watch_signals)
            await outer.start(self.resources.run)
            async with anyio.create_task_group() as agents:
                self._agents_tg = agents
                self.start(names)
                if self.options.linger:
                    agents.start_soon(self._stopped_all.wait)
            self._agents_tg = None  # every agent has ended: a late stop request has nothing to do
            outer.cancel_scope.cancel()
        return self.exit_code()

    def start(self, names: Sequence[str]) -> list[str]:
        """Starts the named agents that are not already active; returns them.
        Once the shutdown has begun, none: each runner refuses to start
        (`AgentRunner.start_refused`, the one place of that rule)."""
        started = []
        for name in names:
            runner = self._runners.get(name)
            if runner is not None and not runner.status.final:
                continue
            if runner is None:
                runner = AgentRunner(self.project.agents[name], self._launches[name], self)
                self._runners[name] = runner
            self._task_group().start_soon(runner.run, name=f"agent {name}")
            started.append(name)
        return [] if self.stopping else started

    def add_launches(self, launches: Mapping[str, LaunchSpec],
                     agents: Mapping[str, Agent] | None = None) -> None:
        """Agents (or new launch specs for known ones) a later `start` may run,
        with their definitions when they are new to this supervisor (an agent
        added to the file after `up`) or changed (a recreate)."""
        self._launches.update(launches)
        if agents:
            self.project = dataclasses.replace(self.project, agents={**self.project.agents, **agents})

    def forget(self, names: Sequence[str]) -> list[str]:
        """Drops the ended agents among `names` from the run (replicas scaled
        away: compose removes their containers); returns them. An active one
        is kept: only a stopped process may be forgotten."""
        gone = [name for name in names if name in self._launches
                and (name not in self._runners or self._runners[name].status.final)]
        for name in gone:
            self._runners.pop(name, None)
            self._launches.pop(name, None)
        return gone

    async def recreate(self, agents: Mapping[str, Agent], launches: Mapping[str, LaunchSpec], *,
                       timeout: float | None = None) -> list[str]:
        """`up -d` after the file changed: stop each agent whose definition
        changed, and start it again from its new definition and launch spec."""
        names = list(agents)
        await self.stop(names, timeout=timeout)
        await self.wait_final(names)
        self.add_launches(launches, agents)
        for name in names:
            self._runners.pop(name, None)  # a new runner: the old one holds the old definition
        return self.start(names)

    async def restart(self, names: Sequence[str], *, timeout: float | None = None) -> list[str]:
        """Stops `names` and the active agents that depend on one of them with
        `restart: true` (dependents first, as `stop` orders them), then starts
        them all; each dependent waits for its dependency's condition again,
        so it starts after the dependency is up. Returns the agents started."""
        chosen = list(dict.fromkeys([*names, *self.restart_dependents(names)]))
        await self.stop(chosen, timeout=timeout)
        await self.wait_final(chosen)
        return self.start(chosen)

    def restart_dependents(self, names: Sequence[str]) -> list[str]:
        """Active agents that declared `restart: true` on one of `names`, transitively."""
        found: list[str] = []
        frontier = list(names)
        while frontier:
            name = frontier.pop()
            for other, runner in self._runners.items():
                if other in found or other in names or runner.status.final:
                    continue
                if any(dep.name == name and dep.restart for dep in runner.agent.depends_on):
                    found.append(other)
                    frontier.append(other)
        return found

    @property
    def agent_names(self) -> list[str]:
        """Every agent this supervisor knows how to launch."""
        return list(self._launches)

    def runner(self, name: str) -> AgentRunner | None:
        return self._runners.get(name)

    @property
    def registration(self) -> Registration:
        return Registration(self.registry_url, self.project.name)

    def active_dependents(self, name: str, excluding: Collection[str] = ()) -> list[str]:
        """Agents still active (not final) that depend on `name`, except `excluding`."""
        return [other for other, runner in self._runners.items()
                if other not in excluding and not runner.status.final
                and any(dep.name == name for dep in runner.agent.depends_on)]

    async def wait_final(self, names: Sequence[str]) -> None:
        """Until each named runner has recorded its end (after a stop, its
        pipes still drain for up to `runner.PIPE_DRAIN_SECONDS`)."""
        for name in names:
            runner = self._runners.get(name)
            if runner is not None:
                await runner.wait_final()

    def _task_group(self) -> anyio.abc.TaskGroup:
        if self._agents_tg is None:
            raise RuntimeError("the supervisor is not running: call run() first")
        return self._agents_tg

    def agent_ended(self, runner: AgentRunner) -> None:
        if self._first_exit is None:
            self._first_exit = runner
        if runner.dependency_failure and not self.options.linger and not self.stopping:
            # compose: "dependency failed to start: container X is unhealthy", exit 1
            self.dependency_failed = True
            self.notice(f"dependency failed to start: {runner.dependency_failure}; stopping the project", "error")
            self.request_shutdown()
        if self.options.abort_on_exit and not self.stopping:
            self.notice(f"'{runner.agent.name}' ended; stopping the project (--abort-on-exit)")
            self.request_shutdown()

    def notice(self, text: str, level: str = "info") -> None:
        self.observer.notice(Notice(text, None, level))

    # -- stopping ------------------------------------------------------------

    def request_shutdown(self, timeout: float | None = None) -> None:
        """Stops every agent in reverse dependency order; `run` then returns."""
        if self.stopping:
            return
        self.stopping = True
        if self._agents_tg is None:  # not running, or every agent already ended; none will start now
            return
        timeout = self.options.stop_timeout if timeout is None else timeout
        self._task_group().start_soon(self._shutdown, timeout, name="shutdown")

    async def _shutdown(self, timeout: float | None) -> None:
        await self.stop(list(self._runners), timeout=timeout)
        self._stopped_all.set()

    async def stop(self, names: Sequence[str], *, timeout: float | None = None) -> None:
        """Stops `names`, each only after its dependents among them stopped
        (`planner.stop_before`, the order `down` also reaps in)."""
        chosen = [name for name in names if name in self._runners]
        before = planner.stop_before(
            {name: [dep.name for dep in self.project.agents[name].depends_on] for name in chosen})
        awaited = {name for dependents in before.values() for name in dependents}

        async with anyio.create_task_group() as stopping:

            async def stop_one(name: str) -> None:
                runner = self._runners[name]
                ended = anyio.Event()

                async def stop_and_tell() -> None:
                    try:
                        await runner.stop(timeout)
                        if name in awaited:  # its last lines and `exited` come before its dependencies' `stopping`
                            await runner.end_told()
                    finally:
                        ended.set()

                left_mesh = name in awaited and await self._registered(runner)
                stopping.start_soon(stop_and_tell)
                if left_mesh:
                    await _first_of(ended.wait, lambda: self._left_mesh(runner))
                else:
                    await ended.wait()

            await process.stop_in_order(before, stop_one)

    async def _registered(self, runner: AgentRunner) -> bool:
        """A mesh agent registered by its current process: the order of its stop
        is kept at the mesh's level (see `_left_mesh`)."""
        if not self.mesh or not runner.alive:
            return False
        with anyio.move_on_after(registry_client.DEFAULT_TIMEOUT):
            return await self.registration.registered_now(runner.agent.name, runner.status.started_at)
        return False

    async def _left_mesh(self, runner: AgentRunner) -> None:
        """Until the registry says `runner`'s agent left the mesh. An SDK agent
        deregisters at once on its stop signal, then spends most of a second
        ending its interpreter; what it depends on need not wait for that
        (meshctl stops all at once). Its `exited` is told when it happens."""
        await self.registration.wait_left(runner.agent.name)
        self.observer.notice(Notice("left the mesh (deregistered)", runner.agent.name, "info"))

    def kill_all(self) -> None:
        self.forced = True
        self.stopping = True
        for runner in self._runners.values():
            runner.kill()
        self._stopped_all.set()

    async def _watch_signals(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
            task_status.started()
            async for _signum in signals:
                if not self.stopping:
                    self.notice("Gracefully stopping… press Ctrl+C again to force", "warning")
                    self.request_shutdown()
                else:
                    self.notice("Forcing: killing every agent now", "warning")
                    self.kill_all()

    # -- outcome -------------------------------------------------------------

    def exit_code(self) -> int:
        if self.forced:
            return EXIT_FORCED
        wanted = self.options.exit_code_from
        if wanted is not None:
            code = self._runners[wanted].status.exit_code if wanted in self._runners else None
            return code if code is not None else 1
        if self.options.abort_on_exit and self._first_exit is not None:
            return _success(self._first_exit)
        if self.dependency_failed:
            return 1
        if self.stopping:
            return 0  # stopped on request: a clean stop is a success
        return 0 if all(_success(r) == 0 for r in self._runners.values()) else 1


def _success(runner: AgentRunner) -> int:
    status = runner.status
    return 0 if status.state is AgentState.EXITED and status.exit_code == 0 else 1


async def _first_of(*waits: Callable[[], Awaitable[object]]) -> None:
    """Until the first of `waits` returns; the others are cancelled."""
    async with anyio.create_task_group() as group:

        async def run(wait: Callable[[], Awaitable[object]]) -> None:
            await wait()
            group.cancel_scope.cancel()

        for wait in waits:
            group.start_soon(run, wait)

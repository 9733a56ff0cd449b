"""One agent's life: wait for its dependencies, run, watch health, restart, stop.

A runner never stops its own process on shutdown: the supervisor calls
`stop()` once every dependent has stopped, so the order is the supervisor's
concern and the mechanics are this module's. A runner sees its supervisor
only through `RunnerContext`; it never imports it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import anyio

from meshcompose import lifecycle
from meshcompose.errors import AgentStartError
from meshcompose.lifecycle import AgentState
from meshcompose.logs.logpump import pump
from meshcompose.mesh import meshplan
from meshcompose.mesh.registered import Registration
from meshcompose.model import Agent, Condition, HealthKind, Resources, RestartMode
from meshcompose.plan.launch import LaunchSpec
from meshcompose.proc import identity
from meshcompose.runtime import conditions
from meshcompose.runtime.events import EXPOSED, AgentStatus, Notice, Observer
from meshcompose.runtime.health import LogMatcher, Probe, monitor
from meshcompose.runtime.resources import Breach, ResourceWatcher, kernel_memory_breach
from meshcompose.runtime.system import Process, System
from meshcompose.units import plural

# After the leader exits, how long its output pipes may still drain.
PIPE_DRAIN_SECONDS = 2.0


class RunnerContext(Protocol):
    """What a runner needs from whoever runs it (the supervisor), and nothing more."""

    @property
    def observer(self) -> Observer:
        """Where the runner reports its status, notices and output lines."""

    @property
    def system(self) -> System:
        """The processes and the clock (the runtime's seam to the operating system)."""

    @property
    def resources(self) -> ResourceWatcher:
        """The one watcher enforcing every agent's limits."""

    @property
    def registration(self) -> Registration:
        """For `registered` conditions and registry healthchecks."""

    @property
    def stopping(self) -> bool:
        """The whole project is shutting down: nothing starts again (`AgentRunner.start_refused`)."""

    @property
    def mesh(self) -> bool:
        """The run involves an MCP Mesh registry (`meshplan.requested_host`)."""

    def runner(self, name: str) -> AgentRunner | None:
        """The runner of another agent (a dependency), if it is part of this run."""

    def agent_ended(self, runner: AgentRunner) -> None:
        """Told once each time this runner reaches a final state."""


class AgentRunner:
    def __init__(self, agent: Agent, launch: LaunchSpec, context: RunnerContext) -> None:
        self.agent = agent
        self.launch = launch
        self.context = context
        self.status = AgentStatus(agent.name)
        self.processes, self.clock = context.system.processes, context.system.clock
        self._changed = anyio.Event()
        self._process: Process | None = None
        self._identity: identity.ProcessIdentity | None = None
        self._cgroup: Path | None = None  # this run's cgroup, where cgroups are available
        self._kernel_limits: frozenset[str] = frozenset()  # what the cgroup's own limits hold: cpu, memory
        self._exited = anyio.Event()
        self._wait_scope: anyio.CancelScope | None = None
        self.stop_requested = False
        self._exit_reason: str | None = None  # set when a resource limit stopped it
        self.dependency_failure: str | None = None  # why it was skipped: a required dependency is unhealthy
        self._log_matcher: LogMatcher | None = None  # this run's, when the healthcheck watches the output
        self._new_log_matcher()  # now too: a bad pattern is an error before anything starts

    def _new_log_matcher(self) -> None:
        """A log healthcheck matches lines of the current process only: a line
        the previous run printed must not make the next one healthy."""
        check = self.agent.healthcheck
        if check is not None and check.kind is HealthKind.LOG:
            self._log_matcher = LogMatcher(check.target)

    # -- status ------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        """The one place an agent's state changes: through the lifecycle's table,
        which raises on a transition it does not allow."""
        if "state" in changes:
            changes["state"] = lifecycle.advance(self.agent.name, self.status.state, changes["state"])
        self.status = self.status.evolve(**changes)
        self.context.observer.agent_status(self.status)
        self._changed.set()
        self._changed = anyio.Event()

    def _notice(self, text: str, level: str = "info") -> None:
        self.context.observer.notice(Notice(text, self.agent.name, level))

    async def wait_changed(self) -> None:
        await self._changed.wait()

    async def wait_final(self) -> str:
        """Until this run of the agent has ended for good; returns why, as in
        `it is exited (0)`."""
        while not self.status.final:
            await self.wait_changed()
        return f"it is {self.status.label()}"

    @property
    def alive(self) -> bool:
        return self._process is not None and not self._exited.is_set()

    # -- lifecycle -----------------------------------------------------------

    async def run(self) -> None:
        """The whole life of the agent in this supervisor; returns when final."""
        if self.start_refused():
            return
        self.stop_requested = False
        self.dependency_failure = None
        self._set(state=AgentState.WAITING, final=False, message=None, exit_code=None)
        ready = False
        with self._stoppable() as scope:
            ready = await self._await_dependencies()
        if scope.cancelled_caught:
            self._set(state=AgentState.EXITED, final=True, message="stopped before it started")
            return
        if not ready:
            return
        failures = 0
        while True:
            started = self.clock.monotonic()
            code = await self._run_once()
            if code is None:
                return
            if self.clock.monotonic() - started >= self.agent.restart.reset_after:
                failures = 0
            if not self._wants_restart(code):
                self._finish(AgentState.EXITED, code, self._exit_reason)
                return
            if self._restarts_exhausted():
                message = f"gave up after {plural(self.status.restarts, 'restart')}; last exit code {code}"
                self._notice(message, "error")
                self._finish(AgentState.FAILED, code, message)
                return
            delay = self._backoff(failures)
            failures += 1
            self._notice(f"restarting in {_seconds(delay)} (restart {self.status.restarts + 1})")
            self._set(state=AgentState.RESTARTING, message=self._exit_reason, exit_code=code)
            with self._stoppable() as scope:
                await self.clock.sleep(delay)
            if scope.cancelled_caught or self.stop_requested:
                self._finish(AgentState.EXITED, code)
                return
            self._set(restarts=self.status.restarts + 1)

    def start_refused(self) -> bool:
        """The rule that makes a stop win: once the project's shutdown has
        begun, nothing starts this agent again. Every start passes here (a
        new run, whoever asked for it: `start`, `restart`, a recreate, a
        watch reload; and each process of a run, the restart policy's
        included), with no await between this check and the spawn's
        STARTING state, which the shutdown's `stop()` waits out. A run
        scheduled before the shutdown and entered after it ends here."""
        if not self.context.stopping:
            return False
        message = self.status.message if self.status.ever_started else "stopped before it started"
        self._finish(AgentState.EXITED, self.status.exit_code, message)
        return True

    @contextlib.contextmanager
    def _stoppable(self) -> Iterator[anyio.CancelScope]:
        """A wait (dependencies, backoff) that `stop()` interrupts."""
        with anyio.CancelScope() as scope:
            self._wait_scope = scope
            if self.stop_requested:
                scope.cancel()
            try:
                yield scope
            finally:
                self._wait_scope = None

    def _wants_restart(self, code: int) -> bool:
        if self.stop_requested or self.context.stopping:
            return False  # an exit during shutdown is never restarted
        mode = self.agent.restart.mode
        if mode is RestartMode.ON_FAILURE:
            return code != 0 or self._exit_reason is not None  # a crossed limit is a failure
        return mode in (RestartMode.ALWAYS, RestartMode.UNLESS_STOPPED)

    def _restarts_exhausted(self) -> bool:
        limit = self.agent.restart.max_restarts
        return limit is not None and self.status.restarts >= limit

    def _backoff(self, failures: int) -> float:
        backoff = self.agent.restart.backoff
        return min(backoff.initial * math.pow(2, failures), backoff.maximum)

    def _finish(self, state: AgentState, code: int | None, message: str | None = None) -> None:
        self._set(state=state, exit_code=code, message=message, final=True)
        self.context.agent_ended(self)

    # -- dependencies --------------------------------------------------------

    async def _await_dependencies(self) -> bool:
        for dep in self.agent.depends_on:
            other = self.context.runner(dep.name)
            if other is None:
                continue  # not selected (--no-deps): nothing to wait for
            satisfied, reason = await self._await_condition(other, dep.condition)
            if satisfied:
                continue
            if dep.required:
                message = f"skipped because {reason}"
                self._notice(message, "warning")
                if other.status.state is AgentState.UNHEALTHY:
                    # It still runs and will not recover on its own: a foreground
                    # `up` fails (compose's "dependency failed to start").
                    self.dependency_failure = reason
                self._finish(AgentState.SKIPPED, None, message)
                return False
            self._notice(f"starting anyway (dependency not required): {reason}", "warning")
        return True

    async def _await_condition(self, other: AgentRunner, condition: Condition) -> tuple[bool, str]:
        if condition is Condition.REGISTERED:
            return await self.context.registration.wait(
                other.agent.name, other.wait_final, lambda: other.status.started_at)
        while True:
            result = conditions.outcome(condition, other.status)
            if result is not None:
                return result, conditions.why_not(condition, other.status)
            await other.wait_changed()

    # -- one process ---------------------------------------------------------

    async def _run_once(self) -> int | None:
        """Starts the process and waits for it; None if it could not start.

        What finds the process later is on disk before it exists (its token
        and cgroup: the recorder writes a new token at once) and its pid right
        after, before any other await: a supervisor SIGKILLed in between
        leaves nothing `down` cannot find."""
        if self.start_refused():
            return None
        token = identity.new_token()
        self._new_log_matcher()
        self._cgroup = self.processes.create_group(token)
        limits = self.agent.resources
        self._kernel_limits = self.processes.limit_group(self._cgroup, memory=limits.memory_limit, cpu=limits.cpu_limit)
        self._set(state=AgentState.STARTING, exit_code=None, token=token, pid=None, create_time=None,
                  cgroup=str(self._cgroup) if self._cgroup else None, exposed=())
        self._exit_reason = None
        try:
            self._exited = anyio.Event()
            env = dict(self.launch.env)
            env[identity.TOKEN_VAR] = token
            proc = await self.processes.spawn(self.launch.argv, cwd=self.launch.cwd, env=env)
        except AgentStartError as error:
            self.processes.remove_group(self._cgroup)
            self._notice(f"could not start: {error.message}", "error")
            self._finish(AgentState.FAILED, None, error.message)
            return None
        self.processes.add_to_group(self._cgroup, proc.pid)
        self._process, self._identity = proc, self.processes.identity(proc.pid)
        self._set(
            state=AgentState.RUNNING, pid=proc.pid, ever_started=True,
            create_time=self._identity.create_time if self._identity else None,
            started_at=self.clock.time(),
        )
        self._notice(self._started_text(proc.pid))
        self._watch_limits(token)
        if self._identity is not None:
            asked = meshplan.requested_host(self.agent, self.launch.env, mesh=self.context.mesh)
            self.context.resources.watch_listening(self.agent.name, self._identity, token, asked, self._exposed)
        try:
            return await self._supervise(proc, token)
        finally:
            with anyio.CancelScope(shield=True):
                self.context.resources.unwatch(self.agent.name)
                self._exited.set()
                await self.processes.kill_tree_and_wait(self._identity, token, self._cgroup,
                                                        leader_exited=proc.returncode is not None)
                self.processes.remove_group(self._cgroup)
                await proc.aclose()

    def _watch_limits(self, token: str) -> None:
        limits = self.agent.resources
        if self._identity is None or limits == Resources():
            return
        described, notes = self.context.resources.watch(
            self.agent.name, self._identity, token, limits, self._stop_for_limit, held=self._kernel_limits)
        for note in notes:
            self._notice(note.text, note.level)
        self._set(limits=described)

    def _exposed(self, addresses: tuple[str, ...], warning: str | None) -> None:
        """What it listens on beyond the loopback host asked for (`ps` shows it),
        and a loud warning the first time each address is seen."""
        if addresses != self.status.exposed:
            self._set(exposed=addresses)
        if warning:
            self.context.observer.notice(Notice(warning, self.agent.name, "warning", kind=EXPOSED))

    async def _stop_for_limit(self, breach: Breach) -> None:
        """A limit crossed: stop like a user would, but the restart policy still applies."""
        if not self.alive or self.stop_requested or self.status.state is AgentState.STOPPING:
            return
        self._exit_reason = breach.message
        self._notice(breach.detail, "warning")
        await self._terminate(self.agent.stop_grace_period)

    def _tell_kernel_breach(self) -> None:
        """An exit by the kernel's OOM killer is a memory-limit stop, as a
        sampled breach is: the same status, message and restart policy."""
        limit = self.agent.resources.memory_limit
        if "memory" in self._kernel_limits and limit is not None and self.processes.oom_killed(self._cgroup):
            breach = kernel_memory_breach(limit)
            self._exit_reason = breach.message
            self._notice(breach.detail, "warning")

    def _started_text(self, pid: int) -> str:
        if self.launch.interpreter:
            version = f" {self.launch.python_version}" if self.launch.python_version else ""
            return f"started (pid {pid}, python{version} {self.launch.interpreter})"
        return f"started (pid {pid})"

    async def _supervise(self, proc: Process, token: str) -> int:
        async with anyio.create_task_group() as tg:
            drained = _Countdown(2)
            tg.start_soon(self._pump, proc.stdout, "out", drained)
            tg.start_soon(self._pump, proc.stderr, "err", drained)
            health = anyio.CancelScope()
            if self.agent.healthcheck is not None:
                tg.start_soon(self._watch_health, health)
            code = await proc.wait()
            self._exited.set()
            health.cancel()
            self._tell_kernel_breach()
            # Nothing of it may outlive it.
            self.processes.kill_tree(self._identity, token, self._cgroup, leader_exited=True)
            with anyio.move_on_after(PIPE_DRAIN_SECONDS):
                await drained.wait()
            tg.cancel_scope.cancel()
        self._notice(self._exit_text(code), "info" if code == 0 or self.stop_requested else "warning")
        # Recorded as a shell reports it (128 + signal), as compose shows `exited (143)`.
        return 128 - code if code < 0 else code

    def _exit_text(self, code: int) -> str:
        if code < 0:
            return f"exited (killed by signal {-code}, code {128 - code})"
        return f"exited with code {code}"

    async def _pump(self, stream: anyio.abc.ByteReceiveStream | None, name: str,
                    drained: _Countdown) -> None:
        observer, agent = self.context.observer, self.agent.name
        matcher = self._log_matcher

        def on_lines(lines: list[str]) -> None:
            observer.agent_lines(agent, name, lines)
            if matcher is not None and not matcher.matched:
                for line in lines:
                    matcher.feed(line)

        try:
            if stream is not None:  # always a pipe: `process.spawn` asks for one
                await pump(stream, on_lines)
        finally:
            drained.tick()

    async def _watch_health(self, scope: anyio.CancelScope) -> None:
        check = self.agent.healthcheck
        if check is None:
            return
        registry_probe = None
        if check.kind is HealthKind.REGISTRY:
            registry_probe = self.context.registration.probe(self.agent.name, lambda: self.status.started_at,
                                                             wired=check.target == "wired")
        with scope:
            await monitor(
                check, cwd=self.launch.cwd, env=self.launch.env, on_change=self._health_changed,
                log_matcher=self._log_matcher, registry_probe=registry_probe,
            )

    def _health_changed(self, probe: Probe) -> None:
        """The last probe's reason is the status message while unhealthy
        (`ps` shows it); the notice is written when the health flips."""
        if self._exited.is_set() or self.status.state is AgentState.STOPPING:
            return
        flipped = self.status.state is not (AgentState.HEALTHY if probe.healthy else AgentState.UNHEALTHY)
        reason = probe.reason or "healthcheck failing"
        self._set(state=AgentState.HEALTHY if probe.healthy else AgentState.UNHEALTHY,
                  message=None if probe.healthy else reason)
        if flipped:
            self._notice("healthy" if probe.healthy else f"unhealthy: {reason}", "info" if probe.healthy else "warning")

    # -- stopping ------------------------------------------------------------

    async def stop(self, grace: float | None = None) -> None:
        """Graceful stop: stop signal to the group, wait the grace, then kill.
        Returns when the leader has exited; its end is told a little later
        (`end_told`)."""
        self.stop_requested = True
        if self._wait_scope is not None:
            self._wait_scope.cancel()
        while self.status.state is AgentState.STARTING:
            await self.wait_changed()  # a spawn in flight is stopped once it exists
        if not self.alive:
            return
        await self._terminate(self.agent.stop_grace_period if grace is None else grace)

    async def end_told(self) -> None:
        """After `stop()`: until the end of the run it stopped is told (last
        output lines drained, `exited`, the final state). The leader's exit
        ends `stop()` while this run's task still drains and tells; whatever
        is stopped after this agent must be told after it."""
        if self._process is not None:  # it ran: its run task reaches a final state (nothing restarts it)
            await self.wait_final()

    async def _terminate(self, grace: float) -> None:
        self._set(state=AgentState.STOPPING)
        self._notice("stopping")
        self.context.resources.unwatch(self.agent.name)  # a throttled group must run to hear the signal
        await self.processes.stop_group(
            self._identity, self.status.token, stop_signal=self.agent.stop_signal, grace=grace,
            exited=self._exited.wait, group=self._cgroup,
            on_kill=lambda: self._notice(f"did not stop within {_seconds(grace)}; killing", "warning"),
        )

    def kill(self) -> None:
        """Immediate SIGKILL of the whole tree (second Ctrl+C)."""
        self.stop_requested = True
        if self._wait_scope is not None:
            self._wait_scope.cancel()
        if self.alive:
            self.processes.kill_tree(self._identity, self.status.token, self._cgroup)


class _Countdown:
    """An event that is set after `count` ticks."""

    def __init__(self, count: int) -> None:
        self.count, self.event = count, anyio.Event()

    def tick(self) -> None:
        self.count -= 1
        if self.count <= 0:
            self.event.set()

    async def wait(self) -> None:
        await self.event.wait()


def _seconds(value: float) -> str:
    return f"{value:g}s" if value < 60 else f"{value / 60:g}m"

"""The supervisor's lifecycle through the runtime's seam: scripted fake
processes and a clock whose sleeps end at once (`fakesystem`). Start order,
`depends_on` conditions, restart policies and their backoff, skips,
abort-on-exit, exit codes, the reverse stop order and a crash during a stop,
each in milliseconds. One real-process test per feature stays in
tests/integration/test_up.py to prove the wiring."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from fakesystem import Behaviour, FakeSystem, Gate, exits, runs

from meshcompose.lifecycle import AgentState
from meshcompose.model import (
    Agent,
    Backoff,
    Condition,
    DependsOn,
    Healthcheck,
    HealthKind,
    Project,
    RestartMode,
    RestartPolicy,
    RunKind,
)
from meshcompose.plan.launch import LaunchSpec
from meshcompose.runtime.events import AgentStatus, Notice
from meshcompose.runtime.supervisor import EXIT_FORCED, RunOptions, Supervisor

S = AgentState
pytestmark = pytest.mark.timeout(10)

READY = Healthcheck(HealthKind.LOG, target="ready")  # healthy at its first `ready` line


def agent(name: str, *deps: str | DependsOn, **settings: object) -> Agent:
    depends_on = tuple(DependsOn(dep) if isinstance(dep, str) else dep for dep in deps)
    return Agent(name, RunKind.COMMAND, command=("agent",), depends_on=depends_on, **settings)  # type: ignore[arg-type]


def needs(name: str, condition: Condition, *, required: bool = True) -> DependsOn:
    return DependsOn(name, condition, required=required)


def on_failure(max_restarts: int | None, initial: float = 1.0, maximum: float = 30.0,
               mode: RestartMode = RestartMode.ON_FAILURE, reset_after: float = 10.0) -> RestartPolicy:
    return RestartPolicy(mode, max_restarts, Backoff(initial, maximum), reset_after)


class Recorder:
    """An observer keeping each agent's states and every notice, in order."""

    def __init__(self) -> None:
        self.statuses: list[AgentStatus] = []
        self.notices: list[Notice] = []

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None:
        pass

    def agent_status(self, status: AgentStatus) -> None:
        self.statuses.append(status)

    def notice(self, notice: Notice) -> None:
        self.notices.append(notice)

    def states(self, name: str) -> list[AgentState]:
        """Each state `name` entered, without repeats."""
        words: list[AgentState] = []
        for status in self.statuses:
            if status.name == name and (not words or words[-1] is not status.state):
                words.append(status.state)
        return words

    def texts(self, name: str | None = None) -> list[str]:
        return [notice.text for notice in self.notices if name is None or notice.agent == name]

    def last(self, name: str) -> AgentStatus:
        return [status for status in self.statuses if status.name == name][-1]


class Run:
    def __init__(self, fake: FakeSystem, supervisor: Supervisor, recorder: Recorder) -> None:
        self.fake, self.supervisor, self.recorder = fake, supervisor, recorder
        self.code: int | None = None

    def state(self, name: str) -> AgentState:
        runner = self.supervisor.runner(name)
        assert runner is not None
        return runner.status.state

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Until `predicate` holds; the fakes never wait on real time, so a
        bound of seconds only catches a hang."""
        with anyio.fail_after(5):
            while not predicate():
                await anyio.lowlevel.checkpoint()

    async def until_state(self, name: str, *states: AgentState) -> None:
        await self.until(lambda: self.supervisor.runner(name) is not None and self.state(name) in states)


Script = Callable[[Run], Awaitable[None]]


def run(agents: list[Agent], behaviours: dict[str, list[Behaviour]] | None = None,
        options: RunOptions = RunOptions(), script: Script | None = None, fake: FakeSystem | None = None) -> Run:
    """Runs the project to its end; `script` acts on it meanwhile."""
    project = Project("demo", Path("/project"), (), {a.name: a for a in agents})
    launches = {a.name: LaunchSpec(("agent", a.name), Path("/project"), {"MESH_COMPOSE_AGENT": a.name})
                for a in agents}
    fake = fake or FakeSystem(behaviours or {})
    recorder = Recorder()
    supervisor = Supervisor(project, launches, recorder, dataclasses.replace(options, handle_signals=False),
                            system=fake.system)
    result = Run(fake, supervisor, recorder)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            if script is not None:
                tg.start_soon(script, result)
            result.code = await supervisor.run(list(project.agents))
            tg.cancel_scope.cancel()

    anyio.run(main)
    return result


def stop_once_running(*names: str, up: AgentState = S.RUNNING) -> Script:
    async def script(r: Run) -> None:
        for name in names:
            await r.until_state(name, up)
        r.supervisor.request_shutdown()
    return script


# -- start order and conditions --------------------------------------------------------


def test_each_agent_starts_once_its_conditions_hold_and_stops_after_its_dependents():
    agents = [
        agent("setup"),
        agent("api", needs("setup", Condition.COMPLETED_SUCCESSFULLY), healthcheck=READY),
        agent("worker", needs("api", Condition.HEALTHY)),
        agent("follower", "worker"),
        agent("loner"),
    ]
    behaviours = {"setup": [exits(0)], "api": [runs(lines=("ready",))]}
    r = run(agents, behaviours, script=stop_once_running("follower", "loner"))
    starts = r.fake.events("start")
    assert starts.index("setup") < starts.index("api") < starts.index("worker") < starts.index("follower")
    assert starts.index("loner") < starts.index("api")  # it waits for nobody's chain
    signals = r.fake.events("signal")
    assert signals.index("follower") < signals.index("worker") < signals.index("api")
    assert "setup" not in signals  # it had ended
    assert r.recorder.states("api") == [S.WAITING, S.STARTING, S.RUNNING, S.HEALTHY, S.STOPPING, S.EXITED]
    assert r.code == 0  # stopped on request


def test_started_condition_needs_only_the_process():
    agents = [agent("db", healthcheck=READY), agent("api", needs("db", Condition.STARTED))]
    r = run(agents, {"db": [runs()]}, script=stop_once_running("api"))
    assert r.fake.events("start") == ["db", "api"]
    assert S.HEALTHY not in r.recorder.states("db")  # it never printed `ready`


def test_failed_dependency_skips_required_dependents_but_not_optional_ones():
    agents = [
        agent("setup"),
        agent("needs", needs("setup", Condition.COMPLETED_SUCCESSFULLY)),
        agent("optional", needs("setup", Condition.COMPLETED_SUCCESSFULLY, required=False)),
        agent("after", "needs"),
    ]
    r = run(agents, {"setup": [exits(3)], "optional": [exits(0)]})
    assert r.fake.events("start") == ["setup", "optional"]
    assert r.recorder.last("needs").message == \
        "skipped because 'setup' did not complete successfully: it exited with code 3"
    assert r.recorder.states("needs") == [S.WAITING, S.SKIPPED]
    assert r.recorder.last("after").state is S.SKIPPED  # a skip skips what depends on it
    assert any(text.startswith("starting anyway") for text in r.recorder.texts("optional"))
    assert r.code == 1  # everything ended on its own, not all of it well


def test_dependency_that_ends_before_it_is_healthy_skips_its_dependent():
    agents = [agent("api", healthcheck=READY), agent("web", needs("api", Condition.HEALTHY))]
    r = run(agents, {"api": [exits(1)]})
    assert r.fake.events("start") == ["api"]
    assert r.recorder.last("web").message == "skipped because 'api' never became healthy: it exited with code 1"


def test_a_spawn_that_fails_is_failed_and_skips_its_dependents():
    agents = [agent("api"), agent("web", "api")]
    r = run(agents, {"api": [Behaviour(spawn_error="executable 'nope' not found")]})
    assert r.recorder.states("api") == [S.WAITING, S.STARTING, S.FAILED]
    assert "could not start: executable 'nope' not found" in r.recorder.texts("api")
    assert r.recorder.last("web").state is S.SKIPPED
    assert r.code == 1


# -- restart policies and backoff ----------------------------------------------------------


def test_backoff_doubles_from_its_initial_delay_then_gives_up():
    r = run([agent("crasher", restart=on_failure(3, initial=0.3, maximum=5))], {"crasher": [exits(2)]})
    assert r.fake.events("start") == ["crasher"] * 4  # the first run and three restarts
    assert r.fake.clock.sleeps == [0.3, 0.6, 1.2]
    assert [t for t in r.recorder.texts("crasher") if t.startswith("restarting")] == [
        "restarting in 0.3s (restart 1)", "restarting in 0.6s (restart 2)", "restarting in 1.2s (restart 3)"]
    assert r.recorder.last("crasher").message == "gave up after 3 restarts; last exit code 2"
    assert r.recorder.last("crasher").state is S.FAILED
    assert r.code == 1


def test_backoff_stops_growing_at_its_maximum():
    r = run([agent("crasher", restart=on_failure(5, initial=1, maximum=3))], {"crasher": [exits(1)]})
    assert r.fake.clock.sleeps == [1, 2, 3, 3, 3]


def test_a_run_that_lasted_resets_the_backoff():
    async def crash_after_a_long_run(r: Run) -> None:
        spawned = r.fake.processes.spawned["svc"]
        for run_, code in enumerate([1, 1, 1, 0]):  # two quick crashes, a long run's crash, a success
            await r.until(lambda n=run_: len(spawned) > n)
            if run_ == 2:
                r.fake.clock.now += 20  # up longer than reset_after
            spawned[run_].exit(code)

    r = run([agent("svc", restart=on_failure(None, initial=1, reset_after=10))], {"svc": [runs()]},
            script=crash_after_a_long_run)
    assert r.fake.clock.sleeps == [1, 2, 1]
    assert r.recorder.last("svc").state is S.EXITED and r.code == 0


@pytest.mark.parametrize("mode, codes, starts", [
    (RestartMode.NO, [1], 1),
    (RestartMode.ON_FAILURE, [0], 1),  # a success is not restarted
    (RestartMode.ON_FAILURE, [1, 1, 0], 3),
    (RestartMode.ALWAYS, [0, 0, 0], 3),  # limited by max_restarts 2
    (RestartMode.UNLESS_STOPPED, [0, 1, 0], 3),
])
def test_restart_policies(mode, codes, starts):
    r = run([agent("a", restart=on_failure(2, mode=mode))], {"a": [exits(code) for code in codes]})
    assert r.fake.events("start") == ["a"] * starts


def test_a_stop_during_the_backoff_ends_the_agent_without_another_start():
    async def stop_in_backoff(r: Run) -> None:
        await r.until_state("a", S.RESTARTING)
        r.supervisor.request_shutdown()

    fake = FakeSystem({"a": [exits(1), runs()]})
    fake.clock.hold = Gate()  # the backoff lasts until the stop cuts it short
    r = run([agent("a", restart=on_failure(None, mode=RestartMode.ALWAYS))], script=stop_in_backoff, fake=fake)
    assert r.fake.events("start") == ["a"]
    assert r.recorder.states("a")[-2:] == [S.RESTARTING, S.EXITED]
    assert r.recorder.last("a").state is S.EXITED and r.code == 0


def test_no_restart_during_the_shutdown():
    r = run([agent("svc", restart=on_failure(None, mode=RestartMode.ALWAYS))], {"svc": [runs()]},
            script=stop_once_running("svc"))
    assert r.fake.events("start") == ["svc"]
    assert r.code == 0


# -- abort-on-exit and exit codes ------------------------------------------------------------


def test_abort_on_exit_stops_the_project_when_one_agent_ends():
    agents = [agent("job"), agent("server")]

    async def job_ends(r: Run) -> None:
        await r.until_state("server", S.RUNNING)
        r.fake.processes.spawned["job"][-1].exit(7)

    r = run(agents, {"job": [runs()]}, RunOptions(abort_on_exit=True), script=job_ends)
    assert "server" in r.fake.events("signal")
    assert "'job' ended; stopping the project (--abort-on-exit)" in r.recorder.texts()
    assert r.code == 1  # the first to end did not succeed


def test_exit_code_from_names_the_agent_whose_code_up_returns():
    agents = [agent("job"), agent("server")]

    async def job_ends(r: Run) -> None:
        await r.until_state("server", S.RUNNING)
        r.fake.processes.spawned["job"][-1].exit(7)

    r = run(agents, {"job": [runs()]}, RunOptions(exit_code_from="job", abort_on_exit=True), script=job_ends)
    assert r.code == 7


@pytest.mark.parametrize("codes, expected", [((0, 0), 0), ((0, 4), 1)])
def test_all_agents_done_ends_the_run_with_their_verdict(codes, expected):
    r = run([agent("a"), agent("b")], {"a": [exits(codes[0])], "b": [exits(codes[1])]})
    assert r.code == expected


def test_a_forced_stop_kills_everything_and_returns_130():
    async def force(r: Run) -> None:
        await r.until_state("a", S.RUNNING)
        r.supervisor.request_shutdown()
        await r.until_state("a", S.STOPPING)
        r.supervisor.kill_all()

    fake = FakeSystem({"a": [runs(on_stop=None)]})
    fake.clock.hold = Gate()  # the grace lasts until the second Ctrl+C
    r = run([agent("a")], script=force, fake=fake)
    assert ("kill", "a", None) in r.fake.log
    assert r.code == EXIT_FORCED


def test_an_unhealthy_dependency_fails_the_foreground_run():
    # The verdict comes through the runner's health callback, as the monitor gives it.
    agents = [agent("api", healthcheck=READY), agent("web", needs("api", Condition.HEALTHY))]

    async def turns_unhealthy(r: Run) -> None:
        await r.until_state("api", S.RUNNING)
        runner = r.supervisor.runner("api")
        assert runner is not None
        from meshcompose.runtime.health import Probe

        runner._health_changed(Probe(False, "probe failed"))

    r = run(agents, {"api": [runs()]}, script=turns_unhealthy)
    assert r.recorder.last("web").state is S.SKIPPED
    assert r.supervisor.dependency_failed and r.code == 1


# -- stopping ------------------------------------------------------------------------------------


def test_stop_order_is_reverse_and_unrelated_agents_stop_together():
    agents = [agent("db"), agent("api", "db"), agent("web", "api"), agent("loner")]
    r = run(agents, script=stop_once_running("web", "loner"))
    log = [(event, name) for event, name, _ in r.fake.log]
    assert log.index(("signal", "web")) < log.index(("signal", "api")) < log.index(("signal", "db"))
    assert log.index(("exit", "web")) < log.index(("signal", "api"))  # each only after its dependents exited
    assert log.index(("exit", "api")) < log.index(("signal", "db"))
    assert log.index(("signal", "loner")) < log.index(("signal", "db"))  # not held back by the chain


def test_an_agent_ignoring_its_stop_signal_is_killed_after_its_grace():
    r = run([agent("stubborn", stop_grace_period=1.0)], {"stubborn": [runs(on_stop=None)]},
            script=stop_once_running("stubborn"))
    assert r.fake.clock.sleeps == [1.0]
    assert "did not stop within 1s; killing" in r.recorder.texts("stubborn")
    assert r.recorder.last("stubborn").exit_code == 137  # 128 + SIGKILL, as a shell reports it


def test_a_crash_during_the_stop_is_not_restarted_and_the_stop_order_holds():
    gate = Gate()
    agents = [agent("db", restart=on_failure(None, mode=RestartMode.ALWAYS)), agent("api", "db")]

    async def db_crashes_while_api_stops(r: Run) -> None:
        await r.until_state("api", S.RUNNING)
        r.supervisor.request_shutdown()
        await r.until_state("api", S.STOPPING)
        r.fake.processes.spawned["db"][-1].exit(1)
        await r.until_state("db", S.EXITED)
        gate.open()

    r = run(agents, {"api": [runs(stop_gate=gate)]}, script=db_crashes_while_api_stops)
    assert r.fake.events("start") == ["db", "api"]  # no restart of db
    assert r.recorder.last("db").exit_code == 1
    assert r.fake.events("signal") == ["api"]  # db had already ended
    assert r.code == 0  # the project was stopped on request


def test_a_crash_on_the_stop_signal_is_recorded():
    r = run([agent("a")], {"a": [runs(on_stop=3)]}, script=stop_once_running("a"))
    assert r.recorder.last("a").exit_code == 3
    assert r.code == 0


def test_stopped_before_it_started():
    agents = [agent("setup"), agent("api", needs("setup", Condition.COMPLETED_SUCCESSFULLY))]
    r = run(agents, {"setup": [runs()]}, script=stop_once_running("setup"))
    assert r.recorder.last("api").message == "stopped before it started"
    assert r.fake.events("start") == ["setup"]


def test_every_state_change_of_these_runs_is_a_lifecycle_transition():
    """The runner checks each change against the table; a whole run of
    restarts, health, stops and skips passes it."""
    from meshcompose.lifecycle import allowed

    agents = [agent("crasher", restart=on_failure(2, initial=0.1)), agent("api", healthcheck=READY),
              agent("web", needs("api", Condition.HEALTHY))]
    r = run(agents, {"crasher": [exits(1)], "api": [runs(lines=("ready",))]}, script=stop_once_running("web"))
    for name in ("crasher", "api", "web"):
        states = r.recorder.states(name)
        assert all(allowed(a, b) for a, b in zip(states, states[1:])), states

"""A stop always wins: once the project's shutdown has begun, no path of the
supervisor (restart, recreate, watch reload, start, the restart policy)
starts an agent again.

Real processes; the moment the shutdown begins is chosen through the
observer, which the supervisor calls synchronously at each status change,
so each interleaving is reached on purpose, not by timing."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import psutil
import pytest

from meshcompose.lifecycle import AgentState
from meshcompose.model import Agent, Backoff, Project, RestartMode, RestartPolicy, RunKind
from meshcompose.plan.launch import build_launches
from meshcompose.runtime.events import AgentStatus, Notice
from meshcompose.runtime.supervisor import RunOptions, Supervisor
from meshcompose.runtime.watch import Watcher

pytestmark = [pytest.mark.timeout(60), pytest.mark.skipif(os.name != "posix", reason="POSIX signals")]

# Runs until stopped; with a marker file, the first run exits 1 (for the restart policy).
AGENT = """
import os, sys, time
marker = sys.argv[1] if len(sys.argv) > 1 else None
if marker and not os.path.exists(marker):
    open(marker, "w").close()
    sys.exit(1)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""

Trigger = Callable[[AgentStatus], bool]


class Python:
    executable, version_text, is_venv = sys.executable, "3", False


class ShutdownAt:
    """Begins the shutdown the first time an armed trigger matches a status."""

    def __init__(self) -> None:
        self.supervisor: Supervisor | None = None
        self.trigger: Trigger | None = None
        self.ready = anyio.Event()
        self.pids: set[int] = set()
        self.fired = False
        self.shutdown_begun = anyio.Event()

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None:
        if "ready" in lines:
            self.ready.set()

    def agent_status(self, status: AgentStatus) -> None:
        if status.pid:
            self.pids.add(status.pid)
        if self.trigger is not None and self.trigger(status):
            self.trigger = None
            self.fire()

    def fire(self) -> None:
        assert self.supervisor is not None
        self.fired = True
        self.shutdown_begun.set()
        self.supervisor.request_shutdown(timeout=5)

    def notice(self, notice: Notice) -> None:
        pass


def make_supervisor(tmp_path: Path, observer: ShutdownAt, *, args: tuple[str, ...] = (),
                    restart: RestartPolicy = RestartPolicy()) -> Supervisor:
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    agent = Agent("a", RunKind.SCRIPT, str(script), args=args, working_dir=tmp_path, restart=restart)
    project = Project("demo", tmp_path, (), {"a": agent})
    launches = build_launches(project, ["a"], {"a": Python}, dict(os.environ))
    supervisor = Supervisor(project, launches, observer, RunOptions(linger=True, handle_signals=False))
    observer.supervisor = supervisor
    return supervisor


def run_until_shutdown(supervisor: Supervisor, observer: ShutdownAt,
                       action: Callable[[Supervisor], Awaitable[object]] | None, trigger: Trigger | None) -> None:
    """Runs agent `a`; once it is ready, arms `trigger` and runs `action`.
    The supervisor must then finish its shutdown: a start after it would
    keep it (and the agent) running until the deadline."""
    finished = False

    async def main() -> None:
        nonlocal finished
        async with anyio.create_task_group() as tg:
            async def supervise() -> None:
                nonlocal finished
                await supervisor.run(["a"])
                finished = True
            tg.start_soon(supervise)
            with anyio.fail_after(20):
                await observer.ready.wait()
            observer.trigger = trigger
            if action is not None:
                await action(supervisor)
                if not observer.fired:
                    observer.fire()  # the action returned: the shutdown begins in the same instant
            with anyio.fail_after(20):
                await observer.shutdown_begun.wait()
            with anyio.move_on_after(20):
                while not finished:
                    await anyio.sleep(0.05)
            if not finished:
                supervisor.kill_all()  # end the test's processes; the assertion below fails it

    anyio.run(main)
    alive = [pid for pid in observer.pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert finished, "the supervisor never finished its shutdown: an agent was started after it began"
    assert alive == []
    assert observer.fired


def state_is(state: AgentState) -> Trigger:
    return lambda status: status.state is state


def ended(status: AgentStatus) -> bool:
    return status.final


TRIGGERS = {
    "while it stops": state_is(AgentState.STOPPING),
    "once it ended": ended,
    "while it starts again": state_is(AgentState.STARTING),
    "once the call returned": lambda status: False,
}


async def restart(supervisor: Supervisor) -> None:
    await supervisor.restart(["a"], timeout=5)


async def recreate(supervisor: Supervisor) -> None:
    await supervisor.recreate({"a": supervisor.project.agents["a"]}, {"a": supervisor._launches["a"]}, timeout=5)


async def watch_reload(supervisor: Supervisor) -> None:
    await Watcher(supervisor, ["a"]).restart({"a": "agent.py changed"})


@pytest.mark.parametrize("action", [restart, recreate, watch_reload], ids=["restart", "recreate", "watch"])
@pytest.mark.parametrize("when", list(TRIGGERS))
def test_a_shutdown_begun_during_a_restart_is_final(tmp_path: Path, action, when: str) -> None:
    observer = ShutdownAt()
    supervisor = make_supervisor(tmp_path, observer)
    run_until_shutdown(supervisor, observer, action, TRIGGERS[when])
    if when != "while it starts again":
        assert len(observer.pids) == 1  # nothing was spawned after the shutdown began


def test_start_after_the_shutdown_began_starts_nothing(tmp_path: Path) -> None:
    observer = ShutdownAt()
    supervisor = make_supervisor(tmp_path, observer)
    started: list[str] = ["not called"]

    async def stop_then_start(supervisor: Supervisor) -> None:
        await supervisor.stop(["a"], timeout=5)
        await supervisor.wait_final(["a"])
        observer.fire()
        started[:] = supervisor.start(["a"])

    run_until_shutdown(supervisor, observer, stop_then_start, None)
    assert started == []
    assert len(observer.pids) == 1
    assert supervisor.runner("a").status.final


@pytest.mark.parametrize("when", ["while it backs off", "once the backoff ended"])
def test_the_restart_policy_starts_nothing_once_the_shutdown_began(tmp_path: Path, when: str) -> None:
    observer = ShutdownAt()
    marker = tmp_path / "first-run-failed"
    supervisor = make_supervisor(tmp_path, observer, args=(str(marker),),
                                 restart=RestartPolicy(RestartMode.ALWAYS, backoff=Backoff(0.2, 0.2)))
    restarts = 0 if when == "while it backs off" else 1  # the backoff ends by counting the restart
    observer.ready.set()  # the first run exits 1 before it is ready: armed from the start
    run_until_shutdown(supervisor, observer, None,
                       lambda status: status.state is AgentState.RESTARTING and status.restarts == restarts)
    assert len(observer.pids) == 1



def test_a_stop_requested_after_the_run_ended_does_nothing(tmp_path: Path):
    """A signal or a `down` that arrives as the last agent ends finds no agent
    group to stop: it is a no-op, not an error in the supervisor."""
    script = tmp_path / "once.py"
    script.write_text("print('done')\n")
    project = Project("demo", tmp_path, (), {"a": Agent("a", RunKind.SCRIPT, str(script), working_dir=tmp_path)})
    launches = build_launches(project, ["a"], {"a": Python}, dict(os.environ))
    supervisor = Supervisor(project, launches, ShutdownAt(), RunOptions(handle_signals=False))
    assert anyio.run(supervisor.run, ["a"]) == 0
    supervisor.request_shutdown()  # raised "This task group is not active" before
    assert supervisor.stopping

"""The one stop order, on real processes: the live supervisor stopping its
agents and `down` reaping a dead supervisor's agents from the state file stop
the same graph the same way — every agent only after its dependents exited."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from meshcompose.control import state
from meshcompose.model import Agent, DependsOn, Project, RunKind
from meshcompose.plan import planner
from meshcompose.plan.launch import build_launches
from meshcompose.proc import process
from meshcompose.runtime import reap
from meshcompose.runtime.events import AgentStatus, Notice
from meshcompose.runtime.supervisor import Supervisor

pytestmark = [pytest.mark.timeout(60), pytest.mark.skipif(os.name != "posix", reason="POSIX signals")]

GRAPH = {"db": [], "api": ["db"], "web": ["api"], "worker": ["db"], "loner": []}

# Slow to stop: a dependency stopped too early would log its `stop` before
# its dependent's `exit`.
AGENT = """
import signal, sys, time
name, events = sys.argv[1], sys.argv[2]
def log(word):
    with open(events, "a") as handle:
        handle.write(name + " " + word + "\\n")
def stop(*_):
    log("stop")
    time.sleep(0.3)
    log("exit")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


class Python:
    executable, version_text, is_venv = sys.executable, "3", False


class ReadyWatcher:
    def __init__(self) -> None:
        self.ready: set[str] = set()

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None:
        if "ready" in lines:
            self.ready.add(agent)

    def agent_status(self, status: AgentStatus) -> None:
        pass

    def notice(self, notice: Notice) -> None:
        pass


def assert_dependents_exited_first(events: Path) -> list[str]:
    lines = events.read_text().split("\n")
    for name, deps in GRAPH.items():
        for dep in deps:
            assert lines.index(f"{name} exit") < lines.index(f"{dep} stop"), lines
    return lines


def test_the_live_supervisor_stops_dependents_first(tmp_path: Path) -> None:
    (tmp_path / "agent.py").write_text(AGENT)
    events = tmp_path / "events"
    agents = {name: Agent(name, RunKind.SCRIPT, str(tmp_path / "agent.py"), args=(name, str(events)),
                          working_dir=tmp_path, depends_on=tuple(DependsOn(dep) for dep in deps))
              for name, deps in GRAPH.items()}
    project = Project("demo", tmp_path, (), agents)
    launches = build_launches(project, list(agents), dict.fromkeys(agents, Python), dict(os.environ))
    watcher = ReadyWatcher()
    supervisor = Supervisor(project, launches, watcher)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            async def stop_when_ready() -> None:
                while watcher.ready != set(GRAPH):
                    await anyio.sleep(0.05)
                supervisor.request_shutdown()
            tg.start_soon(stop_when_ready)
            await supervisor.run(list(agents))

    anyio.run(main)
    assert sorted(assert_dependents_exited_first(events)) == sorted(
        [f"{name} {word}" for name in GRAPH for word in ("stop", "exit")] + [""])


def test_down_reaps_a_dead_supervisors_agents_in_the_same_order(tmp_path: Path) -> None:
    (tmp_path / "agent.py").write_text(AGENT)
    events = tmp_path / "events"
    records: dict[str, state.AgentRecord] = {}
    started = []
    try:
        for name, deps in GRAPH.items():
            token = process.new_token()
            proc = subprocess.Popen([sys.executable, str(tmp_path / "agent.py"), name, str(events)],
                                    env={**os.environ, process.TOKEN_VAR: token}, stdout=subprocess.PIPE,
                                    start_new_session=True)
            started.append(proc)
            assert proc.stdout.readline().strip() == b"ready"
            ident = process.identity(proc.pid)
            records[name] = state.new_agent(status="running", pid=proc.pid, create_time=ident.create_time,
                                            token=token, depends_on=deps, stop_grace=5.0)
        outcomes = reap.reap_records(records)
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
    assert all(outcome.found and not outcome.forced for outcome in outcomes)
    assert_dependents_exited_first(events)
    # the outcomes come in the one stop order's waves, as `down` prints them
    assert [o.name for o in outcomes] == [n for wave in planner.stop_waves(GRAPH) for n in wave]

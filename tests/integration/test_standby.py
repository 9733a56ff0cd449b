"""`up -d` starts its supervisor before it loads the project (the standby,
`runtime.detached.Standby`), and hands it the plan once it is written.

Through the real CLI, with the three steps recorded in order: the standby
started, the project loaded, the plan handed over. The supervisor that runs
the agents is the standby; an `up -d` that ends without a plan for it (a bad
file, a project already running) has ended it before it returns; a standby that
died before the plan came is replaced by a supervisor started the plain way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from cli_helpers import ProjectDir, _env, ok, pid_alive

posix_only = pytest.mark.skipif(os.name != "posix", reason="SCM_RIGHTS and flock")

# The real CLI, with the standby's start, the project's load and the hand-over traced.
TRACED_CLI = """
import json, os, sys
from meshcompose.cli import options as cli_options
from meshcompose.runtime import detached

trace = []
started, loaded, handed = detached.Standby.__init__, cli_options.load_project, detached.Standby.hand

def start(self, *args, **kwargs):
    started(self, *args, **kwargs)
    trace.append(["standby", self.child.pid])
    if os.environ.get("KILL_STANDBY"):
        self.child.kill()
        self.child.wait()

def load(*args, **kwargs):
    trace.append(["load", None])
    return loaded(*args, **kwargs)

def hand(self, *args, **kwargs):
    child = handed(self, *args, **kwargs)
    trace.append(["handed", child.pid if child is not None else None])
    return child

detached.Standby.__init__, cli_options.load_project, detached.Standby.hand = start, load, hand
from meshcompose.cli.main import main
try:
    code = main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w") as out:
        json.dump(trace, out)
sys.exit(code)
"""

AGENT = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("up", flush=True)
while True:
    time.sleep(0.1)
"""


def traced(project: ProjectDir, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, list]:
    trace = project.root / "trace.json"
    result = subprocess.run([sys.executable, "-c", TRACED_CLI, str(trace), *args], cwd=project.root,
                            capture_output=True, text=True, timeout=60, env={**_env(), **env},
                            stdin=subprocess.DEVNULL)
    return result, [tuple(step) for step in json.loads(trace.read_text())]


def supervisor_pid(project: ProjectDir) -> int:
    return json.loads(project.read(".mesh-compose/t/state.json"))["supervisor"]["pid"]


@pytest.fixture
def two_agents(project: ProjectDir):
    project.script("agent.py", AGENT)
    project.compose({"api": {"script": "agent.py"}, "worker": {"script": "agent.py", "depends_on": ["api"]}})
    yield project
    assert project.cli("down", "-t", "2", timeout=60).returncode == 0


@posix_only
def test_up_d_hands_the_plan_to_the_supervisor_it_started_before_loading(two_agents: ProjectDir):
    project = two_agents
    up, trace = traced(project, "up", "-d")
    ok(up)
    assert [step for step, _ in trace] == ["standby", "load", "handed"], trace
    standby = trace[0][1]
    assert trace[2][1] == standby  # handed to the standby itself, not to a new supervisor
    assert supervisor_pid(project) == standby
    assert (project.root / ".mesh-compose" / "t" / "lock").read_text().strip() == str(standby)
    assert psutil.Process(standby).cmdline()[1:] == ["-m", "meshcompose.app.detach", "--standby"]
    rows = [json.loads(line) for line in ok(project.cli("ps", "--format", "json")).stdout.splitlines()]
    assert {row["Name"]: row["State"] for row in rows} == {"api": "running", "worker": "running"}
    assert all(psutil.Process(row["Pid"]).ppid() == standby for row in rows)
    log = project.read(".mesh-compose/t/supervisor.log")
    assert "api => started" in log and "Traceback" not in log  # its stdout and stderr are the log


@posix_only
def test_an_up_d_with_a_bad_file_leaves_no_standby(project: ProjectDir):
    project.script("agent.py", AGENT)
    (project.root / "mesh-compose.yaml").write_text("name: t\nagents:\n  api: {script: agent.py, restart: nope}\n")
    up, trace = traced(project, "up", "-d")
    assert up.returncode == 3 and "agents.api.restart" in up.stderr, up.stderr
    assert [step for step, _ in trace] == ["standby", "load"], trace
    assert not pid_alive(trace[0][1])  # ended and reaped before the command returned
    assert not (project.root / ".mesh-compose" / "t" / "supervisor.log").exists()


@posix_only
def test_up_d_on_a_running_project_leaves_no_standby(two_agents: ProjectDir):
    project = two_agents
    ok(project.cli("up", "-d"))
    supervisor = supervisor_pid(project)
    again, trace = traced(project, "up", "-d")
    ok(again)
    assert "api  Running" in again.stdout and "worker  Running" in again.stdout  # handed to the running one
    assert [step for step, _ in trace] == ["standby", "load"], trace
    assert not pid_alive(trace[0][1])  # ended and reaped before the command returned
    assert supervisor_pid(project) == supervisor and pid_alive(supervisor)


@posix_only
def test_a_standby_that_died_is_replaced_by_a_plain_supervisor(two_agents: ProjectDir):
    project = two_agents
    up, trace = traced(project, "up", "-d", KILL_STANDBY="1")
    ok(up)
    assert trace[-1] == ("handed", None), trace  # the dead standby could not take the plan
    supervisor = supervisor_pid(project)
    assert supervisor != trace[0][1] and pid_alive(supervisor)
    plan = Path(project.root / ".mesh-compose" / "t" / "run-plan.json")
    assert psutil.Process(supervisor).cmdline()[1:] == ["-m", "meshcompose.app.detach", str(plan)]
    assert {row.split()[0] for row in ok(project.cli("ps")).stdout.splitlines()[1:]} == {"api", "worker"}

"""The detached supervisor runs what `up` planned, from the run plan file.

`up -d` plans once (project file, selection, interpreters, registry, launch
specs), writes `.mesh-compose/run-plan.json`, and starts `python -m
meshcompose.runtime PLAN`. Here the plan is made through the application
layer, the project file is then deleted or edited, and the supervisor is
started from the plan exactly as `up -d` starts it (inheriting the project
lock): the planned agents start as planned. The interpreter is a wrapper
that logs every time it is run, so a re-probe would show.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from cli_helpers import ProjectDir, _env, pid_alive, wait_until
from meshcompose.app import detach
from meshcompose.app import project as app_project
from meshcompose.app import up as app_up
from meshcompose.app.options import InstallOptions, InstallPolicy, UpOptions
from meshcompose.app.project import ProjectSelection
from meshcompose.app.waiting import wait_until_up
from meshcompose.control.lock import ProjectLock
from meshcompose.plan import runplan
from meshcompose.plan.runplan import RunPlan

posix_only = pytest.mark.skipif(os.name != "posix", reason="a shell-script interpreter wrapper and flock")

AGENT = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(os.environ["MESH_COMPOSE_AGENT"], "runs", os.path.basename(__file__), "mark", os.environ.get("MARK"), flush=True)
while True:
    time.sleep(0.1)
"""


def write_project(project: ProjectDir, mark: str, script: str = "agent.py") -> None:
    """`api`, and `worker` depending on it, run by an interpreter wrapper that logs its runs."""
    project.script("agent.py", AGENT)
    project.script("other.py", AGENT)
    wrapper = project.root / "pywrap"
    wrapper.write_text(f'#!/bin/sh\necho "run $1" >> "{project.root / "interpreter-runs.log"}"\n'
                       f'exec "{os.path.realpath(sys.executable)}" "$@"\n')
    wrapper.chmod(0o755)
    project.compose({
        "api": {"script": script, "environment": {"MARK": mark}, "stop_grace_period": "2s"},
        "worker": {"script": script, "environment": {"MARK": mark}, "depends_on": ["api"],
                   "stop_grace_period": "2s"},
    }, python={"interpreter": str(wrapper)})


def plan_up_d(project: ProjectDir) -> tuple[Path, RunPlan]:
    """What `up -d` does before it starts the supervisor: plan, and write the plan."""
    options = UpOptions(detach=True, install=InstallOptions(policy=InstallPolicy.CONTINUE))
    loaded = app_project.load(ProjectSelection(files=(str(project.root / "mesh-compose.yaml"),)))
    plan = app_up.plan_run(loaded, app_up.select(loaded, options), options)
    return app_up.write_plan(plan), plan


def start_supervisor(project: ProjectDir, plan_path: Path, plan: RunPlan) -> int:
    """What `up -d` does then: take the lock, start the supervisor from the
    plan (it inherits the lock), wait until the agents are up."""
    lock = ProjectLock(project.root, plan.project.name)
    lock.acquire()
    log_path = project.root / ".mesh-compose" / "t" / "supervisor.log"
    child = detach.start(plan_path, lock, log_path)
    outcome = wait_until_up(project.root, plan.project.name, plan.selected, set(), 30, child=child, log_path=log_path)
    assert outcome.ok, outcome
    return child.pid


def ps_json(project: ProjectDir) -> dict:
    # The project file may be gone (a `-f` naming it would be an error): the working directory
    # holds the state, and `-p` names the project.
    result = project.cli("-p", "t", "ps", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {row["Name"]: row for row in map(json.loads, result.stdout.splitlines())}


def logged(project: ProjectDir, name: str) -> str:
    return project.read(f".mesh-compose/t/logs/{name}.log")


@pytest.fixture
def planned(project: ProjectDir):
    """A project planned for `up -d`, and `down` afterwards whatever happened."""
    write_project(project, mark="planned")
    plan_path, plan = plan_up_d(project)
    probes = project.read("interpreter-runs.log").splitlines()
    assert probes, "planning probes the interpreter (through the wrapper)"
    try:
        yield project, plan_path, plan, probes
    finally:
        result = project.cli("-p", "t", "down", "-t", "2", timeout=60)
        assert result.returncode == 0, result.stderr


@posix_only
def test_the_plan_starts_after_the_project_file_is_deleted(planned):
    project, plan_path, plan, probes = planned
    (project.root / "mesh-compose.yaml").unlink()
    supervisor = start_supervisor(project, plan_path, plan)

    rows = ps_json(project)
    assert {name: row["State"] for name, row in rows.items()} == {"api": "running", "worker": "running"}
    assert all(pid_alive(row["Pid"]) and psutil.Process(row["Pid"]).ppid() == supervisor for row in rows.values())
    for name in ("api", "worker"):
        assert wait_for_line(project, name, f"{name} runs agent.py mark planned")
    assert project.read("interpreter-runs.log").splitlines() == probes  # not probed again
    assert psutil.Process(supervisor).cmdline()[1:] == ["-m", "meshcompose.app.detach", str(plan_path)]


@posix_only
def test_the_plan_starts_as_planned_after_the_project_file_is_edited(planned):
    project, plan_path, plan, probes = planned
    write_project(project, mark="edited", script="other.py")  # what a re-read would now find
    (project.root / "mesh-compose.yaml").write_text(
        (project.root / "mesh-compose.yaml").read_text() + "  broken: {script: [not, valid]\n")
    start_supervisor(project, plan_path, plan)

    assert set(ps_json(project)) == {"api", "worker"}
    for name in ("api", "worker"):
        assert wait_for_line(project, name, f"{name} runs agent.py mark planned")
        assert "other.py" not in logged(project, name) and "edited" not in logged(project, name)
    assert project.read("interpreter-runs.log").splitlines() == probes


@posix_only
def test_up_d_starts_the_supervisor_from_the_plan_it_wrote(project: ProjectDir):
    write_project(project, mark="planned")
    try:
        up = project.cli("up", "-d", "--no-install")
        assert up.returncode == 0, up.stdout + up.stderr
        assert re.search(r"✔ api\s+running", up.stdout) and re.search(r"✔ worker\s+running", up.stdout)
        plan_path = project.root / ".mesh-compose" / "t" / "run-plan.json"
        assert stat.S_IMODE(plan_path.stat().st_mode) == 0o600  # launch environments may hold secrets
        plan = runplan.read(plan_path)
        assert plan.selected == ("api", "worker") and plan.launches["api"].env["MARK"] == "planned"
        supervisor = json.loads(project.read(".mesh-compose/t/state.json"))["supervisor"]["pid"]
        # The supervisor started before the plan existed (test_standby.py), and was handed this one.
        assert psutil.Process(supervisor).cmdline()[1:] == ["-m", "meshcompose.app.detach", "--standby"]
        # One probe per distinct interpreter, in the `up -d` that planned; none in the supervisor.
        assert len(project.read("interpreter-runs.log").splitlines()) == 1
    finally:
        assert project.cli("down", "-t", "2", timeout=60).returncode == 0


@posix_only
def test_a_damaged_plan_is_a_clear_error_in_the_supervisor_log(project: ProjectDir):
    write_project(project, mark="planned")
    plan_path, _ = plan_up_d(project)
    document = json.loads(plan_path.read_text())
    document["plan"]["project"]["agents"]["api"]["restart"]["mode"] = "sometimes"
    plan_path.write_text(json.dumps(document))
    result = subprocess.run([sys.executable, "-m", "meshcompose.app.detach", str(plan_path)], cwd=project.root,
                            capture_output=True, text=True, timeout=60, env=_env())
    assert result.returncode == 1
    assert "plan.project.agents.api.restart.mode: expected one of 'no'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not (project.root / ".mesh-compose" / "t" / "state.json").exists()  # nothing started


def wait_for_line(project: ProjectDir, name: str, line: str, timeout: float = 10) -> bool:
    wait_until(lambda: line in logged(project, name), timeout, f"{line!r} in {name}.log")
    return True

"""`up -d` on a running project reconciles as compose's does, `start` does
not re-run a dependency that already completed, and `restart X` restarts the
dependents that declared `depends_on: {X: {restart: true}}`; all through the
real CLI."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from cli_helpers import ProjectDir, ok, wait_until

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

# Appends "start NAME" / "stop NAME" to $EVENTS; a one-shot when ONESHOT is set.
AGENT = """
import os, signal, sys, time
name, events = os.environ["MESH_COMPOSE_AGENT"], os.environ["EVENTS"]
def note(word):
    with open(events, "a") as f:
        f.write(f"{word} {name}\\n")
def stop(*_):
    note("stop")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
note("start")
print(name, "up", flush=True)
if os.environ.get("ONESHOT"):
    sys.exit(0)
while True:
    time.sleep(3600)
"""


def rows(project: ProjectDir) -> dict:
    result = ok(project.cli("ps", "-a", "--format", "json"))
    return {row["Name"]: row for row in map(json.loads, result.stdout.splitlines())}


def noted(events: Path, *lines: str) -> list[str]:
    """The agents' notes once all of `lines` are among them. `up -d` and
    `restart` return once an agent without a healthcheck runs (its process
    exists), which is before its interpreter has written its `start` note."""
    wait_until(lambda: set(lines) <= set(events.read_text().splitlines()), 30, f"the notes {lines}")
    return events.read_text().splitlines()


def agent(project: ProjectDir, **extra) -> dict:
    environment = {"EVENTS": str(project.root / "events"), **extra.pop("environment", {})}
    return {"script": "agent.py", "stop_grace_period": "5s", "environment": environment, **extra}


@pytest.fixture
def running(project: ProjectDir):
    project.script("agent.py", AGENT)
    yield project
    project.cli("down", "-t", "2", timeout=120)


@posix_only
def test_up_d_again_starts_what_is_missing_and_recreates_what_changed(running: ProjectDir):
    project = running
    project.compose({"api": agent(project), "worker": agent(project, environment={"MODE": "one"})})
    ok(project.cli("up", "-d"))
    before = rows(project)
    again = ok(project.cli("up", "-d"))  # was: "already running", exit 1
    assert re.search(r"- api\s+Running", again.stdout) and re.search(r"- worker\s+Running", again.stdout)
    assert {name: row["Pid"] for name, row in rows(project).items()} == {n: r["Pid"] for n, r in before.items()}

    project.compose({"api": agent(project), "worker": agent(project, environment={"MODE": "two"}),
                     "extra": agent(project)})
    changed = ok(project.cli("up", "-d"))
    assert re.search(r"- api\s+Running", changed.stdout)
    assert re.search(r"- worker\s+Recreated", changed.stdout)
    assert re.search(r"- extra\s+Started", changed.stdout)
    after = rows(project)
    assert after["api"]["Pid"] == before["api"]["Pid"]
    assert after["worker"]["Pid"] != before["worker"]["Pid"] and after["worker"]["State"] == "running"
    assert after["extra"]["State"] == "running"
    # The supervisor runs the new definition: a third `up -d` leaves everything alone.
    third = ok(project.cli("up", "-d"))
    assert "Recreated" not in third.stdout and "Started" not in third.stdout


@posix_only
def test_start_an_agent_added_after_up(running: ProjectDir):
    project = running
    project.compose({"api": agent(project)})
    ok(project.cli("up", "-d"))
    project.compose({"api": agent(project), "late": agent(project, depends_on=["api"])})
    ok(project.cli("start", "late"))  # was: the supervisor crashed with KeyError: 'late'
    assert rows(project)["late"]["State"] == "running"
    assert ok(project.cli("ps", "--format", "json")).stdout.count('"Name"') == 2


@posix_only
def test_start_does_not_rerun_a_completed_dependency(running: ProjectDir):
    project = running
    project.compose({
        "prepare-data": agent(project, environment={"ONESHOT": "1"}),
        "notifier": agent(project, depends_on={"prepare-data": {"condition": "completed_successfully"}}),
    })
    ok(project.cli("up", "-d", "prepare-data"))
    assert rows(project)["prepare-data"]["Status"] == "exited (0)"
    ok(project.cli("start", "notifier"))
    assert (project.root / "events").read_text().splitlines().count("start prepare-data") == 1
    listed = rows(project)
    assert listed["prepare-data"]["Status"] == "exited (0)" and listed["notifier"]["State"] == "running"


@posix_only
def test_restart_restarts_the_dependents_that_ask_for_it(running: ProjectDir):
    project = running
    project.compose({
        "catalog": agent(project, healthcheck={"log": "catalog up", "interval": "0.1s"}),
        "summarizer": agent(project, depends_on={"catalog": {"condition": "healthy", "restart": True}}),
        "watcher": agent(project, depends_on={"catalog": {"condition": "healthy"}}),
    })
    ok(project.cli("up", "-d"))
    before = rows(project)
    events = project.root / "events"
    noted(events, "start summarizer", "start watcher")  # the first run's notes, before they are cleared
    events.write_text("")
    result = ok(project.cli("restart", "catalog", timeout=120))
    assert "watcher depends on catalog and keeps running while it restarts" in result.stdout + result.stderr
    after = rows(project)
    assert after["summarizer"]["Pid"] != before["summarizer"]["Pid"] and after["summarizer"]["State"] == "running"
    assert after["watcher"]["Pid"] == before["watcher"]["Pid"]  # no restart: true, left running
    assert after["catalog"]["State"] == "healthy"
    order = noted(events, "start summarizer")
    # The dependent stops before its dependency and starts after it is up again.
    assert order == ["stop summarizer", "stop catalog", "start catalog", "start summarizer"]


# Ready at once on its first run; on later runs it takes a while to print its ready line.
SLOW_SECOND_START = """
import os, time
events, runs = os.environ["EVENTS"], os.environ["RUNS"]
with open(runs, "a") as f:
    f.write("run\\n")
if open(runs).read().count("run") > 1:
    time.sleep(1.5)
with open(events, "a") as f:
    f.write("ready catalog\\n")
print("catalog ready", flush=True)
while True:
    time.sleep(3600)
"""


@posix_only
def test_a_restarted_agent_is_healthy_only_when_its_new_process_says_so(running: ProjectDir):
    # A log healthcheck matched by the previous process must not vouch for the next one.
    project = running
    project.script("catalog.py", SLOW_SECOND_START)
    project.compose({
        "catalog": {"script": "catalog.py", "stop_grace_period": "5s",
                    "environment": {"EVENTS": str(project.root / "events"), "RUNS": str(project.root / "runs")},
                    "healthcheck": {"log": "catalog ready", "interval": "0.1s"}},
        "summarizer": agent(project, depends_on={"catalog": {"condition": "healthy", "restart": True}}),
    })
    ok(project.cli("up", "-d"))
    events = project.root / "events"
    noted(events, "start summarizer")  # the first run's note, before it is cleared
    events.write_text("")
    ok(project.cli("restart", "catalog", timeout=120))
    order = [line for line in noted(events, "start summarizer") if "start" in line or "ready" in line]
    assert order == ["ready catalog", "start summarizer"], order

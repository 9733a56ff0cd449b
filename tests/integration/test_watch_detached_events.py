"""`up -d --watch`: a reload and a rejected edit are seen where a detached
project is watched from, `events`, `logs` and `ps`, not only in the
supervisor's own log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli_helpers import ProjectDir, wait_until

pytestmark = [pytest.mark.timeout(240), pytest.mark.skipif(os.name != "posix", reason="POSIX signals")]

AGENT = "import os, time\nprint('VERSION {version} pid', os.getpid(), flush=True)\ntime.sleep(3600)\n"


@pytest.fixture
def project(tmp_path: Path):
    proj = ProjectDir(tmp_path)
    yield proj
    proj.cli("down", "-t", "5", timeout=60)
    proj.cleanup()


def hello_row(project: ProjectDir) -> dict:
    rows = [json.loads(line) for line in project.cli("ps", "-a", "--format", "json").stdout.splitlines()]
    return next(row for row in rows if row["Name"] == "hello")


def test_reloads_and_rejected_edits_are_events_log_lines_and_in_ps(project: ProjectDir) -> None:
    project.script("app/agent.py", AGENT.format(version=1))
    project.compose({"hello": {"script": "app/agent.py", "stop_grace_period": "5s"}})
    up = project.cli("up", "-d", "--watch", timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    wait_until(lambda: "watching" in project.read(".mesh-compose/t/supervisor.log"), 30, "the watcher")
    events = project.start("events", "--json")
    wait_until(lambda: hello_row(project)["Pid"] is not None, 30, "hello's pid")
    old = hello_row(project)["Pid"]

    project.script("app/agent.py", AGENT.format(version=2))
    events.wait_for('"watch: reload"', 60)
    wait_until(lambda: hello_row(project)["Pid"] not in (None, old), 60, "the new pid")
    project.script("app/agent.py", "def broken(:\n")
    events.wait_for('"watch: rejected"', 60)

    lines = [json.loads(line) for line in events.output.splitlines() if line.startswith("{")]
    reload = next(event for event in lines if event["action"] == "watch: reload")
    rejected = next(event for event in lines if event["action"] == "watch: rejected")
    assert reload["service"] == "hello" and "agent.py changed" in reload["attributes"]["message"]
    assert "SyntaxError" in rejected["attributes"]["message"]

    shown = project.cli("logs", "hello").stdout
    assert "restarting: agent.py changed" in shown and "not restarting" in shown, shown
    assert "not restarting" in (hello_row(project)["Watch"] or "")

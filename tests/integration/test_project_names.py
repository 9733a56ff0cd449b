"""Projects are kept apart by name, as compose keeps them: two projects run
from one directory (`-p alpha`, `-p beta`, or two bare agent files) each have
their own state, lock, logs and control socket, and `ps`/`down`/`logs` act on
the one named."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from cli_helpers import ProjectDir, ok, pid_alive, wait_until

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and unix sockets")

AGENT = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(os.environ["MESH_COMPOSE_AGENT"], "up in", os.environ.get("WHICH", "?"), flush=True)
while True:
    time.sleep(3600)
"""


def rows(project: ProjectDir, *args: str) -> dict:
    result = ok(project.cli(*args, "ps", "--format", "json"))
    return {row["Name"]: row for row in map(json.loads, result.stdout.splitlines())}


@pytest.fixture
def two(project: ProjectDir):
    project.script("agent.py", AGENT)
    project.compose({"api": {"script": "agent.py", "stop_grace_period": "5s"}})
    yield project
    for name in ("alpha", "beta"):
        project.cli("-p", name, "down", "-t", "2", timeout=120)


@posix_only
def test_two_project_names_in_one_directory_run_side_by_side(two: ProjectDir):
    project = two
    ok(project.cli("-p", "alpha", "up", "-d"))
    ok(project.cli("-p", "beta", "up", "-d"))  # not "already running": that is alpha
    alpha, beta = rows(project, "-p", "alpha")["api"], rows(project, "-p", "beta")["api"]
    assert alpha["Pid"] != beta["Pid"] and alpha["Project"] == "alpha" and beta["Project"] == "beta"
    for name in ("alpha", "beta"):
        assert (project.root / ".mesh-compose" / name / "state.json").is_file()
        assert (project.root / ".mesh-compose" / name / "logs" / "api.log").is_file()
    # The environment variable picks the project as -p does.
    by_env = subprocess.run([*project_cli(), "ps", "--format", "json"], cwd=project.root, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "MESH_COMPOSE_PROJECT_NAME": "beta"})
    assert json.loads(by_env.stdout.splitlines()[0])["Pid"] == beta["Pid"]
    ok(project.cli("-p", "beta", "down", "-t", "2", timeout=120))
    wait_until(lambda: not pid_alive(beta["Pid"]), 10, "beta's agent to be gone")
    assert pid_alive(alpha["Pid"])  # `-p beta down` left alpha alone
    assert rows(project, "-p", "alpha")["api"]["State"] == "running"
    assert rows(project, "-p", "beta") == {}


def project_cli() -> list[str]:
    import sys

    return [sys.executable, "-m", "meshcompose"]


@posix_only
def test_two_bare_agent_files_are_two_projects(project: ProjectDir):
    project.script("agent.py", AGENT)
    project.script("agent_long.py", AGENT)
    try:
        ok(project.cli("up", "-d", "agent_long.py", "--no-install"))
        ok(project.cli("up", "-d", "agent.py", "--no-install"))  # was: KeyError 'agent'
        long_pid = rows(project, "-f", "agent_long.py")["agent_long"]["Pid"]
        short = rows(project, "-f", "agent.py")
        assert list(short) == ["agent"]
        ok(project.cli("down", "-f", "agent.py", timeout=120))  # was: stopped agent_long
        wait_until(lambda: not pid_alive(short["agent"]["Pid"]), 10, "agent to be gone")
        assert pid_alive(long_pid)
        logs = ok(project.cli("-f", "agent_long.py", "logs", "--no-log-prefix")).stdout
        assert "agent_long up in" in logs and "agent up in" not in logs  # the logs do not mix
        # With one project left running here, a bare `ps` finds it without -f.
        assert list(rows(project)) == ["agent_long"]
    finally:
        project.cli("down", "-f", "agent.py", "-t", "2", timeout=120)
        project.cli("down", "-f", "agent_long.py", "-t", "2", timeout=120)

"""Single-agent mode beside a project file: after `up -d hello.py`, `ps`,
`logs` and `down` in that directory act on what runs there when the
directory's own project does not, and say so; `-p`/`-f` pick explicitly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli_helpers import ProjectDir, pid_alive, sleeper

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

SLEEPER = sleeper("hello up")


@pytest.fixture
def project(tmp_path: Path):
    proj = ProjectDir(tmp_path)
    proj.script("hello.py", SLEEPER)
    proj.script("a.py", SLEEPER)
    proj.compose({"a": {"script": "a.py"}}, name="dirproj")
    yield proj
    proj.cli("down", "-p", "hello", "-t", "5", timeout=60)
    proj.cli("down", "-t", "5", timeout=60)
    proj.cleanup()


def test_ps_logs_and_down_find_the_single_agent_run_beside_the_project_file(project: ProjectDir) -> None:
    up = project.cli("up", "-d", "hello.py", timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr

    ps = project.cli("ps", "--format", "json")
    rows = [json.loads(line) for line in ps.stdout.splitlines()]
    assert [row["Name"] for row in rows] == ["hello"], ps.stdout + ps.stderr
    assert "dirproj is not running" in ps.stderr and "hello.py" in ps.stderr and "-p dirproj" in ps.stderr
    assert "hello up" in project.cli("logs", "--no-color").stdout

    down = project.cli("down", "-t", "5", timeout=60)
    assert down.returncode == 0 and "hello" in down.stdout + down.stderr, down.stdout + down.stderr
    assert "nothing to stop" not in down.stdout + down.stderr
    assert not pid_alive(rows[0]["Pid"])


def test_the_directorys_own_project_wins_when_it_runs(project: ProjectDir) -> None:
    assert project.cli("up", "-d", "hello.py", timeout=120).returncode == 0
    assert project.cli("up", "-d", timeout=120).returncode == 0
    ps = project.cli("ps", "--format", "json")
    assert [json.loads(line)["Name"] for line in ps.stdout.splitlines()] == ["a"] and "not running" not in ps.stderr
    assert [json.loads(line)["Name"] for line in project.cli("ps", "-p", "hello", "--format", "json").stdout.splitlines()] == ["hello"]
    assert [json.loads(line)["Name"] for line in project.cli("ps", "-f", "hello.py", "--format", "json").stdout.splitlines()] == ["hello"]

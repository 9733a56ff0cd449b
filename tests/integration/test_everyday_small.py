"""Smaller everyday defects, each through the real CLI: `watch` on a project
already running, `ps --format json`'s StartedAt, `python` in `run`, and the
pid on the `logs` run rule."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

import pytest

from cli_helpers import ProjectDir, sleeper

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

SLEEPER = sleeper("sleeper up")


@pytest.fixture
def project(tmp_path: Path):
    proj = ProjectDir(tmp_path)
    proj.script("sleeper.py", SLEEPER)
    yield proj
    proj.cli("down", "-t", "5", timeout=60)
    proj.cleanup()


def rows(project: ProjectDir) -> dict[str, dict]:
    listed = [json.loads(line) for line in project.cli("ps", "-a", "--format", "json").stdout.splitlines()]
    return {row["Name"]: row for row in listed}


def test_watch_on_a_project_running_without_watching_says_so(project: ProjectDir) -> None:
    project.compose({"api": {"script": "sleeper.py"}})
    assert project.cli("up", "-d", timeout=120).returncode == 0
    watched = project.cli("watch", timeout=60)
    assert watched.returncode != 0 and "already running without watching" in watched.stderr, watched.stderr


def test_ps_json_started_at_is_an_rfc3339_date_and_the_run_rule_shows_the_agents_pid(project: ProjectDir) -> None:
    project.compose({"api": {"script": "sleeper.py"}})
    assert project.cli("up", "-d", timeout=120).returncode == 0
    api = rows(project)["api"]
    started = datetime.fromisoformat(api["StartedAt"])  # RFC 3339, with its offset
    assert started.tzinfo is not None and abs(started.timestamp() - (datetime.now().timestamp() - api["Uptime"])) < 60
    shown = project.cli("logs", "api").stdout
    assert f"(pid {api['Pid']})" in shown and "──── run started" in shown, shown


def test_python_in_run_is_the_agents_interpreter_where_only_python3_exists(project: ProjectDir, tmp_path: Path) -> None:
    debian_like = tmp_path / "usr-bin"  # as on Debian: python3, and no `python`
    debian_like.mkdir()
    (debian_like / "python3").symlink_to(os.path.realpath(sys.executable))
    project.compose({"api": {"script": "sleeper.py"}}, python={"interpreter": str(debian_like / "python3")})
    done = project.cli("run", "--no-deps", "api", "python", "-c", "import sys; print('exe', sys.executable)")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"exe {debian_like / 'python3'}" in done.stdout, done.stdout

"""`run AGENT COMMAND` brings up the agent's dependencies by `start`'s rule:
a one-shot that already completed successfully is not re-run, and the
command waits until each dependency's condition holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_helpers import ProjectDir

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

SLEEPER = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("up", flush=True)
time.sleep(3600)
"""
# The migration takes a moment, so a command that did not wait for it would
# find no marker; each run appends a line, so a re-run shows.
MIGRATE = """
import time
with open("migrations.txt", "a") as out:
    out.write("started\\n")
time.sleep(1.5)
with open("migrations.txt", "a") as out:
    out.write("migrated\\n")
"""
CHECK = "import pathlib; print('migrations:', pathlib.Path('migrations.txt').read_text().count('migrated'))"


@pytest.fixture
def project(tmp_path: Path):
    proj = ProjectDir(tmp_path)
    proj.script("sleeper.py", SLEEPER)
    proj.script("migrate.py", MIGRATE)
    proj.compose({
        "migrate": {"script": "migrate.py"},
        "service": {"script": "sleeper.py", "depends_on": {"migrate": {"condition": "completed_successfully"}}},
    })
    yield proj
    proj.cli("down", "-t", "5", timeout=60)
    proj.cleanup()


def migrations(project: ProjectDir) -> int:
    """How often the migration started, once any run of it has ended."""
    assert project.cli("wait", "migrate", timeout=60).returncode == 0
    return project.read("migrations.txt").count("started")


def test_run_waits_for_a_one_shot_dependency_to_complete(project: ProjectDir) -> None:
    done = project.cli("run", "service", "python3", "-c", CHECK, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "migrations: 1" in done.stdout
    assert "migrate" in done.stderr  # it says what it brings up


def test_run_does_not_rerun_a_completed_dependency(project: ProjectDir) -> None:
    up = project.cli("up", "-d", timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    assert migrations(project) == 1
    done = project.cli("run", "service", "python3", "-c", CHECK, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "migrations: 1" in done.stdout and migrations(project) == 1
    assert "migrate" in done.stderr and "completed" in done.stderr.lower()
    missing = project.cli("run", "service", "nosuchcmd", timeout=120)
    assert missing.returncode == 127, missing.stdout + missing.stderr
    assert migrations(project) == 1

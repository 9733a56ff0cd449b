"""Which Python an agent gets when the file names none: beside its script, never mesh-compose's own.

Real venvs, the real CLI, `env --format json` saying what was found and how. mesh-compose runs
here from the test environment (sys.prefix), which stands for the venv a user installed it into.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

OWN = os.path.realpath(sys.prefix)
SYSTEM_PYTHON = "/usr/bin/python3"

needs_own_venv = pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="mesh-compose must run from a venv")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESH_COMPOSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("MESH_COMPOSE_SAFE_DIRECTORIES", raising=False)


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def _rows(project, **env: str) -> dict:
    environ = {**os.environ, "NO_COLOR": "1", **env}
    done = subprocess.run([sys.executable, "-m", "meshcompose", "env", "--format", "json"], cwd=project.root,
                          env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return {row["agent"]: row for row in json.loads(done.stdout)}


def _activated() -> dict[str, str]:
    """The shell of a user who ran `source .venv/bin/activate` on mesh-compose's own venv."""
    return {"VIRTUAL_ENV": sys.prefix, "PATH": f"{sys.prefix}/bin{os.pathsep}{os.environ.get('PATH', '')}"}


def test_a_venv_beside_the_script_is_found_without_working_dir(project) -> None:
    python = _venv(project.root / "worker" / ".venv")
    _venv(project.root / ".venv")
    project.script("worker/worker.py", "print('w')\n")
    project.script("api.py", "print('a')\n")
    project.compose({"worker": {"script": "worker/worker.py"}, "api": {"script": "api.py"}}, python={})
    rows = _rows(project)
    assert rows["worker"]["found_via"] == f".venv in {project.root / 'worker'}"
    assert rows["worker"]["interpreter"] == str(python)
    assert rows["api"]["found_via"] == f".venv in {project.root}"


def test_the_scripts_venv_comes_before_the_working_dirs(project) -> None:
    _venv(project.root / "run" / ".venv")
    _venv(project.root / "code" / "venv")
    project.script("code/agent.py", "print('x')\n")
    (project.root / "run").mkdir(exist_ok=True)
    project.compose({"x": {"script": "code/agent.py", "working_dir": "run"}}, python={})
    assert _rows(project)["x"]["found_via"] == f"venv in {project.root / 'code'}"
    (project.root / "code" / "venv").rename(project.root / "code" / "old-venv")
    assert _rows(project)["x"]["found_via"] == f".venv in {project.root / 'run'}"


@needs_own_venv
def test_mesh_composes_own_activated_venv_is_skipped_for_python3_on_path(project) -> None:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is not here")
    project.script("a.py", "print('a')\n")
    project.compose({"a": {"script": "a.py"}}, python={})
    env = _activated()
    env["PATH"] = f"{sys.prefix}/bin{os.pathsep}/usr/bin"
    row = _rows(project, **env)["a"]
    assert row["interpreter"] == SYSTEM_PYTHON, row
    assert row["found_via"] == f"system python3 on PATH (skipped mesh-compose's own environment {OWN})"
    # After the system's on PATH (as the test script appends its tools), it was never in the way.
    row = _rows(project, PATH=f"/usr/bin{os.pathsep}{sys.prefix}/bin")["a"]
    assert (row["interpreter"], row["found_via"]) == (SYSTEM_PYTHON, "system python3 on PATH"), row


@needs_own_venv
def test_mesh_composes_own_venv_as_the_projects_dot_venv_is_skipped(project) -> None:
    """The README's quickstart installs mesh-compose into the project's own `.venv`."""
    (project.root / ".venv").symlink_to(sys.prefix)
    project.script("a.py", "print('a')\n")
    project.compose({"a": {"script": "a.py"}}, python={})
    row = _rows(project, **_activated())["a"]
    assert not os.path.realpath(row["interpreter"]).startswith(OWN + os.sep), row
    assert row["found_via"].endswith(f"(skipped mesh-compose's own environment {OWN})"), row
    assert row["found_via"].startswith("system python"), row


@needs_own_venv
def test_mesh_composes_own_venv_named_in_the_file_is_used_and_said(project) -> None:
    project.script("a.py", "print('a')\n")
    project.compose({"a": {"script": "a.py"}}, python={"interpreter": sys.prefix})
    row = _rows(project)["a"]
    assert row["found_via"] == "project interpreter (mesh-compose's own environment)", row

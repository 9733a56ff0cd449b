"""`mesh-compose env` and the environment step of `up`, through the real CLI without a terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wheelmaker import make_wheel

PYENV = Path.home() / ".pyenv" / "versions"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESH_COMPOSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("MESH_COMPOSE_PIP_ARGS", raising=False)


@pytest.fixture
def venv_project(project):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project.root / ".venv")], check=True)
    project.script("a.py", "print('a ran')\n")
    project.script("sub/b.py", "print('b ran')\n")
    project.compose({
        "a": {"script": "a.py", "python": {"packages": ["tiny-one>=1"]}},
        "b": {"script": "sub/b.py", "working_dir": "sub"},
    }, python={})
    make_wheel(project.root / "wheels", "tiny-one", "1.0")
    return project


def test_env_json_shows_interpreter_rule_and_missing(venv_project) -> None:
    done = venv_project.cli("env", "--format", "json")
    assert done.returncode == 4, done.stderr
    rows = {row["agent"]: row for row in json.loads(done.stdout)}
    python = str(venv_project.root / ".venv" / "bin" / "python")
    assert rows["a"]["interpreter"] == python and rows["a"]["venv"] is True
    assert rows["a"]["found_via"] == f".venv in {venv_project.root}"
    assert rows["a"]["missing"] == ["tiny-one>=1"] and rows["b"]["missing"] == []
    assert rows["b"]["found_via"] == f".venv in {venv_project.root}" and rows["b"]["shared_with"] == ["a"]


def test_env_for_one_agent_and_table_output(venv_project) -> None:
    done = venv_project.cli("env", "b")
    assert done.returncode == 0, done.stderr
    assert "INTERPRETER" in done.stdout and ".venv/bin/python" in done.stdout
    assert "a.py" not in done.stdout and "\nb " in "\n" + done.stdout.split("\n", 1)[1]


def test_env_install_installs_then_reports_nothing_missing(venv_project) -> None:
    done = venv_project.cli("env", "--install", "--find-links", "wheels", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {row["agent"]: row for row in json.loads(done.stdout)}
    assert rows["a"]["missing"] == [] and rows["a"]["installed"] == {"tiny-one": "1.0"}
    assert "tiny-one>=1" in done.stderr and "installed" in done.stderr


def test_up_without_terminal_or_flag_prints_the_fix_command(venv_project) -> None:
    done = venv_project.cli("up")
    assert done.returncode == 4, done.stdout + done.stderr
    python = str(venv_project.root / ".venv" / "bin" / "python")
    assert f"error: {python} lacks tiny-one>=1 (needed by a)" in done.stderr
    assert "install" in done.stderr and python in done.stderr.split("hint:", 1)[1]
    assert "--install" in done.stderr
    assert "a ran" not in done.stdout


def test_up_summary_is_one_line_per_environment(venv_project) -> None:
    done = venv_project.cli("up", "--no-install", "--abort-on-exit", timeout=60)
    text = done.stdout + done.stderr
    summaries = [line for line in text.splitlines() if line.startswith("python 3.")]
    assert len(summaries) == 1, text
    assert "2 agents (a, b)" in summaries[0] and "missing: tiny-one>=1" in summaries[0]
    assert "continuing without tiny-one>=1 for a" in text and "a ran" in text


def test_old_python_is_refused_with_where_it_was_found(project) -> None:
    old = PYENV / "3.6.15" / "bin" / "python"
    if not old.exists():
        pytest.skip("Python 3.6 not installed")
    project.script("a.py", "print('a')\n")
    project.compose({"a": {"script": "a.py"}}, python={"interpreter": str(old)})
    done = project.cli("env")
    assert done.returncode == 4
    assert f"{old} is Python 3.6.15 (found via project interpreter)" in done.stderr
    assert ">=3.7" in done.stderr


def test_up_on_a_terminal_installs_on_enter_then_starts(venv_project) -> None:
    from terminal import run_in_pty

    venv_project.script("a.py", "import tiny_one; print('a has tiny_one', tiny_one.VERSION)\n")
    argv = [sys.executable, "-m", "meshcompose", "-f", str(venv_project.root / "mesh-compose.yaml"),
            "up", "--abort-on-exit", "--find-links", str(venv_project.root / "wheels")]
    status, output = run_in_pty(argv, b"\r")
    assert "Choice [i/c/q]:" in output
    assert "✓ installed" in output and "a has tiny_one 1.0" in output, output
    assert status == 0, output


def test_a_table_through_a_pipe_keeps_each_row_on_one_line(tmp_path: Path) -> None:
    """`env | grep` must find a whole interpreter path, however deep the project."""
    from cli_helpers import ProjectDir

    project = ProjectDir(tmp_path / ("deep-" * 30) / "project")
    project.root.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project.root / ".venv")], check=True)
    project.script("a.py", "print('a ran')\n")
    project.compose({"a": {"script": "a.py"}}, python={})
    done = project.cli("env")
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()
    assert len(rows) == 2, done.stdout
    assert str(project.root / ".venv" / "bin" / "python") in rows[1]

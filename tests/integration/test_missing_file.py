"""`-f` naming a file that does not exist is an invalid project (exit 3) for every command that
takes one, never a silent fallback to the project of the working directory."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cli_helpers import _env

COMMANDS = [
    ("up", "-d"), ("run", "a"), ("down",), ("ps",), ("logs",), ("start",), ("stop",), ("restart",),
    ("kill",), ("wait", "a"), ("events",), ("top",), ("watch",), ("config", "-q"), ("graph",), ("env",),
    ("export", "kubernetes", "-o", "out"), ("dashboard",), ("traces",), ("trace", "abc"),
    pytest.param(("mcp",), marks=pytest.mark.skipif(sys.version_info < (3, 10), reason="the MCP SDK needs 3.10")),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command[0])
def test_a_missing_file_is_an_invalid_project(project, command: tuple[str, ...]) -> None:
    project.script("a.py", "print('a')\n")
    project.compose({"a": {"script": "a.py", "restart": "no"}})  # what a silent fallback would act on
    after = "--file" if command[0] in ("logs", "traces") else "-f"  # there `-f` is --follow, as in compose
    trailing = ("run", after, "missing.yaml", "a") if command[0] == "run" else (*command, after, "missing.yaml")
    for where in (("-f", "missing.yaml", *command), trailing):
        result = project.cli(*where)
        text = result.stdout + result.stderr
        assert result.returncode == 3, (where, text)
        assert f"{project.root / 'missing.yaml'}: no such file" in text and "Traceback" not in text, (where, text)
    assert not (project.root / ".mesh-compose").exists() and not (project.root / "out").exists()


@pytest.mark.parametrize("command", [("ps",), ("down",), ("config", "-q")], ids=lambda command: command[0])
def test_a_missing_file_in_mesh_compose_file_is_an_invalid_project(project, command: tuple[str, ...]) -> None:
    project.script("a.py", "print('a')\n")
    project.compose({"a": {"script": "a.py", "restart": "no"}})
    env = {**_env(), "MESH_COMPOSE_FILE": "missing.yaml"}
    result = subprocess.run([sys.executable, "-m", "meshcompose", *command], cwd=project.root, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"{project.root / 'missing.yaml'}: no such file" in result.stderr

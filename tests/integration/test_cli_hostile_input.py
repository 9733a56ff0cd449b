"""Hostile input through the real CLI: a clear error and its exit code, never a traceback.

Command-line values are read by the project file's rules (units): durations,
signals and times. Paths are checked where they enter: -f, --env-file and
MESH_COMPOSE_FILE, for the commands that load the project and for those
that only find it. What another user cannot reach is an error for that user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import ProjectDir, _env, as_nobody, no_traceback, root_only

LONG = "x" * 300


@pytest.fixture
def quiet(project: ProjectDir) -> ProjectDir:
    project.script("a.py", "")
    project.compose({"a": {"script": "a.py"}})
    return project


@pytest.mark.parametrize("args, says", [
    (("kill", "-s", "SIGFOO"), "unknown signal"),
    (("kill", "-s", "0"), "unknown signal number 0"),
    (("kill", "-s", "99"), "unknown signal number 99"),
    (("stop", "-t", "nan"), "not a duration"),
    (("stop", "-t", "inf"), "not a duration"),
    (("restart", "-t", "nan"), "not a duration"),
    (("down", "-t", "inf"), "not a duration"),
    (("down", "-t", "9" * 400), "too large for a duration"),
    (("up", "--wait-timeout", "-1"), "not a duration"),
    (("logs", "--since", "99999999999999999999"), "not a time"),
    (("logs", "--since", "9" * 400 + "s"), "not a time"),
])
def test_bad_command_line_values_are_usage_errors(quiet: ProjectDir, args: tuple[str, ...], says: str) -> None:
    result = quiet.cli(*args)
    assert result.returncode == 2 and says in no_traceback(result), result.stderr


def test_command_line_values_take_the_files_forms(quiet: ProjectDir) -> None:
    """`-t 1m30s` as stop_grace_period writes it, `-s 9` and `-s term` as stop_signal does."""
    for args in (("down", "-t", "1m30s"), ("stop", "-t", "500ms"), ("kill", "-s", "9"), ("kill", "-s", "term")):
        result = quiet.cli(*args)
        assert result.returncode != 2, (args, no_traceback(result))


def test_export_to_a_place_that_cannot_be_written_is_an_error(quiet: ProjectDir) -> None:
    result = quiet.cli("export", "kubernetes", "-o", "/proc/x")
    assert result.returncode == 1 and "cannot write the manifests to /proc/x" in no_traceback(result)


@pytest.mark.parametrize("command", [("config", "-q"), ("ps",), ("down",), ("logs",)])
@pytest.mark.parametrize("how", ["-f", "--env-file", "MESH_COMPOSE_FILE"])
def test_a_path_too_long_is_an_error_for_every_command(quiet: ProjectDir, command: tuple[str, ...], how: str) -> None:
    env = {**_env()}
    if how == "MESH_COMPOSE_FILE":
        env["MESH_COMPOSE_FILE"] = LONG
        args: tuple[str, ...] = command
    else:
        args = (how, LONG, *command)
    result = subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=quiet.root, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3 and "file name too long" in no_traceback(result), result.stderr


@pytest.mark.parametrize("field, value", [
    ("args", ["x\0y"]), ("environment", {"K": "v\0w"}), ("healthcheck", {"cmd": ["true\0"]}),
    ("script", "a.py\0"), ("working_dir", "sub\0dir"), ("env_file", "a\0.env"),
])
def test_a_nul_character_fails_config_not_up(quiet: ProjectDir, field: str, value: object) -> None:
    quiet.compose({"a": {"script": "a.py", field: value} if field != "script" else {"script": value}})
    for args in (("config", "-q"), ("up", "-d"), ("run", "a")):
        result = quiet.cli(*args)
        assert result.returncode == 3 and "NUL character" in no_traceback(result), (args, result.stderr)


def _as_nobody(*args: str) -> subprocess.CompletedProcess:
    return as_nobody(*args, cwd="/", MESH_COMPOSE_CACHE_DIR="/nonexistent")


def _reachable_by_others(path: Path) -> None:
    for parent in [path, *path.parents]:
        if parent == Path("/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o005)


@root_only
@pytest.mark.parametrize("command", [("config", "-q"), ("ps",), ("down",), ("logs",), ("up", "-d")])
def test_a_file_in_a_directory_another_user_cannot_search(quiet: ProjectDir, command: tuple[str, ...]) -> None:
    _reachable_by_others(quiet.root)
    private = quiet.root / "private"
    private.mkdir(mode=0o700)
    shutil.copy(quiet.root / "mesh-compose.yaml", private / "mesh-compose.yaml")
    result = _as_nobody("-f", str(private / "mesh-compose.yaml"), *command)
    text = no_traceback(result)
    assert result.returncode != 0 and "permission denied" in text.lower(), text


@root_only
def test_a_working_dir_another_user_cannot_enter_fails_config(quiet: ProjectDir) -> None:
    _reachable_by_others(quiet.root)
    (quiet.root / "a.py").chmod(0o644)
    (quiet.root / "closed").mkdir(mode=0o700)
    quiet.compose({"a": {"script": "a.py", "working_dir": "closed"}})
    result = _as_nobody("-f", str(quiet.root / "mesh-compose.yaml"), "config", "-q")
    text = no_traceback(result)
    assert result.returncode == 3 and "working_dir" in text and "cannot be entered" in text, text


@pytest.mark.parametrize("command", ["up", "run", "config"])
def test_an_agent_file_argument_too_long_is_an_error(quiet: ProjectDir, command: str) -> None:
    """`up AGENT.py` names a file: one whose name is too long is refused as -f's are."""
    result = quiet.cli(command, *(("-d",) if command == "up" else ()), f"{LONG}.py")
    text = no_traceback(result)
    assert result.returncode in (2, 3) and any(words in text for words in ("file name too long", "unrecognized", "no agent")), text

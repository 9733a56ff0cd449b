"""Files another user planted are never run as the caller, unless the caller allows them.

We are root; `nobody` plants a project file found by the upward search, an override file, a
`.env`, an env_file, and a `.venv`, in a sticky world-writable team directory (as /tmp is).
Each route is refused with a message that names the file, its owner and the setting, and the
planted command never runs (it would write a marker file). With the directory listed in
MESH_COMPOSE_SAFE_DIRECTORIES (or `*`), the same file is used. Real CLI, real second user.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cli_helpers import _env, wait_until

NOBODY = 65534
SAFE = "MESH_COMPOSE_SAFE_DIRECTORIES"

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="a second user needs root (chown)")
pytestmark = root_only


_STARTED: list[Path] = []


@pytest.fixture(autouse=True)
def _stop_what_ran():
    """An `up -d` that was wrongly allowed leaves no supervisor behind."""
    yield
    while _STARTED:
        _cli(_STARTED.pop(), "down", "-p", "t", safe="*")


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """A directory everyone may write to, sticky, owned by root: /tmp's shape."""
    directory = tmp_path / "team"
    directory.mkdir()
    os.chmod(directory, 0o1777)
    return directory


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "planted-command-ran"


def _evil(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')\n"


def _plant(path: Path, text: str, mode: int = 0o644) -> Path:
    """`path` written by nobody: owned by nobody, as if nobody had created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    os.chown(path, NOBODY, NOBODY)
    return path


def _mine(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _compose(agents: dict, **top) -> str:
    return yaml.safe_dump({"name": "t", **top, "agents": agents}, sort_keys=False)


def _cli(cwd: Path, *args: str, safe: str | None = None) -> subprocess.CompletedProcess:
    env = _env()
    env.pop(SAFE, None)
    env.pop("VIRTUAL_ENV", None)
    env["MESH_COMPOSE_CACHE_DIR"] = str(cwd / ".." / "cache")
    if safe is not None:
        env[SAFE] = safe
    if args[:1] == ("up",):
        _STARTED.append(cwd)
    result = subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=60)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


def _refused(result: subprocess.CompletedProcess, planted: Path, code: int = 3) -> None:
    text = result.stdout + result.stderr
    assert result.returncode == code, text
    assert str(planted) in text and "nobody" in text and SAFE in text, text


def _up_and_down(cwd: Path, marker: Path, safe: str) -> None:
    up = _cli(cwd, "up", "-d", safe=safe)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        wait_until(marker.exists, 30, "the allowed agent to run")
    finally:
        down = _cli(cwd, "down", safe=safe)
        assert down.returncode == 0, down.stdout + down.stderr


def test_the_upward_search_refuses_a_project_file_of_another_user(team: Path, marker: Path):
    planted = _plant(team / "mesh-compose.yaml",
                     _compose({"evil": {"script": "evil.py", "restart": "no"}},
                              python={"interpreter": sys.executable}))
    _plant(team / "evil.py", _evil(marker))
    mine = team / "mine"
    mine.mkdir()
    for command in (("config", "-q"), ("up", "-d"), ("ps",)):
        _refused(_cli(mine, *command), planted)
    assert not marker.exists()
    _up_and_down(mine, marker, safe=str(team))


def test_the_upward_search_stops_at_a_directory_owned_by_someone_else(tmp_path: Path):
    """Above a directory another user owns, nothing is looked for: that user decides what the
    path below it means. A project file in it is refused as in the test above."""
    _mine(tmp_path / "mesh-compose.yaml", _compose({"hello": {"script": "hello.py"}}))
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    below = theirs / "mine"
    below.mkdir()
    result = _cli(below, "config", "-q")
    text = result.stdout + result.stderr
    assert result.returncode == 3, text
    assert f"no mesh-compose.yaml found in {below}" in text, text
    assert f"stopped at {theirs}" in text and "nobody" in text and SAFE in text, text
    planted = _plant(theirs / "mesh-compose.yaml", _compose({"evil": {"script": "evil.py"}}))
    _refused(_cli(below, "config", "-q"), planted)


def test_an_override_file_of_another_user_is_refused(team: Path, marker: Path):
    _mine(team / "mesh-compose.yaml", _compose({"hello": {"script": "hello.py", "restart": "no"}},
                                               python={"interpreter": sys.executable}))
    _mine(team / "hello.py", "print('hello')\n")
    planted = _plant(team / "mesh-compose.override.yaml",
                     _compose({"evil": {"script": "evil.py", "restart": "no"}}))
    _plant(team / "evil.py", _evil(marker))
    for command in (("config", "-q"), ("up", "-d")):
        _refused(_cli(team, *command), planted)
    assert not marker.exists()
    _up_and_down(team, marker, safe="*")


def test_a_planted_override_never_renames_the_project_ps_and_down_act_on(team: Path, marker: Path):
    """`ps` and `down` read the project's name without loading it: a planted override's `name:`
    is not theirs to read, so a project started before the plant is still found and stopped."""
    _mine(team / "mesh-compose.yaml", _compose({"hello": {"script": "hello.py"}},
                                               python={"interpreter": sys.executable}))
    _mine(team / "hello.py", f"open({str(marker)!r}, 'w').write('up')\nimport time\nwhile True: time.sleep(0.1)\n")
    up = _cli(team, "up", "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    wait_until(marker.exists, 30, "the agent to start")
    _plant(team / "mesh-compose.override.yaml", yaml.safe_dump({"name": "other"}))
    ps = _cli(team, "ps")
    assert ps.returncode == 0 and "hello" in ps.stdout and "running" in ps.stdout, ps.stdout + ps.stderr
    down = _cli(team, "down")
    assert down.returncode == 0 and "hello" in down.stdout + down.stderr, down.stdout + down.stderr
    assert "no agents running" in _cli(team, "ps").stdout


def test_a_dot_env_of_another_user_is_refused(team: Path, marker: Path):
    _mine(team / "mesh-compose.yaml", _compose({"hello": {"script": "${AGENT_SCRIPT:-hello.py}", "restart": "no"}},
                                               python={"interpreter": sys.executable}))
    _mine(team / "hello.py", "print('hello')\n")
    planted = _plant(team / ".env", "AGENT_SCRIPT=evil.py\n")
    _plant(team / "evil.py", _evil(marker))
    for command in (("config", "-q"), ("up", "-d")):
        _refused(_cli(team, *command), planted)
    assert not marker.exists()
    _up_and_down(team, marker, safe=str(team))


def test_an_env_file_of_another_user_is_refused(team: Path, tmp_path: Path, marker: Path):
    _mine(team / "mesh-compose.yaml", _compose(
        {"hello": {"script": "hello.py", "restart": "no", "env_file": "shared.env"}},
        python={"interpreter": sys.executable}))
    _mine(team / "hello.py", "print('hello')\n")
    hooks = tmp_path / "hooks"  # a sitecustomize on PYTHONPATH runs in every interpreter started with it
    _plant(hooks / "sitecustomize.py", _evil(marker))
    planted = _plant(team / "shared.env", f"PYTHONPATH={hooks}\n")
    for command in (("config", "-q"), ("up", "-d")):
        _refused(_cli(team, *command), planted)
    assert not marker.exists()
    _up_and_down(team, marker, safe=f"/nonexistent{os.pathsep}{team}")


def _planted_venv(team: Path, marker: Path) -> Path:
    """A `.venv` nobody made: its `python` writes the marker, then runs the real interpreter."""
    venv = team / ".venv"
    _plant(venv / "pyvenv.cfg", f"home = {Path(sys.executable).parent}\n")
    _plant(venv / "bin" / "python", f"#!/bin/sh\necho ran > {marker}\nexec {sys.executable} \"$@\"\n", 0o755)
    for directory in (venv, venv / "bin"):
        os.chown(directory, NOBODY, NOBODY)
    return venv


@pytest.mark.parametrize("command", [("env",), ("up", "-d")])
def test_a_dot_venv_of_another_user_is_never_run(team: Path, marker: Path, command: tuple[str, ...]):
    _mine(team / "mesh-compose.yaml", _compose({"hello": {"script": "hello.py", "restart": "no"}}))
    _mine(team / "hello.py", "print('hello')\n")
    venv = _planted_venv(team, marker)
    _refused(_cli(team, *command), venv, code=4)
    assert not marker.exists()
    config = _cli(team, "config", "-q")  # config runs no interpreter at all
    assert config.returncode == 0 and not marker.exists(), config.stderr
    if command == ("env",):
        allowed = _cli(team, "env", safe=str(team))
        assert allowed.returncode == 0 and f".venv in {team}" in allowed.stdout, allowed.stdout + allowed.stderr
        assert marker.exists()
    else:
        _up_and_down(team, marker, safe=str(team))


def test_files_of_the_caller_and_of_root_in_a_sticky_directory_are_used(team: Path, marker: Path):
    _mine(team / "mesh-compose.yaml", _compose({"hello": {"script": "hello.py", "restart": "no"}},
                                               python={"interpreter": sys.executable}))
    _mine(team / "hello.py", _evil(marker))
    _mine(team / ".env", "UNUSED=1\n")
    _up_and_down(team, marker, safe="")


def test_a_group_or_world_writable_project_directory_is_refused(tmp_path: Path):
    project = tmp_path / "open"
    project.mkdir()
    _mine(project / "mesh-compose.yaml", _compose({"hello": {"script": "hello.py"}}))
    _mine(project / "hello.py", "print('hello')\n")
    os.chmod(project, 0o777)  # not sticky: anyone may replace the file
    result = _cli(project, "config", "-q")
    text = result.stdout + result.stderr
    assert result.returncode == 3 and "writable by others" in text and str(project) in text, text
    assert SAFE in text
    assert _cli(project, "config", "-q", safe=str(project)).returncode == 0


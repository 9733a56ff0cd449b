"""Another user's `.mesh-compose/` is never trusted.

As root, with `nobody` as the second user: a planted state directory, a
symlink in it, a hand-written state file; and mesh-compose run as `nobody`
against root's project. Real CLI, real users."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from cli_helpers import ProjectDir, as_nobody, no_traceback, root_only

NOBODY = 65534
QUIET = "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\nwhile True: time.sleep(0.1)\n"



@pytest.fixture
def quiet(project: ProjectDir) -> ProjectDir:
    project.script("quiet.py", QUIET)
    project.compose({"quiet": {"script": "quiet.py"}})
    return project


@root_only
def test_a_state_directory_of_another_user_is_refused(quiet: ProjectDir):
    planted = quiet.root / ".mesh-compose"
    planted.mkdir(mode=0o700)
    os.chown(planted, NOBODY, NOBODY)
    for command in (("up", "-d"), ("ps",), ("down",), ("logs",)):
        result = quiet.cli(*command)
        text = no_traceback(result)
        assert result.returncode == 1, (command, text)
        assert "not owned by you" in text, (command, text)
    assert os.stat(planted).st_uid == NOBODY and not list(planted.iterdir())


@root_only
def test_a_group_or_world_writable_state_directory_is_refused(quiet: ProjectDir):
    planted = quiet.root / ".mesh-compose"
    planted.mkdir()
    os.chmod(planted, 0o777)
    result = quiet.cli("up", "-d")
    assert result.returncode == 1 and "writable by others" in no_traceback(result), result.stderr


@root_only
def test_a_symlinked_state_directory_or_log_is_never_followed(quiet: ProjectDir, tmp_path: Path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (quiet.root / ".mesh-compose").symlink_to(target)
    result = quiet.cli("up", "-d")
    assert result.returncode == 1 and "symlink" in no_traceback(result), result.stderr
    assert not list(target.iterdir())
    (quiet.root / ".mesh-compose").unlink()
    # A symlink planted where an agent's log goes: the agent's output never reaches the target.
    secret = tmp_path / "root-owned.txt"
    secret.write_text("precious\n")
    logs = quiet.root / ".mesh-compose" / "t" / "logs"
    logs.mkdir(parents=True, mode=0o700)
    os.chmod(logs.parent, 0o700)
    os.chmod(logs.parent.parent, 0o700)
    (logs / "quiet.log").symlink_to(secret)
    quiet.script("quiet.py", "print('SECRET', flush=True)\n" + QUIET)
    up = quiet.cli("up", "-d")
    assert up.returncode == 0, no_traceback(up)
    down = quiet.cli("down")
    assert down.returncode == 0, no_traceback(down)
    assert secret.read_text() == "precious\n"


@root_only
def test_every_file_of_a_run_is_private(quiet: ProjectDir):
    up = quiet.cli("up", "-d")
    assert up.returncode == 0, no_traceback(up)
    state = quiet.root / ".mesh-compose"
    try:
        for path in state.rglob("*"):
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"
    finally:
        assert quiet.cli("down").returncode == 0


@root_only
def test_a_malformed_state_record_is_refused_cleanly(quiet: ProjectDir):
    state = quiet.root / ".mesh-compose" / "t"
    state.mkdir(mode=0o700, parents=True)
    os.chmod(state.parent, 0o700)
    (state / "state.json").write_text('{"version": 1, "agents": {"quiet": {"pid": "1", "create_time": []}},'
                                      ' "supervisor": {"pid": [1]}}')
    result = quiet.cli("ps")
    text = no_traceback(result)
    assert result.returncode == 1 and "state file" in text and "corrupt" in text, text
    # `down` says so in one line and goes on without it: nothing of the project runs, so nothing to stop.
    result = quiet.cli("down")
    text = no_traceback(result)
    assert result.returncode == 0 and "state file" in text and "corrupt" in text, text


def _as_nobody(project: ProjectDir, *args: str) -> subprocess.CompletedProcess:
    return as_nobody(*args, cwd=project.root)


@root_only
def test_another_user_gets_clear_errors_on_roots_project(quiet: ProjectDir, tmp_path: Path):
    # nobody must be able to reach the project and the interpreter, not root's state.
    for parent in [quiet.root, *quiet.root.parents]:
        if parent == Path("/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o005)
    up = quiet.cli("up", "-d")
    assert up.returncode == 0, no_traceback(up)
    try:
        probe = _as_nobody(quiet, "--version")
        if probe.returncode != 0:
            pytest.skip(f"nobody cannot run this Python: {probe.stderr.strip()[:200]}")
        for command in (("up", "-d"), ("logs",)):
            result = _as_nobody(quiet, *command)
            text = no_traceback(result)
            # 1: the state is refused; 3: the project file names a path nobody may read. Never a traceback.
            assert result.returncode in (1, 3) and "Traceback" not in text, (command, text)
            assert "has not run here" not in text, (command, text)
            assert "not owned by you" in text or "permission denied" in text.lower(), (command, text)
    finally:
        assert quiet.cli("down").returncode == 0


@root_only
def test_a_directory_the_user_may_not_search_is_a_clear_error(quiet: ProjectDir):
    """Looking for the project file upwards stats each candidate; in a directory this user may
    not search, that fails with EACCES (not "no such file"): it is said, never a traceback."""
    for parent in quiet.root.parents:  # nobody may reach the project directory, but not look inside
        if parent == Path("/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o005)
    os.chmod(quiet.root, 0o700)
    probe = _as_nobody(quiet, "--version")
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run this Python: {probe.stderr.strip()[:200]}")
    for command in (("logs",), ("ps",), ("config", "-q"), ("up", "-d")):
        result = _as_nobody(quiet, *command)
        text = no_traceback(result)
        assert result.returncode == 3, (command, text)
        assert f"cannot look for mesh-compose.yaml in {quiet.root}: permission denied" in text, (command, text)


@root_only
def test_a_read_only_project_directory_is_a_clear_error(quiet: ProjectDir):
    subprocess.run(["chattr", "+i", str(quiet.root)], check=False, capture_output=True)
    immutable = subprocess.run(["lsattr", "-d", str(quiet.root)], capture_output=True, text=True).stdout
    if "i" not in immutable.split()[0] if immutable else True:
        pytest.skip("cannot make the directory read-only for root (no chattr +i here)")
    try:
        result = quiet.cli("up", "-d")
        text = no_traceback(result)
        assert result.returncode == 1 and "cannot create" in text, text
    finally:
        subprocess.run(["chattr", "-i", str(quiet.root)], check=False)

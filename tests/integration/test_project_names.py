"""Projects are kept apart by name, as compose keeps them: two projects run
from one directory (`-p alpha`, `-p beta`, or two bare agent files) each have
their own state, lock, logs and control socket, and `ps`/`down`/`logs` act on
the one named."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from bad_names import BAD_NAMES
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


# -- one rule for names: nothing outside the project's state directory changes ----------------

EXITS = "print('once', flush=True)\n"
# Every command that takes a project, each with what it needs to get as far as it can.
COMMANDS = (("up", "-d", "--no-install"), ("run", "api"), ("down", "-t", "1"), ("ps",), ("ps", "-a"), ("ls", "-a"),
            ("logs",), ("start",), ("stop", "-t", "1"), ("restart", "-t", "1"), ("kill",), ("wait", "api"), ("events",),
            ("top",), ("watch",), ("config",), ("graph",), ("env",), ("export", "kubernetes", "-o", "-"))


def contained_tree(tmp_path) -> ProjectDir:
    """tmp/a/b/c/proj, every directory 0755 as in a home, with a `.mesh-compose/` as after an earlier run."""
    root = tmp_path / "a" / "b" / "c" / "proj"
    root.mkdir(parents=True)
    for directory in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c", root):
        os.chmod(directory, 0o755)
    (root / "outside.txt").write_text("keep")
    (root / ".mesh-compose").mkdir(mode=0o700)
    return ProjectDir(root)


def snapshot(top, state) -> dict:
    """Every path under `top` (and `top` itself) but inside `state`: kind, mode, owner, size, link target."""
    seen = {}
    for where, dirs, files in os.walk(top):
        for name in [".", *dirs, *files]:
            path = os.path.normpath(os.path.join(where, name))
            if path.startswith(str(state) + os.sep) or path.endswith(".out"):
                continue
            info = os.lstat(path)
            target = os.readlink(path) if os.path.islink(path) else None
            seen[path] = (info.st_mode, info.st_uid, info.st_gid, 0 if os.path.isdir(path) else info.st_size, target)
    return seen


def run_all(project: ProjectDir, prefix: tuple[str, ...], env: dict | None = None) -> list:
    from concurrent.futures import ThreadPoolExecutor

    def one(command):
        return command, subprocess.run([*project_cli(), *prefix, *command], cwd=project.root, capture_output=True,
                                       timeout=60, env=env or _quiet_env())

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, COMMANDS))


def _quiet_env() -> dict:
    return {**os.environ, "NO_COLOR": "1"}


def _assert_refused(results, name: str) -> None:
    for command, result in results:
        text = (result.stdout + result.stderr).decode("utf-8", "replace")
        assert "Traceback" not in text, (command, text)
        assert "\x1b" not in text and "\0" not in text, (command, "raw control characters printed", text)
        if command[0] == "ls":
            continue  # `ls` names no project
        assert result.returncode != 0, (command, name, text)
        assert "invalid project name" in text or "invalid name" in text or "name: " in text, (command, text)


# Every name through every command once, each source with a name that climbs.
# Every name from every source is refused in tests/unit/app/test_identify.py.
SOURCES = {"up three": "file", "NUL": "file", "300 chars": "file",  # only a file can carry a NUL
           "up one": "-p", "slash": "-p", "ESC": "-p", "dot": "environment", "absolute": "environment"}


@posix_only
@pytest.mark.parametrize("case, source", list(SOURCES.items()))
def test_a_bad_project_name_changes_nothing_outside_the_state_directory(tmp_path, case: str, source: str):
    name = BAD_NAMES[case]
    project = contained_tree(tmp_path)
    project.script("agent.py", EXITS)
    project.compose({"api": {"script": "agent.py"}}, name=name if source == "file" else "t")
    before = snapshot(tmp_path, project.root / ".mesh-compose")
    if source == "file":
        results = run_all(project, ())
    elif source == "-p":
        results = run_all(project, ("-p", name))
    else:
        results = run_all(project, (), {**_quiet_env(), "MESH_COMPOSE_PROJECT_NAME": name})
    after = snapshot(tmp_path, project.root / ".mesh-compose")
    assert after == before, {path: (before.get(path), after.get(path)) for path in set(before) | set(after)
                             if before.get(path) != after.get(path)}
    _assert_refused(results, name)


@posix_only
@pytest.mark.parametrize("link", ["state directory", ".mesh-compose"])
def test_a_state_directory_that_is_a_symlink_is_refused_and_left_alone(tmp_path, link: str):
    """A valid name whose directory resolves elsewhere (a cloned repository can carry the link)."""
    project = contained_tree(tmp_path)
    project.script("agent.py", EXITS)
    project.compose({"api": {"script": "agent.py"}}, name="linked")
    elsewhere = tmp_path / "a" / "b"
    if link == "state directory":
        (project.root / ".mesh-compose" / "linked").symlink_to(elsewhere)
    else:
        os.rmdir(project.root / ".mesh-compose")
        (project.root / ".mesh-compose").symlink_to(elsewhere)
    before = snapshot(tmp_path, project.root / ".mesh-compose" / "linked")
    results = run_all(project, ())
    after = snapshot(tmp_path, project.root / ".mesh-compose" / "linked")
    assert after == before, {path: (before.get(path), after.get(path)) for path in set(before) | set(after)
                             if before.get(path) != after.get(path)}
    for command, result in results:
        text = (result.stdout + result.stderr).decode("utf-8", "replace")
        assert "Traceback" not in text, (command, text)
        if command[0] not in ("ls", "config", "graph", "env", "export"):  # these never touch the state
            assert result.returncode != 0 and "symlink" in text, (command, text)

"""A detached project driven from other processes, as a user would from
several terminals: `up -d`, `ps`, `stop`/`start`/`restart` of one agent,
`logs -n` and `logs -f`, `down`; two `up` racing for one project; the modes of
the state directory, the state file and the control socket."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import ProjectDir, _env, ok, pid_alive, wait_until

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals, permissions and unix sockets")

# Quiet unless TICK is set (an agent whose output pipe died with a killed
# supervisor must not die of it in the orphan tests); exits 0 on SIGTERM.
AGENT = """
import os, signal, sys, time
name = os.environ["MESH_COMPOSE_AGENT"]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(name, "up", os.getpid(), flush=True)
tick = 0
while True:
    time.sleep(float(os.environ.get("TICK", "3600")))
    tick += 1
    print(name, "tick", tick, flush=True)
"""


def agent(**extra) -> dict:
    environment = {key: str(value) for key, value in extra.pop("environment", {}).items()}
    return {"script": "agent.py", "environment": environment, "stop_grace_period": "5s", **extra}


def mesh(project: ProjectDir) -> None:
    """base (healthy once it printed), one (ticks) on base, leaf on one."""
    project.script("agent.py", AGENT)
    project.compose({
        "base": agent(healthcheck={"log": "base up", "interval": "0.1s"}),
        "one": agent(environment={"TICK": 0.2}, depends_on={"base": {"condition": "healthy"}}),
        "leaf": agent(depends_on=["one"]),
    })


@pytest.fixture
def detached(project: ProjectDir):
    """The project, with a `down` afterwards whatever the test did."""
    yield project
    result = project.cli("down", "-t", "2", timeout=120)
    assert result.returncode == 0, result.stderr


def ps_json(project: ProjectDir, *args: str) -> dict:
    result = project.cli("ps", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return {row["Name"]: row for row in map(json.loads, result.stdout.splitlines())}


def state(project: ProjectDir) -> dict:
    return json.loads((project.root / ".mesh-compose" / "t" / "state.json").read_text())


@posix_only
def test_up_d_ps_stop_start_restart_logs_down(detached):
    project = detached
    mesh(project)
    up = ok(project.cli("up", "-d"))
    assert re.search(r"✔ base\s+healthy", up.stdout) and re.search(r"✔ leaf\s+running", up.stdout)
    rows = ps_json(project)
    assert {name: row["State"] for name, row in rows.items()} == {"base": "healthy", "one": "running", "leaf": "running"}
    assert all(pid_alive(row["Pid"]) for row in rows.values())
    supervisor = state(project)["supervisor"]["pid"]
    assert pid_alive(supervisor)

    stop = ok(project.cli("stop", "one"))
    assert re.search(r"✔ one\s+stopped", stop.stdout)
    assert "warning: leaf depends on one and keeps running" in stop.stderr
    assert not pid_alive(rows["one"]["Pid"])
    after = ps_json(project, "-a")
    assert after["one"]["State"] == "exited" and after["one"]["Pid"] is None
    assert after["leaf"]["State"] == "running" and after["leaf"]["Pid"] == rows["leaf"]["Pid"]
    assert "one" not in ps_json(project)  # without -a, only what runs

    start = ok(project.cli("start", "one"))
    assert "starting: one" in start.stdout and re.search(r"✔ one\s+running", start.stdout)
    started = ps_json(project)["one"]
    assert started["State"] == "running" and pid_alive(started["Pid"]) and started["Pid"] != rows["one"]["Pid"]

    restart = ok(project.cli("restart", "one"))
    assert re.search(r"✔ one\s+running", restart.stdout)
    restarted = ps_json(project)["one"]
    assert restarted["Pid"] not in (None, started["Pid"]) and pid_alive(restarted["Pid"])
    assert not pid_alive(started["Pid"])
    assert ps_json(project)["base"]["Pid"] == rows["base"]["Pid"]  # only `one` was touched

    wait_until(lambda: "one tick 2" in project.cli("logs", "one").stdout, 10, "two ticks of the restarted agent")
    tail = ok(project.cli("logs", "-n", "2", "one")).stdout.splitlines()
    assert len(tail) == 2 and all(line.startswith("one") for line in tail), tail
    follow_new_line(project)

    pids = [row["Pid"] for row in ps_json(project).values()]
    down = ok(project.cli("down", timeout=120))
    for name in ("leaf", "one", "base"):
        assert re.search(rf"✔ {name}\s+stopped", down.stdout)
    assert down.stdout.index("leaf") < down.stdout.index(" one") < down.stdout.index("base")  # dependents first
    assert f"supervisor (pid {supervisor}) stopped" in down.stdout
    assert not any(pid_alive(pid) for pid in [*pids, supervisor])  # gone when `down` returns
    assert "no agents running" in ok(project.cli("ps")).stdout
    assert state(project)["supervisor"] is None
    assert {row["State"] for row in ps_json(project, "-a").values()} == {"exited"}


def follow_new_line(project: ProjectDir) -> None:
    """`logs -f` prints the history, then a line written after it started, until Ctrl+C."""
    output = project.root / "follow.out"
    with open(output, "wb") as sink:
        follower = subprocess.Popen([sys.executable, "-m", "meshcompose", "logs", "-f", "one"], cwd=project.root,
                                    stdout=sink, stderr=subprocess.STDOUT, env=_env())
    try:
        wait_until(lambda: re.search(r"one tick (\d+)", output.read_text()), 10, "the history")
        seen = max(map(int, re.findall(r"one tick (\d+)", output.read_text())))
        wait_until(lambda: f"one tick {seen + 1}" in output.read_text(), 10, "a new line while following")
        follower.send_signal(signal.SIGINT)
        assert follower.wait(10) in (0, 130)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert "Traceback" not in output.read_text()


def test_commands_on_a_project_that_is_not_running(project):
    mesh(project)
    down = ok(project.cli("down"))
    assert "nothing to stop: the project has not run here" in down.stdout
    for command in ("stop", "start", "restart"):
        result = project.cli(command, "one")
        assert result.returncode == 5, (command, result.stderr)
        assert "' is not running" in result.stderr and "hint:" in result.stderr
        assert "Traceback" not in result.stderr


@posix_only
def test_unknown_names_are_refused_with_a_suggestion(detached):
    project = detached
    mesh(project)
    ok(project.cli("up", "-d", "base"))
    for command in ("stop", "start", "restart"):
        result = project.cli(command, "onw")
        assert result.returncode == 3, (command, result.stderr)
        assert "no agent named 'onw'" in result.stderr and "Traceback" not in result.stderr
    assert "did you mean 'one'?" in project.cli("start", "onw").stderr
    never = project.cli("restart", "leaf")
    assert never.returncode == 1 and "not started in this run: leaf" in never.stderr
    assert "mesh-compose start leaf" in never.stderr


@posix_only
def test_start_brings_up_dependencies_the_supervisor_never_ran(detached):
    project = detached
    mesh(project)
    ok(project.cli("up", "-d", "base"))
    assert set(ps_json(project)) == {"base"}
    start = ok(project.cli("start", "leaf"))
    assert "starting: one, leaf" in start.stdout
    rows = ps_json(project)
    assert {name: row["State"] for name, row in rows.items()} == {"base": "healthy", "one": "running", "leaf": "running"}


@posix_only
def test_up_name_of_a_running_project_asks_its_supervisor(detached):
    project = detached
    mesh(project)
    ok(project.cli("up", "-d", "base"))
    supervisor = state(project)["supervisor"]["pid"]
    up = ok(project.cli("up", "one"))  # foreground `up NAME`: handed over, then returns
    assert re.search(r"- one\s+Started", up.stdout)
    assert re.search(r"✔ one\s+running", up.stdout)
    assert state(project)["supervisor"]["pid"] == supervisor
    assert ps_json(project)["one"]["State"] == "running"


@posix_only
def test_foreground_up_is_refused_while_a_detached_one_runs(detached):
    project = detached
    mesh(project)
    ok(project.cli("up", "-d"))
    supervisor = state(project)["supervisor"]["pid"]
    again = project.cli("up")
    assert again.returncode == 1
    assert f"already running (supervisor pid {supervisor}) — use `mesh-compose ps`" in again.stderr
    assert "Traceback" not in again.stderr
    assert state(project)["supervisor"]["pid"] == supervisor


@posix_only
def test_two_up_d_at_the_same_moment_exactly_one_runs(detached):
    project = detached
    mesh(project)
    racers = [subprocess.Popen([sys.executable, "-m", "meshcompose", "up", "-d"], cwd=project.root, env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(racer.pid, racer.wait(90), *racer.communicate()) for racer in racers]
    # Both succeed, as compose's do: the one that lost the lock reconciles
    # with the supervisor the other started (every agent already running).
    assert [o[1] for o in outcomes] == [0, 0], outcomes
    handed_over = [o for o in outcomes if re.search(r"- base\s+(Running|Started)", o[2])]
    assert len(handed_over) == 1, outcomes
    supervisor = state(project)["supervisor"]["pid"]
    rows = ps_json(project)
    assert len(rows) == 3
    # One supervisor: every agent is its child.
    import psutil

    assert {psutil.Process(row["Pid"]).ppid() for row in rows.values()} == {supervisor}


@posix_only
def test_permissions_of_state_dir_state_file_and_socket(detached):
    project = detached
    mesh(project)
    ok(project.cli("up", "-d", "base"))
    directory = project.root / ".mesh-compose" / "t"
    socket_path = Path(state(project)["supervisor"]["socket"])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(directory.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "state.json").stat().st_mode) == 0o600
    assert stat.S_ISSOCK(socket_path.stat().st_mode)
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
    assert len(str(socket_path)) < 104  # fits sun_path whatever the tmp_path length
    ok(project.cli("down"))
    assert not socket_path.exists()


# Prints the registry settings it was given, as one JSON line.
MESH_ENV_AGENT = """
import json, os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
mesh = {k: v for k, v in os.environ.items() if k.startswith("MCP_MESH_") or k == "HOST"}
print("ENV " + json.dumps(mesh, sort_keys=True), flush=True)
while True:
    time.sleep(0.1)
"""


@posix_only
def test_up_name_and_start_name_hand_the_same_launch_to_a_running_supervisor(detached, monkeypatch):
    """Agents a running project never ran join the mesh the others are in,
    whichever command starts them; only their agent ids differ."""
    from fake_registry import FakeRegistry

    monkeypatch.delenv("MCP_MESH_REGISTRY_URL", raising=False)  # the command line names the registry
    registry = FakeRegistry().start()
    try:
        project = detached
        project.script("mesh_agent.py", MESH_ENV_AGENT)
        # Listing the SDK makes an agent need the registry, so the run records where it is.
        needs_mesh = {"script": "mesh_agent.py", "python": {"packages": ["mcp-mesh"]}, "stop_grace_period": "2s"}
        project.compose({"base": needs_mesh, "one": needs_mesh, "two": needs_mesh})
        ok(project.cli("up", "-d", "--no-install", "--registry-url", registry.url, "base"))
        assert state(project)["registry_url"] == registry.url

        up = ok(project.cli("up", "--no-install", "one"))
        assert re.search(r"- one\s+Started", up.stdout)
        start = ok(project.cli("start", "--no-install", "two"))
        assert "starting: two" in start.stdout

        given = {name: mesh_env(project, name) for name in ("base", "one", "two")}
        assert given["one"]["MCP_MESH_REGISTRY_URL"] == registry.url  # not the default 127.0.0.1:8000
        for name in ("one", "two"):
            assert given[name].pop("MCP_MESH_AGENT_ID").endswith(f"-{name}")
        given["base"].pop("MCP_MESH_AGENT_ID")
        assert given["one"] == given["two"] == given["base"]
        records = state(project)["agents"]
        assert {key: records["one"][key] for key in ("interpreter", "python_version", "venv")} == \
               {key: records["two"][key] for key in ("interpreter", "python_version", "venv")}
    finally:
        registry.die()


def mesh_env(project: ProjectDir, name: str) -> dict:
    wait_until(lambda: "ENV " in project.read(f".mesh-compose/t/logs/{name}.log"), 10, f"{name}'s environment")
    line = next(line for line in project.read(f".mesh-compose/t/logs/{name}.log").splitlines() if "ENV " in line)
    return json.loads(line.split("ENV ", 1)[1])

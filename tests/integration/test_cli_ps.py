"""`mesh-compose ps` against hand-written state files that point at real
processes: a live agent, a pid recorded with the wrong create time (a reused
pid), live and dead supervisors, and a real control socket."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from anyio.from_thread import start_blocking_portal

from cli_helpers import wait_until
from meshcompose.control import protocol, state
from meshcompose.control.paths import socket_path, state_dir

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and unix sockets")
SLEEPER = "import time; time.sleep(120)"
PARENT = ("import subprocess, sys, time; "
          "subprocess.Popen([sys.executable, '-c', 'x = bytearray(30_000_000); import time; time.sleep(120)']); "
          "time.sleep(120)")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "mesh-compose.yaml").write_text("name: demo\nagents: {}\n")
    return tmp_path


@pytest.fixture
def spawn():
    started: list[psutil.Process] = []

    def start(code: str = SLEEPER, token: str | None = None) -> psutil.Process:
        env = {**os.environ, "MESH_COMPOSE_TOKEN": token} if token else None  # as an agent carries its own
        proc = subprocess.Popen([sys.executable, "-c", code], env=env)
        started.append(psutil.Process(proc.pid))
        return started[-1]

    yield start
    for proc in started:
        for child in proc.children(recursive=True):
            child.kill()
        proc.kill()
        proc.wait(10)


def write_state(root: Path, supervisor: psutil.Process | None, agents: dict, *, sup_ct_offset: float = 0.0,
                socket: str = "") -> state.StateStore:
    store = state.StateStore(root, "demo")
    store.write(state.new_document("demo", root, [str(root / "mesh-compose.yaml")]))
    if supervisor is not None:
        store.set_supervisor({"pid": supervisor.pid, "create_time": supervisor.create_time() + sup_ct_offset,
                              "started_at": time.time() - 60, "socket": socket, "token": "ab" * 16,
                              "port": None, "detached": True})
    for name, fields in agents.items():
        store.update_agent(name, **fields)
    store.write_now()
    return store


def record(proc: psutil.Process | None, status: str, ct_offset: float = 0.0, **fields) -> dict:
    if proc is not None:
        fields.update(pid=proc.pid, create_time=proc.create_time() + ct_offset)
    return {"status": status, "started_at": time.time() - 90, **fields}


def ps(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "meshcompose", "ps", *args], cwd=cwd or root,
                          capture_output=True, text=True, timeout=60, env=env)


def json_rows(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return {row["Name"]: row for row in map(json.loads, result.stdout.splitlines())}


MESSAGED = {"optional"}  # the agents of these tests' state files that carry a message


def table_statuses(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    columns = ["NAME", "STATUS", "PID", "UPTIME", "RESTARTS", "CPU%", "MEM", "PYTHON"]
    has_message = any(line.split()[0] in MESSAGED for line in lines)  # the last column, only when one has it
    assert header.split() == columns + (["MESSAGE"] if has_message else [])
    status_at = header.index("STATUS")
    pid_at = header.index("PID")
    return {line.split()[0]: line[status_at:pid_at].strip() for line in lines}


def test_a_project_that_never_ran(root):
    result = ps(root)
    assert result.returncode == 0 and result.stdout == "no agents running (the project has not run here yet)\n"
    assert ps(root, "--format", "json").stdout == ""
    assert not (root / ".mesh-compose").exists()


def test_dead_supervisor_leaves_orphans_and_a_reused_pid_is_not_one(root, spawn):
    agent = spawn()
    write_state(root, None, {
        "api": record(agent, "healthy", health="healthy", restarts=2, python_version="3.11.7", venv=True),
        "reused": record(agent, "running", ct_offset=-30),  # the pid now belongs to another process
        "setup": {"status": "exited", "exit_code": 0},
        "broken": {"status": "failed", "exit_code": 3},
    })
    result = ps(root)
    assert table_statuses(result) == {"api": "orphaned"}
    assert "`mesh-compose down`" in result.stderr and "api" in result.stderr
    rows = json_rows(ps(root, "-a", "--format", "json"))
    assert rows["api"]["State"] == "orphaned" and rows["api"]["Pid"] == agent.pid
    assert rows["api"]["Restarts"] == 2 and rows["api"]["Python"] == "3.11.7"
    assert rows["reused"]["State"] == "exited" and rows["reused"]["Pid"] is None
    assert rows["setup"]["Status"] == "exited (0)" and rows["broken"]["Status"] == "failed (3)"


def test_a_supervisor_pid_that_was_reused_counts_as_dead(root, spawn):
    impostor, agent = spawn(), spawn()
    write_state(root, impostor, {"api": record(agent, "running")}, sup_ct_offset=-30)
    assert table_statuses(ps(root)) == {"api": "orphaned"}


def test_live_supervisor_statuses_filters_and_quiet(root, spawn):
    supervisor, api, worker = spawn(), spawn(), spawn()
    write_state(root, supervisor, {
        "api": record(api, "healthy", health="healthy", python_version="3.12.1", venv=False),
        "worker": record(worker, "unhealthy", health="unhealthy"),
        "setup": {"status": "exited", "exit_code": 0},
        "flaky": {"status": "exited", "exit_code": 1, "restarts": 4},
        "optional": {"status": "skipped", "message": "dependency failed"},
    })
    result = ps(root)
    assert result.stderr == ""
    assert table_statuses(result) == {"api": "running (healthy)", "worker": "running (unhealthy)"}
    assert "3.12.1 (system)" in result.stdout and f" {api.pid} " in result.stdout
    everything = ps(root, "-a")
    assert table_statuses(everything) == {
        "api": "running (healthy)", "worker": "running (unhealthy)", "setup": "exited (0)",
        "flaky": "exited (1)", "optional": "skipped"}
    assert next(line for line in everything.stdout.splitlines() if line.startswith("optional")).endswith(
        "   dependency failed")
    assert ps(root, "-q").stdout.split() == ["api", "worker"]
    assert ps(root, "-q", "--status", "exited").stdout.split() == ["setup", "flaky"]
    assert ps(root, "-q", "--status", "running").stdout.split() == ["api", "worker"]
    assert ps(root, "-q", "--status", "skipped", "--status", "unhealthy").stdout.split() == ["worker", "optional"]


def test_nothing_alive_says_so(root, spawn):
    write_state(root, spawn(), {"setup": {"status": "exited", "exit_code": 0}})
    assert ps(root).stdout == "no agents running\n"
    assert ps(root, "-q").stdout == ""


def child_rss(parent: psutil.Process) -> int:
    """The resident size of `parent`'s child (0 while it has none yet)."""
    try:
        return sum(child.memory_info().rss for child in parent.children())
    except psutil.Error:
        return 0


def test_cpu_and_memory_cover_the_agent_tree(root, spawn):
    token = uuid.uuid4().hex
    parent = spawn(PARENT, token)
    # The child's interpreter has to start before its bytearray exists: wait
    # until the child itself holds the 30 MB, however long a loaded machine takes.
    wait_until(lambda: child_rss(parent) > 30_000_000, 30, "the child to hold its 30 MB")
    write_state(root, parent, {"api": record(parent, "running", token=token)})  # parent doubles as a live supervisor
    row = json_rows(ps(root, "--format", "json"))["api"]
    assert row["MemoryBytes"] > 30_000_000  # the child's bytearray counts
    assert row["CPUPercent"] >= 0 and row["Uptime"] > 0


def test_found_from_a_subdirectory_and_with_f(root, spawn):
    write_state(root, spawn(), {"api": record(spawn(), "running")})
    (root / "sub" / "deeper").mkdir(parents=True)
    assert ps(root, "-q", cwd=root / "sub" / "deeper").stdout == "api\n"
    elsewhere = root.parent
    result = subprocess.run([sys.executable, "-m", "meshcompose", "-f", str(root / "mesh-compose.yaml"), "ps", "-q"],
                            cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert result.stdout == "api\n"


def test_a_corrupt_state_file_is_a_message_not_a_traceback(root):
    state_dir(root, "demo")
    (root / ".mesh-compose" / "demo" / "state.json").write_text('{"version": 1, "agents": ')
    result = ps(root)
    assert result.returncode == 1
    assert "state file" in result.stderr and "corrupt" in result.stderr and "Traceback" not in result.stderr


# What `ps` must not pay for: the planner, the validators, the YAML loader, the model (its
# dataclasses and enums, ~13 ms), the event loop, rich, and hashlib (only sockets' names need it).
NOT_FOR_PS = ("networkx", "jsonschema", "jsonschema_rs", "yaml", "meshcompose.config.loader", "meshcompose.model",
              "anyio", "rich", "packaging", "hashlib")


def test_ps_imports_neither_networkx_nor_jsonschema(root, spawn):
    agent = spawn()
    write_state(root, psutil.Process(), {"api": record(agent, "running"), "old": record(None, "exited")})
    code = ("import sys, io, contextlib\n"
            "from meshcompose.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out: main(['ps', '-a'])\n"
            "assert 'api' in out.getvalue() and 'old' in out.getvalue(), out.getvalue()\n"
            f"print(' '.join(m for m in {NOT_FOR_PS!r} if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


async def _answer(request: dict) -> dict:
    return {"op": request["op"]}


@posix_only
def test_permissions_of_state_dir_state_file_and_socket_with_a_live_supervisor(root, spawn):
    path = socket_path(root, "demo")
    me = psutil.Process()
    with start_blocking_portal() as portal:
        future, _port = portal.start_task(protocol.serve, path, _answer)
        try:
            store = write_state(root, me, {"api": record(spawn(), "running")}, socket=str(path))
            assert stat.S_IMODE((root / ".mesh-compose").stat().st_mode) == 0o700
            assert stat.S_IMODE((root / ".mesh-compose" / "demo").stat().st_mode) == 0o700
            assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
            assert protocol.request(store.read(), {"op": "status"}) == {"ok": True, "op": "status"}
            assert table_statuses(ps(root)) == {"api": "running"}
        finally:
            future.cancel()
    assert not path.exists()

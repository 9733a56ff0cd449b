"""The supervisor dies by SIGKILL while its agents run: `ps` calls them
orphaned, `down` stops every one of them itself from the state file (a
grandchild that escaped with setsid included, dependents first), and a pid in
the state file that now belongs to another process is never signalled."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from cli_helpers import ProjectDir, pid_alive, wait_until
from meshcompose.control import state
from meshcompose.proc import process

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process groups")

# Writes `stop NAME TIME` to EVENTS on SIGTERM, then exits; prints nothing after
# starting (its stdout pipe dies with the supervisor).
POLITE = """
import os, signal, sys, time
name = os.environ["MESH_COMPOSE_AGENT"]
def on_term(*_):
    with open(os.environ["EVENTS"], "a") as f:
        f.write(f"stop {name} {time.time()}\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print(name, "up", flush=True)
while True:
    time.sleep(0.1)
"""

FORKER = """
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import os, time\\nopen(os.environ['PIDFILE'], 'w').write(str(os.getpid()))\\nwhile True: time.sleep(0.1)"],
    start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def on_term(*_):
    with open(os.environ["EVENTS"], "a") as f:
        f.write(f"stop forker {time.time()}\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print("forked", child.pid, flush=True)
while True:
    time.sleep(0.1)
"""

STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("stubborn up", flush=True)
while True:
    time.sleep(0.1)
"""


def read_state(project: ProjectDir) -> dict:
    return json.loads((project.root / ".mesh-compose" / "t" / "state.json").read_text())


def ps_json(project: ProjectDir, *args: str) -> dict:
    result = project.cli("ps", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return {row["Name"]: row for row in map(json.loads, result.stdout.splitlines())}


def stops(project: ProjectDir) -> list[str]:
    return [line.split()[1] for line in project.read("events.log").splitlines()]


@pytest.fixture
def orphans(project: ProjectDir):
    """A detached project of three agents whose supervisor was killed with SIGKILL."""
    project.script("polite.py", POLITE)
    project.script("forker.py", FORKER)
    project.script("stubborn.py", STUBBORN)
    env = {"EVENTS": str(project.root / "events.log"), "PIDFILE": str(project.root / "grandchild.pid")}
    project.compose({
        "base": {"script": "polite.py", "environment": env},
        "forker": {"script": "forker.py", "environment": env, "depends_on": ["base"]},
        "stubborn": {"script": "stubborn.py", "stop_grace_period": "1s", "depends_on": ["forker"]},
    })
    result = project.cli("up", "-d")
    assert result.returncode == 0, result.stdout + result.stderr
    doc = read_state(project)
    wait_until(lambda: project.read("grandchild.pid"), 10, "the setsid'ed grandchild")
    pids = {name: record["pid"] for name, record in doc["agents"].items()}
    pids["grandchild"] = int(project.read("grandchild.pid"))
    supervisor = doc["supervisor"]["pid"]
    os.kill(supervisor, signal.SIGKILL)
    wait_until(lambda: not pid_alive(supervisor), 10, "the supervisor to die")
    try:
        yield project, pids, supervisor
    finally:
        project.cli("down", "-t", "1", timeout=60)
        for pid in pids.values():  # whatever `down` missed must not outlive the test
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_killed_supervisor_ps_says_orphaned_and_down_reaps_everything(orphans):
    project, pids, supervisor = orphans
    assert all(pid_alive(pid) for pid in pids.values())  # SIGKILL of the supervisor stopped nothing
    result = project.cli("ps")
    assert "is gone" in result.stderr and "orphaned" in result.stderr
    assert {row["State"] for row in ps_json(project).values()} == {"orphaned"}

    stop = project.cli("stop", "base")
    assert stop.returncode == 5 and "`mesh-compose down` stops them" in stop.stderr

    began = time.monotonic()
    down = project.cli("down", timeout=120)
    took = time.monotonic() - began
    assert down.returncode == 0, down.stderr
    assert "the supervisor was gone" in down.stderr
    for name in ("base", "forker", "stubborn"):
        assert re.search(rf"✔ {name}\s+stopped", down.stdout)
    assert re.search(r"✔ stubborn\s+stopped  \(killed after its grace period\)", down.stdout)
    assert took < 8, took  # the recorded 1 s grace, not the 10 s default
    # Every process is gone when `down` returns, the escaped grandchild too.
    assert [name for name, pid in pids.items() if pid_alive(pid)] == []
    assert stops(project) == ["forker", "base"]  # dependents first

    doc = read_state(project)
    assert doc["supervisor"] is None
    assert {row["State"] for row in ps_json(project, "-a").values()} == {"exited"}
    assert "no agents running" in project.cli("ps").stdout
    again = project.cli("down")
    assert again.returncode == 0 and "nothing to stop: no agents running" in again.stdout


def test_a_new_up_after_reaping_starts_cleanly(orphans):
    project, pids, _ = orphans
    assert project.cli("down", "-t", "1", timeout=60).returncode == 0
    up = project.cli("up", "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    assert set(ps_json(project)) == {"base", "forker", "stubborn"}
    down = project.cli("down", "-t", "1", timeout=60)
    assert down.returncode == 0
    assert "supervisor (pid" in down.stdout


@pytest.fixture
def strangers():
    """Processes that are not agents of any project (as a reused pid would be)."""
    started: list[subprocess.Popen] = []

    def start(env: dict | None = None) -> psutil.Process:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                env={**os.environ, **(env or {})}, start_new_session=True)
        started.append(proc)
        return psutil.Process(proc.pid)

    yield start
    for proc in started:
        proc.kill()
        proc.wait(10)


def test_a_recorded_pid_now_used_by_another_process_is_left_alone(project, strangers):
    project.compose({})
    token = uuid.uuid4().hex
    real = strangers({process.TOKEN_VAR: token})  # an orphan this project really left
    reused = strangers()  # the same pid as a recorded agent, but another process
    store = state.StateStore(project.root, "t")
    store.write(state.new_document("t", project.root, [str(project.root / "mesh-compose.yaml")]))
    store.update_agent("real", status="running", pid=real.pid, create_time=real.create_time(), token=token,
                       stop_grace=1.0)
    store.update_agent("reused", status="running", pid=reused.pid, create_time=reused.create_time() - 3600,
                       token=uuid.uuid4().hex, stop_grace=1.0)
    store.set_supervisor({"pid": 999999, "create_time": 1.0, "started_at": time.time(), "socket": "",
                          "token": "", "port": None, "detached": True})
    store.write_now()

    rows = ps_json(project, "-a")
    assert rows["real"]["State"] == "orphaned" and rows["reused"]["State"] == "exited"
    down = project.cli("down", timeout=60)
    assert down.returncode == 0, down.stderr
    assert re.search(r"✔ real\s+stopped", down.stdout) and "reused" not in down.stdout
    wait_until(lambda: not pid_alive(real.pid), 5, "the real orphan to be gone")
    assert reused.is_running() and reused.status() != psutil.STATUS_ZOMBIE  # never signalled
    assert {row["State"] for row in ps_json(project, "-a").values()} == {"exited"}


def test_down_imports_neither_networkx_nor_jsonschema(project, strangers):
    project.compose({})
    token = uuid.uuid4().hex
    orphan = strangers({process.TOKEN_VAR: token})
    store = state.StateStore(project.root, "t")
    store.write(state.new_document("t", project.root, []))
    store.update_agent("a", status="running", pid=orphan.pid, create_time=orphan.create_time(), token=token)
    store.write_now()
    code = ("import sys, io, contextlib\n"
            "from meshcompose.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): assert main(['down']) == 0\n"
            "print(' '.join(m for m in ('networkx', 'jsonschema') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=project.root, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
    wait_until(lambda: not pid_alive(orphan.pid), 5, "the orphan to be reaped")

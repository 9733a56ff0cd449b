"""Fault injection on the process model: a supervisor SIGKILLed in
the middle of a spawn, a `down` racing an early `up -d`, a recorded pid now
used by an unrelated process, a grandchild that sheds both its session and
its environment, and the control socket a SIGKILLed supervisor leaves.

Every test runs the real CLI on real processes and signals. The looped ones
run MESH_FAULT_TRIALS trials (default 6; for a stronger claim run 20:
`MESH_FAULT_TRIALS=20 pytest tests/integration/test_faults_process.py`).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from cli_helpers import ProjectDir, pid_alive, wait_until
from meshcompose.control import lock, state
from meshcompose.control.paths import socket_path
from meshcompose.proc import cgroup

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, SIGKILL, cgroups")

TRIALS = int(os.environ.get("MESH_FAULT_TRIALS", "6"))
MARK = "MESH_FAULT_MARK"

# Exits soon while its supervisor lives (so the supervisor respawns it
# without end: with 8 of them a spawn is nearly always in flight, yet all are
# running long enough for `up -d` to see them up); once orphaned it stays, as
# any agent caught in the middle of a supervisor's crash would.
FLICKER = """
import os, sys, time
parent = os.getppid()
time.sleep(0.4)
if os.getppid() == parent:
    sys.exit(0)
while True:
    time.sleep(0.1)
"""

# The agent's child calls setsid and execs a fresh interpreter with an empty
# environment: neither its group nor a token says whose it is any more.
ESCAPER = """
import os, subprocess, sys, time
code = "import os, time\\nopen(%r, 'w').write(str(os.getpid()))\\nwhile True: time.sleep(0.1)" % os.environ["PIDFILE"]
if os.fork() == 0:
    os.setsid()
    os.execve(sys.executable, [sys.executable, "-c", code], {})
print("escaper up", flush=True)
while True:
    time.sleep(0.1)
"""


def carriers(mark: str) -> list[int]:
    """Every live process whose environment carries MARK=mark."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0") and pid_alive(int(entry)):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def kill_supervisor(project: ProjectDir) -> int:
    """SIGKILL the project's supervisor and wait until it is gone; its pid."""
    pid = supervisor_pid(project)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), 10, "the supervisor to die")
    return pid


def supervisor_pid(project: ProjectDir) -> int | None:
    try:
        doc = json.loads((project.root / ".mesh-compose" / "t" / "state.json").read_text())
    except (OSError, ValueError):
        return None
    record = doc.get("supervisor")
    return record["pid"] if record else None


@pytest.mark.timeout(600)  # TRIALS rounds of up -d, SIGKILL and down: minutes on a loaded machine
def test_a_supervisor_killed_while_spawning_leaves_nothing_after_down(project: ProjectDir):
    project.script("flicker.py", FLICKER)
    mark = uuid.uuid4().hex
    agent = {"script": "flicker.py", "environment": {MARK: mark}, "restart": "always",
             "backoff": {"initial": "10ms", "maximum": "10ms"}, "stop_grace_period": "1s"}
    project.compose({f"a{i}": dict(agent) for i in range(8)})
    survivors: list[int] = []
    try:
        for _ in range(TRIALS):
            up = project.cli("up", "-d", "--wait-timeout", "30")
            assert up.returncode == 0, up.stdout + up.stderr
            time.sleep(random.uniform(0.2, 1.2))  # somewhere in the stream of spawns
            kill_supervisor(project)
            down = project.cli("down", "-t", "1", timeout=60)
            assert down.returncode == 0, down.stdout + down.stderr
            left = carriers(mark)
            survivors += left
            kill_all(left)
    finally:
        kill_all(carriers(mark))
    assert survivors == [], f"{len(survivors)} process(es) survived `down` in {TRIALS} trials"


def test_down_right_after_an_early_up_d_stops_the_project(tmp_path: Path):
    mark = uuid.uuid4().hex
    stopped_nothing = 0
    trials = [ProjectDir(tmp_path / f"trial{i}") for i in range(TRIALS)]  # each new: no state file yet
    try:
        for project in trials:
            project.script("flicker.py", FLICKER)
            project.compose({"a": {"script": "flicker.py", "environment": {MARK: mark}, "restart": "always",
                                   "backoff": "10ms", "stop_grace_period": "1s"}})
            up = project.start("up", "-d")
            # `up -d` has begun (it holds the lock), and is somewhere before
            # its supervisor serves: no state file, or no socket yet.
            wait_until(lambda p=project, u=up: lock.is_held(p.root, "t") or u.proc.poll() is not None, 30,
                       "`up -d` to lock")
            time.sleep(random.uniform(0.0, 0.3))
            down = project.cli("down", "-t", "1", timeout=60)
            assert down.returncode == 0, down.stdout + down.stderr
            if "nothing to stop" in down.stdout:
                stopped_nothing += 1
            up.wait(60)
            project.cli("down", "-t", "1", timeout=60)  # what the first one missed, so trials stay apart
    finally:
        for project in trials:
            project.cleanup()
        kill_all(carriers(mark))
    assert stopped_nothing == 0, f"`down` stopped nothing in {stopped_nothing} of {TRIALS} trials"


@pytest.fixture
def stranger():
    """A live process that is nobody's agent (it carries no token)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    yield psutil.Process(proc.pid)
    proc.kill()
    proc.wait(10)


def write_dead_supervisor_state(project: ProjectDir, **agents: dict) -> None:
    store = state.StateStore(project.root, "t")
    store.write(state.new_document("t", project.root, [str(project.root / "mesh-compose.yaml")]))
    for name, fields in agents.items():
        store.update_agent(name, **fields)
    store.set_supervisor({"pid": 999999, "create_time": 1.0, "started_at": time.time(), "socket": "",
                          "token": "", "port": None, "detached": True})
    store.write_now()


def test_a_reused_pid_without_the_token_is_never_signalled(project: ProjectDir, stranger):
    project.compose({})
    # The recorded create time is off by half a second: within the old 1 s
    # tolerance, so only the missing token tells it is not the agent.
    write_dead_supervisor_state(project, reused={
        "status": "running", "pid": stranger.pid, "create_time": stranger.create_time() + 0.5,
        "token": uuid.uuid4().hex, "stop_grace": 1.0})
    down = project.cli("down", "-t", "1", timeout=60)
    assert down.returncode == 0, down.stderr
    time.sleep(0.2)  # a SIGTERM or SIGKILL would have landed by now
    assert stranger.is_running() and stranger.status() != psutil.STATUS_ZOMBIE
    assert "reused" not in down.stdout


needs_cgroup = pytest.mark.skipif(cgroup.root() is None, reason="no writable cgroup v2 hierarchy here")


@needs_cgroup
@pytest.mark.parametrize("supervisor_killed", [False, True], ids=["supervisor alive", "supervisor SIGKILLed"])
def test_a_grandchild_that_sheds_session_and_environment_does_not_escape_down(project: ProjectDir,
                                                                              supervisor_killed: bool):
    project.script("escaper.py", ESCAPER)
    pidfile = project.root / "escaped.pid"
    project.compose({"escaper": {"script": "escaper.py", "environment": {"PIDFILE": str(pidfile)},
                                 "stop_grace_period": "1s"}})
    up = project.cli("up", "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    wait_until(lambda: pidfile.exists() and pidfile.read_text(), 15, "the escaped grandchild")
    escaped = int(pidfile.read_text())
    try:
        with open(f"/proc/{escaped}/environ", "rb") as handle:
            assert handle.read() == b""  # no token left to find it by
        if supervisor_killed:
            kill_supervisor(project)
        down = project.cli("down", "-t", "1", timeout=60)
        assert down.returncode == 0, down.stdout + down.stderr
        assert not pid_alive(escaped)
    finally:
        kill_all([escaped])
    recorded = json.loads((project.root / ".mesh-compose" / "t" / "state.json").read_text())["agents"]["escaper"]
    assert recorded["cgroup"] and not Path(recorded["cgroup"]).exists()  # removed after use


def test_down_after_a_supervisor_sigkill_removes_its_socket(project: ProjectDir):
    project.script("escaper.py", "import time\nwhile True: time.sleep(0.1)\n")
    project.compose({"a": {"script": "escaper.py", "stop_grace_period": "1s"}})
    up = project.cli("up", "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    sock = socket_path(project.root, "t")
    assert sock.exists()
    kill_supervisor(project)
    down = project.cli("down", "-t", "1", timeout=60)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not sock.exists()


def test_an_agent_recorded_without_a_pid_is_orphaned_in_ps_and_stopped_by_down(project: ProjectDir):
    """The supervisor died between writing a spawn's intent and its pid."""
    project.compose({})
    token = uuid.uuid4().hex
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True,
                            env={**os.environ, "MESH_COMPOSE_TOKEN": token})
    try:
        write_dead_supervisor_state(project, a={"status": "starting", "token": token, "stop_grace": 1.0})
        rows = {row["Name"]: row for row in map(json.loads, project.cli("ps", "--format", "json").stdout.splitlines())}
        assert rows["a"]["State"] == "orphaned" and rows["a"]["Pid"] == proc.pid
        down = project.cli("down", "-t", "1", timeout=60)
        assert down.returncode == 0, down.stderr
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()


def test_up_after_a_killed_supervisor_stops_what_it_left_before_starting_anew(project: ProjectDir):
    # Once a new supervisor writes its state file, the old agents' pids and
    # tokens are gone from it: `up` must stop them first, or no `down` ever will.
    project.script("idle.py", "import time\nprint('up', flush=True)\ntime.sleep(300)\n")
    project.compose({"db": {"script": "idle.py"}, "api": {"script": "idle.py", "depends_on": ["db"]}})
    assert project.cli("up", "-d", timeout=60).returncode == 0
    old = {name: record["pid"] for name, record in json.loads(project.read(".mesh-compose/t/state.json"))["agents"].items()}
    kill_supervisor(project)
    assert all(pid_alive(pid) for pid in old.values())  # orphaned, still running
    try:
        again = project.cli("up", "-d", timeout=60)
        assert again.returncode == 0, again.stderr
        assert "stopped 2 agents left running by a supervisor that was killed: api, db" in again.stdout + again.stderr
        assert not any(pid_alive(pid) for pid in old.values())
        new = json.loads(project.read(".mesh-compose/t/state.json"))["agents"]
        assert all(new[name]["status"] == "running" and new[name]["pid"] != pid for name, pid in old.items())
    finally:
        assert project.cli("down", timeout=60).returncode == 0
    assert not any(pid_alive(pid) for pid in old.values())


# -- `down` always stops a live project: damaged state, no socket, a stopped supervisor ---------

DAMAGE_TRIALS = int(os.environ.get("MESH_DAMAGE_TRIALS", "1"))
# Forks a child that stays in the agent's group and carries its environment (MARK, the token).
PARENT = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
child = subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(0.1)"])
print("parent up", flush=True)
while True:
    time.sleep(0.1)
"""
QUIET_AGENT = "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n" \
              "print('up', flush=True)\nwhile True: time.sleep(0.1)\n"


def start_marked(project: ProjectDir, mark: str) -> tuple[int, float]:
    """`up -d` of three agents (one with a child) carrying MARK=mark; the supervisor's pid and create time."""
    project.script("parent.py", PARENT)
    project.script("quiet.py", QUIET_AGENT)
    agent = {"environment": {MARK: mark}, "stop_grace_period": "2s"}
    project.compose({"parent": {"script": "parent.py", **agent}, "a1": {"script": "quiet.py", **agent},
                     "a2": {"script": "quiet.py", "depends_on": ["a1"], **agent}})
    up = project.cli("up", "-d", "--wait-timeout", "60", timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    wait_until(lambda: len(carriers(mark)) == 4, 30, "three agents and a child running")
    pid = supervisor_pid(project)
    assert pid is not None
    return pid, psutil.Process(pid).create_time()


def damage(project: ProjectDir, how: str, supervisor: int) -> None:
    path = project.root / ".mesh-compose" / "t" / "state.json"
    if how == "random bytes":
        path.write_bytes(os.urandom(4096))
    elif how == "deeply nested JSON":
        path.write_text("[" * 200_000 + "]" * 200_000)
    elif how == "a symlink":  # to nowhere: read through, it would say the project never ran
        path.unlink()
        path.symlink_to(project.root / "nowhere.json")
    elif how == "512 MiB (sparse)":
        with open(path, "r+b") as handle:
            handle.truncate(512 << 20)
    elif how == "state file removed":
        path.unlink()
    elif how == "socket removed":
        os.unlink(json.loads(path.read_text())["supervisor"]["socket"])
    elif how == "supervisor SIGSTOPped":
        os.kill(supervisor, signal.SIGSTOP)


def ps_peak_rss_kib(project: ProjectDir) -> tuple[int, str]:
    """`ps` run under a fresh wrapper, whose only child it is: the child's peak RSS (KiB) and its output."""
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run([sys.executable, '-m', 'meshcompose', 'ps'], capture_output=True, text=True)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "print(r.stdout + r.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=project.root, capture_output=True, text=True,
                            timeout=120)
    first, _, rest = result.stdout.partition("\n")
    return int(first), rest


DAMAGES = ["random bytes", "deeply nested JSON", "a symlink", "512 MiB (sparse)", "state file removed",
           "socket removed", "supervisor SIGSTOPped"]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("how", DAMAGES)
def test_down_stops_a_live_project_whatever_its_state_file_or_socket(project: ProjectDir, how: str):
    """Each damage, then `down`: 0 processes of the project left (supervisor included),
    no traceback, and `ps` bounded in memory. MESH_DAMAGE_TRIALS trials (default 1)."""
    left: list[str] = []
    for trial in range(DAMAGE_TRIALS):
        mark = uuid.uuid4().hex
        supervisor, created = start_marked(project, mark)
        try:
            damage(project, how, supervisor)
            rss, shown = ps_peak_rss_kib(project)
            assert "Traceback" not in shown, shown
            assert rss < 200 * 1024, f"ps used {rss} KiB"
            started = time.monotonic()
            down = project.cli("down", "-t", "2", timeout=120)
            took = time.monotonic() - started
            text = down.stdout + down.stderr
            assert "Traceback" not in text, text
            assert down.returncode == 0, text
            survivors = carriers(mark) + ([supervisor] if pid_alive(supervisor) else [])
            print(f"{how}: trial {trial + 1}: down took {took:.1f} s, ps peak {rss // 1024} MiB, "
                  f"{len(survivors)} processes left; {text.strip().splitlines()[0]!r}")
            if survivors:
                left.append(f"trial {trial + 1}: {survivors}")
        finally:
            with contextlib.suppress(OSError):
                os.kill(supervisor, signal.SIGCONT)
            kill_all(carriers(mark))
            if pid_alive(supervisor) and psutil.Process(supervisor).create_time() == created:
                os.kill(supervisor, signal.SIGKILL)
            for name in ("state.json", "spawns.jsonl"):  # the next trial starts afresh
                with contextlib.suppress(OSError):
                    (project.root / ".mesh-compose" / "t" / name).unlink()
    assert not left, f"{how}: processes left after down: {left}"


@pytest.mark.timeout(300)
def test_stop_against_a_stopped_supervisor_says_so_at_once(project: ProjectDir):
    mark = uuid.uuid4().hex
    supervisor, _ = start_marked(project, mark)
    try:
        os.kill(supervisor, signal.SIGSTOP)
        started = time.monotonic()
        stop = project.cli("stop", "a2", timeout=60)
        took = time.monotonic() - started
        print(f"stop against a stopped supervisor answered in {took:.2f} s: {stop.stderr.splitlines()[0]!r}")
        assert stop.returncode != 0 and "Traceback" not in stop.stderr, stop.stderr
        assert "stopped" in stop.stderr and f"kill -CONT {supervisor}" in stop.stderr, stop.stderr
        assert took < 5, f"stop took {took:.1f} s to answer"
        down = project.cli("down", "-t", "2", timeout=120)
        assert down.returncode == 0, down.stdout + down.stderr
        assert carriers(mark) == [] and not pid_alive(supervisor)
    finally:
        with contextlib.suppress(OSError):
            os.kill(supervisor, signal.SIGCONT)
        kill_all(carriers(mark))


def test_ls_all_lists_the_other_projects_when_one_state_file_is_damaged(tmp_path: Path):
    first, second = ProjectDir(tmp_path / "first"), ProjectDir(tmp_path / "second")
    marks = [uuid.uuid4().hex, uuid.uuid4().hex]
    started = []
    try:
        for where, mark in zip((first, second), marks):
            where.root.mkdir()
            started.append(start_marked(where, mark)[0])
        (first.root / ".mesh-compose" / "t" / "state.json").write_bytes(os.urandom(2048))
        listing = second.cli("ls", "-a", "--format", "json")
        assert listing.returncode == 0 and "Traceback" not in listing.stderr, listing.stderr
        rows = json.loads(listing.stdout)
        rows = {row["Directory"]: row for row in (rows if isinstance(rows, list) else [rows])}
        assert rows[str(second.root)]["Status"] == "running(3)", rows
        assert "corrupt" in rows[str(first.root)]["Status"], rows
    finally:
        for where, mark in zip((first, second), marks):
            where.cli("down", "-t", "2", timeout=120)
            kill_all(carriers(mark))
        for pid in started:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


# -- signal only what is ours: a forged spawns.jsonl line -------------------------------------------


@pytest.mark.parametrize("token", ["a forged token", "no token"])
@pytest.mark.parametrize("supervisor_killed", [False, True], ids=["supervisor alive", "supervisor SIGKILLed"])
def test_a_forged_spawn_line_never_gets_an_unrelated_process_killed(project: ProjectDir, stranger,
                                                                    token: str, supervisor_killed: bool):
    mark = uuid.uuid4().hex
    supervisor, _ = start_marked(project, mark)
    try:
        if supervisor_killed:
            kill_supervisor(project)
        line = {"agent": "a1", "pid": stranger.pid, "create_time": stranger.create_time(), "pgid": stranger.pid,
                "token": uuid.uuid4().hex if token == "a forged token" else None, "cgroup": None}
        with open(project.root / ".mesh-compose" / "t" / "spawns.jsonl", "a") as journal:
            journal.write(json.dumps(line) + "\n")
        down = project.cli("down", "-t", "2", timeout=120)
        assert down.returncode == 0 and "Traceback" not in down.stderr, down.stdout + down.stderr
        time.sleep(0.2)  # a SIGTERM or SIGKILL would have landed by now
        print(f"forged line ({token}, supervisor {'SIGKILLed' if supervisor_killed else 'alive'}): stranger alive "
              f"{stranger.is_running() and stranger.status() != psutil.STATUS_ZOMBIE}, project processes left "
              f"{len(carriers(mark))}")
        assert stranger.is_running() and stranger.status() != psutil.STATUS_ZOMBIE, "down killed a stranger"
        assert carriers(mark) == [], "the real agents were left running"
    finally:
        kill_all(carriers(mark))
        if pid_alive(supervisor):
            os.kill(supervisor, signal.SIGKILL)

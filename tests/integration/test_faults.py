"""Fault injection: a full disk, an unread console, a supervisor
killed under agents that keep printing. Real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import ProjectDir, _env, pid_alive, wait_until

FLOOD = """
import signal, sys, time, pathlib
def bye(*_):
    pathlib.Path("{marker}").write_text("sigterm")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
line = "x" * 200
while True:
    for _ in range(200):
        print(line, flush=True)
    time.sleep(0.01)
"""

QUIET = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(0.1)
"""


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 1 MiB tmpfs mounted where the project keeps `.mesh-compose/`."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    state = tmp_path / ".mesh-compose"
    state.mkdir(mode=0o700)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(state)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    yield state
    subprocess.run(["umount", "-l", str(state)], check=False)


def _agent_pids(project: ProjectDir) -> dict[str, int]:
    ps = project.cli("ps", "--format", "json")
    assert ps.returncode == 0, ps.stderr
    import json

    rows = [json.loads(line) for line in ps.stdout.splitlines() if line.strip()]
    return {row["Name"]: row["Pid"] for row in rows if row.get("Pid")}


def test_a_full_disk_never_stops_an_agent_and_down_still_works(project: ProjectDir, small_disk: Path):
    project.script("flood.py", FLOOD.format(marker=project.root / "flood.stopped"))
    project.script("quiet.py", QUIET)
    project.compose({"flood": {"script": "flood.py"}, "quiet": {"script": "quiet.py"}})
    up = project.cli("up", "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    wait_until(lambda: len(_agent_pids(project)) == 2, 20, "both agents running")
    pids = _agent_pids(project)
    # 1 MiB fills within a second or two at this rate; wait until it is full.
    wait_until(lambda: os.statvfs(small_disk).f_bavail == 0, 30, "the disk to fill")
    time.sleep(2)  # several more failed writes after the disk is full
    for name, pid in pids.items():
        assert pid_alive(pid), f"{name} died when the disk filled"
    ps = project.cli("ps")
    assert ps.returncode == 0 and "Traceback" not in ps.stderr, ps.stderr
    assert "flood" in ps.stdout and "running" in ps.stdout, ps.stdout
    down = project.cli("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "Traceback" not in down.stdout + down.stderr
    for pid in pids.values():
        wait_until(lambda pid=pid: not pid_alive(pid), 15, "agents stopped")
    assert (project.root / "flood.stopped").read_text() == "sigterm"


def test_an_unread_console_never_delays_stop_or_ctrl_c(project: ProjectDir):
    project.script("flood.py", FLOOD.format(marker=project.root / "flood.stopped"))
    project.script("other.py", FLOOD.format(marker=project.root / "other.stopped"))
    project.compose({"flood": {"script": "flood.py"}, "other": {"script": "other.py"}})
    # `up | less`, paused: the pipe fills and nobody ever reads it.
    up = subprocess.Popen([sys.executable, "-m", "meshcompose", "up"], cwd=project.root, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(_agent_pids(project)) == 2, 30, "both agents running")
        time.sleep(2)  # the pipe (64 KiB) is long full at ~4 MB/s of output
        started = time.monotonic()
        stop = project.cli("stop", "flood", timeout=60)
        stop_seconds = time.monotonic() - started
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert (project.root / "flood.stopped").read_text() == "sigterm"
        started = time.monotonic()
        up.send_signal(signal.SIGINT)
        wait_until(lambda: (project.root / "other.stopped").exists(), 30, "Ctrl+C to stop the other agent")
        ctrl_c_seconds = time.monotonic() - started
        print(f"stop took {stop_seconds:.2f} s, Ctrl+C {ctrl_c_seconds:.2f} s")
        assert stop_seconds < 10 and ctrl_c_seconds < 10
        up.stdout.read()  # let it finish writing and exit
        assert up.wait(30) == 130 or up.returncode in (0, 130)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


def test_supervisor_log_holds_only_its_own_messages_rotated_and_private(project: ProjectDir):
    """`-d`: agent output goes to the agents' logs only; supervisor.log is 0600
    and rotated like them (a crash-looping agent makes the supervisor talk a lot)."""
    project.script("flood.py", FLOOD.format(marker=project.root / "flood.stopped"))
    project.script("crash.py", "print('crashing', flush=True)\nraise SystemExit(3)\n")
    project.compose({"flood": {"script": "flood.py"},
                     "crash": {"script": "crash.py", "restart": "always"}})
    env = {**_env(), "MESH_COMPOSE_SUPERVISOR_LOG_MAX_BYTES": "300"}
    up = subprocess.run([sys.executable, "-m", "meshcompose", "up", "-d"], cwd=project.root, env=env,
                        capture_output=True, text=True, timeout=60)
    assert up.returncode == 0, up.stdout + up.stderr
    log = project.root / ".mesh-compose" / "t" / "supervisor.log"
    wait_until(lambda: (log.parent / "supervisor.log.1").exists(), 60,
               "supervisor.log to rotate")
    assert project.cli("down").returncode == 0
    for path in [log, *log.parent.glob("supervisor.log.*")]:
        assert oct(path.stat().st_mode & 0o777) == "0o600", path
        text = path.read_text()
        assert "xxxxxxxxxx" not in text and "crashing" not in text, "agent output in supervisor.log"
        assert path.stat().st_size <= 300 + 1024
    assert "crash" in log.read_text() or "crash" in (log.parent / "supervisor.log.1").read_text()


def test_agents_outlive_a_supervisor_sigkill_with_their_output_and_down_stops_them(project: ProjectDir):
    project.script("flood.py", FLOOD.format(marker=project.root / "flood.stopped"))
    project.compose({"flood": {"script": "flood.py"}})
    up = project.cli("up", "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    wait_until(lambda: len(_agent_pids(project)) == 1, 20, "the agent running")
    pid = _agent_pids(project)["flood"]
    import json

    supervisor = json.loads((project.root / ".mesh-compose" / "t" / "state.json").read_text())["supervisor"]["pid"]
    os.kill(supervisor, signal.SIGKILL)
    wait_until(lambda: not pid_alive(supervisor), 10, "the supervisor gone")
    died = time.time()
    time.sleep(5)
    assert pid_alive(pid), "the agent died with its supervisor (SIGPIPE)"
    from datetime import datetime

    last = (project.root / ".mesh-compose" / "t" / "logs" / "flood.log").read_bytes().splitlines()[-1].decode()
    written = datetime.fromisoformat(last.split(" ", 1)[0].rstrip("Z") + "+00:00").timestamp()
    assert written > died + 3, f"the agent's output after the death is not in its log: {last[:60]}"
    down = project.cli("down")
    assert down.returncode == 0, down.stdout + down.stderr
    wait_until(lambda: not pid_alive(pid), 15, "the agent stopped")
    assert (project.root / "flood.stopped").read_text() == "sigterm", "down did not stop it with its stop signal"

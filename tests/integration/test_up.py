"""`mesh-compose up` in the foreground, driven as a user would: real agents,
real signals, order read from the agents' own timestamps."""

from __future__ import annotations

import json
import re
import time

from cli_helpers import pid_alive, wait_until

# An agent that records its start and its SIGTERM in events.log, each line
# `EVENT NAME TIME`, then runs until stopped (or exits with EXIT_CODE).
RECORDER = """
import os, signal, sys, time
name = os.environ["MESH_COMPOSE_AGENT"]
def record(event):
    with open(os.environ["EVENTS"], "a") as f:
        f.write(f"{event} {name} {time.time()}\\n")
def on_term(*_):
    record("stop")
    time.sleep(float(os.environ.get("STOP_DELAY", "0.1")))
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
record("start")
print(name, "up", flush=True)
if "EXIT_CODE" in os.environ:
    time.sleep(float(os.environ.get("RUN_FOR", "0.2")))
    sys.exit(int(os.environ["EXIT_CODE"]))
if "PORT" in os.environ:
    import http.server, threading
    server = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
while True:
    time.sleep(0.1)
"""


def events(project) -> list[tuple[str, str, float]]:
    rows = [line.split() for line in project.read("events.log").splitlines()]
    return [(event, name, float(when)) for event, name, when in rows]


def first(rows, event: str, name: str) -> float:
    return next(when for ev, n, when in rows if ev == event and n == name)


def recorder(project, **env) -> dict:
    project.script("agent.py", RECORDER)
    environment = {"EVENTS": str(project.root / "events.log"), **{k: str(v) for k, v in env.items()}}
    return {"script": "agent.py", "environment": environment, "stop_grace_period": "5s"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dependency_order_and_reverse_stop(project):
    port = free_port()
    project.compose({
        "setup": recorder(project, EXIT_CODE=0),
        "api": {**recorder(project, PORT=port),
                "depends_on": {"setup": {"condition": "completed_successfully"}},
                "healthcheck": {"http": f"http://127.0.0.1:{port}/", "interval": "0.2s", "start_period": "20s"}},
        "worker": {**recorder(project), "depends_on": {"api": {"condition": "healthy"}},
                   "healthcheck": {"log": "worker up"}},
        "leaf": {**recorder(project), "depends_on": {"worker": {"condition": "healthy"}}},
        "follower": {**recorder(project), "depends_on": ["leaf"]},
        "loner": recorder(project),
    })
    up = project.start("up")
    up.wait_for("follower up")
    up.interrupt()
    assert up.wait(30) == 0
    rows = events(project)
    # Each agent starts only after its dependency's condition held.
    assert first(rows, "start", "setup") < first(rows, "start", "api")
    assert first(rows, "start", "api") < first(rows, "start", "worker") < first(rows, "start", "leaf")
    # `started` only promises the process exists, so only mesh-compose's own order shows it.
    out = up.output
    assert re.search(r"leaf +⇒ started", out).start() < re.search(r"follower +⇒ started", out).start()
    # The independent agent did not wait for the chain: mesh-compose started it first (when each
    # interpreter then runs its first line is up to the machine, so the agents' notes cannot tell).
    assert re.search(r"loner +⇒ started", out).start() < re.search(r"worker +⇒ started", out).start()
    # Stops: dependents first.
    assert first(rows, "stop", "follower") < first(rows, "stop", "leaf")
    assert first(rows, "stop", "leaf") < first(rows, "stop", "worker") < first(rows, "stop", "api")
    assert "Gracefully stopping" in up.output


def test_restart_policy_restarts_after_its_backoff_then_gives_up(project):
    """The wiring of the restart policy to real exits; its delays and their
    sequence are unit-tested (tests/unit/runtime/test_supervisor_lifecycle.py)."""
    project.compose({
        "crasher": {**recorder(project, EXIT_CODE=2, RUN_FOR=0),
                    "restart": "on-failure", "max_restarts": 1, "backoff": {"initial": "0.1s"}},
    })
    up = project.start("up")
    assert up.wait(30) == 1
    assert [ev for ev, _, _ in events(project)].count("start") == 2  # the first run and one restart
    assert "restarting in 0.1s (restart 1)" in up.output
    assert "gave up after 1 restart; last exit code 2" in up.output


IGNORES_TERM = """
import signal, time, os
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("stubborn", os.getpid(), flush=True)
while True:
    time.sleep(0.1)
"""


def stubborn_pid(up) -> int:
    out = up.wait_for(lambda text: re.search(r"\| stubborn (\d+)", text))
    return int(re.search(r"\| stubborn (\d+)", out).group(1))


def test_agent_ignoring_sigterm_is_killed_after_its_grace(project):
    project.script("stubborn.py", IGNORES_TERM)
    project.compose({"stubborn": {"script": "stubborn.py", "stop_grace_period": "1s"}})
    up = project.start("up")
    pid = stubborn_pid(up)
    began = time.monotonic()
    up.interrupt()
    assert up.wait(20) == 0
    took = time.monotonic() - began
    assert 0.9 <= took < 4.0, took  # killed right after the 1 s grace, not after 10 s
    assert not pid_alive(pid)
    assert "did not stop within 1s; killing" in up.output
    assert "exited (137)" in project.cli("ps", "-a").stdout  # 128 + SIGKILL, as a shell reports it


def test_second_ctrl_c_forces(project):
    project.script("stubborn.py", IGNORES_TERM)
    project.compose({"stubborn": {"script": "stubborn.py", "stop_grace_period": "60s"}})
    up = project.start("up")
    pid = stubborn_pid(up)
    up.interrupt()
    up.wait_for("press Ctrl+C again to force")
    began = time.monotonic()
    up.interrupt()
    assert up.wait(20) == 130
    assert time.monotonic() - began < 5
    wait_until(lambda: not pid_alive(pid), 5, "the stubborn agent to be gone")


FORKS_AWAY = """
import os, subprocess, sys, time, signal
child = subprocess.Popen([sys.executable, "-c",
    "import os, time\\nos.setsid() if hasattr(os, 'setsid') and os.getpid() != os.getpgid(0) else None\\n"
    "open(os.environ['PIDFILE'], 'w').write(str(os.getpid()))\\nwhile True: time.sleep(0.1)"],
    start_new_session=True)
print("forked", child.pid, flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(0.1)
"""


def test_setsid_grandchild_is_gone_after_stop(project):
    project.script("forker.py", FORKS_AWAY)
    pidfile = project.root / "grandchild.pid"
    project.compose({"forker": {"script": "forker.py", "environment": {"PIDFILE": str(pidfile)}}})
    up = project.start("up")
    up.wait_for("forked ")
    wait_until(lambda: pidfile.exists() and pidfile.read_text(), 10, "the grandchild")
    grandchild = int(pidfile.read_text())
    assert pid_alive(grandchild)
    up.interrupt()
    assert up.wait(20) == 0
    wait_until(lambda: not pid_alive(grandchild), 5, "the setsid'ed grandchild to be gone")


NASTY_OUTPUT = """
import sys, time
out = sys.stdout.buffer
out.write(b"x" * (10 * 1024 * 1024))
out.write(b"\\nbad bytes: \\xff\\xfe end\\n")
out.write(b"partial last line")
out.flush()
"""


def test_huge_line_invalid_utf8_and_partial_line(project):
    project.script("nasty.py", NASTY_OUTPUT)
    project.script("chatty.py", "import time\nfor i in range(20):\n    print('tick', i, flush=True)\n    time.sleep(0.05)\n")
    project.compose({"nasty": {"script": "nasty.py"}, "chatty": {"script": "chatty.py"}})
    up = project.start("up")
    assert up.wait(60) == 0
    out = up.output
    assert "bad bytes: \ufffd\ufffd end" in out
    assert "partial last line" in out
    assert "tick 19" in out
    logs = project.root / ".mesh-compose" / "t" / "logs"
    assert "partial last line" in (logs / "nasty.log").read_text(errors="replace")
    # Split into bounded pieces, rotated by size, and nothing lost.
    def xs(text: str) -> int:
        return sum(len(run) for run in re.findall(r"x{100,}", text))

    assert sum(xs(p.read_text(errors="replace")) for p in logs.glob("nasty.log*")) == 10 * 1024 * 1024
    assert xs(out) == 10 * 1024 * 1024


def test_exit_code_from_stops_the_project_and_returns_that_agents_code(project):
    project.compose({
        "job": recorder(project, EXIT_CODE=7, RUN_FOR=0.5),
        "server": recorder(project),
    })
    up = project.start("up", "--exit-code-from", "job")
    assert up.wait(30) == 7
    assert "stop" in {ev for ev, name, _ in events(project) if name == "server"}


def test_all_agents_done_ends_up_by_itself(project):
    project.compose({"a": recorder(project, EXIT_CODE=0), "b": recorder(project, EXIT_CODE=4)})
    assert project.start("up").wait(30) == 1


def test_missing_script_reported_before_anything_starts(project):
    project.compose({"ok": recorder(project), "broken": {"script": "nope.py"}})
    result = project.cli("up")
    assert result.returncode != 0
    assert "broken: script" in result.stderr and "nope.py does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project.root / "events.log").exists()


def test_environment_reaches_the_agent(project):
    project.script("env.py", "import os, json\nprint(json.dumps({k: os.environ.get(k) for k in "
                   "['MESH_COMPOSE_PROJECT','MESH_COMPOSE_AGENT','PYTHONUNBUFFERED','FROM_FILE','FROM_ENV','BOTH']}))\n")
    (project.root / "agent.env").write_text("FROM_FILE=file\nBOTH=file\n")
    project.compose({"e": {"script": "env.py", "env_file": "agent.env",
                           "environment": {"FROM_ENV": "env", "BOTH": "environment"}}}, name="proj")
    up = project.start("up", "--no-log-prefix")
    assert up.wait(30) == 0
    line = next(l for l in up.output.splitlines() if l.startswith("{"))
    assert json.loads(line) == {"MESH_COMPOSE_PROJECT": "proj", "MESH_COMPOSE_AGENT": "e", "PYTHONUNBUFFERED": "1",
                                "FROM_FILE": "file", "FROM_ENV": "env", "BOTH": "environment"}

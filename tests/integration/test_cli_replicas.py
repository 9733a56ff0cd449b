"""Replicas with real processes: each replica's number, port and probe;
one replica killed while the others keep running; `scale` up and down of a
running project; a dependent waiting for every replica; nothing left after
`down`."""

from __future__ import annotations

import json
import os
import re

import pytest

from cli_helpers import ProjectDir, ok, pid_alive, wait_until

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

# Serves /health on its PORT: 200, or 500 while the file sick-NAME exists,
# and waits for the file go-NAME first when HOLD is set. Says goodbye in
# bye-NAME on SIGTERM, so a graceful stop is seen.
AGENT = """
import http.server, os, signal, socketserver, sys, time
name, number, port = os.environ["MESH_COMPOSE_AGENT"], os.environ["MESH_COMPOSE_REPLICA"], int(os.environ["PORT"])
def bye(*_):
    open(f"bye-{name}", "w").write(number)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
while os.environ.get("HOLD") and not os.path.exists(f"go-{name}"):
    time.sleep(0.05)
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500 if os.path.exists(f"sick-{name}") else 200)
        self.end_headers()
    def log_message(self, *args):
        pass
socketserver.TCPServer.allow_reuse_address = True
with socketserver.TCPServer(("127.0.0.1", port), Health) as server:
    open(f"seen-{name}", "w").write(f"{number} {server.server_address[1]}")
    print("replica", number, "serving on", server.server_address[1], flush=True)
    server.serve_forever()
"""


def free_base_port(count: int) -> int:
    """A base port whose next `count` ports are free now (the kernel's pick, then checked)."""
    import socket

    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count < 65000 and all(_free(base + n) for n in range(count)):
            return base
    raise AssertionError("no free run of ports")


def _free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def api(count: int, **extra) -> dict:
    return {"script": "agent.py", "replicas": count, "increment_var": "PORT",
            "environment": {"PORT": str(free_base_port(6)), **extra.pop("environment", {})},
            "healthcheck": {"http": "http://127.0.0.1:$${PORT}/health", "interval": "0.2s", "retries": 2},
            "stop_grace_period": "5s", **extra}


@pytest.fixture
def detached(project: ProjectDir):
    """The project, with a `down` afterwards whatever the test did."""
    project.script("agent.py", AGENT)
    yield project
    project.cli("down", "-t", "2", timeout=120)


def ps_json(project: ProjectDir, *args: str) -> dict:
    result = ok(project.cli("ps", "--format", "json", *args))
    return {row["Name"]: row for row in map(json.loads, result.stdout.splitlines())}


@posix_only
def test_three_replicas_see_their_own_number_and_port_and_down_leaves_nothing(detached):
    project = detached
    spec = api(3)
    base = int(spec["environment"]["PORT"])
    project.compose({"api": spec})
    up = ok(project.cli("up", "-d"))
    assert all(re.search(rf"✔ api-{n}\s+healthy", up.stdout) for n in (1, 2, 3)), up.stdout
    for number in (1, 2, 3):
        assert project.read(f"seen-api-{number}") == f"{number} {base + number - 1}"
        log = ok(project.cli("logs", f"api-{number}")).stdout
        assert f"api-{number} | replica {number} serving on {base + number - 1}" in log
    everything = ok(project.cli("logs", "api")).stdout  # the agent: every replica
    assert all(f"replica {n} serving" in everything for n in (1, 2, 3))
    pids = [row["Pid"] for row in ps_json(project).values()]
    assert len(pids) == 3 and all(pid_alive(pid) for pid in pids)
    ok(project.cli("down"))
    assert not any(pid_alive(pid) for pid in pids)
    assert [project.read(f"bye-api-{n}") for n in (1, 2, 3)] == ["1", "2", "3"]


@posix_only
def test_each_replica_is_probed_on_its_own_port_and_killed_alone(detached):
    project = detached
    project.compose({"api": api(3, restart="always", backoff="0.2s")})
    ok(project.cli("up", "-d"))
    before = ps_json(project)
    (project.root / "sick-api-2").write_text("")
    wait_until(lambda: ps_json(project)["api-2"]["State"] == "unhealthy", 20, "api-2 unhealthy")
    rows = ps_json(project)
    assert (rows["api-1"]["State"], rows["api-3"]["State"]) == ("healthy", "healthy")
    (project.root / "sick-api-2").unlink()
    ok(project.cli("kill", "api-2"))
    wait_until(lambda: ps_json(project)["api-2"]["Restarts"] == 1 and ps_json(project)["api-2"]["State"] == "healthy",
               30, "api-2 restarted and healthy")
    after = ps_json(project)
    assert after["api-2"]["Pid"] != before["api-2"]["Pid"]
    assert [(after[n]["Pid"], after[n]["Restarts"]) for n in ("api-1", "api-3")] == \
        [(before[n]["Pid"], 0) for n in ("api-1", "api-3")]


@posix_only
def test_scale_up_then_down_keeps_the_lowest_numbers_and_stops_the_rest_gracefully(detached):
    project = detached
    project.compose({"api": api(3), "other": {"script": "agent.py", "environment": {"PORT": "0"}}})
    ok(project.cli("up", "-d"))
    before = ps_json(project)
    up = ok(project.cli("scale", "api=5"))
    assert "api: 3 -> 5" in up.stdout and re.search(r"✔ api-5\s+healthy", up.stdout), up.stdout
    assert {name for name, row in ps_json(project).items() if row["State"] == "healthy"} == \
        {f"api-{n}" for n in range(1, 6)}
    down = ok(project.cli("scale", "api=2"))
    assert "api: 5 -> 2" in down.stdout
    rows = ps_json(project)
    assert sorted(rows) == ["api-1", "api-2", "other"]
    assert all(rows[name]["Pid"] == before[name]["Pid"] for name in ("api-1", "api-2", "other"))  # untouched
    assert [project.read(f"bye-api-{n}") for n in (3, 4, 5)] == ["3", "4", "5"]  # SIGTERM, as `stop`
    assert not any(project.read(f"bye-api-{n}") for n in (1, 2))
    assert sorted(ps_json(project, "-a")) == ["api-1", "api-2", "other"]  # scaled away: gone from the run
    assert "replica 5 serving" in ok(project.cli("logs", "api-5")).stdout  # its log stays
    ok(project.cli("restart", "api"))  # the replicas the run has, not those scaled away
    assert sorted(ps_json(project, "-a")) == ["api-1", "api-2", "other"]


@posix_only
def test_a_dependent_waits_for_every_replica(detached):
    project = detached
    held = api(3, environment={"HOLD": "1"})
    held["healthcheck"]["start_period"] = "120s"  # a held replica is not yet unhealthy: it is starting
    project.compose({
        "api": held,
        "web": {"script": "agent.py", "environment": {"PORT": "0"},
                "depends_on": {"api": {"condition": "healthy"}}},
    })
    for number in (1, 2):
        (project.root / f"go-api-{number}").write_text("")
    run = project.start("up")
    wait_until(lambda: ps_ok(project) and ps_json(project)["api-2"]["State"] == "healthy"
               and ps_json(project)["api-1"]["State"] == "healthy", 30, "two replicas healthy")
    rows = ps_json(project, "-a")
    assert rows["api-3"]["State"] != "healthy" and rows["web"]["State"] == "waiting"
    assert not project.read("seen-web")  # web has not run
    (project.root / "go-api-3").write_text("")
    run.wait_for(lambda text: re.search(r"web\s+\| replica 1 serving", text) is not None, 30)
    run.interrupt()
    assert run.wait(30) == 0


def ps_ok(project: ProjectDir) -> bool:
    result = project.cli("ps", "--format", "json")
    return result.returncode == 0 and "api-2" in result.stdout


def test_bad_counts_are_errors_without_a_traceback(project: ProjectDir):
    project.script("agent.py", AGENT)
    project.compose({"api": {"script": "agent.py", "replicas": -1}})
    result = project.cli("config", "-q")
    assert result.returncode != 0 and "mesh-compose.yaml:" in result.stderr and "replicas" in result.stderr
    assert "Traceback" not in result.stderr
    project.compose({"api": {"script": "agent.py", "environment": {"PORT": "1"}}})
    for args, said in ((["up", "-d", "--scale", "apx=2"], "no agent named 'apx'"),
                       (["up", "-d", "--scale", "api=-1"], "0 or more"),
                       (["scale", "api"], "expected AGENT=N")):
        result = project.cli(*args)
        assert result.returncode != 0 and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


@posix_only
def test_replicas_zero_starts_nothing_until_scaled_by_up(detached):
    project = detached
    spec = api(0)
    project.compose({"api": spec, "other": {"script": "agent.py", "environment": {"PORT": "0"}}})
    ok(project.cli("up", "-d"))
    assert sorted(ps_json(project)) == ["other"]
    ok(project.cli("down"))
    ok(project.cli("up", "-d", "--scale", "api=2"))
    assert sorted(ps_json(project)) == ["api-1", "api-2", "other"]

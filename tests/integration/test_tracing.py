"""`tracing: true` with a real redis-server: private, loopback, nothing on
disk, first up and last down; and the clear errors around it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from pathlib import Path

import psutil
import pytest

from cli_helpers import ProjectDir, ok, wait_until

QUIET = "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\nwhile True: time.sleep(0.1)\n"
needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None and os.environ.get("CI") != "true",
                                 reason="redis-server is not installed (scripts/test.sh installs it)")


def rows(project: ProjectDir) -> dict[str, dict]:
    listed = ok(project.cli("ps", "-a", "--format", "json")).stdout.splitlines()
    return {row["Name"]: row for row in map(json.loads, listed)}


@needs_redis
def test_the_managed_redis_is_private_starts_first_and_stops_last(project: ProjectDir):
    project.script("quiet.py", QUIET)
    project.compose({"api": {"script": "quiet.py"}}, tracing=True)
    try:
        up = ok(project.cli("up", "-d"))
        assert "starting Redis for traces on 127.0.0.1:" in up.stderr
        listed = rows(project)
        assert listed["mesh-redis"]["State"] == "healthy" and listed["api"]["State"] == "running"
        redis = psutil.Process(listed["mesh-redis"]["Pid"])
        listening = [c.laddr for c in redis.net_connections("inet") if c.status == psutil.CONN_LISTEN]
        assert listening and {address.ip for address in listening} == {"127.0.0.1"}
        port = listening[0].port
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"PING\r\n")
            assert client.recv(100).startswith(b"-NOAUTH")  # another user on 127.0.0.1 gets nothing
        environment = psutil.Process(listed["api"]["Pid"]).environ()
        assert environment["MCP_MESH_DISTRIBUTED_TRACING_ENABLED"] == "true"
        assert environment["REDIS_URL"].startswith("redis://:") and environment["REDIS_URL"].endswith(f"@127.0.0.1:{port}/0")
        assert environment["REDIS_URL"].split(":")[2].split("@")[0] not in " ".join(redis.cmdline())
        assert "no traces yet" in ok(project.cli("traces")).stdout
    finally:
        down = project.cli("down", "-t", "5")
    assert [line.split()[1] for line in down.stdout.splitlines() if "stopped" in line][:2] == ["api", "mesh-redis"]
    stops = [event["service"] for event in map(json.loads, project.read(".mesh-compose/t/events.jsonl").splitlines())
             if event["action"] == "stop"]
    assert stops == ["api", "mesh-redis"]
    assert not psutil.pid_exists(redis.pid) or redis.status() == psutil.STATUS_ZOMBIE
    assert not list(Path(project.root).rglob("*.rdb")) and not list(Path(project.root).rglob("appendonly*"))
    gone = project.cli("traces")
    assert gone.returncode == 1 and "does not answer" in gone.stderr and "Traceback" not in gone.stderr


def test_without_redis_server_tracing_is_a_clear_error_and_off_it_runs(project: ProjectDir):
    project.script("quiet.py", QUIET)
    project.compose({"api": {"script": "quiet.py"}}, tracing=True)
    bare = {**os.environ, "PATH": str(Path(sys.executable).parent), "NO_COLOR": "1"}
    import subprocess

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=project.root, env=bare,
                              capture_output=True, text=True, timeout=60)

    refused = cli("up", "-d")
    assert refused.returncode == 1, refused
    assert "`tracing: true` needs redis-server on PATH" in refused.stderr
    assert "apt-get install redis-server" in refused.stderr and "Traceback" not in refused.stderr
    assert "no agents running" in cli("ps").stdout
    project.compose({"api": {"script": "quiet.py"}}, tracing=False)
    try:
        assert cli("up", "-d").returncode == 0
        wait_until(lambda: rows(project)["api"]["State"] == "running", what="api to run")
        told = project.cli("traces")
        assert told.returncode == 1 and "its last run did not have tracing on" in told.stderr
    finally:
        project.cli("down", "-t", "5")

"""Failures say why, through the real CLI: the last probe's reason in `ps`
(MESSAGE column, "Message" in JSON) and in the log stream, a dependency that
gives up fails the foreground `up` as compose's does, and an `up -d` that
times out says which agents are not up and that the project keeps running."""

from __future__ import annotations

import json
import os
import socket

import pytest

from cli_helpers import ProjectDir

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

# An HTTP server that answers 503 on every path, on $PORT.
SICK = """
import http.server, os, signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
print("serving", flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""

IDLE = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("idle up", flush=True)
while True:
    time.sleep(3600)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def quick(**check) -> dict:
    return {"interval": "0.2s", "timeout": "1s", "retries": 2, **check}


@posix_only
def test_foreground_up_fails_when_a_dependency_is_unhealthy_and_says_why(project: ProjectDir):
    port = free_port()
    url = f"http://127.0.0.1:{port}/health"
    project.script("sick.py", SICK)
    project.script("idle.py", IDLE)
    project.compose({
        "catalog": {"script": "sick.py", "environment": {"PORT": str(port)}, "healthcheck": quick(http=url, start_period="3s")},
        "summarizer": {"script": "idle.py", "depends_on": {"catalog": {"condition": "healthy"}}},
    })
    result = project.cli("up", timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"unhealthy: HTTP 503 from {url}" in out
    assert "dependency failed to start: 'catalog' never became healthy: it is unhealthy" in out
    assert "idle up" not in out  # the dependent never ran
    assert "Traceback" not in out


@posix_only
def test_ps_and_up_d_say_why_an_agent_is_not_up(project: ProjectDir):
    project.script("idle.py", IDLE)
    project.compose({"api": {"script": "idle.py", "stop_grace_period": "2s",
                             "healthcheck": quick(cmd=["curlx-no-such-program", "-f", "http://127.0.0.1:9/"])}})
    try:
        up = project.cli("up", "-d", "--wait-timeout", "3", timeout=120)
        assert up.returncode == 1
        assert "command not found: curlx-no-such-program" in up.stdout
        assert "not up within 3s (--wait-timeout): api" in up.stderr
        assert "the project keeps running" in up.stderr and "`mesh-compose down` stops it" in up.stderr
        table = project.cli("ps")
        header, row = table.stdout.splitlines()[:2]
        assert header.split()[-1] == "MESSAGE" and row.endswith("command not found: curlx-no-such-program")
        listed = json.loads(project.cli("ps", "--format", "json").stdout.splitlines()[0])
        assert listed["State"] == "unhealthy" and listed["Message"] == "command not found: curlx-no-such-program"
        # The detached supervisor's notices (the foreground prints them in its stream).
        notices = project.read(".mesh-compose/t/supervisor.log")
        assert "api => warning: unhealthy: command not found: curlx-no-such-program" in notices
    finally:
        down = project.cli("down", "-t", "2", timeout=120)
        assert down.returncode == 0, down.stderr


def test_up_accepts_compose_s_wait_flag(project: ProjectDir):
    project.script("idle.py", IDLE)
    project.compose({"api": {"script": "idle.py", "stop_grace_period": "2s"}})
    try:
        up = project.cli("up", "-d", "--wait", timeout=120)  # was: --wait-timeout: expected one argument
        assert up.returncode == 0, up.stderr
        assert json.loads(project.cli("ps", "--format", "json").stdout.splitlines()[0])["State"] == "running"
    finally:
        project.cli("down", "-t", "2", timeout=120)

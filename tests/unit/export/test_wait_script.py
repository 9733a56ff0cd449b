"""The init containers' wait script, run for real: a Python process against
real HTTP servers, a real socket, the fake MCP Mesh registry, and a fake
Kubernetes API over TLS with a bearer token (as a pod's projected volume
gives them)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest

from fake_registry import FakeRegistry
from meshcompose.export.waits import command

TOKEN = "projected-token"


def _run(spec: dict[str, Any], env: dict[str, str] = None, timeout: float = 30) -> subprocess.CompletedProcess:
    if env is None:
        env = {}
    argv = [sys.executable, *command(spec)[1:]]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env={"PATH": "/usr/bin:/bin", **env})


class _Server:
    """An HTTP(S) server on loopback whose answers come from `answer(path, headers) -> (status, body)`."""

    def __init__(self, answer: Callable[[str, Any], tuple[int, Any]], context: Any = None) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                status, body = answer(self.path, self.headers)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_http_wait_polls_until_the_service_answers_2xx() -> None:
    calls: list[str] = []

    def answer(path: str, headers: Any) -> tuple[int, Any]:
        calls.append(path)
        return (503, {}) if len(calls) < 2 else (200, {"status": "ok"})

    server = _Server(answer)
    try:
        out = _run({"kind": "http", "url": f"http://127.0.0.1:{server.port}/health", "what": "api (healthy)"})
    finally:
        server.close()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "waiting for api (healthy): HTTPError" in out.stdout and "api (healthy): HTTP 200" in out.stdout
    assert server.requests == ["/health"] * 2


def test_tcp_wait_connects_and_a_once_check_fails_fast_on_a_closed_port() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        assert _run({"kind": "tcp", "host": "127.0.0.1", "port": port, "what": "db"}).returncode == 0
    finally:
        listener.close()
    closed = _run({"kind": "tcp", "host": "127.0.0.1", "port": port, "what": "db", "once": True})
    assert closed.returncode == 1 and "ConnectionRefusedError" in closed.stdout


def test_registry_wait_needs_the_agent_listed_healthy() -> None:
    registry = FakeRegistry().start()
    try:
        registry.register("demo-hello", status="unhealthy")
        spec = {"kind": "registry", "url": registry.url, "agent_id": "demo-hello", "what": "hello (registered)"}
        assert _run({**spec, "once": True}).returncode == 1
        # The agent registers once the script has looked (and said so), not at a fixed moment that a
        # slow interpreter start on a loaded machine could come after.
        waiting = subprocess.Popen([sys.executable, *command(spec)[1:]], stdout=subprocess.PIPE, text=True,
                                   env={"PATH": "/usr/bin:/bin"})
        first = waiting.stdout.readline()
        registry.register("demo-hello")
        rest = waiting.communicate(timeout=30)[0]
    finally:
        registry.die()
    assert waiting.returncode == 0 and "listed as unhealthy" in first and "listed as healthy" in rest, first + rest


@pytest.fixture()
def kube_api(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], tuple[_Server, dict[str, str]]]]:
    """A fake API server over TLS, and the environment a pod's init container would have."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make a certificate for the fake API server")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "ca.crt")], check=True, capture_output=True)
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "namespace").write_text("shop\n")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "ca.crt", tmp_path / "key.pem")
    servers: list[_Server] = []

    def start(objects: dict[str, Any]) -> tuple[_Server, dict[str, str]]:
        def answer(path: str, headers: Any) -> tuple[int, Any]:
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {}
            return (200, objects[path]) if path in objects else (404, {})

        server = _Server(answer, context)
        servers.append(server)
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(server.port),
               "MESH_COMPOSE_API_DIR": str(tmp_path)}
        return server, env

    yield start
    for server in servers:
        server.close()


JOB = "/apis/batch/v1/namespaces/shop/jobs/migrate"


def _job(condition: str) -> dict[str, Any]:
    return {"status": {"conditions": [{"type": condition, "status": "True"}]}}


def test_job_wait_reads_the_job_through_the_api_until_it_completes(kube_api) -> None:
    server, env = kube_api({JOB: _job("Complete")})
    out = _run({"kind": "job", "name": "migrate", "required": True, "what": "migrate (completed_successfully)"}, env)
    assert out.returncode == 0 and "completed" in out.stdout, out.stdout
    assert server.requests == [JOB]


def test_a_failed_required_job_fails_the_wait_and_an_optional_one_does_not(kube_api) -> None:
    _, env = kube_api({JOB: _job("Failed")})
    required = _run({"kind": "job", "name": "migrate", "required": True, "what": "migrate"}, env)
    assert required.returncode == 1 and "migrate failed: not starting" in required.stdout
    optional = _run({"kind": "job", "name": "migrate", "required": False, "what": "migrate"}, env)
    assert optional.returncode == 0 and "failed, but not required" in optional.stdout


def test_deployment_wait_needs_an_available_replica(kube_api) -> None:
    path = "/apis/apps/v1/namespaces/shop/deployments/api"
    _, env = kube_api({path: {"status": {"availableReplicas": 0}}})
    assert _run({"kind": "deployment", "name": "api", "what": "api", "once": True}, env).returncode == 1
    _, env = kube_api({path: {"status": {"availableReplicas": 1}}})
    assert _run({"kind": "deployment", "name": "api", "what": "api"}, env).returncode == 0

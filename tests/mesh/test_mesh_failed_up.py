"""On the real stack: a failed `up -d` (the registry port is taken
by something that is not a registry) exits 1 with the reason and leaves no
supervisor running."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mesh_helpers import alive, free_port, recorded, wait_until

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(240)]


class NotARegistry(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


def test_a_failed_up_d_leaves_no_supervisor(example):
    project, cli = example
    port = free_port()
    squatter = ThreadingHTTPServer(("127.0.0.1", port), NotARegistry)
    threading.Thread(target=squatter.serve_forever, daemon=True).start()
    try:
        up = cli("up", "-d", "--registry-url", f"http://127.0.0.1:{port}", "--wait-timeout", "100")
    finally:
        squatter.shutdown()
        squatter.server_close()
    assert up.returncode == 1, up.stdout + up.stderr
    assert "mesh-registry" in up.stderr + up.stdout  # the reason names what failed
    assert "Traceback" not in up.stderr
    doc = recorded(project)
    supervisor = doc["supervisor"]
    if supervisor is not None:
        wait_until(lambda: not alive(supervisor["pid"]), 5, "the supervisor to be gone")
    assert not any(record.get("pid") and alive(record["pid"]) for record in doc["agents"].values())
    assert "no agents running" in cli("ps").stdout + cli("ps").stderr or cli("ps").returncode != 0

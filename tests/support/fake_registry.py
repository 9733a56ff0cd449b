"""A small stand-in for mcp-mesh-registry: a loopback HTTP server in a thread.

It answers `GET /health` and `GET /agents` in the real registry's shapes
(see meshcompose/registry_client.py), and can be told to register agents
later, mark them unhealthy, stall (accept but never answer), answer garbage,
or die (close its socket).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _rfc3339(moment: float) -> str:
    """The real registry's format: UTC, sub-second digits, `Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f"{moment % 1:.6f}"[1:] + "Z"


FRAMEWORK_CAPABILITY = {"name": "__mesh_job_status", "tags": ["mesh-jobs", "framework"], "available": True}


class FakeRegistry:
    def __init__(self, port: int = 0) -> None:
        self.agents: dict[str, dict[str, Any]] = {}
        self.stall_seconds = 0.0  # > 0: sleep this long before answering
        self.broken = False  # answer 200 with a body that is not JSON
        self.health_status = "healthy"
        self.requests: list[str] = []
        self._second_steps: dict[str, list[dict[str, Any]]] = {}  # agent id -> its dependencies
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @classmethod
    def on_port(cls, port: int) -> FakeRegistry:
        """A registry on a given port, e.g. one that comes back after dying."""
        return cls(port)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeRegistry:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def die(self) -> None:
        """Stop answering and close the listening socket: connections are refused."""
        self._server.shutdown()
        self._server.server_close()

    def register(self, agent_id: str, status: str = "healthy", capabilities: int = 1,
                 last_seen: float | None = None) -> None:
        """`last_seen` (epoch, default now) is when the registry last heard from it."""
        caps = [{"name": f"cap{i}", "tags": [], "available": True} for i in range(capabilities)]
        with self._lock:
            self.agents[agent_id] = {
                "id": agent_id, "name": agent_id, "status": status,
                "capabilities": caps + [FRAMEWORK_CAPABILITY],
                "endpoint": "http://127.0.0.1:1", "dependencies_resolved": 0, "total_dependencies": 0,
                "last_seen": _rfc3339(time.time() if last_seen is None else last_seen),
            }

    def register_in_two_steps(self, agent_id: str, resolutions: list[dict[str, Any]]) -> None:
        """As the real registry stores a registration: the next `/agents`
        answer lists the agent with no dependencies, the ones after it with
        `resolutions`."""
        self.register(agent_id)
        with self._lock:
            self._second_steps[agent_id] = resolutions

    def register_later(self, delay: float, agent_id: str, status: str = "healthy") -> threading.Timer:
        timer = threading.Timer(delay, self.register, args=(agent_id, status))
        timer.daemon = True
        timer.start()
        return timer

    def _body(self, path: str) -> dict[str, Any] | None:
        now = _rfc3339(time.time())
        if path == "/health":
            return {"service": "mcp-mesh-registry", "status": self.health_status, "timestamp": now}
        if path == "/agents":
            with self._lock:
                listed = [dict(a) for a in self.agents.values()]
                for agent_id, resolutions in self._second_steps.items():
                    self.agents[agent_id].update(dependency_resolutions=resolutions,
                                                 total_dependencies=len(resolutions))
                self._second_steps.clear()
            # The real registry says null, not [], when nothing ever registered.
            return {"agents": listed or None, "count": len(listed), "timestamp": now}
        return None

    def _handler_class(self) -> type:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake.requests.append(self.path)
                if fake.stall_seconds:
                    time.sleep(fake.stall_seconds)
                body = fake._body(self.path)
                if body is None:
                    self.send_error(404)
                    return
                data = b"<html>oops" if fake.broken else json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

"""A managed registry's access log of routine requests (mesh-compose's polls,
the agents' heartbeats) stays out of the merged foreground stream, and in
its own log file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mesh_helpers import PROJECT, free_port, wait_until
from meshcompose.mesh import registry

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(240)]

POLLS_AND_HEARTBEATS = ('GET      "/health"', 'GET      "/agents"', 'POST     "/heartbeat"',
                        'HEAD     "/heartbeat/')


def test_polls_and_heartbeats_are_in_the_registry_log_not_the_merged_stream(example, mesh_stack):
    project, cli = example
    url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "PATH": f"{mesh_stack.registry_binary.parent}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(mesh_stack.python.parent.parent), "NO_COLOR": "1"}
    registry_log = project / ".mesh-compose" / PROJECT / "logs" / "mesh-registry.log"
    with open(project / "up.out", "w+b") as out:
        up = subprocess.Popen([sys.executable, "-m", "meshcompose", "up", "--registry-url", url], cwd=project,
                              env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            # Running long enough for every kind: the SDK's fast heartbeat (HEAD) comes ~5 s after it registered.
            wait_until(lambda: all(kind in _read(registry_log) for kind in POLLS_AND_HEARTBEATS), 150,
                       "polls and heartbeats in the registry's log file")
            wait_until(lambda: _healthy(url, "mcp-mesh-greeter"), 150, "greeter registered")  # it deregisters on stop
            time.sleep(1)  # the stream is flushed 50 ms after output stops; lines a filter missed would be there
        finally:
            up.send_signal(signal.SIGINT)
            assert up.wait(60) == 0
    merged = (project / "up.out").read_text(errors="replace")
    registry_lines = [line for line in merged.splitlines() if line.startswith("mesh-registry |")]
    assert not [line for line in registry_lines if any(kind in line for kind in POLLS_AND_HEARTBEATS)], merged
    # Its own log lines are still there, and requests that are not routine too.
    assert any("registered successfully" in line for line in registry_lines), merged
    assert any('DELETE   "/agents/mcp-mesh-greeter"' in line for line in registry_lines), merged  # deregistered

    logs = cli("logs", "mesh-registry")
    assert logs.returncode == 0, logs.stderr
    for kind in POLLS_AND_HEARTBEATS:
        assert kind in logs.stdout, f"{kind!r} not in `logs mesh-registry`:\n{logs.stdout}"


def _healthy(url: str, agent_id: str) -> bool:
    info = (registry.agents(url) or {}).get(agent_id)
    return info is not None and info.healthy


def _read(path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""

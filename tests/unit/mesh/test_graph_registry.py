"""`graph` shows the managed MCP Mesh registry as `up` would run it: a node
in the first wave that every agent depends on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

PROJECT = """
name: demo
registry: {command: auto}
agents:
  hello: {command: [sleep, "60"]}
  greeter:
    command: [sleep, "60"]
    depends_on: {hello: {condition: started}}
"""


def graph(directory: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # no registry binary needed: graph stays offline
    return subprocess.run([sys.executable, "-m", "meshcompose", "graph", *args], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=30)


def test_graph_shows_the_managed_registry_first_with_edges_to_every_agent(tmp_path):
    (tmp_path / "mesh-compose.yaml").write_text(PROJECT)
    shown = graph(tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = [line.strip() for line in shown.stdout.splitlines() if line.strip()]
    assert lines[1:3] == ["wave 1", "mesh-registry"]
    assert "hello          <- mesh-registry (healthy)" in lines
    assert "greeter        <- mesh-registry (healthy), hello (started)" in lines


def test_graph_without_a_managed_registry_has_no_registry_node(tmp_path):
    (tmp_path / "mesh-compose.yaml").write_text(PROJECT.replace("registry: {command: auto}\n", ""))
    shown = graph(tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "mesh-registry" not in shown.stdout

"""On the real stack: simple mode works like `meshctl start agent.py`.

`up -d hello.py` in a directory without a project file starts a registry when
none answers, and later `ps` and `down` there find the project without `-f`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mesh_helpers import EXAMPLE, free_port, wait_until
from meshcompose.mesh import registry

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(240)]


def test_up_hello_py_starts_a_registry_and_ps_down_find_it_without_f(tmp_path: Path, mesh_stack):
    shutil.copy(EXAMPLE / "hello.py", tmp_path / "hello.py")
    url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "PATH": f"{mesh_stack.registry_binary.parent}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(mesh_stack.python.parent.parent), "MCP_MESH_REGISTRY_URL": url}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=200, stdin=subprocess.DEVNULL)

    try:
        up = cli("up", "-d", "--wait-timeout", "150", "hello.py")
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"starting the MCP Mesh registry at {url}" in up.stderr
        agent_id = registry.agent_id("hello", "hello")  # a bare .py is a one-agent project named after it
        wait_until(lambda: registry.is_registered(url, agent_id), 60, "hello.py to register")

        ps = cli("ps", "--format", "json")  # no -f: the directory remembers its bare-file project
        assert ps.returncode == 0, ps.stderr
        rows = {row["Name"]: row for row in map(json.loads, ps.stdout.splitlines())}
        assert set(rows) == {"mesh-registry", "hello"} and rows["hello"]["Mesh"] == "registered"

        down = cli("down")
        assert down.returncode == 0, down.stderr
        wait_until(lambda: not registry.health(url), 15, "the managed registry to stop")
    finally:
        cli("down", "-f", "hello.py", "-t", "5")

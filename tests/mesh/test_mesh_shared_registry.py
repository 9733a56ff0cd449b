"""On the real stack: one project's `down` leaves its managed
registry running while another project's agents use it, says so, and
`down --registry` stops it anyway."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from mesh_helpers import EXAMPLE, free_port, ps_rows, wait_until
from meshcompose.mesh import registry

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(300)]


def test_down_keeps_a_managed_registry_other_projects_use(example, tmp_path, mesh_stack):
    project_a, cli_a = example
    project_b = tmp_path / "other"
    shutil.copytree(EXAMPLE, project_b, ignore=shutil.ignore_patterns(".mesh-compose"))
    compose_b = project_b / "mesh-compose.yaml"
    compose_b.write_text(compose_b.read_text().replace("name: mcp-mesh", "name: other"))
    env = {**os.environ, "PATH": f"{mesh_stack.registry_binary.parent}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(mesh_stack.python.parent.parent)}

    def cli_b(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "meshcompose", *args], cwd=project_b, env=env,
                              capture_output=True, text=True, timeout=200, stdin=subprocess.DEVNULL)

    url = f"http://127.0.0.1:{free_port()}"
    try:
        up_a = cli_a("up", "-d", "--registry-url", url, "--wait-timeout", "150")
        assert up_a.returncode == 0, up_a.stderr
        up_b = cli_b("up", "-d", "--registry-url", url, "--wait-timeout", "150")
        assert up_b.returncode == 0, up_b.stderr
        assert f"using the MCP Mesh registry already running at {url}" in up_b.stderr

        down_a = cli_a("down")
        assert down_a.returncode == 0, down_a.stderr
        assert "the MCP Mesh registry keeps running: other projects' agents use it" in down_a.stderr
        assert registry.agent_id("other", "hello") in down_a.stderr
        assert registry.health(url)
        listed = registry.agents(url)
        assert listed[registry.agent_id("other", "greeter")].healthy  # B is unharmed
        assert not listed[registry.agent_id("mcp-mesh", "hello")].healthy  # A's agents did stop
        rows = ps_rows(cli_a)
        assert set(rows) == {"mesh-registry"}

        forced = cli_a("down", "--registry")
        assert forced.returncode == 0, forced.stderr
        wait_until(lambda: not registry.health(url), 15, "the registry to stop")
    finally:
        cli_b("down", "-t", "5")

"""The probes `export kubernetes` writes for an MCP Mesh agent, asked of a real
running SDK agent: every path answers 200 on the port the agent listens on,
for the SDK the project pins and for the newest one. The registry's probes
are asked of the real registry.

The exported probes point at the port the exported MCP_MESH_HTTP_PORT names;
here the agent gets a free loopback port instead (8080 may be taken), and the
paths are asked there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from export_projects import documents, export

from mesh_helpers import EXAMPLE, PROJECT, free_port, wait_until
from meshcompose.mesh import registry
from meshcompose.model import Agent, RunKind

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(600)]

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def _exported_probes(agent: str) -> tuple[int, dict[str, str]]:
    """The port the exported agent listens on (MCP_MESH_HTTP_PORT) and each probe's path, checked to use it."""
    docs = documents(export("mcp-mesh"))
    env = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == f"{agent}-env")["data"]
    deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == agent)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port = int(env["MCP_MESH_HTTP_PORT"])
    paths = {}
    for probe in PROBES:
        assert container[probe]["httpGet"]["port"] == port, probe
        paths[probe] = container[probe]["httpGet"]["path"]
    return port, paths


def _registry_probes() -> dict[str, str]:
    docs = documents(export("mcp-mesh"))
    deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "mesh-registry")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {probe: container[probe]["httpGet"]["path"] for probe in PROBES if probe in container}


def _status(url: str) -> int | str:
    """The HTTP status, or why there was none (a loaded machine can take seconds to answer)."""
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError as error:
        return type(error).__name__


def test_the_export_probes_the_example_agents_on_the_sdk_endpoints() -> None:
    _, hello = _exported_probes("hello")
    _, greeter = _exported_probes("greeter")
    assert hello == greeter == {"startupProbe": "/startupz", "livenessProbe": "/livez", "readinessProbe": "/ready"}


@pytest.mark.every_sdk
def test_every_exported_probe_path_answers_200_on_a_running_sdk_agent(driver, mesh_stack, tmp_path: Path) -> None:
    _, paths = _exported_probes("hello")
    driver.start_registry()
    for probe, path in _registry_probes().items():
        assert _status(driver.url + path) == 200, f"the registry's {probe} {path}"
    script = tmp_path / "hello.py"
    shutil.copy(EXAMPLE / "hello.py", script)
    port = free_port()
    agent = Agent(name="hello", run=RunKind.SCRIPT, target=str(script), working_dir=tmp_path)
    env = {**os.environ, **registry.agent_environment(PROJECT, agent, driver.url),
           "MCP_MESH_HTTP_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "hello.log"
    with open(log, "wb") as sink:
        popen = subprocess.Popen([str(mesh_stack.python), "-u", str(script)], env=env, cwd=tmp_path, stdout=sink,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for probe, path in paths.items():
            url = f"http://127.0.0.1:{port}{path}"
            seen: list[int | str] = []

            def answered(url: str = url, seen: list = seen) -> bool:
                seen.append(_status(url))
                return seen[-1] == 200 or popen.poll() is not None

            try:
                wait_until(answered, 180, f"{probe} {url}", interval=0.5)
            except AssertionError:
                pytest.fail(f"{probe} {url} answered {sorted(set(map(str, seen)))}, never 200; the agent's log:\n"
                            + "\n".join(line for line in log.read_text().splitlines()[-200:]
                                         if "INCOMING_HEADERS" not in line))
            assert popen.poll() is None, f"the agent exited ({popen.returncode}):\n{log.read_text()[-3000:]}"
            assert _status(url) == 200, probe
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(5)

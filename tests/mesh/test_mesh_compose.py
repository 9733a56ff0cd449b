"""The real MCP Mesh stack driven through the real CLI: `up -d`, `ps`, `down`
on the example project, with a managed registry and with a reused one."""

from __future__ import annotations

from datetime import datetime

import pytest

from mesh_helpers import GREETER_ID, HELLO_ID, PROJECT, alive, free_port, ps_rows, raw_agents, recorded, wait_until
from meshcompose.mesh import registry

pytestmark = [pytest.mark.mesh, pytest.mark.every_sdk, pytest.mark.timeout(240)]



def test_managed_registry_ordered_registration_ps_and_down(example):
    project, cli = example
    url = f"http://127.0.0.1:{free_port()}"
    up = cli("up", "-d", "--registry-url", url, "--wait-timeout", "150")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "starting the MCP Mesh registry" in up.stderr

    listed = registry.agents(url)
    assert listed[HELLO_ID].healthy and listed[GREETER_ID].healthy
    # greeter (condition: registered) started only after hello had registered.
    hello_registered = datetime.fromisoformat(raw_agents(url)[HELLO_ID]["created_at"].replace("Z", "+00:00"))
    greeter_started = recorded(project)["agents"]["greeter"]["started_at"]
    assert greeter_started >= hello_registered.timestamp()

    rows = ps_rows(cli)
    assert rows["hello"]["Mesh"] == "registered" and rows["hello"]["Capabilities"] == 1
    assert rows["greeter"]["Mesh"] == "registered" and rows["greeter"]["Status"] == "running (healthy)"
    assert rows["mesh-registry"]["Mesh"] is None  # the registry itself is not an agent of the mesh
    table = cli("ps").stdout
    assert "MESH" in table.splitlines()[0] and "registered" in table

    pids = [row["Pid"] for row in rows.values()]
    down = cli("down")
    assert down.returncode == 0, down.stdout + down.stderr
    wait_until(lambda: not any(alive(pid) for pid in pids), 15, "every process to be gone")
    assert not registry.health(url)  # the managed registry stopped last


def test_a_running_registry_is_reused_and_agents_deregister_on_down(example, driver):
    project, cli = example
    driver.start_registry()  # someone else's registry, already answering
    up = cli("up", "-d", "--registry-url", driver.url, "--wait-timeout", "150")
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"using the MCP Mesh registry already running at {driver.url}" in up.stderr
    assert "mesh-registry" not in recorded(project)["agents"]  # not started twice
    assert registry.agents(driver.url)[GREETER_ID].healthy

    assert cli("down").returncode == 0
    assert registry.health(driver.url)  # not ours to stop
    after = registry.agents(driver.url)
    assert {HELLO_ID, GREETER_ID} <= set(after)
    assert not any(info.healthy for info in after.values())  # deregistered on SIGTERM
    rows = ps_rows(cli, "-a")
    assert {rows[name]["Mesh"] for name in ("hello", "greeter")} == {"unhealthy"}
    driver.down()


def test_up_says_so_before_starting_anything_when_no_registry_can_be_had(example):
    project, cli = example
    (project / "mesh-compose.yaml").write_text(
        (project / "mesh-compose.yaml").read_text().replace("command: auto", ""))
    url = f"http://127.0.0.1:{free_port()}"
    up = cli("up", "--registry-url", url)
    assert up.returncode == 1
    assert f"no MCP Mesh registry answers at {url}" in up.stderr
    assert "Traceback" not in up.stderr
    assert not (project / ".mesh-compose" / PROJECT / "state.json").exists()


def test_simple_mode_runs_one_agent_file_connected_to_the_registry(example, driver):
    project, cli = example
    driver.start_registry()
    up = cli("up", "-d", "--registry-url", driver.url, "--wait-timeout", "150", "hello.py")
    assert up.returncode == 0, up.stdout + up.stderr
    agent_id = registry.agent_id("hello", "hello")  # a bare .py is a one-agent project named after it
    wait_until(lambda: registry.is_registered(driver.url, agent_id), 60, "hello.py to register")
    assert cli("down", "-f", "hello.py").returncode == 0
    assert not registry.agents(driver.url)[agent_id].healthy
    driver.down()

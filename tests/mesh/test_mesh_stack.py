"""The real MCP Mesh stack: registry binary + SDK agents from examples/mcp-mesh.

The `driver` starts processes directly (see conftest.DirectDriver): it checks
the stack itself; test_mesh_compose.py drives the same example through the
real `mesh-compose up -d` / `ps` / `down`.
"""

from __future__ import annotations

import pytest

from mesh_helpers import EXAMPLE, PROJECT, alive, call_tool, listening_addresses, wait_until
from meshcompose.mesh import registry

pytestmark = [pytest.mark.mesh, pytest.mark.every_sdk, pytest.mark.timeout(120)]

HELLO_ID = registry.agent_id(PROJECT, "hello")
GREETER_ID = registry.agent_id(PROJECT, "greeter")


def test_a_fresh_registry_is_healthy_and_lists_nothing(driver):
    proc = driver.start_registry()
    assert registry.health(driver.url)
    assert registry.agents(driver.url) == {}  # the registry's "agents": null
    assert listening_addresses(proc.pid) == {"127.0.0.1"}
    assert driver.stop(proc) == 0
    assert (driver.workdir / ".mesh-compose" / registry.DATABASE_FILE).exists()
    assert not registry.health(driver.url)


def test_example_mesh_registers_resolves_and_deregisters(driver):
    driver.start_registry()
    hello = driver.start_agent("hello", EXAMPLE / "hello.py")
    wait_until(lambda: registry.is_registered(driver.url, HELLO_ID), 60, "hello to register")
    # The dependent starts only now, as `condition: registered` would have it.
    greeter = driver.start_agent("greeter", EXAMPLE / "greeter.py")
    wait_until(lambda: registry.is_registered(driver.url, GREETER_ID), 60, "greeter to register")

    listed = registry.agents(driver.url)
    assert listed[HELLO_ID].healthy and listed[GREETER_ID].healthy
    assert (listed[HELLO_ID].name, listed[HELLO_ID].capabilities) == ("hello", 1)  # `greeting`
    resolved = wait_until(
        lambda: registry.agents(driver.url)[GREETER_ID].dependencies_resolved == 1, 30,
        "greeter's `greeting` dependency to resolve")
    assert resolved
    assert call_tool(listed[GREETER_ID].endpoint, "welcome", {"name": "Ada"}) == "Hello, Ada! Welcome aboard."

    # Injected HOST/MCP_MESH_HTTP_HOST keep a development mesh off other interfaces.
    for agent in (hello, greeter):
        assert listening_addresses(agent.pid) == {"127.0.0.1"}, agent.name
        assert listed[HELLO_ID if agent is hello else GREETER_ID].endpoint.startswith("http://127.0.0.1:")

    for agent in (greeter, hello):  # dependents first
        driver.stop(agent)
        assert not alive(agent.pid)
    after = registry.agents(driver.url)
    assert set(after) == {HELLO_ID, GREETER_ID}  # deregistered agents stay listed...
    assert not any(info.healthy for info in after.values())  # ...but none is healthy
    driver.down()
    assert not any(alive(p.pid) for p in driver.started)


def test_a_registered_condition_waits_for_the_real_agent(driver):
    import anyio

    driver.start_registry()
    with pytest.raises(registry.NotRegisteredError, match="not listed"):
        anyio.run(lambda: registry.wait_registered(driver.url, HELLO_ID, interval=0.2, timeout=1))
    hello = driver.start_agent("hello", EXAMPLE / "hello.py")
    anyio.run(lambda: registry.wait_registered(driver.url, HELLO_ID, interval=0.2, timeout=60))
    driver.stop(hello)
    assert registry.agents(driver.url)[HELLO_ID].status == "unhealthy"
    driver.down()

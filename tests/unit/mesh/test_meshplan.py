from __future__ import annotations

from pathlib import Path

import pytest

from meshcompose.errors import ConfigError, RegistryError
from meshcompose.mesh import meshplan
from meshcompose.model import (
    Agent,
    Condition,
    DependsOn,
    Healthcheck,
    HealthKind,
    Project,
    PythonRequirements,
    Registry,
    RunKind,
)

URL = "http://127.0.0.1:9"


def agent(name="a", **kw) -> Agent:
    return Agent(name=name, run=kw.pop("run", RunKind.SCRIPT), target="/x.py", **kw)


def project(*agents: Agent, registry: Registry = Registry()) -> Project:
    return Project("demo", Path("/p"), (), {a.name: a for a in agents}, registry=registry)


def test_which_agents_need_a_registry():
    assert not meshplan.needs_registry(agent())  # a plain Python agent runs without one
    assert meshplan.needs_registry(agent(python=PythonRequirements(packages=("mcp-mesh>=3",))))
    assert meshplan.needs_registry(agent(python=PythonRequirements(packages=("MCP_Mesh",))))
    assert not meshplan.needs_registry(agent(python=PythonRequirements(packages=("mcp-mesh-tools",))))
    assert meshplan.needs_registry(agent(depends_on=(DependsOn("b", Condition.REGISTERED),)))
    assert not meshplan.needs_registry(agent(depends_on=(DependsOn("b", Condition.HEALTHY),)))
    assert meshplan.needs_registry(agent(healthcheck=Healthcheck(HealthKind.REGISTRY)))


def test_plan_without_need_asks_nothing():
    def never(url):
        raise AssertionError("must not probe the registry")

    mesh = meshplan.plan(project(agent()), ["a"], url=URL, health=never)
    assert not (mesh.needed or mesh.reused or mesh.managed)


def test_plan_reuses_a_running_registry_even_when_it_could_start_one():
    proj = project(agent(healthcheck=Healthcheck(HealthKind.REGISTRY)), registry=Registry(command=("auto",)))
    mesh = meshplan.plan(proj, ["a"], url=URL, health=lambda url: True)
    assert mesh.reused and not mesh.managed
    assert meshplan.with_managed_registry(proj, ["a"], mesh)[1] == ["a"]


def test_plan_starts_a_managed_registry_when_nothing_answers():
    proj = project(agent(), registry=Registry(command=("auto",)))
    mesh = meshplan.plan(proj, ["a"], url=URL, health=lambda url: False)
    assert mesh.managed


def test_plan_says_exactly_what_is_missing():
    proj = project(agent(depends_on=(DependsOn("b", Condition.REGISTERED),)))
    with pytest.raises(RegistryError) as caught:
        meshplan.plan(proj, ["a"], url=URL, health=lambda url: False)
    assert f"no MCP Mesh registry answers at {URL}" in caught.value.message
    assert "mcp-mesh-registry" in caught.value.hint


def test_managed_registry_becomes_the_first_agent_everyone_depends_on(tmp_path):
    proj = Project("demo", tmp_path, (), {"a": agent(), "b": agent("b", depends_on=(DependsOn("a"),))},
                   registry=Registry(command=("auto",)))
    mesh = meshplan.MeshPlan(URL, needed=True, reused=False, managed=True)
    new, selected = meshplan.with_managed_registry(proj, ["b"], mesh, which=lambda name: f"/bin/{name}")
    assert selected == ["mesh-registry", "b"]
    service = new.agents["mesh-registry"]
    assert service.command == ("/bin/mcp-mesh-registry", "--host", "127.0.0.1", "--port", "9")
    assert service.environment["DATABASE_URL"] == str(tmp_path / ".mesh-compose" / "demo" / "registry.db")
    assert service.healthcheck.target == f"{URL}/health"
    assert new.agents["b"].depends_on[0] == DependsOn("mesh-registry", Condition.HEALTHY)
    assert DependsOn("a") in new.agents["b"].depends_on


def test_the_registry_agent_name_is_reserved():
    proj = project(agent("mesh-registry"), registry=Registry(command=("auto",)))
    mesh = meshplan.MeshPlan(URL, needed=True, reused=False, managed=True)
    with pytest.raises(ConfigError):
        meshplan.with_managed_registry(proj, ["mesh-registry"], mesh, which=lambda name: "/bin/x")


def test_agents_get_registry_settings_but_the_registry_does_not():
    proj = project(agent("a"), agent("mesh-registry", run=RunKind.COMMAND))
    envs = meshplan.agent_environments(proj, ["mesh-registry", "a"], URL, "DEBUG")
    assert list(envs) == ["a"]
    assert envs["a"]["MCP_MESH_REGISTRY_URL"] == URL and envs["a"]["MCP_MESH_LOG_LEVEL"] == "DEBUG"
    assert envs["a"]["MCP_MESH_AGENT_ID"] == "demo-a"


def test_a_managed_registry_starts_from_an_empty_database(tmp_path):
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"registry.db{suffix}").write_bytes(b"x" * 1000)
    (tmp_path / "state.json").write_text("{}")
    meshplan.discard_database(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    meshplan.discard_database(tmp_path)  # nothing there: fine


@pytest.mark.parametrize(("own", "effective", "mesh", "asked"), [
    ({}, {"HOST": "127.0.0.1", "MCP_MESH_HTTP_HOST": "127.0.0.1"}, True, "127.0.0.1"),  # mesh-compose's default
    ({}, {"HOST": "127.0.0.1"}, False, None),  # the same default in a run without MCP Mesh: no request
    ({"HOST": "0.0.0.0"}, {"HOST": "0.0.0.0", "MCP_MESH_HTTP_HOST": "127.0.0.1"}, True, "0.0.0.0"),  # HOST wins
    ({"HOST": "::1"}, {"HOST": "::1"}, False, "::1"),  # the agent's own environment asks
    ({"MCP_MESH_HTTP_HOST": "localhost"}, {"MCP_MESH_HTTP_HOST": "localhost"}, False, "localhost"),
    ({}, {}, True, None),
])
def test_the_host_the_project_asked_an_agent_to_listen_on(own, effective, mesh, asked):
    assert meshplan.requested_host(agent(environment=own), effective, mesh=mesh) == asked

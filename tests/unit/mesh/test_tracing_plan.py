"""The tracing decision: off, an existing Redis, or a private one as an agent."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from meshcompose import model
from meshcompose.errors import ConfigError, MeshComposeError
from meshcompose.mesh import tracing


def project(tmp_path: Path, **agents: model.Agent) -> model.Project:
    agents = agents or {"api": model.Agent(name="api", run=model.RunKind.SCRIPT, target=str(tmp_path / "api.py"))}
    return model.Project(name="p", directory=tmp_path, files=(tmp_path / "mesh-compose.yaml",), agents=agents,
                         tracing=model.Tracing(enabled=True))


def test_off_by_default_and_an_existing_redis_is_used_as_given():
    assert tracing.plan(model.Tracing()) == tracing.OFF
    given = tracing.plan(model.Tracing(enabled=True, redis="redis://127.0.0.1:6379/2"), which=lambda _: None)
    assert given == tracing.TracingPlan("redis://127.0.0.1:6379/2", managed=False)


def test_a_missing_redis_server_is_a_clear_error_that_says_how_to_install_it():
    with pytest.raises(MeshComposeError, match="`tracing: true` needs redis-server on PATH") as raised:
        tracing.plan(model.Tracing(enabled=True), which=lambda _: None)
    assert "apt-get install redis-server" in (raised.value.hint or "")


def test_the_managed_redis_is_private_and_every_agent_waits_for_it(tmp_path: Path):
    planned = tracing.plan(model.Tracing(enabled=True), which=lambda _: "/usr/bin/redis-server",
                           free_port=lambda: 41234)
    password = planned.password
    assert planned.managed and planned.url == f"redis://:{password}@127.0.0.1:41234/0" and len(password or "") == 32
    with_redis, selected = tracing.with_managed_redis(project(tmp_path), ["api"], planned,
                                                      which=lambda _: "/usr/bin/redis-server")
    assert selected == ["mesh-redis", "api"]
    service = with_redis.agents["mesh-redis"]
    config = Path(service.command[1])
    assert service.command[0] == "/usr/bin/redis-server" and config.parent == with_redis.state_dir
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    text = config.read_text()
    for line in ("bind 127.0.0.1", "port 41234", f"requirepass {password}", 'save ""', "appendonly no"):
        assert line in text.splitlines()
    assert password not in " ".join(service.command)  # never on a command line others can read
    assert service.healthcheck == model.Healthcheck(model.HealthKind.TCP, target="127.0.0.1:41234", interval=10.0,
                                                    start_interval=0.1, timeout=2.0, retries=3)
    assert with_redis.agents["api"].depends_on[0] == model.DependsOn("mesh-redis", model.Condition.HEALTHY)


def test_the_agent_name_is_reserved(tmp_path: Path):
    taken = project(tmp_path, **{"mesh-redis": model.Agent(name="mesh-redis", run=model.RunKind.COMMAND,
                                                           command=("true",))})
    planned = tracing.TracingPlan("redis://:x@127.0.0.1:1/0", managed=True, port=1, password="x")
    with pytest.raises(ConfigError, match="'mesh-redis' is reserved"):
        tracing.with_managed_redis(taken, ["mesh-redis"], planned)


def test_agents_get_the_sdk_variables_unless_they_set_them(tmp_path: Path):
    planned = tracing.TracingPlan("redis://127.0.0.1:6379/0")
    plain = model.Agent(name="api", run=model.RunKind.SCRIPT, target=str(tmp_path / "api.py"))
    assert tracing.agent_environment(plain, planned) == {"MCP_MESH_DISTRIBUTED_TRACING_ENABLED": "true",
                                                         "REDIS_URL": "redis://127.0.0.1:6379/0"}
    own = model.Agent(name="api", run=model.RunKind.SCRIPT, target=str(tmp_path / "api.py"),
                      environment={"REDIS_URL": "redis://elsewhere"})
    assert tracing.agent_environment(own, planned) == {"MCP_MESH_DISTRIBUTED_TRACING_ENABLED": "true"}
    redis_itself = model.Agent(name="mesh-redis", run=model.RunKind.COMMAND, command=("redis-server",))
    assert tracing.agent_environment(redis_itself, planned) == {}
    assert tracing.agent_environment(plain, tracing.OFF) == {}

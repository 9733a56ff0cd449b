"""Distributed tracing of MCP Mesh calls: where spans go, and the Redis that
mesh-compose runs for them.

SDK agents publish one span per traced call to the Redis stream `mesh:trace`
when MCP_MESH_DISTRIBUTED_TRACING_ENABLED is true, at REDIS_URL; the registry
reads the same two variables and consumes the stream with a group of its own.
With `tracing: true`, the Redis is one more agent (`mesh-redis`), as the
managed registry is: every other agent depends on it being healthy, so it
starts first and stops last. It listens on loopback at a free port, keeps
nothing on disk, and requires a random password: another local user can
reach 127.0.0.1, so the password is in a 0600 config file and in the agents'
environments, never on a command line.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

from meshcompose import model
from meshcompose.errors import ConfigError, MeshComposeError
from meshcompose.privatefiles import private_dir, write_atomic

REDIS_AGENT = "mesh-redis"
REDIS_BINARY = "redis-server"
STREAM = "mesh:trace"  # the SDK's stream name (mcp_mesh_core)
CONFIG_FILE = "redis.conf"
INSTALL_HINT = ("install Redis (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`), "
                "or point `tracing: {redis: URL}` at a Redis you run")
ENABLED_VARIABLE = "MCP_MESH_DISTRIBUTED_TRACING_ENABLED"
URL_VARIABLE = "REDIS_URL"
_LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class TracingPlan:
    url: str | None  # where spans go; None: tracing is off
    managed: bool = False  # mesh-compose runs the Redis at `url`
    port: int | None = None  # the managed Redis's port
    password: str | None = None  # the managed Redis's password


OFF = TracingPlan(None)


def published(url: str | None) -> TracingPlan:
    """The tracing of a run from the URL it recorded: agents started later publish there too."""
    return TracingPlan(url) if url else OFF


def plan(tracing: model.Tracing, *, which: Callable[[str], str | None] = shutil.which,
         free_port: Callable[[], int] | None = None) -> TracingPlan:
    """Decides before anything starts; MeshComposeError when a managed Redis
    is wanted but `redis-server` is not on PATH."""
    if not tracing.enabled:
        return OFF
    if tracing.redis:
        return TracingPlan(tracing.redis)
    if which(REDIS_BINARY) is None:
        raise MeshComposeError(f"`tracing: true` needs {REDIS_BINARY} on PATH, and it is not there",
                               hint=INSTALL_HINT)
    port = (free_port or _free_port)()
    password = secrets.token_hex(16)
    return TracingPlan(f"redis://:{password}@{_LOOPBACK}:{port}/0", managed=True, port=port, password=password)


def with_managed_redis(project: model.Project, selected: Sequence[str], tracing: TracingPlan,
                       *, which: Callable[[str], str | None] = shutil.which) -> tuple[model.Project, list[str]]:
    """The project with the Redis agent added and depended on (healthy) by
    every other agent; the selection with the Redis first. Writes the Redis's
    0600 config into the project's state directory."""
    if not tracing.managed:
        return project, list(selected)
    if REDIS_AGENT in project.agents:
        raise ConfigError(f"the agent name '{REDIS_AGENT}' is reserved for the managed Redis of `tracing: true`",
                          hint="rename that agent, or set `tracing: {redis: URL}`")
    assert tracing.port is not None and tracing.password is not None
    config = private_dir(project.state_dir) / CONFIG_FILE
    write_atomic(config, redis_config(tracing.port, tracing.password))
    binary = which(REDIS_BINARY) or REDIS_BINARY
    service = model.Agent(
        name=REDIS_AGENT, run=model.RunKind.COMMAND, command=(binary, str(config)),
        working_dir=project.state_dir, stop_grace_period=5.0,
        healthcheck=model.Healthcheck(model.HealthKind.TCP, target=f"{_LOOPBACK}:{tracing.port}",
                                      interval=10.0, start_interval=0.1, timeout=2.0, retries=3),
    )
    needs_it = model.DependsOn(REDIS_AGENT, model.Condition.HEALTHY)
    agents: dict[str, model.Agent] = {REDIS_AGENT: service}
    for name, agent in project.agents.items():
        agents[name] = dataclasses.replace(agent, depends_on=(needs_it, *agent.depends_on))
    return dataclasses.replace(project, agents=agents), [REDIS_AGENT, *selected]


def redis_config(port: int, password: str) -> str:
    """Loopback only, a password, nothing on disk, nothing it may be told to
    write there (CONFIG and its friends renamed away)."""
    return "\n".join([
        f"bind {_LOOPBACK}",
        f"port {port}",
        "protected-mode yes",
        f"requirepass {password}",
        'save ""',
        "appendonly no",
        "daemonize no",
        "loglevel warning",
        'logfile ""',
        'rename-command CONFIG ""',
        'rename-command DEBUG ""',
        'rename-command MODULE ""',
        "",
    ])


def agent_environment(agent: model.Agent, tracing: TracingPlan) -> dict[str, str]:
    """The variables the SDK and the registry read; keys the agent sets itself are left out."""
    if tracing.url is None or agent.name == REDIS_AGENT:
        return {}
    wanted = {ENABLED_VARIABLE: "true", URL_VARIABLE: tracing.url}
    return {key: value for key, value in wanted.items() if key not in agent.environment}


def describe(tracing: TracingPlan) -> str | None:
    if tracing.managed:
        return f"starting Redis for traces on {_LOOPBACK}:{tracing.port}"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_LOOPBACK, 0))
        return int(probe.getsockname()[1])

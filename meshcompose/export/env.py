"""An agent's environment in Kubernetes: a ConfigMap, Secret references, wiring.

- Values written in the project file go into the agent's ConfigMap.
- A value that came from the caller's environment, `.env` or an `env_file`
  (config records this as `Agent.external`) is never written: the container
  reads that key from the agent's Secret, which is emitted as a stub that
  names the keys and holds no values.
- In a project that uses MCP Mesh (see `Context.with_registry`), the mesh
  wiring `up` gives every agent is kept, pointed at the cluster: the
  registry Service instead of loopback, `HOST=0.0.0.0` inside the pod, the
  agent's Service name (or, without a Service, its pod IP) as the address it
  announces, and for an SDK agent without a port of its own the port its
  Service exposes. A project without MCP Mesh gets none of it: no
  `MCP_MESH_*` variable and no `HOST` it did not ask for.
- A loopback URL to another agent's port becomes that agent's Service name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from meshcompose.export.context import REGISTRY, REGISTRY_PORT, Context
from meshcompose.mesh import registry
from meshcompose.model import Agent

_LOOPBACK = re.compile(r"(?P<host>127\.0\.0\.1|localhost|\[::1\]):(?P<port>\d+)")
_REGISTRY_KEYS = ("MCP_MESH_REGISTRY_URL", "MCP_MESH_REGISTRY_HOST", "MCP_MESH_REGISTRY_PORT")


@dataclass
class AgentEnv:
    config: dict[str, str] = field(default_factory=dict)  # ConfigMap data
    secret_keys: list[str] = field(default_factory=list)  # read from the agent's Secret
    pod_ip_keys: list[str] = field(default_factory=list)  # set from the downward API

    def container_env(self, secret_name: str) -> list[dict[str, Any]]:
        env: list[dict[str, Any]] = [
            {"name": key, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}
            for key in self.secret_keys
        ]
        env += [{"name": key, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}} for key in self.pod_ip_keys]
        return sorted(env, key=lambda entry: entry["name"])


def agent_env(agent: Agent, context: Context) -> AgentEnv:
    result = AgentEnv()
    where = f"agents.{agent.name}.environment"
    for key, value in agent.environment.items():
        if f"environment.{key}" in agent.external:
            result.secret_keys.append(key)
        else:
            result.config[key] = _to_services(f"{where}.{key}", value, agent, context)
    for key, value in _wiring(agent, context).items():
        _force(result, context, where, agent, key, value)
    # Each pod of a replicated agent announces its own address: a mesh agent per pod.
    if context.with_registry and (agent.name not in context.ports or agent.replicas > 1):
        result.config.pop("MCP_MESH_HTTP_HOST", None)
        result.pod_ip_keys.append("MCP_MESH_HTTP_HOST")
    result.secret_keys.sort()
    if result.secret_keys:
        context.warn(where, f"{', '.join(result.secret_keys)} came from your environment, .env or an env_file and "
                     f"are not exported: fill them into the Secret {context.names[agent.name]}-secrets")
    return result


def _wiring(agent: Agent, context: Context) -> dict[str, str]:
    """What `up` adds to every agent, re-pointed at the cluster (these win over the file)."""
    wanted: dict[str, str] = {}
    if context.with_registry:
        name = context.names[agent.name]
        wanted.update({"HOST": "0.0.0.0", "MCP_MESH_HTTP_HOST": context.host(name),
                       "MCP_MESH_REGISTRY_URL": context.registry_url,
                       "MCP_MESH_REGISTRY_HOST": context.host(REGISTRY),
                       "MCP_MESH_REGISTRY_PORT": str(REGISTRY_PORT)})
        if agent.name in context.assigned_ports:
            wanted["MCP_MESH_HTTP_PORT"] = str(context.ports[agent.name])
        defaults = registry.agent_environment(context.project.name, agent, context.registry_url)
        # Pods of one Deployment share their environment: without a fixed id, each registers as its own agent.
        for key in ("MCP_MESH_LOG_LEVEL",) if agent.replicas > 1 else ("MCP_MESH_LOG_LEVEL", "MCP_MESH_AGENT_ID"):
            if key in defaults:
                wanted[key] = defaults[key]
    wanted.update({"PYTHONUNBUFFERED": "1", "MESH_COMPOSE_PROJECT": context.project.name,
                   "MESH_COMPOSE_AGENT": agent.name})
    return wanted


_AGENT_WINS = ("MCP_MESH_LOG_LEVEL", "MCP_MESH_AGENT_ID")  # as locally: the agent's own value stays


def _force(result: AgentEnv, context: Context, where: str, agent: Agent, key: str, value: str) -> None:
    written = agent.environment.get(key)
    if written is not None and key in _AGENT_WINS:
        return
    if key in result.secret_keys:
        result.secret_keys.remove(key)
        context.warn(f"{where}.{key}", f"a value from your environment is replaced by {value!r} in the cluster")
    elif written is not None and written != value:
        context.warn(f"{where}.{key}", f"{written!r} is replaced by {value!r} in the cluster")
    result.config[key] = value


def _to_services(where: str, value: str, agent: Agent, context: Context) -> str:
    """`http://127.0.0.1:8765` -> `http://catalog-api:8765` when agent catalog-api serves 8765."""
    owners: dict[int, list[str]] = {}
    for name, port in context.ports.items():
        owners.setdefault(port, []).append(name)
    if context.with_registry:
        owners.setdefault(REGISTRY_PORT, []).append(REGISTRY)

    def replace(match: re.Match[str]) -> str:
        port = int(match.group("port"))
        found = [name for name in owners.get(port, []) if name != agent.name]
        if len(found) == 1:
            target = found[0]
            return f"{context.host(context.names.get(target, target))}:{port}"
        if agent.name not in owners.get(port, []):
            context.warn(where, f"points at {match.group(0)}, which no agent serves in the cluster "
                         "(inside a pod, loopback is the pod itself)")
        return match.group(0)

    return _LOOPBACK.sub(replace, value)

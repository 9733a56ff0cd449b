"""What every manifest of one export is built against: names, ports, kinds.

Decided once per export: which agents use the MCP Mesh SDK, which have a
port (and so a Service), which become Jobs (see `kinds`), whether the MCP
Mesh registry is part of the deployment, and the DNS names agents reach
each other by.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from meshcompose.export import kinds, names, sdk
from meshcompose.export.options import ExportOptions, Warn
from meshcompose.mesh import meshplan, registry
from meshcompose.model import Agent, HealthKind, Project

REGISTRY = meshplan.REGISTRY_AGENT  # the same name as the registry `up` manages
REGISTRY_PORT = 8000


@dataclass
class Context:
    project: Project
    options: ExportOptions
    warn: Warn = field(default_factory=Warn)
    names: dict[str, str] = field(default_factory=dict)  # agent -> object name
    ports: dict[str, int] = field(default_factory=dict)  # agent -> the port its Service exposes
    assigned_ports: set[str] = field(default_factory=set)  # agents whose port the export picks (MCP_MESH_HTTP_PORT)
    sdk_agents: dict[str, sdk.SdkUse] = field(default_factory=dict)  # agents that use the MCP Mesh SDK
    workload_kinds: dict[str, kinds.Decision] = field(default_factory=dict)  # agent -> Job or Deployment, and why
    jobs: set[str] = field(default_factory=set)  # agents that run once, as Jobs
    # The registry is deployed, and agents get the MCP Mesh wiring: the
    # project uses MCP Mesh (a registry, or an agent that uses the SDK).
    with_registry: bool = False

    @classmethod
    def build(cls, project: Project, options: ExportOptions) -> Context:
        context = cls(project, options, names=names.agent_names(project.agents, REGISTRY))
        for name, agent in project.agents.items():
            use = sdk.sdk_use(agent, own_image=context.image(agent) is not None)
            if use is not None:
                context.sdk_agents[name] = use
            port = service_port(agent)
            if port is None and use is not None:
                port = sdk.AGENT_PORT
                context.assigned_ports.add(name)
            if port:
                context.ports[name] = port
        context.workload_kinds = kinds.decide(project, context.ports, context.sdk_agents, context.warn)
        context.jobs = {name for name, decision in context.workload_kinds.items() if decision.kind is kinds.Kind.JOB}
        context.with_registry = uses_registry(project) or bool(context.sdk_agents)
        return context

    def host(self, object_name: str) -> str:
        """How pods reach a Service: its name, qualified when the namespace is known."""
        namespace = self.options.namespace
        return f"{object_name}.{namespace}.svc" if namespace else object_name

    @property
    def registry_url(self) -> str:
        return f"http://{self.host(REGISTRY)}:{REGISTRY_PORT}"

    def agent_id(self, agent: Agent) -> str:
        """The id the agent registers under: its own MCP_MESH_AGENT_ID, else the one `up` gives it."""
        return agent.environment.get("MCP_MESH_AGENT_ID") or registry.agent_id(self.project.name, agent.name)

    def image(self, agent: Agent) -> str | None:
        chosen = self.options.image_for(agent.name)
        return chosen or agent.extensions.get("x-kubernetes", {}).get("image")

    def labels(self, name: str, component: str = "agent") -> dict[str, str]:
        return names.labels(self.project.name, name, component)

    def selector(self, name: str) -> dict[str, str]:
        return names.selector(self.project.name, name)

    def metadata(self, name: str, owner: str | None = None, component: str = "agent") -> dict[str, object]:
        """Name, namespace and labels of an object; `owner` names the agent it belongs to."""
        metadata: dict[str, object] = {"name": name}
        if self.options.namespace:
            metadata["namespace"] = self.options.namespace
        metadata["labels"] = self.labels(owner or name, component)
        return metadata


def uses_registry(project: Project) -> bool:
    """As `up` decides: an agent needs it, or the project configures one (the SDK's users are added by the caller)."""
    configured = project.registry.managed or project.registry.url or project.registry.host or project.registry.port
    return bool(configured) or any(meshplan.needs_registry(agent) for agent in project.agents.values())


def service_port(agent: Agent) -> int | None:
    """MCP_MESH_HTTP_PORT when written in the file, else the healthcheck's port."""
    raw = agent.environment.get("MCP_MESH_HTTP_PORT", "")
    if raw.isdigit() and 0 < int(raw) < 65536 and "environment.MCP_MESH_HTTP_PORT" not in agent.external:
        return int(raw)
    return health_port(agent)


def health_port(agent: Agent) -> int | None:
    check = agent.healthcheck
    if check is None:
        return None
    if check.kind is HealthKind.HTTP:
        parsed = urllib.parse.urlsplit(check.target)
        return parsed.port or (443 if parsed.scheme == "https" else 80)
    if check.kind is HealthKind.TCP:
        return int(check.target.rpartition(":")[2])
    return None

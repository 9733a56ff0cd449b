"""Fitting the MCP Mesh registry into a run: which URL, whether it is needed,
whether to reuse a running one or start it as a managed service.

A managed registry becomes one more agent (`mesh-registry`, a command agent
with an HTTP healthcheck on /health) that every other agent depends on being
healthy, so ordering, logs, restarts and shutdown need nothing special.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from meshcompose import model
from meshcompose.errors import ConfigError, RegistryError
from meshcompose.mesh import registry

REGISTRY_AGENT = "mesh-registry"
MESH_PACKAGE = "mcp-mesh"
# Once up, the managed registry is probed this seldom: each probe is a line in its log.
REGISTRY_PROBE_INTERVAL = 10.0


@dataclass(frozen=True)
class MeshPlan:
    url: str
    needed: bool  # some selected agent cannot work without a registry
    reused: bool  # something already answers /health at `url`
    managed: bool  # mesh-compose starts the registry itself


def needs_registry(agent: model.Agent) -> bool:
    """Agents that wait on registration, are health-checked by it, or require
    the SDK. Other Python agents still get the registry settings, but a
    registry is not demanded for them (the standard-library demo runs alone)."""
    if agent.healthcheck is not None and agent.healthcheck.kind is model.HealthKind.REGISTRY:
        return True
    if any(dep.condition is model.Condition.REGISTERED for dep in agent.depends_on):
        return True
    return any(_requirement_name(req) == MESH_PACKAGE for req in agent.python.packages)


def _requirement_name(requirement: str) -> str:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return ""


def plan(
    project: model.Project,
    selected: Sequence[str],
    *,
    url: str,
    health: Callable[[str], bool] = registry.health,
) -> MeshPlan:
    """Decides before anything starts; raises RegistryError when a registry
    is needed but none answers and none can be started."""
    needed = any(needs_registry(project.agents[name]) for name in selected)
    if not needed and not project.registry.managed:
        return MeshPlan(url, needed=False, reused=False, managed=False)
    if health(url):
        return MeshPlan(url, needed=needed, reused=True, managed=False)
    if project.registry.managed:
        return MeshPlan(url, needed=needed, reused=False, managed=True)
    raise RegistryError(
        f"no MCP Mesh registry answers at {url}, and the project does not start one",
        hint="start a registry there, pass --registry-url, or add `registry: {command: auto}` "
             "to the project file; " + registry.INSTALL_HINT,
    )


@dataclass(frozen=True)
class RegistryDecision:
    """The one registry decision of a run: its URL, whether a running
    registry is reused or mesh-compose starts one, and the project and
    selection as they run (the managed registry first, every agent depending
    on it)."""

    mesh: MeshPlan
    project: model.Project
    selected: tuple[str, ...]

    @property
    def published_url(self) -> str | None:
        """The URL `ps` and agents started later are told, when the run involves a registry."""
        return self.mesh.url if self.mesh.needed or self.mesh.managed or self.mesh.reused else None

    def describe(self) -> str | None:
        return describe(self.mesh)


def decide(
    project: model.Project,
    selected: Sequence[str],
    *,
    url: str,
    health: Callable[[str], bool] = registry.health,
    which: Callable[[str], str | None] = shutil.which,
) -> RegistryDecision:
    """`plan` and `with_managed_registry` in one: decided before anything
    starts, and before anything is deleted (`discard_database` waits for the
    run to begin)."""
    mesh = plan(project, selected, url=url, health=health)
    project, chosen = with_managed_registry(project, selected, mesh, which=which)
    return RegistryDecision(mesh, project, tuple(chosen))


def with_managed_registry(
    project: model.Project,
    selected: Sequence[str],
    mesh: MeshPlan,
    *,
    which: Callable[[str], str | None] = shutil.which,
) -> tuple[model.Project, list[str]]:
    """The project with the registry agent added and depended on by every
    other agent; the selection with the registry first."""
    if not mesh.managed:
        return project, list(selected)
    if REGISTRY_AGENT in project.agents:
        raise ConfigError(f"the agent name '{REGISTRY_AGENT}' is reserved for the managed registry",
                          hint="rename that agent, or remove registry.command")
    command = registry.managed_command(project.registry, url=mesh.url, state_dir=project.state_dir, which=which)
    if command is None:  # unreachable: `plan` marks a run managed only when project.registry is
        return project, list(selected)
    argv, env = command
    service = model.Agent(
        name=REGISTRY_AGENT, run=model.RunKind.COMMAND, command=tuple(argv), working_dir=project.directory,
        environment=env, stop_grace_period=5.0,
        healthcheck=model.Healthcheck(model.HealthKind.HTTP, target=mesh.url.rstrip("/") + "/health",
                                      interval=REGISTRY_PROBE_INTERVAL, start_interval=0.25,
                                      timeout=2.0, retries=3),
    )
    needs_it = model.DependsOn(REGISTRY_AGENT, model.Condition.HEALTHY)
    agents: dict[str, model.Agent] = {REGISTRY_AGENT: service}
    for name, agent in project.agents.items():
        agents[name] = dataclasses.replace(agent, depends_on=(needs_it, *agent.depends_on))
    return dataclasses.replace(project, agents=agents), [REGISTRY_AGENT, *selected]


def discard_database(state_dir: Path) -> None:
    """A managed registry starts from an empty database: the old one holds only
    registrations of agents that are gone (stale "healthy" entries, see
    registry_client), and its WAL grows by ~0.4 MB a minute per agent. Only
    called for a run that starts its own registry (nothing answered at its
    URL, so no registry uses it), once the run is committed: a user who quits
    at the install prompt keeps the database."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        (state_dir / (registry.DATABASE_FILE + suffix)).unlink(missing_ok=True)


def agent_environments(project: model.Project, names: Sequence[str], url: str,
                       log_level: str) -> dict[str, Mapping[str, str]]:
    """Registry settings for every agent except the registry itself; an agent's own
    `log_level` wins over the run's."""
    return {name: registry.agent_environment(project.name, project.agents[name], url,
                                             project.agents[name].log_level or log_level)
            for name in names if name != REGISTRY_AGENT}


HOST_VARIABLES = ("HOST", "MCP_MESH_HTTP_HOST")


def requested_host(agent: model.Agent, environment: Mapping[str, str], *, mesh: bool) -> str | None:
    """The address the project asked `agent` to listen on, or None.

    Read from its effective `environment`: HOST (what SDK agents and the
    registry bind), else MCP_MESH_HTTP_HOST (what SDK agents announce). In a
    run that involves MCP Mesh (`mesh`) every agent was given loopback by
    `registry.agent_environment`; elsewhere that default is no request, and
    only a host set in the agent's own `environment:` is one.
    """
    if not mesh and not any(key in agent.environment for key in HOST_VARIABLES):
        return None
    return next((environment[key] for key in HOST_VARIABLES if environment.get(key)), None)


def describe(mesh: MeshPlan) -> str | None:
    if mesh.reused:
        return f"using the MCP Mesh registry already running at {mesh.url}"
    if mesh.managed:
        return f"starting the MCP Mesh registry at {mesh.url}"
    return None


def other_users(url: str | None, project_name: str, our_agents: Sequence[str]) -> list[str]:
    """Registry ids of agents from other projects listed healthy at `url`:
    a managed registry they use must outlive this project's `down`. An
    unreachable registry has no users worth keeping it for."""
    if not url:
        return []
    listed = registry.agents(url) or {}
    ours = {registry.agent_id(project_name, name) for name in our_agents}
    return sorted(agent_id for agent_id, info in listed.items() if info.healthy and agent_id not in ours)


_SDK_IMPORT = r"^\s*(import\s+mesh\b|from\s+mesh(\.|\s+import)\b)"


def simple_mode(project: model.Project, script: Path) -> model.Project:
    """A bare `agent.py` that imports the MCP Mesh SDK runs like `meshctl start
    agent.py`: a registry already answering is used, else one is started
    (`registry.command: auto`). A script without the SDK is left alone."""
    import re

    if project.registry.managed or project.registry.url:
        return project
    try:
        source = script.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return project
    if not re.search(_SDK_IMPORT, source, re.MULTILINE):
        return project
    return dataclasses.replace(project, registry=dataclasses.replace(project.registry, command=(registry.AUTO,)))

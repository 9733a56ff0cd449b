"""`mesh`: what each agent of a running project offers and resolved, beside what the file declares.

A client of the running project: it reads the state file (which agents run,
since when, which registry), the run plan (the declared `depends_on` with
their conditions) and one `GET /agents` of the registry. Nothing here runs
inside the supervisor. `mesh_facts` returns plain data, for the CLI and for
anything else that shows the mesh (a dashboard).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from meshcompose.app.live import known_names
from meshcompose.app.project import ProjectIdentity
from meshcompose.control import paths, state
from meshcompose.errors import MeshComposeError, RegistryError
from meshcompose.mesh import facts as mesh_facts_rules
from meshcompose.mesh import registry_client
from meshcompose.mesh.facts import REGISTRY_AGENT, Declared, Dependency, MeshAgent, MeshFacts, ProjectAgent

if TYPE_CHECKING:
    from meshcompose.model import Project

__all__ = ["Dependency", "LiveEdge", "LiveGraph", "MeshAgent", "MeshOptions", "MeshReport", "as_data",
           "live_graph", "mesh", "mesh_facts"]

REGISTRY_TIMEOUT = 2.0  # one read; a wedged registry must not hang the command
PLAN_LIMIT = 64 * 1024 * 1024  # the run plan is ours, but read bounded all the same



@dataclass(frozen=True)
class MeshOptions:
    names: tuple[str, ...] = ()  # only these agents (checked)
    all: bool = False  # the SDK's framework capabilities too


@dataclass(frozen=True)
class MeshReport:
    project: str
    registry_url: str
    facts: MeshFacts
    framework: bool  # whether framework capabilities are to be shown


class NoRegistryError(MeshComposeError):
    """The project's run uses no registry, so there is no mesh to show."""


def mesh(project: ProjectIdentity, options: MeshOptions, load: Callable[[], Project] | None = None) -> MeshReport:
    """`load` reads the project file: the declared conditions of a foreground run,
    which writes no run plan, come from there."""
    doc = state.StateStore(project.directory, project.name).read()
    if doc is None:
        raise NoRegistryError(f"project '{project.name}' has not run here",
                              hint="start it with `mesh-compose up -d`")
    url = doc.get("registry_url")
    if not url:
        raise NoRegistryError(f"project '{project.name}' does not use an MCP Mesh registry",
                              hint="agents join a mesh when the file has a `registry:` section "
                                   "or a `registered` condition")
    supervisor = doc.get("supervisor")
    # A detached supervisor runs the run plan; a foreground one writes none, so its
    # conditions come from the file (loading it costs ~0.3 s: only then).
    foreground = supervisor is not None and not supervisor.get("detached") and state.supervisor_alive(doc)
    declared = _declared_in_file(load) if foreground else _declared(project, doc)
    agents = project_agents(doc, declared)
    only = set(known_names(options.names, [agent.name for agent in agents]))
    snapshot = registry_client.snapshot(url, timeout=REGISTRY_TIMEOUT)
    if snapshot is None:
        raise RegistryError(f"the registry at {url} does not answer",
                            hint="`mesh-compose ps` shows whether the registry runs")
    facts = mesh_facts_rules.view(agents, snapshot, time.time())
    if only:  # judged over the whole project (a provider is named even when not asked for), shown for these
        facts = replace(facts, agents=tuple(a for a in facts.agents if a.name in only),
                        findings=tuple(f for f in facts.findings if f.agent in only or set(f.providers) & only))
    return MeshReport(doc["project"], url, facts, options.all)


def project_agents(doc: state.StateDoc, declared: Mapping[str, Sequence[Declared]]) -> list[ProjectAgent]:
    """The project's mesh agents from its state document (the managed registry left out)."""
    from meshcompose.app.live import alive
    from meshcompose.mesh.registry import agent_id

    out = []
    for name, record in doc["agents"].items():
        if name == REGISTRY_AGENT:
            continue
        started = record.get("started_at") if alive(record) else None
        entries = declared[name] if name in declared else tuple(
            Declared(provider, "") for provider in record.get("depends_on") or () if provider != REGISTRY_AGENT)
        out.append(ProjectAgent(name, agent_id(doc["project"], name), tuple(entries), started))
    return out


def _declared(project: ProjectIdentity, doc: state.StateDoc) -> dict[str, tuple[Declared, ...]]:
    """Each agent's `depends_on` with its condition, from the run plan the supervisor runs;
    {} when the plan cannot be read (the state file's names then stand, without conditions)."""
    path = paths.plan_file(project.directory, project.name)
    try:
        with open(path, "rb") as handle:
            document = json.loads(handle.read(PLAN_LIMIT))
        agents = document["plan"]["project"]["agents"]
        return {name: tuple(Declared(str(entry["name"]), str(entry.get("condition") or ""))
                            for entry in agent.get("depends_on") or () if entry.get("name") != REGISTRY_AGENT)
                for name, agent in agents.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _declared_in_file(load: Callable[[], Project] | None) -> dict[str, tuple[Declared, ...]]:
    """Each agent's `depends_on` as the project file says now; {} when it cannot be loaded."""
    if load is None:
        return {}
    try:
        loaded = load()
    except MeshComposeError:
        return {}
    return {name: tuple(Declared(d.name, d.condition.value) for d in agent.depends_on if d.name != REGISTRY_AGENT)
            for name, agent in loaded.agents.items()}


def mesh_facts(project: ProjectIdentity, names: Sequence[str] = (), show_all: bool = False,
               load: Callable[[], Project] | None = None) -> dict[str, Any]:
    """The mesh as plain data (JSON types): what `mesh --format json` prints."""
    return as_data(mesh(project, MeshOptions(tuple(names), show_all), load))


def as_data(report: MeshReport) -> dict[str, Any]:
    agents = []
    for agent in report.facts.agents:
        capabilities = [asdict(c) for c in agent.capabilities if report.framework or not c.framework]
        agents.append({
            "name": agent.name, "agent_id": agent.agent_id, "status": agent.status, "current": agent.current,
            "endpoint": agent.endpoint, "port": agent.port,
            "capabilities": [{key: (list(value) if key == "tags" else value) for key, value in item.items()
                              if key != "tool"} for item in capabilities],
            "tools": [{"name": c["tool"], "capability": c["name"], "description": c["description"]}
                      for c in capabilities],
            "dependencies": [{**asdict(d), "tags": list(d.tags)} for d in agent.dependencies],
            "resolved": agent.resolved, "total": len(agent.dependencies),
            "declared": [asdict(entry) for entry in agent.declared],
        })
    findings = [{"kind": f.kind, "agent": f.agent, "capability": f.capability, "text": f.text,
                 "providers": list(f.providers), "chosen": [list(pair) for pair in f.chosen]}
                for f in report.facts.findings]
    return {"project": report.project, "registry": report.registry_url, "agents": agents, "findings": findings}


@dataclass(frozen=True)
class LiveEdge:
    dependent: str
    provider: str  # an agent of the project, or a registry agent id outside it
    label: str  # the condition (declared) or the capabilities (resolved)
    declared: bool  # resolved edges: whether the file declares it too


@dataclass(frozen=True)
class LiveGraph:
    """`graph --live`: the declared edges and the resolved mesh edges, each agent's state."""

    project: str
    states: Mapping[str, str]  # agent -> "running (healthy), mesh healthy"
    declared: tuple[LiveEdge, ...]
    resolved: tuple[LiveEdge, ...]


def live_graph(project: ProjectIdentity, load: Callable[[], Project] | None = None) -> LiveGraph:
    report = mesh(project, MeshOptions(), load)
    doc = state.StateStore(project.directory, project.name).read()
    records: Mapping[str, Any] = doc["agents"] if doc is not None else {}
    states = {}
    for agent in report.facts.agents:
        record = records.get(agent.name) or {}
        word, health = record.get("status") or "unknown", record.get("health")
        shown = f"{word} ({health})" if health and health != word else word
        states[agent.name] = f"{shown}, mesh {agent.status}"
    declared = tuple(LiveEdge(agent.name, entry.provider, entry.condition or "depends_on", True)
                     for agent in report.facts.agents for entry in agent.declared)
    resolved: list[LiveEdge] = []
    for agent in report.facts.agents:
        by_provider: dict[str, list[str]] = {}
        marks: dict[str, bool] = {}
        for dependency in agent.dependencies:
            if dependency.resolved:
                provider = dependency.provider or dependency.provider_id
                by_provider.setdefault(provider, []).append(dependency.capability)
                marks[provider] = bool(dependency.declared)
        resolved.extend(LiveEdge(agent.name, provider, ", ".join(capabilities), marks[provider])
                        for provider, capabilities in by_provider.items())
    return LiveGraph(report.project, states, declared, tuple(resolved))

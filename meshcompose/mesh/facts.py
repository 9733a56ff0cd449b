"""What the mesh is, next to what the project file declares: pure rules over one registry read.

The registry knows what each agent offers and what each dependency resolved
to; the project file knows which agents each one `depends_on`. Neither alone
can say that an agent uses a provider it does not declare (so its start
order is not guaranteed, and restarting the provider does not restart it).
`view` puts them side by side and `findings` names the differences. The
supervisor's mesh events and the `mesh` command both use these rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from meshcompose.mesh.registry_client import AgentInfo, Capability, Resolution, Snapshot

ABSENT = "absent"  # not listed by the registry at all
# meshplan.REGISTRY_AGENT, the managed registry's agent name (a test keeps them
# equal): a process of the project, not a mesh agent. Importing meshplan would
# cost `mesh` the model and the planner.
REGISTRY_AGENT = "mesh-registry"
# A dependency still unresolved this long after its agent's process started
# stays unresolved: the SDK resolves at registration and at every heartbeat
# (each 5 s), so two heartbeats have passed.
UNRESOLVED_GRACE = 12.0

UNDECLARED = "undeclared-provider"
UNUSED = "unused-dependency"
SEVERAL = "several-providers"
UNRESOLVED = "unresolved"
FINDING_KINDS = (UNDECLARED, UNUSED, SEVERAL, UNRESOLVED)


@dataclass(frozen=True)
class Declared:
    """One `depends_on` entry of the project file."""

    provider: str  # the agent's name in the project
    condition: str  # registered, service_started, service_healthy, ...


@dataclass(frozen=True)
class ProjectAgent:
    """What mesh-compose knows of one agent of the project."""

    name: str
    agent_id: str  # its registry id
    declared: tuple[Declared, ...] = ()
    started_at: float | None = None  # epoch start of its current process; None when not running


@dataclass(frozen=True)
class Dependency:
    """One dependency of an agent: the capability asked, and where it resolved."""

    capability: str
    resolved: bool
    provider_id: str = ""
    provider: str | None = None  # the provider's agent name in this project; None: not ours (or unresolved)
    endpoint: str = ""
    tool: str = ""
    declared: bool | None = None  # whether the dependent depends_on the provider; None when unresolved
    tags: tuple[str, ...] = ()
    version: str = ""


@dataclass(frozen=True)
class MeshAgent:
    """One agent of the project as the mesh sees it."""

    name: str
    agent_id: str
    status: str  # healthy | unhealthy | absent
    current: bool  # the registration is from its current process
    endpoint: str = ""
    capabilities: tuple[Capability, ...] = ()  # framework ones included; `Capability.framework` tells
    dependencies: tuple[Dependency, ...] = ()
    declared: tuple[Declared, ...] = ()

    @property
    def resolved(self) -> int:
        return sum(1 for dependency in self.dependencies if dependency.resolved)

    @property
    def port(self) -> int | None:
        from urllib.parse import urlsplit

        try:
            return urlsplit(self.endpoint).port if self.endpoint else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Finding:
    """A difference between what the file declares and what the mesh resolved."""

    kind: str  # one of FINDING_KINDS
    agent: str  # the dependent (for SEVERAL: the first agent offering it)
    capability: str
    text: str  # one sentence, for people
    providers: tuple[str, ...] = ()  # agent names (or ids, when not ours) involved
    chosen: tuple[tuple[str, str], ...] = ()  # SEVERAL: (dependent, provider) as the registry chose

    @property
    def key(self) -> tuple[str, str, str, tuple[str, ...]]:
        """What makes it the same finding in a later read (to say it once)."""
        return (self.kind, self.agent, self.capability, self.providers)


@dataclass(frozen=True)
class MeshFacts:
    agents: tuple[MeshAgent, ...]
    findings: tuple[Finding, ...]
    others: Mapping[str, str] = field(default_factory=dict)  # agent id -> name, for ids not of this project


def view(project: Sequence[ProjectAgent], snapshot: Snapshot, now: float) -> MeshFacts:
    """Each project agent as the registry lists it, and the findings; `now` in epoch seconds."""
    names = {agent.agent_id: agent.name for agent in project}
    agents = tuple(_mesh_agent(agent, snapshot, names) for agent in project)
    others = {agent_id: info.name for agent_id, info in snapshot.agents.items() if agent_id not in names}
    return MeshFacts(agents, tuple(findings(project, agents, snapshot, now)), others)


def _mesh_agent(agent: ProjectAgent, snapshot: Snapshot, names: Mapping[str, str]) -> MeshAgent:
    info = snapshot.agents.get(agent.agent_id)
    if info is None:
        return MeshAgent(agent.name, agent.agent_id, ABSENT, False, declared=agent.declared)
    current = agent.started_at is not None and snapshot.registered_since(agent.agent_id, agent.started_at)
    declared = {entry.provider for entry in agent.declared}
    return MeshAgent(agent.name, agent.agent_id, info.status, current, info.endpoint, info.offers,
                     tuple(_dependency(resolution, names, declared) for resolution in info.resolutions),
                     agent.declared)


def _dependency(resolution: Resolution, names: Mapping[str, str], declared: set[str]) -> Dependency:
    provider = names.get(resolution.provider_id) if resolution.resolved else None
    return Dependency(resolution.capability, resolution.resolved, resolution.provider_id, provider,
                      resolution.endpoint, resolution.tool,
                      (provider in declared) if resolution.resolved else None, resolution.tags, resolution.version)


def findings(project: Sequence[ProjectAgent], agents: Sequence[MeshAgent], snapshot: Snapshot,
             now: float) -> list[Finding]:
    """The four differences, in a stable order: per agent, then the shared capabilities."""
    by_name = {agent.name: agent for agent in agents}
    found: list[Finding] = []
    for agent, facts in zip(project, agents):
        if facts.status != "healthy":
            continue  # a gone or deregistered agent resolves nothing
        found.extend(_undeclared(facts))
        found.extend(_unused(agent, facts, by_name, snapshot))
        found.extend(_unresolved(agent, facts, snapshot, now))
    found.extend(_several(agents, snapshot))
    return found


def _provider_label(dependency: Dependency) -> str:
    return dependency.provider or dependency.provider_id


def _undeclared(facts: MeshAgent) -> list[Finding]:
    out = []
    for dependency in facts.dependencies:
        if not dependency.resolved or dependency.declared:
            continue
        provider = _provider_label(dependency)
        if dependency.provider is None:
            text = (f"{facts.name} resolves {dependency.capability} from {provider}, an agent outside "
                    f"this project: nothing here starts or restarts it")
        else:
            text = (f"{facts.name} resolves {dependency.capability} from {provider} but does not depend_on "
                    f"it: its start order is not guaranteed, and restarting {provider} does not restart "
                    f"{facts.name}")
        out.append(Finding(UNDECLARED, facts.name, dependency.capability, text, (provider,)))
    return out


def _unused(agent: ProjectAgent, facts: MeshAgent, by_name: Mapping[str, MeshAgent],
            snapshot: Snapshot) -> list[Finding]:
    """A `registered` dependency none of whose capabilities the dependent
    resolves, once the dependent has nothing left to resolve from it."""
    out = []
    used = {dependency.provider_id for dependency in facts.dependencies if dependency.resolved}
    pending = {dependency.capability for dependency in facts.dependencies if not dependency.resolved}
    for entry in agent.declared:
        provider = by_name.get(entry.provider)
        if entry.condition != "registered" or provider is None or provider.status != "healthy":
            continue
        offered = {capability.name for capability in provider.capabilities if not capability.framework}
        if provider.agent_id in used or offered & pending:
            continue
        text = (f"{facts.name} waits for {entry.provider} to register (depends_on condition: registered) "
                f"but resolves none of its capabilities ({', '.join(sorted(offered)) or 'none'})")
        out.append(Finding(UNUSED, facts.name, "", text, (entry.provider,)))
    return out


def _unresolved(agent: ProjectAgent, facts: MeshAgent, snapshot: Snapshot, now: float) -> list[Finding]:
    """Unresolved past the grace, and offered by no healthy agent (one that is
    offered resolves at the dependent's next heartbeat)."""
    if agent.started_at is None or now - agent.started_at < UNRESOLVED_GRACE or not facts.current:
        return []
    offered = {offer.name for info in snapshot.agents.values() if info.healthy for offer in info.offers}
    return [Finding(UNRESOLVED, facts.name, dependency.capability,
                    f"{facts.name}'s dependency {dependency.capability} stays unresolved: "
                    f"no healthy agent offers it")
            for dependency in facts.dependencies if not dependency.resolved and dependency.capability not in offered]


def _several(agents: Sequence[MeshAgent], snapshot: Snapshot) -> list[Finding]:
    names = {agent.agent_id: agent.name for agent in agents}
    offered: dict[str, list[str]] = {}
    for agent_id, info in snapshot.agents.items():
        if not info.healthy:
            continue
        for offer in info.offers:
            if not offer.framework and agent_id not in offered.get(offer.name, []):
                offered.setdefault(offer.name, []).append(agent_id)
    ours = set(names)
    out = []
    for capability, providers in sorted(offered.items()):
        if len(providers) < 2 or not ours & set(providers):
            continue
        labels = tuple(sorted(names.get(agent_id, agent_id) for agent_id in providers))
        chosen = tuple((agent.name, names.get(dependency.provider_id, dependency.provider_id))
                       for agent in agents for dependency in agent.dependencies
                       if dependency.capability == capability and dependency.resolved)
        text = f"{capability} is offered by {', '.join(labels)}"
        if chosen:
            text += "; the registry chose " + ", ".join(f"{provider} for {dependent}" for dependent, provider in chosen)
        out.append(Finding(SEVERAL, labels[0], capability, text, labels, chosen))
    return out


def summary(info: AgentInfo) -> tuple[int, int]:
    """(resolved, total) dependencies of one listed agent."""
    return sum(1 for r in info.resolutions if r.resolved), len(info.resolutions)


# -- what changed between two reads (the supervisor's mesh events) ---------------------

REGISTERED = "registered"
DEREGISTERED = "deregistered"
RESOLVED = "resolved"
UNRESOLVED_NOW = "unresolved"


@dataclass(frozen=True)
class Change:
    """One mesh event of a project agent."""

    agent: str
    action: str  # registered | deregistered | resolved | unresolved
    capability: str = ""
    provider: str = ""  # the provider's name in the project, else its agent id
    provider_id: str = ""
    endpoint: str = ""

    @property
    def text(self) -> str:
        if self.action == RESOLVED:
            return f"resolved {self.capability} → {self.provider}"
        if self.action == UNRESOLVED_NOW:
            return f"unresolved {self.capability}"
        return self.action + (f" at {self.endpoint}" if self.endpoint else "")


def changes(before: Snapshot | None, after: Snapshot, names: Mapping[str, str]) -> list[Change]:
    """The project agents' mesh events from `before` to `after`, per agent in
    `names` order (agent id -> name): a registration first, then its
    dependencies as they resolved or lost their provider, a deregistration last."""
    out: list[Change] = []
    for agent_id, name in names.items():
        old = before.agents.get(agent_id) if before is not None else None
        new = after.agents.get(agent_id)
        was, now = bool(old and old.healthy), bool(new and new.healthy)
        if now and not was and new is not None:
            out.append(Change(name, REGISTERED, endpoint=new.endpoint))
        if now and new is not None:
            out.extend(_resolution_changes(name, old if was else None, new, names))
        if was and not now:
            out.append(Change(name, DEREGISTERED))
    return out


def _resolution_changes(name: str, old: AgentInfo | None, new: AgentInfo, names: Mapping[str, str]) -> list[Change]:
    def providers(info: AgentInfo | None) -> dict[str, Resolution]:
        return {r.capability: r for r in (info.resolutions if info else ()) if r.resolved}

    before, after = providers(old), providers(new)
    out = []
    for resolution in new.resolutions:
        capability = resolution.capability
        if resolution.resolved and (capability not in before
                                    or before[capability].provider_id != resolution.provider_id):
            out.append(Change(name, RESOLVED, capability, names.get(resolution.provider_id, resolution.provider_id),
                              resolution.provider_id, resolution.endpoint))
        elif not resolution.resolved and capability in before and capability not in after:
            out.append(Change(name, UNRESOLVED_NOW, capability))
    return out

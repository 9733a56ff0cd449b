"""Mesh events of a run: agents registering, deregistering, resolving and
losing dependencies, and each declared-vs-resolved warning once, told to the
observer (the merged stream shows them as dim lines; `events.jsonl` keeps them).

They come from the registry reads the run makes anyway (the shared poller of
the `registered` conditions and registry healthchecks): watching adds no
request. So an agent whose registration nobody waits for and nobody probes is
seen only when some other read happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict

from meshcompose.mesh import facts, meshplan, registry
from meshcompose.mesh.facts import Declared, ProjectAgent
from meshcompose.mesh.registry_client import Snapshot
from meshcompose.model import Agent
from meshcompose.runtime.events import MESH, Notice, Observer

StartedAt = Callable[[str], "float | None"]  # an agent's current process start, None when not running


class MeshEvents:
    """A poller listener that turns successive reads into notices."""

    def __init__(self, project: str, agents: Callable[[], Mapping[str, Agent]], started_at: StartedAt,
                 observer: Observer) -> None:
        self.project = project
        self._agents = agents
        self._started_at = started_at
        self.observer = observer
        self._previous: Snapshot | None = None
        self._said: set[tuple[str, str, str, tuple[str, ...]]] = set()

    def __call__(self, snapshot: Snapshot) -> None:
        agents = [agent for name, agent in self._agents().items() if name != meshplan.REGISTRY_AGENT]
        names = {registry.agent_id(self.project, agent.name): agent.name for agent in agents}
        for change in facts.changes(self._previous, snapshot, names):
            attributes = {key: value for key, value in asdict(change).items()
                          if value and key not in ("agent", "action")}
            self.observer.notice(Notice(f"mesh: {change.text}", change.agent, "info", kind=MESH,
                                        action=change.action, attributes=attributes))
        self._previous = snapshot
        project = [ProjectAgent(agent.name, registry.agent_id(self.project, agent.name),
                                tuple(Declared(d.name, d.condition.value) for d in agent.depends_on
                                      if d.name != meshplan.REGISTRY_AGENT),
                                self._started_at(agent.name))
                   for agent in agents]
        for finding in facts.view(project, snapshot, time.time()).findings:
            if finding.key in self._said:
                continue
            self._said.add(finding.key)
            self.observer.notice(Notice(finding.text, finding.agent, "warning", kind=MESH, action="warning",
                                        attributes={"finding": finding.kind, "capability": finding.capability,
                                                    "providers": list(finding.providers)}))

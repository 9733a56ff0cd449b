"""Which agents become Jobs and which Deployments, and why.

The workload kind follows what the agent is, not its local `restart:`
policy: compose's default `restart: no` says "do not restart this process
on my laptop", not "this is a batch job".
- A Job runs once: an agent some other agent waits for with
  `completed_successfully`, or one marked `x-kubernetes: {kind: Job}`.
- Everything else is a Deployment: servers, agents with a healthcheck,
  MCP Mesh agents, anything depended on as `started`, `healthy` or
  `registered`, anything that runs until it is stopped.
- An explicit `x-kubernetes.kind` always wins.
Where the local restart policy cannot be kept (a Deployment always
restarts; a Job never runs again once it succeeded) the export warns, unless
the kind was chosen explicitly, which accepts the kind's behaviour.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from meshcompose.export.options import Warn
from meshcompose.model import Agent, Condition, Project, RestartMode

KIND_KEY = "kind"  # x-kubernetes.kind
JOB_BACKOFF_LIMIT = 6  # Kubernetes' default backoffLimit


class Kind(str, enum.Enum):
    JOB = "Job"
    DEPLOYMENT = "Deployment"


@dataclass(frozen=True)
class Decision:
    kind: Kind
    reason: str  # why, for the workload's annotation
    explicit: bool = False  # x-kubernetes.kind said so


def decide(project: Project, ports: Mapping[str, int], mesh_agents: Collection[str], warn: Warn) -> dict[str, Decision]:
    """The kind of every agent's workload; `ports`: agents with a Service, `mesh_agents`: SDK users."""
    waited: dict[str, dict[Condition, list[str]]] = {name: {} for name in project.agents}
    for agent in project.agents.values():
        for dependency in agent.depends_on:
            if dependency.name in waited:
                waited[dependency.name].setdefault(dependency.condition, []).append(agent.name)
    decisions = {}
    for name, agent in project.agents.items():
        decision = _decide(agent, waited[name], ports.get(name), name in mesh_agents)
        decisions[name] = decision
        if decision.kind is Kind.JOB:
            _warn_reached(agent, waited[name], decision, warn)
    return decisions


def _decide(agent: Agent, waited: Mapping[Condition, list[str]], port: int | None, mesh_agent: bool) -> Decision:
    explicit = agent.extensions.get("x-kubernetes", {}).get(KIND_KEY)
    if explicit:
        return Decision(Kind(explicit), f"x-kubernetes.kind: {explicit}", explicit=True)
    if Condition.COMPLETED_SUCCESSFULLY in waited:
        return Decision(Kind.JOB, f"runs once, {_names(waited[Condition.COMPLETED_SUCCESSFULLY], 'waits')} "
                        "for it to complete (completed_successfully)")
    if mesh_agent:
        return Decision(Kind.DEPLOYMENT, "an MCP Mesh agent, serves until stopped")
    if port:
        return Decision(Kind.DEPLOYMENT, f"a server, listens on port {port}")
    if agent.healthcheck is not None:
        return Decision(Kind.DEPLOYMENT, "has a healthcheck, runs until stopped")
    for condition in (Condition.REGISTERED, Condition.HEALTHY, Condition.STARTED):
        if condition in waited:
            return Decision(Kind.DEPLOYMENT, f"{_names(waited[condition], 'depends')} on it ({condition.value})")
    if agent.restart.mode is not RestartMode.NO:
        return Decision(Kind.DEPLOYMENT, f"restarts ({agent.restart.mode.value})")
    return Decision(Kind.DEPLOYMENT, "runs until stopped, nothing waits for it to complete")


def _names(agents: list[str], verb: str) -> str:
    """`'a' waits`, `'a' and 'b' wait`, `'a', 'b' and 'c' wait`."""
    quoted = [f"'{name}'" for name in agents]
    if len(quoted) == 1:
        return f"{quoted[0]} {verb}"
    return f"{', '.join(quoted[:-1])} and {quoted[-1]} {verb.removesuffix('s')}"


def _warn_reached(agent: Agent, waited: Mapping[Condition, list[str]], decision: Decision, warn: Warn) -> None:
    """A Job that others wait on as a running service: they can only see it while it runs."""
    for condition in (Condition.HEALTHY, Condition.REGISTERED):
        if condition in waited:
            warn(f"agents.{agent.name}", f"is a Job ({decision.reason}), but {_names(waited[condition], 'waits')} for "
                 f"it to be {condition.value}, which holds only while the Job's pod runs")


def restart_warnings(agent: Agent, decision: Decision, warn: Warn) -> None:
    """What of the local restart policy the workload cannot keep."""
    where = f"agents.{agent.name}"
    policy = agent.restart
    mode = policy.mode
    if decision.kind is Kind.DEPLOYMENT:
        if mode is RestartMode.NO and not decision.explicit:
            warn(f"{where}.restart", "'no' cannot be kept: a Deployment restarts the agent whenever it exits; set "
                 "`x-kubernetes: {kind: Deployment}` to accept that, or `{kind: Job}` if the agent runs once")
        if mode is RestartMode.ON_FAILURE and not decision.explicit:
            warn(f"{where}.restart", "on-failure becomes a Deployment, which also restarts the agent after it exits 0")
        if mode is not RestartMode.NO and policy.max_restarts is not None:
            warn(f"{where}.max_restarts", "a Deployment restarts without limit")
    else:
        if mode in (RestartMode.ALWAYS, RestartMode.UNLESS_STOPPED) and not decision.explicit:
            warn(f"{where}.restart", f"{mode.value} cannot be kept: a Job does not run the agent again after it "
                 "exits 0")
        if mode is not RestartMode.NO and policy.max_restarts is None:
            warn(f"{where}.max_restarts", f"a Job retries at most {JOB_BACKOFF_LIMIT} times (backoffLimit), "
                 "not without limit: set max_restarts")
    if mode is not RestartMode.NO and policy.backoff != type(policy.backoff)():
        warn(f"{where}.backoff", "Kubernetes uses its own restart back-off (10 s doubling to 5 min)")


def job_retries(agent: Agent) -> int:
    """A Job's backoffLimit: none for `restart: no`, else max_restarts (Kubernetes' default without it)."""
    if agent.restart.mode is RestartMode.NO:
        return 0
    return agent.restart.max_restarts if agent.restart.max_restarts is not None else JOB_BACKOFF_LIMIT

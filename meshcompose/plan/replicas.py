"""Replicas: an agent that runs several processes becomes one model agent
per process, before anything is planned.

Each replica is an `Agent` of its own name (`names.replica_name`: `api-1`
... `api-N`, or the plain name for one), so everything after this (the
planner, launch specs, the supervisor, the state file, logs, `ps`) handles
replicas as it handles agents. A replica knows what it is a replica of
(`Agent.replica_of`) and its number (`Agent.replica`); its `increment_var`
variables are the written value + number - 1, and its healthcheck's
`${NAME}` are its own values, so each replica is probed on its own port.

A `depends_on` entry on a replicated agent becomes one entry per replica:
the condition holds when it holds for every replica, as compose's does. An
agent with no replicas (`replicas: 0`, compose's "defined, not started")
disappears, and so do the entries that depend on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from meshcompose.config.build import shared_ports
from meshcompose.config.interpolate import fill_own_variables
from meshcompose.errors import ConfigError, UnknownAgentError, UsageError
from meshcompose.model import Agent, Healthcheck, HealthKind, Project
from meshcompose.names import REPLICA_VARIABLE, members, replica_name, replica_number


class ScaleError(UsageError):
    """A count asked for on the command line that cannot be used (`--scale`, `scale`)."""


def counts(project: Project, scale: Mapping[str, int] = {}, source: str = "--scale") -> dict[str, int]:
    """How many processes of each agent to run: the file's, or `scale`'s
    for the agents it names (each of which must be in the project); an
    error names the `source` argument (`--scale api=3`)."""
    for name, count in scale.items():
        if name not in project.agents:
            raise ScaleError(f"{source} {name}={count}: no agent named '{name}' in the project",
                             hint=UnknownAgentError(name, list(project.agents)).hint)
        if count < 0:
            raise ScaleError(f"{source} {name}={count}: a count must be 0 or more")
        for _, why in shared_ports(project.agents[name], count):
            raise ScaleError(f"{source} {name}={count}: {why}")
    return {name: scale.get(name, agent.replicas) for name, agent in project.agents.items()}


def expand(project: Project, scale: Mapping[str, int] = {}) -> Project:
    """`project` with one agent per process (see the module's docstring)."""
    wanted = counts(project, scale)
    if all(count == 1 for count in wanted.values()) and not _fills_health(project):
        return project  # nothing to expand: the model as loaded, at no cost
    names = {name: [replica_name(name, number, count) for number in range(1, count + 1)]
             for name, count in wanted.items()}
    agents: dict[str, Agent] = {}
    for name, agent in project.agents.items():
        for number, own in enumerate(names[name], start=1):
            if own in agents or (own != name and own in project.agents):
                raise ConfigError(f"agents.{name}: replica '{own}' has the name of another agent; rename one "
                                  "(a replica of an agent with several is named AGENT-N)")
            agents[own] = replica(agent, number, wanted[name], names)
    return dataclasses.replace(project, agents=agents)


def replica(agent: Agent, number: int, count: int, names: Mapping[str, Sequence[str]]) -> Agent:
    """Replica `number` of `agent` (of `count`), whose dependencies are named in `names`
    (agent -> its replicas' names; an agent missing from it is kept as named)."""
    environment = dict(agent.environment)
    for variable in agent.increment_vars:
        environment[variable] = str(int(environment[variable]) + number - 1)
    own = {**environment, REPLICA_VARIABLE: str(number)}
    return dataclasses.replace(
        agent, name=replica_name(agent.name, number, count), environment=environment,
        replica_of=agent.name if count > 1 else None, replica=number,
        healthcheck=_filled(agent.healthcheck, own),
        depends_on=tuple(dataclasses.replace(dep, name=member) for dep in agent.depends_on
                         for member in names.get(dep.name, [dep.name])))


def _filled(check: Healthcheck | None, values: Mapping[str, str]) -> Healthcheck | None:
    if check is None or check.kind is HealthKind.LOG:  # a regex's `${` is the regex's
        return check
    return dataclasses.replace(check, target=fill_own_variables(check.target, values),
                               command=tuple(fill_own_variables(part, values) for part in check.command))


def _fills_health(project: Project) -> bool:
    return any(agent.healthcheck is not None and "${" in agent.healthcheck.target + "".join(agent.healthcheck.command)
               for agent in project.agents.values())


def resolve(project: Project, expanded: Project, names: Sequence[str]) -> list[str]:
    """What the user's `names` mean in `expanded`: an agent is all its
    replicas, a replica itself (`api-2`). UnknownAgentError for a name that
    is neither; ScaleError for an agent with no replicas to run."""
    found: list[str] = []
    for name in names:
        chosen = members(name, list(expanded.agents))
        if not chosen and name in project.agents:
            raise ScaleError(f"'{name}' has replicas: 0: nothing of it to start",
                             hint=f"`up --scale {name}=N` starts N of it")
        if not chosen:
            raise UnknownAgentError(name, list(project.agents))
        found.extend(other for other in chosen if other not in found)
    return found


def replicas_of(name: str, known: Sequence[str], project: Project) -> dict[int, str]:
    """The processes of agent `name` among `known` names, by replica number."""
    found = {}
    for other in known:
        number = replica_number(other, name)
        if number is not None and (other == name or other not in project.agents):
            found[number] = other
    return found


def definition(project: Project, name: str) -> Agent | None:
    """The agent of `project` that `name` (an agent, or one of its replicas) runs."""
    agent = project.agents.get(name)
    if agent is not None:
        return agent
    return next((agent for other, agent in project.agents.items() if replica_number(name, other) is not None), None)


def pod_values(project: Project) -> Project:
    """`project` with each healthcheck's `${NAME}` filled from the agent's
    written environment, as replica 1 sees it: in a cluster every pod of an
    agent has its own address, so all of them use the written port."""
    agents = {name: dataclasses.replace(agent, healthcheck=_filled(
        agent.healthcheck, {**agent.environment, REPLICA_VARIABLE: "1"})) for name, agent in project.agents.items()}
    return dataclasses.replace(project, agents=agents)

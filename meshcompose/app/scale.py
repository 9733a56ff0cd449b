"""`scale AGENT=N ...`: run N processes of an agent in a running project.

Through the running supervisor, as `stop` and `start` go: scaling down
stops the highest-numbered replicas with the `remove` request (each gets
its stop signal and grace period, as `stop` gives it, then the run forgets
it, as compose removes a container); scaling up sends each new
replica's definition and launch spec with a `start` request, and the
supervisor starts it once its dependencies' conditions hold. The other
replicas and the other agents are left alone.

A replica's definition comes from the file (`plan.replicas.replica`), its
dependencies named as the run names them now. An agent running as one
process under its plain name keeps that name as replica 1; the new ones
are `AGENT-2` ... (renaming it would mean restarting it).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from meshcompose.app.live import running_doc, stop_bound
from meshcompose.app.options import DEFAULT_WAIT_TIMEOUT, InstallOptions, RegistryOptions
from meshcompose.app.project import Notify, ignore
from meshcompose.app.waiting import WaitOutcome, wait_until_up
from meshcompose.control import state
from meshcompose.control.client import ControlClient
from meshcompose.lifecycle import ENDED_STATES
from meshcompose.model import Agent, Project
from meshcompose.names import agent_of, replica_name, replica_number
from meshcompose.plan import replicas
from meshcompose.plan.replicas import ScaleError


@dataclass(frozen=True)
class ScaleOptions:
    counts: Mapping[str, int]  # agent -> processes wanted (`parse_counts`)
    timeout: float | None = None  # stop grace of the replicas scaled away, instead of their own
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    install: InstallOptions = field(default_factory=InstallOptions)
    notify: Notify = ignore


@dataclass(frozen=True)
class Scaled:
    """One agent's change: how many ran, how many run now, which processes came and went."""

    agent: str
    before: int
    after: int
    started: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScaleResult:
    agents: tuple[Scaled, ...]
    outcome: WaitOutcome | None = None  # None: nothing was started, nothing to wait for


def parse_counts(texts: Sequence[str], source: str = "scale") -> dict[str, int]:
    """`AGENT=N` arguments as counts; ScaleError naming the argument that is wrong."""
    counts: dict[str, int] = {}
    for text in texts:
        name, equals, count = text.partition("=")
        if not equals or not name.strip():
            raise ScaleError(f"{source} {text!r}: expected AGENT=N, such as api=3")
        if not re.fullmatch(r"\s*[0-9]+\s*", count):
            raise ScaleError(f"{source} {text!r}: the count must be a whole number, 0 or more (got {count!r})")
        counts[name.strip()] = int(count)
    return counts


def scale(project: Project, options: ScaleOptions) -> ScaleResult:
    doc = running_doc(project.directory, project.name, "scale")
    replicas.counts(project, options.counts, "scale")  # every agent named is in the file, every count usable
    active = [name for name, record in doc["agents"].items() if _active(record)]
    plans = [_plan(project, agent, count, list(doc["agents"]), active) for agent, count in options.counts.items()]
    stopping = [name for plan in plans for name in plan.stopped]
    if stopping:
        ControlClient(doc).remove(stopping, timeout=options.timeout,
                                  answer_within=stop_bound(doc, stopping, options.timeout))
    starting = [name for plan in plans for name in plan.started]
    if not starting:
        return ScaleResult(tuple(plans))
    _start(project, doc, starting, [name for name in active if name not in stopping], options)
    from meshcompose.app.up import healthchecked

    outcome = wait_until_up(project.directory, project.name, starting, healthchecked(project, starting),
                            options.wait_timeout)
    return ScaleResult(tuple(plans), outcome)


def _active(record: state.AgentRecord) -> bool:
    """Supervised and not ended: running, starting, waiting, restarting or stopping."""
    return record.get("status") not in ENDED_STATES


def _plan(project: Project, agent: str, count: int, known: list[str], active: list[str]) -> Scaled:
    """What scaling `agent` to `count` starts and stops (highest numbers first)."""
    existing = replicas.replicas_of(agent, known, project)
    running = {number: name for number, name in existing.items() if name in active}
    stopped = tuple(running[number] for number in sorted(running, reverse=True) if number > count)
    wanted = [existing.get(number) or replica_name(agent, number, count if not existing else max(count, 2))
              for number in range(1, count + 1)]
    started = tuple(name for name in wanted if name not in active)
    return Scaled(agent, len(running), count, started, stopped)


def _start(project: Project, doc: state.StateDoc, names: Sequence[str], active: Sequence[str],
           options: ScaleOptions) -> None:
    """Sends each replica's definition and launch spec; the supervisor starts
    them once their dependencies' conditions hold."""
    from meshcompose.app.launches import launches_for, registry_url  # interpreters, packages: only when starting
    from meshcompose.mesh import tracing

    definitions = _definitions(project, names, [*active, *names])
    with_them = dataclasses.replace(project, agents={**project.agents, **definitions})
    launches = launches_for(with_them, names, registry_url(project, options.registry, doc),
                            options.registry, options.install, tracing.published(doc.get("tracing_url")))
    ControlClient(doc).start(names, agents={name: definitions[name] for name in names},
                             launches={name: launches[name] for name in names})


def _definitions(project: Project, names: Sequence[str], present: Sequence[str]) -> dict[str, Agent]:
    """Each new replica as the file defines its agent; a dependency on a
    replicated agent names its replicas `present` (the file's when none)."""
    members: dict[str, list[str]] = {}
    for agent, definition in project.agents.items():
        now = replicas.replicas_of(agent, present, project)
        members[agent] = [now[number] for number in sorted(now)] or [
            replica_name(agent, number, definition.replicas) for number in range(1, definition.replicas + 1)]
    found = {}
    for name in names:
        owner = agent_of(name, project.agents)
        number = replica_number(name, owner or "")
        assert owner is not None and number is not None  # every name came from `_plan`
        found[name] = replicas.replica(project.agents[owner], number, 1 if name == owner else 2, members)
    return found


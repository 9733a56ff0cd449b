"""The dependency planner: which agents to run, in which order, and who
stops before whom (`stop_before`, the one stop order).

The graph has one node per agent (in file order) and one edge per
`depends_on` entry, pointing from the dependency to its dependent, so a
topological order is a start order. Edges carry the `condition` the dependent
waits for and whether the dependency is `required`.

An optional dependency (`required: false`) on an agent that is not in the
project is skipped, as compose does; a required one is an error. networkx is
imported here only, and this module is imported lazily by the commands that
need it, so `ps`, `logs` and `--help` never pay for it; and `check` and
`select` (what `up` needs) remember their results by a digest of the graph
(see `memo`), so a warm `up` of an unchanged project does not import it at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any, Callable

from meshcompose.config import memo
from meshcompose.errors import CycleError, Problem, UnknownAgentError, UnknownDependencyError
from meshcompose.model import Project

if TYPE_CHECKING:
    import networkx as nx

_PLANS = memo.Memo("plans")


def build_graph(project: Project) -> nx.DiGraph[str]:
    """Agents as nodes (file order), edges dependency -> dependent.

    Dependencies on agents missing from the project are left out; `check`
    reports the required ones.
    """
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(project.agents)
    for agent in project.agents.values():
        for dep in agent.depends_on:
            if dep.name in project.agents:
                graph.add_edge(dep.name, agent.name, condition=dep.condition, required=dep.required)
    return graph


def check(project: Project) -> None:
    """Raise on required dependencies that do not exist, then on cycles."""
    _remembered(project, ("check",), lambda: _check(project))


def _check(project: Project) -> bool:
    """True when the project can be planned (the memo keeps only answers, never None)."""
    problems = _unknown_dependencies(project)
    if problems:
        raise UnknownDependencyError(problems, hint="fix the depends_on entries, or mark them `required: false`")
    found = find_cycles({name: [dep.name for dep in agent.depends_on] for name, agent in project.agents.items()})
    if found:
        raise CycleError(found)
    return True


def select(project: Project, names: Sequence[str], *, with_deps: bool = True) -> list[str]:
    """The named agents plus their transitive dependencies, in start order.

    No names means every agent. Unknown names raise `UnknownAgentError`.
    """
    return _remembered(project, ("select", list(names), with_deps), lambda: _select(project, names, with_deps))


def _select(project: Project, names: Sequence[str], with_deps: bool) -> list[str]:
    if not names:
        return _flatten(start_order(project))
    _require_known(project, names)
    chosen = set(names)
    if with_deps:
        needs = {name: {d.name for d in agent.depends_on if d.name in project.agents}
                 for name, agent in project.agents.items()}
        for name in names:
            chosen |= _reachable(needs, name)
    return _flatten(start_order(project, [n for n in project.agents if n in chosen]))


def start_order(project: Project, names: Iterable[str] | None = None) -> list[list[str]]:
    """Waves of agents: each wave only needs agents of earlier waves.

    `names` restricts the plan to those agents (no dependencies are added:
    use `select` for that); a dependency outside the selection is treated as
    already satisfied. Within a wave, agents keep their file order. Pure
    Python on a checked (acyclic) graph: a cold `up` does not import networkx
    for its start order.
    """
    check(project)
    wanted = list(project.agents)
    if names is not None:
        wanted = list(names)
        _require_known(project, wanted)
    chosen = set(wanted)
    position = {name: index for index, name in enumerate(project.agents)}
    waiting = {name: {d.name for d in project.agents[name].depends_on if d.name in chosen and d.name != name}
               for name in sorted(chosen, key=position.__getitem__)}
    waves: list[list[str]] = []
    while waiting:
        wave = [name for name, needs in waiting.items() if not needs]
        if not wave:  # unreachable after `check`; a cycle must never loop forever, and is told as `check` tells it
            raise CycleError(find_cycles({name: [d.name for d in project.agents[name].depends_on] for name in waiting}))
        waves.append(wave)
        for name in wave:
            del waiting[name]
        done = set(wave)
        for needs in waiting.values():
            needs -= done
    return waves


def stop_before(depends_on: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """The one stop order: for each agent of a set, the agents of the set that
    must have stopped before it stops (those that depend on it).

    `depends_on` maps each agent of the set to the names it depends on; names
    outside the set are ignored, so a stop of some agents leaves the others
    alone. Agents unrelated to each other stop together. Used by the live
    supervisor (from the project) and by `down` reaping a dead supervisor's
    agents (from the state file), so it is pure and needs no networkx.

    A checked project has no cycle, but a hand-edited state file may: the
    members of a cycle then stop together, after every agent outside the
    cycle that depends on any of them, so no stop can wait forever.
    """
    graph = {name: {dep for dep in deps if dep in depends_on and dep != name} for name, deps in depends_on.items()}
    cycle_of = _cycles(graph)
    dependents: dict[str, set[str]] = {name: set() for name in graph}
    for name, deps in graph.items():
        for dep in deps:
            dependents[dep].add(name)
    return {name: frozenset(other for member in cycle_of[name] for other in dependents[member]
                            if other not in cycle_of[name])
            for name in graph}


def stop_waves(depends_on: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """`stop_before` as waves, for showing: each wave only holds agents whose
    dependents are all in earlier waves. Within a wave, the given order."""
    before = stop_before(depends_on)
    remaining, waves = list(before), []
    done: set[str] = set()
    while remaining:
        wave = [name for name in remaining if before[name] <= done]
        waves.append(wave)
        done.update(wave)
        remaining = [name for name in remaining if name not in done]
    return waves


def _cycles(graph: Mapping[str, set[str]]) -> dict[str, frozenset[str]]:
    """Each agent's cycle: the agents it reaches and that reach it (itself alone in a DAG)."""
    reach = {name: _reachable(graph, name) for name in graph}
    return {name: frozenset({name} | {other for other in reach[name] if name in reach[other]}) for name in graph}


def _reachable(graph: Mapping[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    pending = list(graph[start])
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(graph[name])
    return seen


def dependents(project: Project, name: str) -> list[str]:
    """Every agent that depends on `name`, directly or transitively, in start order."""
    import networkx as nx

    _require_known(project, [name])
    found: set[str] = nx.descendants(_checked_graph(project), name)
    return [agent for agent in _flatten(start_order(project)) if agent in found]


def _checked_graph(project: Project) -> nx.DiGraph[str]:
    check(project)
    return build_graph(project)


def _require_known(project: Project, names: Iterable[str]) -> None:
    for name in names:
        if name not in project.agents:
            raise UnknownAgentError(name, list(project.agents))


def _unknown_dependencies(project: Project) -> list[Problem]:
    known = list(project.agents)
    file = str(project.files[0]) if project.files else ""
    problems = []
    for agent in project.agents.values():
        for dep in agent.depends_on:
            if dep.name in project.agents or not dep.required:
                continue
            close = get_close_matches(dep.name, known, n=1)
            guess = f"; did you mean '{close[0]}'?" if close else f" (agents: {', '.join(known)})"
            message = f"unknown agent '{dep.name}' in depends_on{guess}"
            problems.append(Problem(file, 0, 0, f"agents.{agent.name}.depends_on", message))
    return problems


def find_cycles(depends_on: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every dependency cycle: one per group of agents that reach each other,
    each read in `depends_on` direction (a -> b: a depends on b) from its
    earliest agent (the mapping's order), the cycles in that order too.
    Names outside the mapping are ignored.

    Linear. Agents that are on no cycle and depend on none are peeled off
    first (Kahn), so a project without cycles never imports networkx; its
    strongly connected components then find the agents on cycles, and one
    search runs inside each (a search from every agent in turn took 8 s for a
    chain of 1,000).
    """
    graph = {name: [dep for dep in deps if dep in depends_on] for name, deps in depends_on.items()}
    left = _not_peeled(graph)
    if not left:
        return []
    import networkx as nx

    remaining: nx.DiGraph[str] = nx.DiGraph()
    remaining.add_nodes_from(name for name in graph if name in left)
    remaining.add_edges_from((name, dep) for name in left for dep in graph[name] if dep in left)
    position = {name: index for index, name in enumerate(graph)}
    found: list[list[str]] = []
    components: list[set[str]] = list(nx.strongly_connected_components(remaining))
    for component in components:
        start = min(component, key=position.__getitem__)
        if len(component) == 1 and not remaining.has_edge(start, start):
            continue  # behind a cycle, not on one
        edges: list[tuple[str, str]] = list(nx.find_cycle(remaining.subgraph(component), source=start))
        cycle = [edge[0] for edge in edges]
        first = min(range(len(cycle)), key=lambda i: position[cycle[i]])
        found.append(cycle[first:] + cycle[:first])
    return sorted(found, key=lambda cycle: position[cycle[0]])


def _not_peeled(graph: Mapping[str, list[str]]) -> set[str]:
    """The agents left once every agent whose dependencies are all peeled is
    peeled in turn: those on a cycle or depending on one."""
    waiting = {name: len(deps) for name, deps in graph.items()}
    dependents: dict[str, list[str]] = {name: [] for name in graph}
    for name, deps in graph.items():
        for dep in deps:
            dependents[dep].append(name)
    ready = [name for name, count in waiting.items() if count == 0]
    while ready:
        name = ready.pop()
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                ready.append(dependent)
    return {name for name, count in waiting.items() if count > 0}


def _remembered(project: Project, question: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()`, or what it returned before for this very graph and question."""
    graph = [[agent.name, [[d.name, d.condition.value, d.required] for d in agent.depends_on]]
             for agent in project.agents.values()]
    key = memo.digest("planner", graph, *question)
    known = _PLANS.get(key)
    if known is not None:
        return known
    result = compute()  # raises for a project that cannot be planned: nothing is kept
    _PLANS.put(key, result)
    return result


def _flatten(waves: list[list[str]]) -> list[str]:
    return [name for wave in waves for name in wave]

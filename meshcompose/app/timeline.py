"""The start-up timeline of a run, and its critical chain, from `events.jsonl`.

For each agent: how long it waited and for which dependency, when it
started, when it became ready (started, healthy, registered or completed:
whatever its dependents wait for), and when it restarted or exited. The
critical chain is what decided when the last agent was ready: from that
agent, the dependency whose condition held last, and so on back to an agent
that waited for nothing (as `systemd-analyze critical-chain` walks units).

The computation is pure (`compute`); `timeline` reads the current run's
events. `graph --timeline` and the dashboard show the same `Timeline`.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshcompose.app.project import ProjectIdentity

if TYPE_CHECKING:
    from meshcompose.model import Project

# What a dependent may wait for, weakest first: an agent is "ready" in the
# strongest sense any of its dependents asks for.
READY_ORDER = ("started", "healthy", "registered", "completed_successfully")
# Events may be a little older than the supervisor's own start record.
CLOCK_SLACK_SECONDS = 1.0
MAX_EVENT_BYTES = 64 * 1024 * 1024  # the events file is read bounded: its newest part only


@dataclass(frozen=True)
class DeclaredEdge:
    dependency: str
    dependent: str
    condition: str  # a model.Condition value; "" when unknown


@dataclass(frozen=True)
class Bar:
    """One agent's run, in seconds since the run began (None: did not happen)."""

    name: str
    started: float | None  # its first start: the wait ends here
    ready: float | None  # when its readiness (`ready_as`) first held
    ready_as: str
    waited_for: tuple[str, ...]  # "db (healthy)", in the order declared
    decided_by: str | None  # the dependency whose condition held last
    restarts: tuple[float, ...] = ()
    exits: tuple[tuple[float, int | None], ...] = ()  # (when, exit code)
    skipped: float | None = None
    runs: tuple[tuple[float, float | None], ...] = ()  # (start, end): each time it ran; None: still running


@dataclass(frozen=True)
class Timeline:
    project: str
    run_started: float | None  # epoch seconds; None: no run recorded
    bars: tuple[Bar, ...]
    chain: tuple[str, ...]  # the critical chain, first dependency first, the last ready agent last
    span: float = 0.0  # seconds from the run's start to its last recorded event

    def bar(self, name: str) -> Bar | None:
        return next((bar for bar in self.bars if bar.name == name), None)

    def as_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass
class _History:
    starts: list[float] = field(default_factory=list)
    healthy: list[float] = field(default_factory=list)
    registered: list[float] = field(default_factory=list)
    completed: list[float] = field(default_factory=list)
    restarts: list[float] = field(default_factory=list)
    exits: list[tuple[float, int | None]] = field(default_factory=list)
    skipped: float | None = None


def event_time(event: Mapping[str, Any]) -> float | None:
    """An event's `time` (ISO-8601, UTC, `Z`) as epoch seconds."""
    text = event.get("time")
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _histories(events: Iterable[Mapping[str, Any]], since: float) -> tuple[dict[str, _History], float]:
    histories: dict[str, _History] = {}
    last = since
    for event in events:
        when, agent, action = event_time(event), event.get("service"), event.get("action")
        if when is None or when < since - CLOCK_SLACK_SECONDS or not isinstance(agent, str):
            continue
        at = round(max(when - since, 0.0), 4)  # epoch floats carry ~0.2 µs of noise
        last = max(last, when)
        history = histories.setdefault(agent, _History())
        attributes = event.get("attributes") if isinstance(event.get("attributes"), dict) else {}
        _note(history, str(action), at, attributes or {})
    return histories, last - since


def _note(history: _History, action: str, at: float, attributes: Mapping[str, Any]) -> None:
    if action == "start":
        history.starts.append(at)
    elif action == "health_status: healthy":
        history.healthy.append(at)
    elif "registered" in action and "unregistered" not in action and "deregistered" not in action:
        history.registered.append(at)
    elif action == "restart":
        history.restarts.append(at)
    elif action == "die":
        code = attributes.get("exitCode")
        history.exits.append((at, code if isinstance(code, int) else None))
        if code == 0:
            history.completed.append(at)
    elif action == "skip":
        history.skipped = at


def condition_time(history: _History | None, condition: str) -> float | None:
    """When `condition` first held for an agent with this history. A
    `registered` wait without mesh events falls back to health, then start."""
    if history is None:
        return None
    if condition == "completed_successfully":
        return _first(history.completed)
    if condition == "registered":
        return _first(history.registered) or _first(history.healthy) or _first(history.starts)
    if condition == "healthy":
        return _first(history.healthy)
    return _first(history.starts)


def _first(times: Sequence[float]) -> float | None:
    return times[0] if times else None


def _ready_as(name: str, edges: Sequence[DeclaredEdge], history: _History | None) -> str:
    asked = [edge.condition for edge in edges if edge.dependency == name and edge.condition in READY_ORDER]
    if asked:
        return max(asked, key=READY_ORDER.index)
    return "healthy" if history is not None and history.healthy else "started"


def compute(project: str, agents: Sequence[str], edges: Sequence[DeclaredEdge],
            events: Iterable[Mapping[str, Any]], run_started: float | None) -> Timeline:
    """The timeline of the run that began at `run_started` (epoch seconds)."""
    if run_started is None:
        return Timeline(project, None, tuple(_empty_bar(name, edges) for name in agents), ())
    histories, span = _histories(events, run_started)
    names = list(dict.fromkeys([*agents, *histories]))
    bars = tuple(_bar(name, edges, histories) for name in names)
    return Timeline(project, run_started, bars, critical_chain(bars, edges, histories), span)


def _empty_bar(name: str, edges: Sequence[DeclaredEdge]) -> Bar:
    return Bar(name, None, None, _ready_as(name, edges, None), _waits(name, edges), None)


def _waits(name: str, edges: Sequence[DeclaredEdge]) -> tuple[str, ...]:
    return tuple(f"{edge.dependency} ({edge.condition or '?'})" for edge in edges if edge.dependent == name)


def _bar(name: str, edges: Sequence[DeclaredEdge], histories: Mapping[str, _History]) -> Bar:
    history = histories.get(name)
    ready_as = _ready_as(name, edges, history)
    return Bar(
        name=name, started=_first(history.starts) if history else None,
        ready=condition_time(history, ready_as), ready_as=ready_as, waited_for=_waits(name, edges),
        decided_by=_deciding(name, edges, histories),
        restarts=tuple(history.restarts) if history else (), exits=tuple(history.exits) if history else (),
        skipped=history.skipped if history else None, runs=_runs(history) if history else (),
    )


def _runs(history: _History) -> tuple[tuple[float, float | None], ...]:
    """Each start paired with the first exit after it."""
    ends = sorted(when for when, _ in history.exits)
    runs: list[tuple[float, float | None]] = []
    for start in history.starts:
        end = next((when for when in ends if when >= start), None)
        if end is not None:
            ends.remove(end)
        runs.append((start, end))
    return tuple(runs)


def _deciding(name: str, edges: Sequence[DeclaredEdge], histories: Mapping[str, _History]) -> str | None:
    """The dependency whose condition held last before `name` started."""
    held = [(when, edge.dependency) for edge in edges if edge.dependent == name
            for when in [condition_time(histories.get(edge.dependency), edge.condition)] if when is not None]
    return max(held)[1] if held else None


def critical_chain(bars: Sequence[Bar], edges: Sequence[DeclaredEdge],
                   histories: Mapping[str, _History]) -> tuple[str, ...]:
    ready = [(bar.ready, bar.name) for bar in bars if bar.ready is not None]
    if not ready:
        return ()
    by_name = {bar.name: bar for bar in bars}
    chain = [max(ready)[1]]
    while True:
        before = by_name[chain[-1]].decided_by
        if before is None or before in chain or before not in by_name:
            break
        chain.append(before)
    return tuple(reversed(chain))


# -- the current run, from the state directory --------------------------------------------


def read_events(path: Path, limit: int = MAX_EVENT_BYTES, end: int | None = None) -> list[dict[str, Any]]:
    """The events in `path` (its last `limit` bytes before `end`), skipping damaged lines."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2) if end is None else end
            handle.seek(max(size - limit, 0))
            data = handle.read(min(limit, size))
    except FileNotFoundError:
        return []
    events = []
    for line in data.split(b"\n"):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def run_start(doc: Mapping[str, Any] | None, events: Sequence[Mapping[str, Any]]) -> float | None:
    """When the current run began: its supervisor's start, else the first event."""
    supervisor = (doc or {}).get("supervisor")
    if isinstance(supervisor, dict) and isinstance(supervisor.get("started_at"), (int, float)):
        return float(supervisor["started_at"])
    times = [when for when in map(event_time, events) if when is not None]
    return min(times) if times else None


def timeline(project: ProjectIdentity, edges: Sequence[DeclaredEdge], agents: Sequence[str] = ()) -> Timeline:
    """The timeline of the project's current (or last) run."""
    from meshcompose.app.events import events_path
    from meshcompose.control import state

    doc = state.StateStore(project.directory, project.name).read()
    events = read_events(events_path(project))
    names = list(agents) or (list(doc["agents"]) if doc else [])
    return compute(project.name, names, edges, events, run_start(doc, events))


def edges_from_state(project: ProjectIdentity) -> list[DeclaredEdge]:
    """The declared edges as the running project recorded them (names only:
    the conditions are in the project file)."""
    from meshcompose.control import state

    doc = state.StateStore(project.directory, project.name).read()
    if doc is None:
        return []
    return [DeclaredEdge(dependency, name, "") for name, record in doc["agents"].items()
            for dependency in record.get("depends_on") or ()]


def project_timeline(project: Project, names: Sequence[str] = ()) -> Timeline:
    """`graph --timeline`: the declared graph's agents and edges, timed by the current run."""
    from meshcompose.app.describe import graph
    from meshcompose.app.options import GraphOptions

    view = graph(project, GraphOptions(names=tuple(names)))
    edges = [DeclaredEdge(edge.dependency, edge.dependent, edge.condition) for edge in view.edges]
    return timeline(ProjectIdentity(project.directory, project.name), edges, view.agents)

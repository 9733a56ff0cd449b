"""What the dashboard shows and does: the application calls behind its page.

The dashboard is a client of the running project, like `ps`, `logs -f` and
`events`: a snapshot is `ps`'s rows and the timeline, the graph is the
declared one (and, where known, the registry's resolved edges), logs and
events are read from the files those commands read, and actions go through
the control socket as `start`, `stop`, `restart` and `down` do. Nothing here
runs inside the supervisor.

Everything returned is plain JSON data, and every piece of agent output in it
has passed `plain_text`: the page shows it as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from meshcompose.app.project import ProjectIdentity
from meshcompose.app.timeline import DeclaredEdge
from meshcompose.safetext import terminal_safe

if TYPE_CHECKING:
    from meshcompose.app.logs import Record
    from meshcompose.model import Project

ACTIONS = ("start", "stop", "restart")
HISTORY_LINES = 200  # per agent, on the page's first load
HISTORY_EVENTS = 300
TRACES_SHOWN = 20  # the newest traces on the page, each with its waterfall


def plain_text(text: str) -> str:
    """Agent output as the page shows it (with textContent): the project's one
    terminal-safe rule, colours dropped, every other control made visible."""
    return terminal_safe(text, color=False)


@dataclass(frozen=True)
class GraphNode:
    name: str
    level: int  # its dependency depth: 0 waits for nothing
    index: int  # its place within the level


@dataclass(frozen=True)
class GraphEdge:
    dependency: str
    dependent: str
    label: str
    kind: str = "declared"  # declared (depends_on) | resolved (the registry's wiring)


@dataclass(frozen=True)
class GraphLayout:
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    levels: int


def layout(agents: Sequence[str], edges: Sequence[DeclaredEdge], resolved: Sequence[GraphEdge] = ()) -> GraphLayout:
    """Agents placed by dependency level (networkx's topological generations)."""
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(agents)
    graph.add_edges_from((edge.dependency, edge.dependent) for edge in edges)
    try:
        levels: Iterable[list[str]] = nx.topological_generations(graph)
        generations = [sorted(level) for level in levels]
    except nx.NetworkXUnfeasible:  # a cycle: the project would not start; show it flat
        generations = [sorted(graph.nodes)]
    nodes = tuple(GraphNode(name, level, index) for level, names in enumerate(generations)
                  for index, name in enumerate(names))
    declared = tuple(GraphEdge(edge.dependency, edge.dependent, edge.condition or "?") for edge in edges)
    return GraphLayout(nodes, declared + tuple(resolved), len(generations))


def resolved_edges(project: ProjectIdentity, load: Callable[[], Project] | None = None) -> list[GraphEdge]:
    """The registry's resolved mesh edges (who calls whom, labelled with the
    capabilities), drawn apart from the declared ones; none in a run without a
    registry, or while the registry does not answer."""
    from meshcompose.app.mesh import live_graph
    from meshcompose.errors import MeshComposeError

    try:
        graph = live_graph(project, load)
    except MeshComposeError:
        return []
    return [GraphEdge(edge.provider, edge.dependent, plain_text(edge.label), "resolved") for edge in graph.resolved]


@dataclass
class DashboardSource:
    """The running project the dashboard shows, and the project file when it
    loads (start and restart need it; the graph's conditions come from it)."""

    identity: ProjectIdentity
    project: Project | None = None
    edges: list[DeclaredEdge] = field(default_factory=list)
    _timeline: tuple[Any, dict[str, Any]] | None = None  # (what it was computed from, the timeline)

    @classmethod
    def open(cls, identity: ProjectIdentity, project: Project | None) -> DashboardSource:
        from meshcompose.app.timeline import edges_from_state

        if project is None:
            return cls(identity, None, edges_from_state(identity))
        from meshcompose.app.describe import graph
        from meshcompose.app.options import GraphOptions

        view = graph(project, GraphOptions())
        return cls(identity, project, [DeclaredEdge(e.dependency, e.dependent, e.condition) for e in view.edges])

    def _doc(self) -> Any:
        """The state document; None if there is none or it cannot be read (the snapshot says why)."""
        from meshcompose.control import state
        from meshcompose.errors import MeshComposeError

        try:
            return state.StateStore(self.identity.directory, self.identity.name).read()
        except MeshComposeError:
            return None

    def agents(self) -> list[str]:
        doc = self._doc()
        recorded = list(doc["agents"]) if doc else []
        declared = list(self.project.agents) if self.project else []
        return list(dict.fromkeys([*recorded, *declared]))

    def snapshot(self) -> dict[str, Any]:
        """`ps -a`'s rows, whether the supervisor lives, and the timeline."""
        import time

        from meshcompose.app.ps import PsOptions, ps
        from meshcompose.app.timeline import Timeline
        from meshcompose.control import state
        from meshcompose.errors import MeshComposeError

        try:
            doc = state.StateStore(self.identity.directory, self.identity.name).read()
            result = ps(self.identity, PsOptions(all=True))
            rows = [_row_json(dict(vars(row))) for row in result.rows]  # flat: asdict's deep copy cost 1 ms a row
            timeline = self.timeline(doc, [row["Name"] for row in rows])
        except MeshComposeError as error:  # e.g. a damaged state file: the page says why, and keeps asking
            return {"project": self.identity.name, "time": time.time(), "ran": True, "supervisor": "unknown",
                    "error": plain_text(str(error)), "orphaned": [], "mesh": False, "rows": [],
                    "timeline": Timeline(self.identity.name, None, (), ()).as_json()}
        return {"project": self.identity.name, "time": time.time(), "ran": result.ran,
                "supervisor": _supervisor_word(doc, state.supervisor_alive(doc)), "error": None,
                "orphaned": list(result.orphaned), "mesh": result.mesh, "rows": rows, "timeline": timeline}

    def timeline(self, doc: Any, names: list[str]) -> dict[str, Any]:
        """The run's timeline, computed again only when the events file or the run changed."""
        import os

        from meshcompose.app.events import events_path
        from meshcompose.app.timeline import timeline

        try:
            info = os.stat(events_path(self.identity))
            key: Any = (info.st_size, info.st_mtime_ns, (doc or {}).get("supervisor"), names)
        except OSError:
            key = None
        if key is None or self._timeline is None or self._timeline[0] != key:
            self._timeline = (key, timeline(self.identity, self.edges, names).as_json())
        return self._timeline[1]

    def graph(self) -> dict[str, Any]:
        project = self.project
        load: Callable[[], Project] | None = (lambda: project) if project is not None else None
        return asdict(layout(self.agents(), self.edges, resolved_edges(self.identity, load)))

    def traces(self) -> dict[str, Any]:
        """The newest traces with their waterfalls, as `trace --format json`
        shows each, when the run has tracing on; else why there are none."""
        from meshcompose.app import traces
        from meshcompose.errors import MeshComposeError

        doc = self._doc()
        if not doc or not doc.get("tracing_url"):
            return {"enabled": False, "error": None, "traces": []}
        try:
            listing = traces.recent(self.identity, traces.TracesOptions(limit=TRACES_SHOWN))
        except MeshComposeError as error:  # the Redis is gone with the run: the page says so
            return {"enabled": True, "error": plain_text(str(error)), "traces": []}
        return {"enabled": True, "error": None, "traces": [_plain(traces.detail(t)) for t in listing.traces]}

    def history(self, lines: int = HISTORY_LINES) -> tuple[list[dict[str, str]], LogTail]:
        """The agents' last `lines` records each, merged by time, and a tail that continues exactly there."""
        from meshcompose.app.logs import log_dir
        from meshcompose.logs.logfiles import agents_with_logs
        from meshcompose.logs.logread import LogFollower, merge_by_time, tail_records

        where = log_dir(self.identity)
        follower = LogFollower(where)
        offsets = follower.offsets()
        merged = merge_by_time([tail_records(where, name, lines, offsets.get(name))
                                for name in agents_with_logs(where)])
        return [record_json(record) for record in merged], LogTail(follower)

    def events(self) -> tuple[list[dict[str, Any]], EventTail]:
        """The current run's events so far, and a tail that continues exactly there."""
        from meshcompose.app.events import events_path
        from meshcompose.app.timeline import run_start

        tail = EventTail(events_path(self.identity))
        return tail.history(run_start(self._doc(), [])), tail

    def act(self, action: str, names: Sequence[str]) -> str:
        """start, stop or restart agents, as the commands of those names do; a line saying what was done."""
        from meshcompose.errors import UsageError

        if action not in ACTIONS:
            raise UsageError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        if action == "stop":
            from meshcompose.app.stop import StopOptions, stop

            return f"stopped: {', '.join(stop(self.identity, StopOptions(names=tuple(names))).stopped)}"
        project = self._project(action)
        if action == "start":
            from meshcompose.app.options import StartOptions
            from meshcompose.app.up import start

            started = start(project, StartOptions(names=tuple(names))).started
            return f"started: {', '.join(started)}" if started else "already running: nothing to start"
        from meshcompose.app.restart import RestartOptions, restart

        return f"restarted: {', '.join(restart(project, RestartOptions(names=tuple(names))).restarted)}"

    def down(self) -> str:
        from meshcompose.app.down import DownOptions, down

        result = down(self.identity, DownOptions())
        return f"down: stopped {len(result.stopped)} agent(s)"

    def _project(self, action: str) -> Project:
        from meshcompose.errors import MeshComposeError

        if self.project is None:
            raise MeshComposeError(f"cannot {action} from this dashboard: the project file did not load",
                                   hint="use the command line, or start the dashboard where the file is")
        return self.project


def _supervisor_word(doc: Any, alive: bool) -> str:
    if doc is None:
        return "never ran"
    return "running" if alive else "gone"


def _row_json(row: dict[str, Any]) -> dict[str, Any]:
    """The row, and its cells as `ps` words them (`Shown`)."""
    from meshcompose.units import format_duration, format_size

    row["Message"] = plain_text(row["Message"]) if row.get("Message") else row.get("Message")
    python = row["Python"] or "-"
    if row["Python"] and row["Venv"] is not None:
        python = f"{row['Python']} ({'venv' if row['Venv'] else 'system'})"
    row["Shown"] = {
        "pid": str(row["Pid"]) if row["Pid"] else "-",
        "uptime": format_duration(row["Uptime"]) if row["Uptime"] is not None else "-",
        "cpu": f"{row['CPUPercent']:.1f}" if row["CPUPercent"] is not None else "-",
        "memory": format_size(row["MemoryBytes"]) if row["MemoryBytes"] is not None else "-",
        "python": python,
    }
    return row


def record_json(record: Record) -> dict[str, str]:
    return {"when": record.when, "agent": record.agent, "stream": record.stream, "text": plain_text(record.text)}


class LogTail:
    """New log records since the history was read, poll by poll."""

    def __init__(self, follower: Any) -> None:
        self.follower = follower

    def poll(self) -> list[dict[str, str]]:
        return [record_json(record) for record in self.follower.poll()]

    def close(self) -> None:
        self.follower.close()


class EventTail:
    """The lifecycle events appended to `events.jsonl` since the tail began."""

    MAX_CHUNK = 1024 * 1024

    def __init__(self, path: Any) -> None:
        self.path = path
        try:
            self.offset = path.stat().st_size
        except OSError:
            self.offset = 0
        self.pending = b""

    def history(self, since: float | None, count: int = HISTORY_EVENTS) -> list[dict[str, Any]]:
        """The last `count` events before the tail's start, of the run that began at `since`."""
        from meshcompose.app.timeline import CLOCK_SLACK_SECONDS, event_time, read_events

        if since is None:
            return []
        events = read_events(self.path, end=self.offset)
        return [_event_json(event) for event in events
                if (event_time(event) or 0.0) >= since - CLOCK_SLACK_SECONDS][-count:]

    def poll(self) -> list[dict[str, Any]]:

        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read(self.MAX_CHUNK)
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        *lines, self.pending = (self.pending + chunk).split(b"\n")
        if len(self.pending) > self.MAX_CHUNK:  # a line without an end is dropped, not kept growing
            self.pending = b""
        from meshcompose.app.events import parse_event

        return [_event_json(event) for event in map(parse_event, lines) if event is not None]


def _event_json(event: dict[str, Any]) -> dict[str, Any]:
    attributes = event.get("attributes") if isinstance(event.get("attributes"), dict) else {}
    details = ", ".join(f"{key}={value}" for key, value in (attributes or {}).items() if key not in ("name", "project"))
    return {"time": plain_text(str(event.get("time", ""))), "agent": plain_text(str(event.get("service", ""))),
            "action": plain_text(str(event.get("action", ""))), "details": plain_text(details)}


def state_files(project: ProjectIdentity) -> list[Any]:
    """The files whose change means the agents' state changed."""
    from meshcompose.app.events import events_path
    from meshcompose.control import paths

    document = paths.state_file(project.directory, project.name)
    return [document, document.parent / paths.SPAWNS_FILE_NAME, events_path(project)]


def supervisor_alive(project: ProjectIdentity) -> bool:
    from meshcompose.control import state

    return state.supervisor_alive(state.StateStore(project.directory, project.name).read())


def _plain(data: Any) -> Any:
    """Every text in `data` through plain_text: spans carry what agents wrote (names, errors)."""
    if isinstance(data, str):
        return plain_text(data)
    if isinstance(data, list):
        return [_plain(item) for item in data]
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    return data

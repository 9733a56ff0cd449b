"""The tools an assistant calls, as plain functions: arguments in, an `Answer`
(a short text and JSON-able data) out, a `MeshComposeError` with the CLI's
words when something is wrong. Each call finds the project afresh, as a CLI
command would, because the project starts and stops between calls.

Everything returned is bounded: logs and events are capped in count and
bytes, and the answer says when something was cut.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshcompose.app.project import ProjectIdentity, ProjectSelection, identify
from meshcompose.errors import ConfigError, MeshComposeError, UsageError
from meshcompose.safetext import terminal_safe

if TYPE_CHECKING:
    from meshcompose.app.logs import Record
    from meshcompose.app.waiting import WaitOutcome
    from meshcompose.model import Project

MAX_LINES = 1000  # logs and events: never more records than this in one answer
MAX_BYTES = 64 * 1024  # nor more text than this
DEFAULT_LINES = 100
EVENTS_READ_BYTES = 4 * 1024 * 1024  # the newest part of events.jsonl that `events` looks at
MAX_WAIT_SECONDS = 600.0


@dataclass(frozen=True)
class Answer:
    text: str  # one short paragraph for the assistant to read
    data: dict[str, Any]  # the structured content


class Tools:
    """The project chosen when the server started (-f, -p, the directory)."""

    def __init__(self, selection: ProjectSelection) -> None:
        self.selection = selection

    def identity(self) -> ProjectIdentity:
        return identify(self.selection)

    def project(self) -> Project:
        from meshcompose.app.project import load

        return load(self.selection)

    # -- looking ---------------------------------------------------------------------------

    def status(self, agents: Sequence[str] = ()) -> Answer:
        from meshcompose.app.ps import PsOptions, ps

        result = ps(self.identity(), PsOptions(all=True, names=tuple(agents)))
        rows = [asdict(row) for row in result.rows]
        if not result.ran:
            text = "the project has not run here"
        elif not rows:
            text = "no agents"
        else:
            text = "; ".join(f"{row['Name']}: {row['Status']}" for row in rows)
        if result.orphaned:
            text += f" (the supervisor is gone; orphaned: {', '.join(result.orphaned)})"
        return Answer(text, {"project": self.identity().name, "ran": result.ran, "mesh": result.mesh,
                             "orphaned": list(result.orphaned), "agents": rows})

    def logs(self, agent: str | None = None, lines: int = DEFAULT_LINES, pattern: str | None = None,
             since: str | None = None) -> Answer:
        from meshcompose.app.logs import LogsOptions, logs, parse_time_point

        count = bounded_count(lines, "lines")
        window_start = _time_point(since, parse_time_point) if since else None
        sink = _Keep(count, pattern)
        names = (agent,) if agent else ()
        # Without a pattern the last `count` lines per agent suffice; with one, the whole history is scanned.
        options = LogsOptions(names=names, tail=None if pattern else count, since=window_start)
        logs(self.identity(), options, sink)
        kept, cut = sink.result()
        data = {"lines": [{"agent": r.agent, "time": r.when, "stream": r.stream, "text": printable(r.text)}
                          for r in kept], "truncated": cut}
        what = f"{len(kept)} line{'s' if len(kept) != 1 else ''}"
        return Answer(what + (" (older lines cut: ask for fewer, or narrow with pattern/since)" if cut else ""),
                      data)

    def events(self, agent: str | None = None, since: str | None = None, limit: int = DEFAULT_LINES) -> Answer:
        from meshcompose.app.events import events_path
        from meshcompose.app.logs import parse_time_point

        count = bounded_count(limit, "limit")
        start = _time_point(since, parse_time_point) if since else None
        identity = self.identity()
        newest, cut = _newest_events(events_path(identity), agent, start, count)
        text = f"{len(newest)} event{'s' if len(newest) != 1 else ''}"
        return Answer(text + (" (older events cut)" if cut else ""), {"events": newest, "truncated": cut})

    def graph(self) -> Answer:
        """The declared edges; while the project runs with a registry, the resolved ones too."""
        from meshcompose.app.describe import graph
        from meshcompose.app.mesh import live_graph
        from meshcompose.app.options import GraphOptions

        project = self.project()
        view = graph(project, GraphOptions())
        edges = [{"dependency": e.dependency, "dependent": e.dependent, "condition": e.condition,
                  "required": e.required, "kind": "declared"} for e in view.edges]
        try:
            live = live_graph(self.identity(), lambda: project).resolved
        except MeshComposeError:  # not running, or no registry: the declared graph is the whole answer
            live = ()
        resolved = [{"dependency": e.provider, "dependent": e.dependent, "capabilities": printable(e.label),
                     "declared": e.declared, "kind": "resolved"} for e in live]
        text = "; ".join(f"{e['dependent']} needs {e['dependency']} {e['condition']}" for e in edges) or "no edges"
        if resolved:
            text += "; resolved: " + "; ".join(f"{e['dependent']} -> {e['dependency']} ({e['capabilities']})"
                                               for e in resolved)
        return Answer(text, {"project": view.project, "waves": [list(wave) for wave in view.waves],
                             "edges": [*edges, *resolved]})

    def mesh(self, agents: Sequence[str] = (), all: bool = False) -> Answer:
        """What `mesh --format json` shows: capabilities, tools, resolutions, and the differences."""
        from meshcompose.app.mesh import mesh_facts

        data = mesh_facts(self.identity(), tuple(agents), all, self.project)
        lines = [f"{agent['name']}: {agent['status']}, {agent['resolved']}/{agent['total']} dependencies resolved"
                 for agent in data["agents"]]
        lines += [finding["text"] for finding in data["findings"]]
        return Answer(printable("; ".join(lines) or "no agents in the mesh"), data)

    def wait_until_ready(self, agents: Sequence[str] = (), timeout: float = 60.0) -> Answer:
        from meshcompose.app.live import known_names, running_doc
        from meshcompose.app.up import healthchecked
        from meshcompose.app.waiting import wait_until_up

        seconds = bounded_seconds(timeout)
        identity = self.identity()
        doc = running_doc(identity.directory, identity.name, "wait")
        names = known_names(agents, doc["agents"]) or list(doc["agents"])
        checked = healthchecked(self.project(), names)
        return outcome_answer(wait_until_up(identity.directory, identity.name, names, checked, seconds))

    def check_config(self) -> Answer:
        try:
            project = self.project()
        except ConfigError as error:
            problems = [{"file": p.file, "line": p.line, "column": p.column, "path": p.path,
                         "message": p.message} for p in error.problems]
            return Answer(printable(str(error)), {"valid": False, "problems": problems, "hint": error.hint})
        return Answer("valid", {"valid": True, "project": project.name, "agents": list(project.agents)})

    def list_projects(self, all: bool = False) -> Answer:
        from meshcompose.app.ls import LsOptions, ls

        rows = [asdict(row) for row in ls(LsOptions(all=all))]
        text = "; ".join(f"{row['Name']}: {row['Status']}" for row in rows) or "no projects running"
        return Answer(text, {"projects": rows})

    # -- changing (only with --allow-control) -------------------------------------------------

    def up(self, agents: Sequence[str] = (), wait_timeout: float = 60.0) -> Answer:
        from meshcompose.app.options import UpOptions
        from meshcompose.app.up import up

        result = up(self.project(), UpOptions(names=tuple(agents), detach=True,
                                              wait_timeout=bounded_seconds(wait_timeout)))
        assert result.outcome is not None  # a detached or handed-over run waits
        return outcome_answer(result.outcome)

    def down(self, timeout: float | None = None) -> Answer:
        from meshcompose.app.down import DownOptions, down

        result = down(self.identity(), DownOptions(timeout=_optional_seconds(timeout)))
        stopped = [agent.name for agent in result.stopped]
        text = f"stopped: {', '.join(stopped)}" if stopped else "nothing was running"
        return Answer(text, {"mode": result.mode.value, "stopped": stopped,
                             "registry_kept_for": list(result.registry_kept_for)})

    def start(self, agents: Sequence[str] = ()) -> Answer:
        from meshcompose.app.options import StartOptions
        from meshcompose.app.up import start

        result = start(self.project(), StartOptions(names=tuple(agents)))
        assert result.outcome is not None
        return outcome_answer(result.outcome)

    def stop(self, agents: Sequence[str] = (), timeout: float | None = None) -> Answer:
        from meshcompose.app.stop import StopOptions, stop

        result = stop(self.identity(), StopOptions(names=tuple(agents), timeout=_optional_seconds(timeout)))
        text = f"stopped: {', '.join(result.stopped)}" + "".join(f"; {w}" for w in result.warnings)
        return Answer(text, {"stopped": list(result.stopped), "warnings": list(result.warnings)})

    def restart(self, agents: Sequence[str] = (), timeout: float | None = None) -> Answer:
        from meshcompose.app.restart import RestartOptions, restart

        result = restart(self.project(), RestartOptions(names=tuple(agents), timeout=_optional_seconds(timeout)))
        answer = outcome_answer(result.outcome)
        return Answer(answer.text, {**answer.data, "restarted": list(result.restarted),
                                    "warnings": list(result.warnings)})

    def scale(self, counts: Mapping[str, int], timeout: float | None = None, wait_timeout: float = 60.0) -> Answer:
        """`scale AGENT=N ...`: the same checks, through the running supervisor."""
        from meshcompose.app.scale import ScaleOptions, parse_counts, scale

        if not isinstance(counts, Mapping) or not counts:
            raise UsageError("counts: expected agent names with the number of processes each, such as {\"api\": 3}")
        wanted = parse_counts([f"{name}={count}" for name, count in counts.items()], "counts:")
        result = scale(self.project(), ScaleOptions(counts=wanted, timeout=_optional_seconds(timeout),
                                                    wait_timeout=bounded_seconds(wait_timeout)))
        changes = [{"agent": c.agent, "before": c.before, "after": c.after, "started": list(c.started),
                    "stopped": list(c.stopped)} for c in result.agents]
        text = "; ".join(f"{c['agent']}: {c['before']} -> {c['after']}" for c in changes)
        if result.outcome is None:
            return Answer(text, {"agents": changes})
        answer = outcome_answer(result.outcome)
        return Answer(f"{text}; {answer.text}", {**answer.data, "agents": changes})

    def call_tool(self, agent: str, tool: str, arguments: Mapping[str, Any] | None = None,
                  timeout: float = 30.0) -> Answer:
        """A tool of a running agent, called over its MCP endpoint as `call` does."""
        from meshcompose.app.tools import call

        outcome = call(self.identity(), agent, tool, [json.dumps(dict(arguments or {}))], bounded_seconds(timeout))
        result = outcome.result
        text = printable("\n".join(result.texts))
        if result.is_error:
            raise MeshComposeError(f"tool '{tool}' of '{agent}' failed: {text}")
        return Answer(text or "(no text)", {"agent": agent, "tool": tool, "result": dict(result.raw)})


def outcome_answer(outcome: WaitOutcome) -> Answer:
    """How a wait ended, with the reasons, as `up -d` prints them."""
    agents = [{"name": a.name, "status": a.status, "ready": a.reached, "message": a.message}
              for a in outcome.agents]
    parts = []
    for agent in outcome.agents:
        verdict = {True: "ready", False: "will not become ready", None: "not ready in time"}[agent.reached]
        reason = f" ({agent.message})" if agent.message else ""
        parts.append(f"{agent.name}: {agent.status}, {verdict}{reason}")
    data: dict[str, Any] = {"ready": outcome.ok, "agents": agents}
    if outcome.supervisor_exit is not None:
        data["supervisor_exit"] = outcome.supervisor_exit
        data["supervisor_log"] = printable(outcome.supervisor_log)
        parts.append(f"the supervisor exited with {outcome.supervisor_exit}")
    return Answer(printable("; ".join(parts) or "no agents"), data)


def bounded_count(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LINES:
        raise UsageError(f"{what}: expected a whole number from 1 to {MAX_LINES}, got {value!r}")
    return value


def bounded_seconds(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_WAIT_SECONDS:
        raise UsageError(f"timeout: expected seconds from 0 to {MAX_WAIT_SECONDS:g}, got {value!r}")
    return float(value)


def _optional_seconds(value: float | None) -> float | None:
    return None if value is None else bounded_seconds(value)


def _time_point(text: str, parse: Any) -> str:
    try:
        return str(parse(text))
    except ValueError as error:
        raise UsageError(f"since: {error}") from None


def printable(text: str) -> str:
    """Agent text as plain text: tabs and newlines stay, colours go, every
    other control character is shown (`^[`), so nothing an agent wrote can
    steer whatever displays the answer."""
    return terminal_safe(text, color=False, newlines=True)


class _Keep:
    """A LogSink that keeps the newest `count` records matching `pattern`,
    within MAX_BYTES of text."""

    def __init__(self, count: int, pattern: str | None) -> None:
        self.kept: collections.deque[Record] = collections.deque(maxlen=count)
        self.pattern = pattern.lower() if pattern else None
        self.seen = 0

    def begin(self, agents: Sequence[str]) -> None:
        pass

    def waiting(self, log_dir: Path) -> None:
        pass

    def show(self, records: Sequence[Record]) -> bool:
        for record in records:
            if record.stream == "run" or (self.pattern is not None and self.pattern not in record.text.lower()):
                continue
            self.seen += 1
            self.kept.append(record)
        return True

    def result(self) -> tuple[list[Record], bool]:
        kept = list(self.kept)
        size = 0
        for index in range(len(kept) - 1, -1, -1):
            size += len(kept[index].text) + 64
            if size > MAX_BYTES:
                return kept[index + 1:], True
        return kept, self.seen > len(kept)


def _newest_events(path: Path, agent: str | None, since: str | None,
                   count: int) -> tuple[list[dict[str, Any]], bool]:
    """The newest `count` events (of `agent`, at or after `since`) from the
    last EVENTS_READ_BYTES of the file; older ones are reported as cut."""
    chunk, partial = _tail_bytes(path, EVENTS_READ_BYTES)
    kept: collections.deque[dict[str, Any]] = collections.deque(maxlen=count)
    matched = 0
    for event in _parse_lines(chunk.split(b"\n")[1:] if partial else chunk.split(b"\n")):
        when = event.get("time")
        if agent and event.get("service") != agent:
            continue
        if since and not (isinstance(when, str) and when >= since):  # both RFC 3339, UTC, microseconds
            continue
        matched += 1
        kept.append(event)
    return list(kept), partial or matched > len(kept)


def _tail_bytes(path: Path, limit: int) -> tuple[bytes, bool]:
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - limit))
            return handle.read(limit), size > limit
    except FileNotFoundError:
        return b"", False
    except OSError as error:
        raise MeshComposeError(f"cannot read {path}: {error.strerror}") from None


def _parse_lines(lines: Iterable[bytes]) -> Iterable[dict[str, Any]]:
    from meshcompose.app.events import parse_event

    return (event for event in map(parse_event, lines) if event is not None)

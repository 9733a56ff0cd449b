"""What the supervisor reports: agent status snapshots and the observer seam.

The supervisor never prints. Everything it has to say goes to an `Observer`:
the console, the per-agent log files and the state file are all observers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from meshcompose.lifecycle import AgentState, event_actions


@dataclass(frozen=True)
class AgentStatus:
    """One agent as the supervisor sees it right now."""

    name: str
    state: AgentState = AgentState.WAITING
    exit_code: int | None = None
    message: str | None = None  # why: skipped because…, failed after…, timeout…
    pid: int | None = None
    create_time: float | None = None
    token: str | None = None
    cgroup: str | None = None  # the run's cgroup (`proc.cgroup`), where there is one
    restarts: int = 0
    started_at: float | None = None
    ever_started: bool = False
    final: bool = False  # ended, and nothing will start it again on its own
    limits: str | None = None  # resource limits in force and how: "cpu 0.5 (CPU 1, duty cycle 50%)"
    exposed: tuple[str, ...] = ()  # what it listens on beyond the loopback host asked for: ("0.0.0.0:43121",)

    def label(self) -> str:
        """The status word users see: `healthy`, `exited (1)`, `exited (timeout after 5m)`."""
        if self.state is AgentState.EXITED and self.exit_code is not None:
            return f"exited ({self.message or self.exit_code})"
        return self.state.value

    def evolve(self, **changes: Any) -> AgentStatus:
        return replace(self, **changes)


@dataclass(frozen=True)
class Notice:
    """A message of mesh-compose's own, about one agent or the project."""

    text: str
    agent: str | None = None
    level: str = "info"  # info | warning | error
    when: float = field(default_factory=time.time)
    kind: str = "notice"  # "watch": a reload by watch mode; EXPOSED; MESH (`events` tells them apart)
    action: str = ""  # MESH: registered | deregistered | resolved | unresolved | warning
    attributes: Mapping[str, Any] = field(default_factory=dict)  # MESH: capability, provider, ...


EXPOSED = "exposed"
WATCH = "watch"  # watch mode's notices (runtime.watch): reloads and rejected edits
"""The kind of the warning that an agent listens beyond the loopback host
the project asked for; it is also a lifecycle event (`events.jsonl`)."""

MESH = "mesh"
"""The kind of a mesh event (an agent registered, deregistered, resolved or
lost a dependency) and of a declared-vs-resolved warning, from the registry
reads the run makes anyway; each is also an event (`mesh: ACTION`)."""


class Observer(Protocol):
    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None: ...

    def agent_status(self, status: AgentStatus) -> None: ...

    def notice(self, notice: Notice) -> None: ...


class FanOut:
    """Sends everything to several observers, in order."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = list(observers)

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None:
        for observer in self.observers:
            observer.agent_lines(agent, stream, lines)

    def agent_status(self, status: AgentStatus) -> None:
        for observer in self.observers:
            observer.agent_status(status)

    def notice(self, notice: Notice) -> None:
        for observer in self.observers:
            observer.notice(notice)


# -- the lifecycle event log (`mesh-compose events`) --------------------------------

EVENTS_FILE_NAME = "events.jsonl"


class EventRecorder:
    """An observer that appends each lifecycle change to `events.jsonl` in
    the state directory: one JSON object a line, compose's `events --json`
    shape. Appends are one write each, so a reader never sees half a line."""

    def __init__(self, path: Any, project: str) -> None:
        from pathlib import Path

        self.path = Path(path)
        self.project = project
        self._last: dict[str, AgentState] = {}

    def agent_lines(self, agent: str, stream: str, lines: list[str]) -> None:
        pass

    def notice(self, notice: Notice) -> None:
        if notice.kind == EXPOSED and notice.agent:
            self._append(self._event(notice.agent, EXPOSED, {"message": notice.text}))
        elif notice.kind == MESH and notice.agent:
            self._append(self._event(notice.agent, f"{MESH}: {notice.action}",
                                     {**notice.attributes, "message": notice.text}))
        elif notice.kind == WATCH and notice.agent:
            action = "watch: rejected" if notice.level == "error" else "watch: reload"
            self._append(self._event(notice.agent, action, {"message": notice.text}))

    def agent_status(self, status: AgentStatus) -> None:
        actions = event_actions(self._last.get(status.name), status.state)
        self._last[status.name] = status.state
        for action in actions:
            self._append(self.event(status, action))

    def event(self, status: AgentStatus, action: str) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        if status.pid is not None:
            attributes["pid"] = status.pid
        if action == "die":
            attributes["exitCode"] = status.exit_code
        if status.message:
            attributes["message"] = status.message
        return self._event(status.name, action, attributes)

    def _event(self, agent: str, action: str, attributes: dict[str, Any]) -> dict[str, Any]:
        import datetime

        when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return {"time": when, "type": "agent", "action": action, "id": f"{self.project}-{agent}",
                "service": agent, "attributes": {"name": agent, "project": self.project, **attributes}}

    def _append(self, event: dict[str, Any]) -> None:
        import json
        import os

        line = (json.dumps(event) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError:
            pass  # the event log is a convenience: it never stops a run

"""What the supervisor reports: agent status snapshots and the observer seam.

The supervisor never prints. Everything it has to say goes to an `Observer`:
the console, the per-agent log files and the state file are all observers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from meshcompose.model import AgentState


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
    restarts: int = 0
    started_at: float | None = None
    ever_started: bool = False
    final: bool = False  # ended, and nothing will start it again on its own
    limits: str | None = None  # resource limits in force and how: "cpu 0.5 (CPU 1, duty cycle 50%)"

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
    kind: str = "notice"  # "watch": a reload by watch mode (`events` tells them apart)


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

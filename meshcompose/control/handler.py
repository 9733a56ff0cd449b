"""Answers control requests (`down`, `stop`, `start`, `restart`, `ping`) for
a running supervisor.

The handler knows the supervisor only through `Supervised` and the state
file only through `StateRecording`: control/ never imports runtime/. It
validates what a client sends and turns it into supervisor calls; it never
changes the supervisor's data itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import anyio

from meshcompose.control import protocol
from meshcompose.model import Project
from meshcompose.plan.launch import LaunchSpec

Response = dict[str, Any]
# A stopped runner's pipes drain for at most runner.PIPE_DRAIN_SECONDS.
SETTLE_SECONDS = 5.0


class Supervised(Protocol):
    """What the handler asks of the running supervisor."""

    @property
    def project(self) -> Project: ...

    @property
    def stopping(self) -> bool: ...

    @property
    def agent_names(self) -> list[str]:
        """Every agent it knows how to launch."""

    def add_launches(self, launches: Mapping[str, LaunchSpec]) -> None: ...

    def start(self, names: Sequence[str]) -> list[str]:
        """Starts those not already active; returns the ones it started."""

    async def stop(self, names: Sequence[str], *, timeout: float | None = None) -> None: ...

    def request_shutdown(self, timeout: float | None = None) -> None: ...

    async def wait_final(self, names: Sequence[str]) -> None:
        """Until each named agent has recorded its end."""

    def active_dependents(self, name: str, excluding: Sequence[str] = ()) -> list[str]: ...


class StateRecording(Protocol):
    """What the handler asks of the state file's recorder."""

    def add_agents(self, project: Project, launches: Mapping[str, LaunchSpec]) -> None: ...

    def mark_starting(self, names: Sequence[str]) -> None: ...

    def write_now(self) -> None: ...


class ControlHandler:
    """`await handler(request)` -> response; see `protocol` for the framing."""

    def __init__(self, supervisor: Supervised, recorder: StateRecording) -> None:
        self.supervisor = supervisor
        self.recorder = recorder

    async def __call__(self, request: dict[str, Any]) -> Response:
        op = request.get("op")
        handler = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
        if handler is None:
            return protocol.failure(f"unknown request {op!r}")
        response: Response = await handler(request)
        return response

    async def op_ping(self, request: dict[str, Any]) -> Response:
        return {"ok": True, "pid": os.getpid(), "project": self.supervisor.project.name}

    async def op_down(self, request: dict[str, Any]) -> Response:
        self.supervisor.request_shutdown(timeout=request.get("timeout"))
        return {"ok": True}

    async def op_stop(self, request: dict[str, Any]) -> Response:
        names = self._known(request.get("names"))
        if isinstance(names, dict):
            return names
        warnings = self._dependents_warnings(names)
        await self.supervisor.stop(names, timeout=request.get("timeout"))
        await self._settled(names)
        return {"ok": True, "stopped": names, "warnings": warnings}

    async def _settled(self, names: Sequence[str]) -> None:
        """Until each stopped agent has recorded its end, and the state file
        says so: a `start` right after must find it final, and a `ps` right
        after must see it exited."""
        with anyio.move_on_after(SETTLE_SECONDS):
            await self.supervisor.wait_final(names)
        self.recorder.write_now()

    async def op_start(self, request: dict[str, Any]) -> Response:
        launches = {name: LaunchSpec.from_dict(raw) for name, raw in (request.get("launches") or {}).items()}
        names = self._known(request.get("names"), extra=launches)
        if isinstance(names, dict):
            return names
        if self.supervisor.stopping:
            return protocol.failure("the project is stopping")
        self.supervisor.add_launches(launches)
        self.recorder.add_agents(self.supervisor.project, launches)
        started = self.supervisor.start(names)
        self.recorder.mark_starting(started)
        return {"ok": True, "started": started}

    async def op_restart(self, request: dict[str, Any]) -> Response:
        stopped = await self.op_stop(request)
        if not stopped.get("ok"):
            return stopped
        started = await self.op_start({"names": stopped["stopped"]})
        return {**started, "warnings": stopped["warnings"]}

    def _known(self, names: Any, extra: Mapping[str, Any] = {}) -> list[str] | Response:
        """The requested names, or a failure response naming the unknown ones."""
        known = self.supervisor.agent_names
        if not isinstance(names, list) or not names:
            names = list(known)
        unknown = [n for n in names if n not in known and n not in extra]
        if unknown:
            return protocol.failure(f"not part of the running project: {', '.join(map(str, unknown))}",
                                    hint="start them with `mesh-compose up NAME`")
        return names

    def _dependents_warnings(self, names: Sequence[str]) -> list[str]:
        warnings = []
        for name in names:
            active = self.supervisor.active_dependents(name, excluding=names)
            if active:
                warnings.append(f"{', '.join(active)} depend(s) on {name} and keep running")
        return warnings

"""Answers control requests (`down`, `stop`, `remove`, `start`, `restart`,
`recreate`, `definitions`, `changed`, `ping`) for a running supervisor.

The handler knows the supervisor only through `Supervised` and the state
file only through `StateRecording`: control/ never imports runtime/. It
validates what a client sends and turns it into supervisor calls; it never
changes the supervisor's data itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from meshcompose.control import protocol
from meshcompose.model import Agent, Project
from meshcompose.names import members
from meshcompose.plan import codec
from meshcompose.plan.launch import LaunchSpec

if TYPE_CHECKING:  # typing.TypeGuard is 3.10+; annotations are not evaluated at run time
    from typing_extensions import TypeGuard

Response = dict[str, Any]
# A stopped runner's pipes drain for at most runner.PIPE_DRAIN_SECONDS.
SETTLE_SECONDS = 5.0
CHANGED_WAIT_MAX = 5.0  # how long one `changed` request may be held open


class Supervised(Protocol):
    """What the handler asks of the running supervisor."""

    @property
    def project(self) -> Project: ...

    @property
    def stopping(self) -> bool: ...

    @property
    def agent_names(self) -> list[str]:
        """Every agent it knows how to launch."""

    def add_launches(self, launches: Mapping[str, LaunchSpec],
                     agents: Mapping[str, Agent] | None = None) -> None: ...

    async def recreate(self, agents: Mapping[str, Agent], launches: Mapping[str, LaunchSpec], *,
                       timeout: float | None = None) -> list[str]: ...

    async def restart(self, names: Sequence[str], *, timeout: float | None = None) -> list[str]: ...

    def restart_dependents(self, names: Sequence[str]) -> list[str]: ...

    def start(self, names: Sequence[str]) -> list[str]:
        """Starts those not already active; returns the ones it started."""

    async def stop(self, names: Sequence[str], *, timeout: float | None = None) -> None: ...

    def forget(self, names: Sequence[str]) -> list[str]:
        """Drops the ended ones among `names` from the run; returns them."""

    def request_shutdown(self, timeout: float | None = None) -> None: ...

    async def wait_final(self, names: Sequence[str]) -> None:
        """Until each named agent has recorded its end."""

    def active_dependents(self, name: str, excluding: Sequence[str] = ()) -> list[str]: ...


class StateRecording(Protocol):
    """What the handler asks of the state file's recorder."""

    def add_agents(self, project: Project, launches: Mapping[str, LaunchSpec]) -> None: ...

    def mark_starting(self, names: Sequence[str]) -> None: ...

    def forget(self, names: Sequence[str]) -> None: ...

    def write_now(self) -> None: ...

    async def wait_written(self, since: float, timeout: float) -> float:
        """Until the state file was written after `since`, or `timeout`; its latest `updated_at`."""


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

    async def op_changed(self, request: dict[str, Any]) -> Response:
        """Answers once the state file was written after `since` (the
        `updated_at` the client read), or after `timeout` seconds (at most
        CHANGED_WAIT_MAX): a client waiting for agents to come up wakes on
        the supervisor's write instead of polling the file."""
        since, timeout = request.get("since"), request.get("timeout", CHANGED_WAIT_MAX)
        if not (_number(since) and _number(timeout)):
            return protocol.failure('changed needs numbers "since" and "timeout"')
        updated = await self.recorder.wait_written(since, max(0.0, min(timeout, CHANGED_WAIT_MAX)))
        return {"ok": True, "updated_at": updated}

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

    async def op_remove(self, request: dict[str, Any]) -> Response:
        """Stops `names` as `stop` does, then drops them from the run: `ps -a`,
        `start` and `restart` no longer know them (replicas scaled away)."""
        names = self._known(request.get("names"))
        if isinstance(names, dict):
            return names
        await self.supervisor.stop(names, timeout=request.get("timeout"))
        await self._settled(names)
        removed = self.supervisor.forget(names)
        self.recorder.forget(removed)
        return {"ok": True, "removed": removed}

    async def _settled(self, names: Sequence[str]) -> None:
        """Until each stopped agent has recorded its end, and the state file
        says so: a `start` right after must find it final, and a `ps` right
        after must see it exited."""
        with anyio.move_on_after(SETTLE_SECONDS):
            await self.supervisor.wait_final(names)
        self.recorder.write_now()

    async def op_start(self, request: dict[str, Any]) -> Response:
        """Starts `names`; agents new to this supervisor come with their
        launch spec and their definition (`agents`)."""
        launches, agents = self._definitions(request)
        names = self._known(request.get("names"), extra=launches)
        if isinstance(names, dict):
            return names
        if self.supervisor.stopping:
            return protocol.failure("the project is stopping")
        missing = [name for name in launches if name not in agents and name not in self.supervisor.project.agents]
        if missing:
            return protocol.failure(f"no definition sent for {', '.join(missing)}")
        self.supervisor.add_launches(launches, agents)
        self.recorder.add_agents(self.supervisor.project, launches)
        started = self.supervisor.start(names)
        self.recorder.mark_starting(started)
        return {"ok": True, "started": started}

    async def op_definitions(self, request: dict[str, Any]) -> Response:
        """What each agent it can launch runs from: its definition, as the plan
        encodes it (agents of the file it was never asked to run are not listed)."""
        agents = self.supervisor.project.agents
        return {"ok": True, "agents": {name: codec.encode(agents[name])
                                       for name in self.supervisor.agent_names if name in agents}}

    async def op_recreate(self, request: dict[str, Any]) -> Response:
        """Stops each agent sent and starts it from its new definition and launch spec."""
        launches, agents = self._definitions(request)
        if not agents or set(agents) != set(launches):
            return protocol.failure("recreate needs a definition and a launch spec for each agent")
        if self.supervisor.stopping:
            return protocol.failure("the project is stopping")
        started = await self.supervisor.recreate(agents, launches, timeout=request.get("timeout"))
        self.recorder.add_agents(self.supervisor.project, launches)
        self.recorder.mark_starting(started)
        self.recorder.write_now()
        return {"ok": True, "recreated": list(agents), "started": started}

    async def op_restart(self, request: dict[str, Any]) -> Response:
        """Restarts `names`, and the agents that depend on one of them with
        `restart: true` (compose's depends_on.restart); the other dependents
        keep running, and the warning says so."""
        names = self._known(request.get("names"))
        if isinstance(names, dict):
            return names
        if self.supervisor.stopping:
            return protocol.failure("the project is stopping")
        along = self.supervisor.restart_dependents(names)
        warnings = self._dependents_warnings([*names, *along], restarting=True)
        started = await self.supervisor.restart(names, timeout=request.get("timeout"))
        self.recorder.mark_starting(started)
        return {"ok": True, "started": started, "restarted_with": along, "warnings": warnings}

    def _definitions(self, request: dict[str, Any]) -> tuple[dict[str, LaunchSpec], dict[str, Agent]]:
        launches = {name: LaunchSpec.from_dict(raw) for name, raw in (request.get("launches") or {}).items()}
        agents = {name: codec.decode(Agent, raw, f"agents.{name}")
                  for name, raw in (request.get("agents") or {}).items()}
        return launches, agents

    def _known(self, names: Any, extra: Mapping[str, Any] = {}) -> list[str] | Response:
        """The requested names, or a failure response naming the unknown ones."""
        known = self.supervisor.agent_names
        if not isinstance(names, list) or not names:
            names = list(known)
        names = [member for name in names for member in members(str(name), known) or [name]]  # `api`: its replicas
        unknown = [n for n in names if n not in known and n not in extra]
        if unknown:
            return protocol.failure(f"not part of the running project: {', '.join(map(str, unknown))}",
                                    hint="start them with `mesh-compose up NAME`")
        return names

    def _dependents_warnings(self, names: Sequence[str], restarting: bool = False) -> list[str]:
        warnings = []
        for name in names:
            active = self.supervisor.active_dependents(name, excluding=names)
            if not active:
                continue
            who = f"{', '.join(active)} {'depends' if len(active) == 1 else 'depend'} on {name} and"
            agent = self.supervisor.project.agents.get(name)
            written = agent.group if agent is not None else name  # as the file names it
            keeps = "keeps running" if len(active) == 1 else "keep running"
            if restarting:
                warnings.append(f"{who} {keeps} while it restarts (a dependent may lose its connection to it); "
                                f"`depends_on: {{{written}: {{restart: true}}}}` restarts a dependent with it")
            else:
                warnings.append(f"{who} {keeps}")
        return warnings


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

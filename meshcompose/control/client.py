"""The client side of the control protocol: one method per operation of
`control.handler.ControlHandler`, with typed arguments and typed results.

Requests are built here and nowhere else, so a field the handler reads and
the field a caller sends cannot drift apart. Each call is one blocking
request (`protocol.request`); `answer_within` bounds how long it waits for
the reply, while `timeout` is the operation's own stop grace (None: each
agent's `stop_grace_period`), as the handler reads it.

Errors are `protocol.request`'s: NotRunningError when nothing serves the
project, ControlError when it cannot be reached in time, and RefusedError
(a ControlError) carrying the supervisor's reason when it answers no.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

from meshcompose.control import protocol
from meshcompose.model import Agent
from meshcompose.plan import codec
from meshcompose.plan.launch import LaunchSpec

ANSWER_WITHIN = 5.0  # seconds: an operation that returns at once (start, definitions, down)

# The one seam: (target, request, timeout=, token=) -> the response, as `protocol.request` does it.
Send = Callable[..., "dict[str, Any]"]


@dataclass(frozen=True)
class Pong:
    pid: int
    project: str


@dataclass(frozen=True)
class Stopped:
    stopped: tuple[str, ...]
    warnings: tuple[str, ...] = ()  # dependents that keep running


@dataclass(frozen=True)
class Restarted:
    started: tuple[str, ...]
    restarted_with: tuple[str, ...] = ()  # dependents with `restart: true`, restarted along
    warnings: tuple[str, ...] = ()  # dependents that keep running while it restarts


@dataclass(frozen=True)
class Recreated:
    recreated: tuple[str, ...]
    started: tuple[str, ...]


class ControlClient:
    """Asks the supervisor of `target` (a state document, or a socket path)."""

    def __init__(self, target: protocol.Target, *, token: str | None = None, send: Send = protocol.request) -> None:
        self.target = target
        self.token = token
        self.send = send  # tests answer in-process, with the handler itself

    def _ask(self, op: str, answer_within: float, **fields: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.send(self.target, {"op": op, **fields}, timeout=answer_within,
                                             token=self.token)
        return response

    def ping(self) -> Pong:
        response = self._ask("ping", ANSWER_WITHIN)
        return Pong(int(response.get("pid") or 0), str(response.get("project") or ""))

    def changed(self, since: float, wait: float, *, answer_within: float) -> float:
        """Once the state file was written after `since`, or `wait` seconds
        passed (the supervisor caps it): the state file's `updated_at`."""
        response = self._ask("changed", answer_within, since=since, timeout=wait)
        updated = response.get("updated_at")
        return float(updated) if isinstance(updated, (int, float)) else since

    def down(self, *, timeout: float | None = None, answer_within: float = ANSWER_WITHIN) -> None:
        """Asks it to stop every agent and end; returns once it has agreed."""
        self._ask("down", answer_within, timeout=timeout)

    def stop(self, names: Sequence[str] = (), *, timeout: float | None = None,
             answer_within: float = ANSWER_WITHIN) -> Stopped:
        """Stops `names` (every agent if empty) and returns once they ended."""
        response = self._ask("stop", answer_within, names=list(names), timeout=timeout)
        return Stopped(_names(response.get("stopped")) or tuple(names), _names(response.get("warnings")))

    def remove(self, names: Sequence[str], *, timeout: float | None = None,
               answer_within: float = ANSWER_WITHIN) -> tuple[str, ...]:
        """Stops `names` as `stop` does, then drops them from the run (replicas
        scaled away); the ones it removed."""
        response = self._ask("remove", answer_within, names=list(names), timeout=timeout)
        return _names(response.get("removed"))

    def start(self, names: Sequence[str] = (), *, agents: Mapping[str, Agent] | None = None,
              launches: Mapping[str, LaunchSpec] | None = None,
              answer_within: float = ANSWER_WITHIN) -> tuple[str, ...]:
        """Starts `names` (every agent if empty) not already active; agents new
        to the supervisor come with their definition and launch spec. The ones
        it started."""
        response = self._ask("start", answer_within, names=list(names), **_definitions(agents or {}, launches or {}))
        return _names(response.get("started"))

    def restart(self, names: Sequence[str] = (), *, timeout: float | None = None,
                answer_within: float = ANSWER_WITHIN) -> Restarted:
        response = self._ask("restart", answer_within, names=list(names), timeout=timeout)
        return Restarted(_names(response.get("started")), _names(response.get("restarted_with")),
                         _names(response.get("warnings")))

    def recreate(self, agents: Mapping[str, Agent], launches: Mapping[str, LaunchSpec], *,
                 timeout: float | None = None, answer_within: float = ANSWER_WITHIN) -> Recreated:
        """Stops each agent and starts it from its new definition and launch spec."""
        response = self._ask("recreate", answer_within, names=list(agents), timeout=timeout,
                             **_definitions(agents, launches))
        return Recreated(_names(response.get("recreated")), _names(response.get("started")))

    def definitions(self) -> dict[str, dict[str, Any]]:
        """Each agent it can launch, as `plan.codec` encodes its definition."""
        agents = self._ask("definitions", ANSWER_WITHIN).get("agents")
        if not isinstance(agents, dict):
            return {}
        return {str(name): raw for name, raw in agents.items() if isinstance(raw, dict)}


def _definitions(agents: Mapping[str, Agent], launches: Mapping[str, LaunchSpec]) -> dict[str, Any]:
    """The supervisor's own model lacks agents added to the file after `up`:
    each goes with its definition and launch spec."""
    return {"agents": {name: codec.encode(agent) for name, agent in agents.items()},
            "launches": {name: spec.to_dict() for name, spec in launches.items()}}


def _names(raw: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in raw) if isinstance(raw, list) else ()

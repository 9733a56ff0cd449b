"""An agent's lifecycle: its states, their groups, and the allowed transitions.

The one table of the vocabulary. The console, `ps`, the state file, the
control protocol and `events` all speak these words. Dependency-free (the
standard library's `enum` only), so `ps` reads it without paying for the
model.

Every state change of a live agent passes through `advance`, which raises
`IllegalTransition` for a change the table does not allow. Raising, rather
than logging, is the choice: an illegal change is a defect in mesh-compose,
the runner's shielded finalizers still stop the agent's process tree, and a
test that drives the lifecycle fails at the faulty step instead of on a
wrong word later.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class AgentState(str, enum.Enum):
    """The same words everywhere: console, `ps`, state file, control protocol.

    A state compares and hashes like its word, so `"exited" in ENDED_STATES`
    holds for a word read back from the state file as well.
    """

    WAITING = "waiting"
    STARTING = "starting"
    RUNNING = "running"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    RESTARTING = "restarting"
    STOPPING = "stopping"
    EXITED = "exited"  # rendered as `exited (CODE)`
    FAILED = "failed"
    SKIPPED = "skipped"
    ORPHANED = "orphaned"  # alive, but its supervisor is gone (only `ps` says this)

    @classmethod
    def parse(cls, word: object) -> AgentState | None:
        """The state a recorded word names, or None for a word no state has."""
        try:
            return cls(word)
        except ValueError:
            return None

    @property
    def ended(self) -> bool:
        return self in ENDED_STATES

    @property
    def is_alive(self) -> bool:
        return self in ALIVE_STATES


ENDED_STATES: frozenset[AgentState] = frozenset({AgentState.EXITED, AgentState.FAILED, AgentState.SKIPPED})
"""Ended: nothing starts the agent again on its own. `ps` hides them without `-a`."""

RUNNING_STATES: frozenset[AgentState] = frozenset({AgentState.RUNNING, AgentState.HEALTHY, AgentState.UNHEALTHY})
"""Up and serving as far as anyone knows: `ps` shows each as `running (HEALTH)`,
and `--status running` matches all three."""

HEALTH_STATES: frozenset[AgentState] = frozenset({AgentState.HEALTHY, AgentState.UNHEALTHY})
"""The states that carry a healthcheck verdict (the state file's `health`)."""

ALIVE_STATES: frozenset[AgentState] = frozenset(
    {AgentState.STARTING, *RUNNING_STATES, AgentState.STOPPING, AgentState.ORPHANED})
"""A process of the agent exists (or is being spawned)."""

SUPERVISED_STATES: frozenset[AgentState] = frozenset(set(AgentState) - ENDED_STATES - {AgentState.ORPHANED})
"""In a supervisor's hands: waiting, starting, up, restarting or stopping.
Without a live supervisor, a record in one of these is stale."""

STATE_WORDS: tuple[str, ...] = tuple(state.value for state in AgentState)
"""Every state word, in lifecycle order (`ps --status` choices)."""

INITIAL = AgentState.WAITING
"""Where every agent begins, in a supervisor and in a new state file record."""

_AFTER_AN_EXIT = frozenset({AgentState.RESTARTING, AgentState.EXITED, AgentState.FAILED})

TRANSITIONS: Mapping[AgentState, frozenset[AgentState]] = {
    # Its dependencies' conditions hold, or never will, or a stop came first.
    AgentState.WAITING: frozenset({AgentState.STARTING, AgentState.SKIPPED, AgentState.EXITED}),
    # The spawn worked or failed; a stop waits out a spawn in flight.
    AgentState.STARTING: frozenset({AgentState.RUNNING, AgentState.FAILED}),
    # Up: health verdicts, a stop, or an exit the restart policy judges.
    AgentState.RUNNING: frozenset({*HEALTH_STATES, AgentState.STOPPING, *_AFTER_AN_EXIT}),
    AgentState.HEALTHY: frozenset({AgentState.UNHEALTHY, AgentState.STOPPING, *_AFTER_AN_EXIT}),
    AgentState.UNHEALTHY: frozenset({AgentState.HEALTHY, AgentState.STOPPING, *_AFTER_AN_EXIT}),
    # A stop for a crossed resource limit still leaves the restart policy its say.
    AgentState.STOPPING: _AFTER_AN_EXIT,
    # The backoff ended (the next process), or a stop or the shutdown cut it short.
    AgentState.RESTARTING: frozenset({AgentState.STARTING, AgentState.EXITED}),
    # A new run (start, restart, recreate, a watch reload), or one refused
    # because the project's shutdown has begun.
    AgentState.EXITED: frozenset({AgentState.WAITING, AgentState.EXITED}),
    AgentState.FAILED: frozenset({AgentState.WAITING, AgentState.EXITED}),
    AgentState.SKIPPED: frozenset({AgentState.WAITING, AgentState.EXITED}),
    # Only `ps` says it, of a record whose supervisor is gone: no supervisor enters or leaves it.
    AgentState.ORPHANED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A state change the lifecycle table does not allow: a defect, never a user's error."""

    def __init__(self, agent: str, before: AgentState, after: AgentState) -> None:
        allowed = ", ".join(sorted(state.value for state in TRANSITIONS[before])) or "nothing"
        super().__init__(f"agent '{agent}': {before.value} -> {after.value} is not a lifecycle "
                         f"transition (from {before.value}: {allowed})")
        self.agent, self.before, self.after = agent, before, after


def allowed(before: AgentState, after: AgentState) -> bool:
    """A change to the same state is an update of its details (a new
    unhealthy reason, a restart count), not a transition: always allowed."""
    return before is after or after in TRANSITIONS[before]


def advance(agent: str, before: AgentState, after: AgentState) -> AgentState:
    """`after`, once the table allows it from `before`; raises `IllegalTransition`."""
    if not allowed(before, after):
        raise IllegalTransition(agent, before, after)
    return after


def unsupervised(recorded: str, alive: bool) -> str:
    """The word for a record whose supervisor is gone: a process still alive
    is orphaned, and one that is gone has ended, whatever the last word was
    (a `running` agent without a process is not running)."""
    if alive:
        return AgentState.ORPHANED.value
    return recorded if recorded in ENDED_STATES else AgentState.EXITED.value


# -- the lifecycle event log (`mesh-compose events`) ----------------------------------

_EVENT_ACTIONS: Mapping[AgentState, str] = {
    AgentState.RUNNING: "start",
    AgentState.HEALTHY: "health_status: healthy",
    AgentState.UNHEALTHY: "health_status: unhealthy",
    AgentState.RESTARTING: "restart",
    AgentState.STOPPING: "stop",
    AgentState.EXITED: "die",
    AgentState.FAILED: "die",
    AgentState.SKIPPED: "skip",
}
"""State -> compose's event action, when an agent enters that state."""


def event_actions(before: AgentState | None, after: AgentState) -> list[str]:
    """The events a state change is (a running agent turning healthy is a
    health event, not a second start; a running agent that goes straight to
    `restarting` died first, as compose reports it)."""
    if before is after or (after is AgentState.RUNNING and before in RUNNING_STATES):
        return []
    if after is AgentState.RESTARTING and before in RUNNING_STATES:
        return ["die", "restart"]
    action = _EVENT_ACTIONS.get(after)
    return [action] if action else []

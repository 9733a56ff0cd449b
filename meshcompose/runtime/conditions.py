"""Whether a `depends_on` condition holds, can still hold, or never will. Pure."""

from __future__ import annotations

from meshcompose.lifecycle import AgentState
from meshcompose.model import Condition
from meshcompose.runtime.events import AgentStatus


def outcome(condition: Condition, status: AgentStatus) -> bool | None:
    """True: satisfied. False: can no longer be satisfied. None: not yet.

    `registered` is decided by asking the registry; here only its failure
    side (the dependency ended) is visible.
    """
    if condition is Condition.STARTED:
        if status.ever_started:
            return True
    elif condition is Condition.HEALTHY:
        if status.state is AgentState.HEALTHY:
            return True
        if status.state is AgentState.UNHEALTHY:
            # As compose: reported unhealthy (its retries spent, its start
            # period over) is a failed dependency, not something to wait out.
            return False
    elif condition is Condition.COMPLETED_SUCCESSFULLY:
        if status.final and status.state is AgentState.EXITED and status.exit_code == 0:
            return True
    return False if status.final else None


def why_not(condition: Condition, status: AgentStatus) -> str:
    """Explains a False outcome: `'setup' exited with code 2`."""
    if status.state is AgentState.EXITED:
        ended = f"exited with code {status.exit_code}"
    elif status.message:
        ended = f"is {status.state.value} ({status.message})"
    else:
        ended = f"is {status.state.value}"
    needed = {
        Condition.STARTED: "never started",
        Condition.HEALTHY: "never became healthy",
        Condition.COMPLETED_SUCCESSFULLY: "did not complete successfully",
        Condition.REGISTERED: "never registered",
    }[condition]
    return f"'{status.name}' {needed}: it {ended}"

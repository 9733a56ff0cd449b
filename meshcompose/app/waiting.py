"""Waiting from outside for agents a supervisor is starting (`up -d`,
`up NAME` or `start` on a running project, `restart`), by reading the state
file until each is up, done, or cannot get there.

Between reads the wait is held by the supervisor (`op changed` on its control
socket), which answers as soon as it has written the state file again: the
wait ends with the write that records the last agent up, not up to a poll
interval later. Only while no supervisor serves yet (it is starting) or
any more is the file polled every POLL_SECONDS."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from meshcompose.control import state
from meshcompose.control.client import ControlClient
from meshcompose.errors import MeshComposeError
from meshcompose.lifecycle import AgentState

POLL_SECONDS = 0.1
# One `changed` request is held this long at most, so a supervisor started for
# this wait that died is noticed within it even if its socket lingers.
CHANGE_WAIT_SECONDS = 1.0
ANSWER_MARGIN_SECONDS = 5.0  # beyond the held time, for a supervisor slow to answer on a loaded machine
LOG_TAIL_LINES = 15


@dataclass(frozen=True)
class AgentOutcome:
    name: str
    status: str  # as the state file says it: `healthy`, `exited (1)`, `unknown`
    reached: bool | None  # True: up (or done); False: will not come up; None: not in time
    message: str | None = None


@dataclass(frozen=True)
class WaitOutcome:
    agents: tuple[AgentOutcome, ...] = ()
    # Set when the supervisor started for this wait died first: its exit code
    # and the end of its log.
    supervisor_exit: int | None = None
    supervisor_log: str = ""

    @property
    def ok(self) -> bool:
        return self.supervisor_exit is None and all(agent.reached for agent in self.agents)


def wait_until_up(directory: Path, project: str, names: Sequence[str], healthchecked: AbstractSet[str],
                  timeout: float, *, child: subprocess.Popen | None = None,
                  log_path: Path | None = None, completing: AbstractSet[str] = frozenset()) -> WaitOutcome:
    """Until every agent in `names` is running (healthy if in `healthchecked`),
    has completed successfully (only that, if in `completing`), or can no
    longer get there. `child`: the supervisor just started, whose death ends
    the wait."""
    store = state.StateStore(directory, project)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            return WaitOutcome(supervisor_exit=child.returncode, supervisor_log=_tail(log_path))
        doc = store.read()
        if doc and _ours(doc, child):
            reached = {name: _reached(doc["agents"].get(name), name in healthchecked, name in completing)
                       for name in names}
            if all(result is not None for result in reached.values()):
                break
            if await_change(doc, deadline - time.monotonic()):
                continue
        time.sleep(POLL_SECONDS)
    return _outcome(names, healthchecked, completing, store.read())


def await_change(doc: state.StateDoc, remaining: float) -> bool:
    """Until the supervisor of `doc` writes its state file again (or up to
    CHANGE_WAIT_SECONDS, or `remaining`); False when it cannot be asked."""
    wait = max(0.0, min(CHANGE_WAIT_SECONDS, remaining))
    try:
        ControlClient(doc).changed(doc.get("updated_at") or 0.0, wait, answer_within=wait + ANSWER_MARGIN_SECONDS)
    except MeshComposeError:
        return False  # gone, not serving yet, or a supervisor without `changed`: poll the file
    return True


def _ours(doc: state.StateDoc, child: subprocess.Popen | None) -> bool:
    supervisor = doc.get("supervisor")
    return child is None or (supervisor is not None and supervisor["pid"] == child.pid)


def _reached(record: state.AgentRecord | None, healthchecked: bool, completing: bool = False) -> bool | None:
    if not record:
        return None
    status = record.get("status")
    running_is_enough = not completing and (status == AgentState.HEALTHY.value
                                            or (status == AgentState.RUNNING.value and not healthchecked))
    if running_is_enough:
        return True
    if status == AgentState.EXITED.value:
        return record.get("exit_code") == 0
    if status in (AgentState.FAILED.value, AgentState.SKIPPED.value):
        return False
    return None


def _outcome(names: Sequence[str], healthchecked: AbstractSet[str], completing: AbstractSet[str],
             doc: state.StateDoc | None) -> WaitOutcome:
    records: dict[str, state.AgentRecord] = dict(doc["agents"]) if doc else {}
    agents = []
    for name in names:
        record = records.get(name)
        status = record.get("status", "unknown") if record else "unknown"
        if record and status == AgentState.EXITED.value:
            status = f"exited ({record.get('exit_code')})"
        agents.append(AgentOutcome(name, status, _reached(record, name in healthchecked, name in completing),
                                   record.get("message") if record else None))
    return WaitOutcome(tuple(agents))


def _tail(log_path: Path | None) -> str:
    if log_path is None or not log_path.exists():
        return ""
    return "\n".join(log_path.read_text(errors="replace").strip().splitlines()[-LOG_TAIL_LINES:])

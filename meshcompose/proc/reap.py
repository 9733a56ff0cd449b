"""Stopping the agents of a supervisor that is gone (for `down`).

A supervisor killed by SIGKILL cannot clean up: its agents keep running,
reparented to init. Everything needed to stop them was written to the state
file while it ran: pid + create time (so a reused pid is never signalled),
the token in each agent's environment (so a grandchild that escaped with
setsid is still found), the recorded `depends_on` (so dependents stop
first), and each agent's stop signal and grace period.

Synchronous and silent: the CLI renders the returned outcomes. Imports the
process layer (psutil, anyio) lazily and never networkx or jsonschema, so
`down` stays fast.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from meshcompose.control import state

DEFAULT_GRACE = 10.0
DEFAULT_STOP_SIGNAL = "SIGTERM"
POLL_SECONDS = 0.05
ENDED = frozenset({"exited", "failed", "skipped"})
REAPED_MESSAGE = "stopped by `mesh-compose down` after its supervisor was gone"
GONE_MESSAGE = "its supervisor was gone"


@dataclass(frozen=True)
class Reaped:
    """What `down` found of one agent."""

    name: str
    found: bool  # some process of the agent was still running (now it is not)
    forced: bool  # the leader outlived its grace period and was killed


def stop_waves(agents: Mapping[str, "state.AgentRecord"]) -> List[List[str]]:
    """The recorded agents in stop order: each wave only holds agents whose
    dependents are in earlier waves. A cycle (possible only in a hand-edited
    file) cannot block: its members share the last wave."""
    remaining = list(agents)
    dependents: Dict[str, set] = {name: set() for name in agents}
    for name, record in agents.items():
        for dependency in record.get("depends_on") or ():
            if dependency in dependents and dependency != name:
                dependents[dependency].add(name)
    waves: List[List[str]] = []
    while remaining:
        left = set(remaining)
        wave = [name for name in remaining if not dependents[name] & left] or list(remaining)
        waves.append(wave)
        remaining = [name for name in remaining if name not in wave]
    return waves


def reap_agent(name: str, record: "state.AgentRecord", grace: Optional[float] = None) -> Reaped:
    """Stop one recorded agent: its stop signal to the whole group, the grace
    period, then SIGKILL for the group, every descendant and every process
    carrying its token. Blocks until nothing of it is left (time-boxed)."""
    from meshcompose.proc import process

    ident = _identity(record)
    token = record.get("token")
    if not process.tree(ident, token):
        return Reaped(name, found=False, forced=False)
    if grace is None:
        grace = record.get("stop_grace")
    grace = DEFAULT_GRACE if grace is None else grace
    forced = False
    if process.signal_group(ident, record.get("stop_signal") or DEFAULT_STOP_SIGNAL):
        forced = not poll_until(lambda: not process.is_alive(ident), grace)
    poll_until(lambda: process.kill_tree(ident, token) == 0, process.KILL_WAIT_SECONDS)
    return Reaped(name, found=True, forced=forced)


def _identity(record: "state.AgentRecord"):
    from meshcompose.proc import process

    pid, create_time = record.get("pid"), record.get("create_time")
    if not pid or create_time is None:
        return None  # never spawned, or mid-spawn: only its token can find it
    return process.ProcessIdentity(int(pid), float(create_time))


def reap_records(agents: Mapping[str, "state.AgentRecord"], grace: Optional[float] = None) -> List[Reaped]:
    """Reap every agent, dependents first; agents of one wave concurrently
    (a thread each: every one may wait out its own grace period)."""
    outcomes: Dict[str, Reaped] = {}
    for wave in stop_waves(agents):
        threads = [threading.Thread(target=_reap_into, args=(outcomes, name, agents[name], grace),
                                    name=f"reap {name}", daemon=True) for name in wave]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return [outcomes[name] for wave in stop_waves(agents) for name in wave if name in outcomes]


def _reap_into(outcomes: Dict[str, Reaped], name: str, record: "state.AgentRecord",
               grace: Optional[float]) -> None:
    outcomes[name] = reap_agent(name, record, grace)


def reap_project(project_dir: Path, grace: Optional[float] = None,
                 only: Optional[Sequence[str]] = None) -> List[Reaped]:
    """Stop what a dead supervisor left and record it in the state file.

    Holds the project lock meanwhile, so no new supervisor starts while the
    old one's agents are being stopped; raises AlreadyRunningError if a
    supervisor holds it. `only` limits the reaping to those agents. Returns
    an outcome per agent (an empty list when the project never ran)."""
    store = state.StateStore(project_dir)
    doc = store.read()
    if doc is None:
        return []
    with state.ProjectLock(project_dir, doc.get("project")):
        doc = store.read() or doc  # re-read: the last supervisor may have written since
        agents = {name: record for name, record in doc["agents"].items() if only is None or name in only}
        outcomes = reap_records(agents, grace)
        mark_reaped(doc, outcomes)
        store.write(doc)
    return outcomes


def mark_reaped(doc: "state.StateDoc", outcomes: Sequence[Reaped]) -> None:
    """Every agent that was still alive, or recorded as active, is now exited;
    the dead supervisor's record goes."""
    for outcome in outcomes:
        record = doc["agents"][outcome.name]
        if outcome.found:
            record.update(status="exited", message=REAPED_MESSAGE, health=None)
        elif record.get("status") not in ENDED:
            record.update(status="exited", message=GONE_MESSAGE, health=None)
    if not state.supervisor_alive(doc):
        doc["supervisor"] = None


def poll_until(done, timeout: float) -> bool:
    """Polls `done()` until it is true (True) or `timeout` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True

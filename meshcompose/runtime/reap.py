"""Stopping the agents of a supervisor that is gone (for `down`).

A supervisor killed by SIGKILL cannot clean up: its agents keep running,
reparented to init. Everything needed to stop them was written to the state
file while it ran: pid + create time (so a reused pid is never signalled),
the token in each agent's environment (so a grandchild that escaped with
setsid is still found, and an agent whose pid was never recorded too), its
cgroup where it had one (so one that also cleared its environment is found;
the path is checked by `proc.cgroup.trusted`), the recorded `depends_on` (so dependents stop
first), and each agent's stop signal and grace period.

The reaper stops them exactly as the live supervisor would: the same order
(`planner.stop_before`), the same graceful stop (`process.stop_group`, run
here under `anyio.run`, one task per agent) and the same ordering of
concurrent stops (`process.stop_in_order`).

Synchronous to its callers and silent: the CLI renders the returned
outcomes. Never imports networkx or jsonschema, so `down` stays fast.
"""

from __future__ import annotations

import contextlib
import stat
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from meshcompose.control import state
from meshcompose.control.lock import ProjectLock
from meshcompose.control.paths import socket_path
from meshcompose.errors import ControlError, MeshComposeError
from meshcompose.lifecycle import ENDED_STATES, AgentState
from meshcompose.plan import planner
from meshcompose.proc.identity import ProcessIdentity

DEFAULT_GRACE = 10.0
DEFAULT_STOP_SIGNAL = "SIGTERM"
POLL_SECONDS = 0.05
REAPED_MESSAGE = "stopped by `mesh-compose down` after its supervisor was gone"
GONE_MESSAGE = "its supervisor was gone"


@dataclass(frozen=True)
class Reaped:
    """What `down` found of one agent."""

    name: str
    found: bool  # some process of the agent was still running (now it is not)
    forced: bool  # the leader outlived its grace period and was killed


def recorded_depends_on(agents: Mapping[str, state.AgentRecord]) -> dict[str, list[str]]:
    """Each recorded agent's `depends_on`, as the supervisor wrote it."""
    return {name: list(record.get("depends_on") or ()) for name, record in agents.items()}


def stop_waves(agents: Mapping[str, state.AgentRecord]) -> list[list[str]]:
    """The recorded agents in stop order, as waves (`planner.stop_waves`)."""
    return planner.stop_waves(recorded_depends_on(agents))


def reap_agent(name: str, record: state.AgentRecord, grace: float | None = None) -> Reaped:
    """Stop one recorded agent (see `reap_records`); blocks until nothing of it is left."""
    import anyio

    return anyio.run(_reap_agent, name, record, grace)


def reap_records(agents: Mapping[str, state.AgentRecord], grace: float | None = None) -> list[Reaped]:
    """Stop every recorded agent: its stop signal to the whole group, the
    grace period (`grace`, else the recorded one), then SIGKILL for the group,
    every descendant and every process carrying its token. Dependents first,
    unrelated agents concurrently. Outcomes in stop order."""
    import anyio

    from meshcompose.proc import process

    outcomes: dict[str, Reaped] = {}

    async def reap(name: str) -> None:
        outcomes[name] = await _reap_agent(name, agents[name], grace)

    async def reap_all() -> None:
        await process.stop_in_order(planner.stop_before(recorded_depends_on(agents)), reap)

    anyio.run(reap_all)
    return [outcomes[name] for wave in stop_waves(agents) for name in wave]


async def _reap_agent(name: str, record: state.AgentRecord, grace: float | None) -> Reaped:
    from meshcompose.proc import cgroup, process

    ident = _identity(record)
    token = record.get("token")
    group = cgroup.trusted(record.get("cgroup"), token)
    if not process.tree(ident, token, group):
        cgroup.remove(group)
        return Reaped(name, found=False, forced=False)
    if grace is None:
        grace = record.get("stop_grace")
    forced = await process.stop_group(
        ident, token, stop_signal=record.get("stop_signal") or DEFAULT_STOP_SIGNAL,
        grace=DEFAULT_GRACE if grace is None else grace, cgroup=group)
    cgroup.remove(group)
    return Reaped(name, found=True, forced=forced)


def _identity(record: state.AgentRecord) -> ProcessIdentity | None:
    pid, create_time = record.get("pid"), record.get("create_time")
    if not pid or create_time is None:
        return None  # never spawned, or mid-spawn: only its token can find it
    return ProcessIdentity(int(pid), float(create_time))


def reap_project(project_dir: Path, project: str, grace: float | None = None,
                 only: Sequence[str] | None = None) -> list[Reaped]:
    """Stop what a dead supervisor left and record it in the state file.

    Holds the project lock meanwhile, so no new supervisor starts while the
    old one's agents are being stopped; raises AlreadyRunningError if a
    supervisor holds it. `only` limits the reaping to those agents. Returns
    an outcome per agent (an empty list when the project never ran)."""
    store = state.StateStore(project_dir, project)
    doc = store.read()
    if doc is None:
        return []
    with ProjectLock(project_dir, project):
        doc = store.read() or doc  # re-read: the last supervisor may have written since
        outcomes = _reap_and_record(store, doc, grace, only)
        if not state.supervisor_alive(doc):
            remove_stale_socket(project_dir, project)
    return outcomes


def reap_before_start(project_dir: Path, project: str) -> list[Reaped]:
    """For `up`, which holds the project lock: stop what a supervisor that
    died (SIGKILL) left running, before a new one starts and its state file
    forgets them. Costs nothing after a supervisor that ended normally (it
    removed its own record). The outcomes of the agents that were still running."""
    store = state.StateStore(project_dir, project)
    doc = store.read()
    if doc is None or doc["supervisor"] is None or state.supervisor_alive(doc):
        return []
    outcomes = _reap_and_record(store, doc, None, None)
    remove_stale_socket(project_dir, project)
    return [outcome for outcome in outcomes if outcome.found]


def _reap_and_record(store: state.StateStore, doc: state.StateDoc, grace: float | None,
                     only: Sequence[str] | None) -> list[Reaped]:
    agents = {name: record for name, record in doc["agents"].items() if only is None or name in only}
    earlier = {name: runs for name, runs in store.earlier_runs.items() if name in agents}
    outcomes = merged_runs(reap_records(with_earlier_runs(agents, earlier), grace), agents)
    mark_reaped(doc, outcomes)
    store.write(doc)
    return outcomes


def remove_stale_socket(project_dir: Path, project: str) -> None:
    """The control socket a supervisor killed by SIGKILL left behind. Only
    the project's own socket path (never one the state file names), only a
    socket, and only under the lock, so no live supervisor is serving it."""
    with contextlib.suppress(OSError, ControlError):
        path = socket_path(project_dir, project)
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()


def mark_reaped(doc: state.StateDoc, outcomes: Sequence[Reaped]) -> None:
    """Every agent that was still alive, or recorded as active, is now exited;
    the dead supervisor's record goes."""
    for outcome in outcomes:
        record = doc["agents"][outcome.name]
        if outcome.found or record.get("status") not in ENDED_STATES:
            record["status"] = AgentState.EXITED.value
            record["message"] = REAPED_MESSAGE if outcome.found else GONE_MESSAGE
            record["health"] = None
    if not state.supervisor_alive(doc):
        doc["supervisor"] = None


def poll_until(done: Callable[[], bool], timeout: float) -> bool:
    """Polls `done()` until it is true (True) or `timeout` seconds passed (False).
    For `down`, which waits for a supervisor it asked to stop."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


# -- finding a live project without trusting its state file ----------------------------------

PROJECT_VAR = "MESH_COMPOSE_PROJECT"  # plan.launch.agent_environment sets these three in every agent
PROJECT_DIR_VAR = "MESH_COMPOSE_PROJECT_DIR"
AGENT_VAR = "MESH_COMPOSE_AGENT"
SUPERVISOR_KILL_WAIT = 10.0


def supervisors(project_dir: Path, project: str, doc: state.StateDoc | None) -> list[ProcessIdentity]:
    """The live supervisor of the project, found three ways that do not depend
    on each other: the state file's record (if it could be read), the pid the
    lock file names (while someone holds the lock) and the machine-wide
    registration (`control.index`). Each candidate counts only while it is
    that very process, runs as us, and runs mesh-compose."""
    from meshcompose.control import index, lock
    from meshcompose.proc.identity import identity

    candidates: list[ProcessIdentity] = []
    record = doc.get("supervisor") if doc else None
    if record and isinstance(record.get("pid"), int) and isinstance(record.get("create_time"), (int, float)):
        candidates.append(ProcessIdentity(record["pid"], float(record["create_time"])))
    if lock.is_held(project_dir, project):
        holder = lock.holder(project_dir, project)
        found = identity(holder) if holder else None
        if found is not None:
            candidates.append(found)
    with contextlib.suppress(MeshComposeError, OSError):
        entry = index.entry_for(project, project_dir)
        if entry is not None:
            candidates.append(ProcessIdentity(entry.pid, entry.create_time))
    found_pids: dict[int, ProcessIdentity] = {}
    for candidate in candidates:
        if candidate.pid not in found_pids and _is_our_mesh_compose(candidate):
            found_pids[candidate.pid] = candidate
    return list(found_pids.values())


def _is_our_mesh_compose(ident: ProcessIdentity) -> bool:
    import os

    import psutil

    from meshcompose.proc.identity import is_alive

    if ident.pid == os.getpid() or not is_alive(ident):
        return False
    try:
        proc = psutil.Process(ident.pid)
        ours = os.name != "posix" or proc.uids().real == os.getuid()
        return ours and any("meshcompose" in part for part in proc.cmdline())
    except psutil.Error:
        return False


def project_agents(project_dir: Path, project: str,
                   parents: Sequence[ProcessIdentity] = ()) -> dict[str, state.AgentRecord]:
    """The project's agent runs that are alive now, found by what each carries
    rather than by the state file: a token, with this project's name and
    directory in its environment, or a token and a supervisor of the project
    as its parent. One record per token (its oldest carrier leads), named
    after the agent (`name#2` for a second run of one name)."""
    import psutil

    from meshcompose.proc import cgroup
    from meshcompose.proc.identity import TOKEN_VAR

    parent_pids = {parent.pid for parent in parents}
    runs: dict[str, tuple[float, int, str]] = {}  # token -> (create time, pid, agent name)
    for proc in psutil.process_iter(["pid", "ppid", "create_time", "environ"]):
        info = proc.info
        environ = info.get("environ") or {}
        token = environ.get(TOKEN_VAR)
        if not token:
            continue
        named_here = environ.get(PROJECT_VAR) == project and environ.get(PROJECT_DIR_VAR) == str(project_dir)
        if not named_here and info.get("ppid") not in parent_pids:
            continue
        created = float(info.get("create_time") or 0.0)
        if token not in runs or created < runs[token][0]:
            runs[token] = (created, info["pid"], str(environ.get(AGENT_VAR) or f"pid {info['pid']}"))
    found: dict[str, state.AgentRecord] = {}
    for token, (created, pid, name) in sorted(runs.items(), key=lambda item: item[1][0]):
        key, number = name, 1
        while key in found:
            number += 1
            key = f"{name}#{number}"
        found[key] = state.new_agent(pid=pid, create_time=created, pgid=pid, token=token,
                                     cgroup=str(cgroup.path_of(pid) or "") or None, status="running")
    return found


def with_earlier_runs(agents: Mapping[str, state.AgentRecord],
                     earlier: Mapping[str, Sequence[Mapping[str, object]]]) -> dict[str, state.AgentRecord]:
    """`agents` and, as `NAME#2`, ..., the runs of each that the spawn journal
    replaced (`StateStore.earlier_runs`): a forged journal line must not hide
    the run it replaced from a `down`. A run without a token is left out."""
    found = dict(agents)
    tokens = {record.get("token") for record in agents.values()}
    for name, runs in earlier.items():
        base = agents.get(name)
        for number, run in enumerate(runs, start=2):
            if base is not None and run.get("token") and run.get("token") not in tokens:
                found[f"{name}#{number}"] = {**base, **run, "depends_on": []}  # type: ignore[typeddict-item]
                tokens.add(run.get("token"))  # type: ignore[arg-type]
    return found


def merged_runs(outcomes: Sequence[Reaped], agents: Mapping[str, object]) -> list[Reaped]:
    """One outcome per agent of `agents`: its earlier runs' (`NAME#2`) folded in."""
    by_name: dict[str, Reaped] = {}
    for outcome in outcomes:
        name = outcome.name if outcome.name in agents else outcome.name.split("#", 1)[0]
        if name not in agents:
            continue
        seen = by_name.get(name, Reaped(name, found=False, forced=False))
        by_name[name] = Reaped(name, seen.found or outcome.found, seen.forced or outcome.forced)
    return [by_name[outcome.name] for outcome in outcomes if outcome.name in by_name]


def force_down(project_dir: Path, project: str, doc: state.StateDoc | None,
               earlier: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
               grace: float | None = None) -> tuple[list[int], list[Reaped]]:
    """Stop a project whose supervisor does not answer (its socket removed, its
    state damaged, or the process stopped): every run the state records or
    the process table shows as the project's is collected first, then the
    supervisor is killed (it cannot be asked, and alive it would restart what
    is stopped), then the runs are reaped as after a supervisor's death.
    Returns the supervisors' pids and the outcomes."""
    import os
    import signal

    from meshcompose.proc.identity import wait_process_gone

    found = supervisors(project_dir, project, doc)
    agents = with_earlier_runs(dict(doc["agents"]) if doc else {}, earlier or {})
    known_tokens: set[object] = {record.get("token") for record in agents.values() if record.get("token")}
    for name, discovered in project_agents(project_dir, project, found).items():
        if discovered.get("token") not in known_tokens:
            agents[name if name not in agents else f"{name}#{discovered.get('pid')}"] = discovered
    for supervisor in found:
        with contextlib.suppress(OSError):
            os.kill(supervisor.pid, signal.SIGKILL)
    for supervisor in found:
        wait_process_gone(supervisor.pid, supervisor.create_time, SUPERVISOR_KILL_WAIT)
    outcomes = reap_records(agents, grace)
    if doc is not None:
        with contextlib.suppress(MeshComposeError), ProjectLock(project_dir, project):
            mark_reaped(doc, [outcome for outcome in outcomes if outcome.name in doc["agents"]])
            state.StateStore(project_dir, project).write(doc)
    with contextlib.suppress(MeshComposeError), ProjectLock(project_dir, project):
        remove_stale_socket(project_dir, project)
    return [supervisor.pid for supervisor in found], outcomes

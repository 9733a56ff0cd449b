"""`down`: stop every agent, newest dependents first, and end the supervisor;
return only when every process is gone.

With a live supervisor, it is asked over the control socket, and `down`
waits until it and every recorded agent process have exited. With a dead one
(killed by SIGKILL), the agents are reaped from the state file
(`meshcompose.runtime.reap`). With one that cannot be asked (its socket
removed, its state file damaged, the process stopped), `down` does not
depend on it: it finds the supervisor and the agents without the state file
(`reap.force_down`), kills the supervisor and reaps the agents. Needs only
the project directory, so it works when the project file no longer
validates, and stays fast.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from meshcompose.app.live import KILL_ALLOWANCE_SECONDS, MARGIN_SECONDS, alive, stop_bound
from meshcompose.app.project import ProjectIdentity
from meshcompose.control import lock, protocol, state
from meshcompose.control.client import ControlClient
from meshcompose.control.protocol import RefusedError
from meshcompose.errors import AlreadyRunningError, ControlError, MeshComposeError, NotRunningError
from meshcompose.mesh import meshplan
from meshcompose.proc.identity import wait_process_gone
from meshcompose.runtime import reap

POLL_SECONDS = 0.05
# How long a supervisor may still be starting (lock taken, socket not yet
# served) before `down` gives up waiting for it.
STARTUP_WAIT_SECONDS = 30.0  # generous: a loaded machine starts Python slowly


class DownMode(str, enum.Enum):
    NEVER_RAN = "never ran"  # no state file: the project has not run here
    SUPERVISOR = "supervisor"  # the live supervisor stopped everything
    REAPED = "reaped"  # the supervisor was gone; `down` stopped what it left
    FORCED = "forced"  # the supervisor could not be asked; `down` killed it and stopped the agents


@dataclass(frozen=True)
class DownOptions:
    timeout: float | None = None  # instead of each agent's stop_grace_period
    registry: bool = False  # stop the managed registry even while other projects' agents use it


@dataclass(frozen=True)
class StoppedAgent:
    name: str
    forced: bool = False  # killed after its grace period


@dataclass(frozen=True)
class DownResult:
    mode: DownMode
    stopped: tuple[StoppedAgent, ...] = ()  # in the order they stopped (dependents first)
    supervisor_pid: int | None = None
    # Registry ids of other projects' agents that kept the managed registry
    # (and so this supervisor) running; empty when everything stopped.
    registry_kept_for: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # one line each: what was damaged or did not answer, and was worked around


def down(project: ProjectIdentity, options: DownOptions) -> DownResult:
    """Never "nothing to stop" while someone holds the project lock: an early
    `up -d` holds it before any state file exists, so `down` waits (bounded)
    for its supervisor to publish itself and asks it, or reaps if it died."""
    store = state.StateStore(project.directory, project.name)
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while True:
        try:
            doc = store.read()
        except state.DamagedStateError as error:
            return _without_state(project, options.timeout, error.message)
        if doc is not None and state.supervisor_alive(doc):
            record = doc["supervisor"]
            if record is not None and protocol.supervisor_stopped(record["pid"], record["create_time"]):
                return _forced(project, doc, store, options.timeout,
                               f"the supervisor (pid {record['pid']}) is stopped and cannot answer")
            users = () if options.registry else _registry_users(doc)
            if users:
                return _keep_registry(doc, options.timeout, users)
            return _via_supervisor(project, doc, store, options.timeout)
        if doc is None and not lock.is_held(project.directory, project.name):
            if store.read() is None:  # not written just before the lock was let go
                return DownResult(DownMode.NEVER_RAN)
            continue
        if doc is not None:
            try:
                return _reap_orphans(project, options.timeout)
            except AlreadyRunningError:
                pass
        if _registered(project):  # it serves already (it registers after writing its record)
            if not _names_live_supervisor(store):  # ... yet the state file is gone or does not name it
                return _without_state(project, options.timeout,
                                      f"the state file {store.path} does not name the running supervisor")
            continue
        # else a supervisor is starting: ask it once it serves
        if time.monotonic() > deadline:
            raise ControlError(
                f"a process holds the project lock but no supervisor served it within {STARTUP_WAIT_SECONDS:g}s",
                hint="run `mesh-compose down` again; the holder's pid is in "
                     f"{lock.lock_file(project.directory, project.name)}")
        time.sleep(POLL_SECONDS)


def _via_supervisor(project: ProjectIdentity, doc: state.StateDoc, store: state.StateStore,
                    timeout: float | None) -> DownResult:
    active = [name for name, record in doc["agents"].items() if alive(record)]
    supervisor = doc["supervisor"]
    assert supervisor is not None  # supervisor_alive said so
    try:
        ControlClient(doc).down(timeout=timeout)
    except RefusedError:
        raise  # it answered, and refused: its reason stands
    except (NotRunningError, ControlError) as error:  # no socket, no answer: it cannot be asked
        if not state.supervisor_alive(doc):
            return _reap_orphans(project, timeout)  # it died just now
        return _forced(project, doc, store, timeout, f"the supervisor (pid {supervisor['pid']}) did not answer: "
                                                     f"{error.message}")
    bound = stop_bound(doc, list(doc["agents"]), timeout)
    if not wait_process_gone(supervisor["pid"], supervisor["create_time"], bound):
        raise ControlError(f"the supervisor (pid {supervisor['pid']}) did not finish stopping within {bound:g}s",
                           hint=f"run `mesh-compose down` again, or kill {supervisor['pid']}")
    # It is gone; anything it recorded that still lives (it died mid-stop) is reaped here.
    leftovers = [name for name in active if alive(doc["agents"][name])]
    if leftovers:
        reap.reap_project(project.directory, project.name, timeout, only=leftovers)
    order: list[str] = [name for wave in reap.stop_waves({n: doc["agents"][n] for n in active}) for name in wave]
    return DownResult(DownMode.SUPERVISOR, tuple(StoppedAgent(name) for name in order), supervisor["pid"])


def _registry_users(doc: state.StateDoc) -> tuple[str, ...]:
    """Other projects' agents registered with this project's running managed registry."""
    record = doc["agents"].get(meshplan.REGISTRY_AGENT)
    if record is None or not alive(record):
        return ()
    return tuple(meshplan.other_users(doc.get("registry_url"), doc["project"], list(doc["agents"])))


def _keep_registry(doc: state.StateDoc, timeout: float | None, users: tuple[str, ...]) -> DownResult:
    """Stops every agent but the managed registry; the supervisor stays to run it."""
    names = [name for name, record in doc["agents"].items()
             if name != meshplan.REGISTRY_AGENT and alive(record)]
    if names:
        ControlClient(doc).stop(names, timeout=timeout, answer_within=stop_bound(doc, names, timeout))
    order = [name for wave in reap.stop_waves({n: doc["agents"][n] for n in names}) for name in wave]
    supervisor = doc["supervisor"]
    return DownResult(DownMode.SUPERVISOR, tuple(StoppedAgent(name) for name in order),
                      supervisor["pid"] if supervisor else None, registry_kept_for=users)


def _without_state(project: ProjectIdentity, timeout: float | None, damage: str) -> DownResult:
    """The state file is damaged, and with it the token the control socket
    asks for: a live supervisor found without it (lock holder, runtime
    registration) gets SIGTERM, its own graceful stop of every agent in
    order, within a bound; then `_forced` kills what is left of it and reaps
    every run of the project the process table still shows."""
    import os
    import signal

    found = reap.supervisors(project.directory, project.name, None)
    running = list(reap.project_agents(project.directory, project.name, found))  # what it will stop
    ended: list[int] = []
    for supervisor in found:
        if protocol.supervisor_stopped(supervisor.pid, supervisor.create_time):
            continue  # it cannot act on a signal but SIGKILL
        try:
            os.kill(supervisor.pid, signal.SIGTERM)
        except OSError:
            continue
        if wait_process_gone(supervisor.pid, supervisor.create_time, _blind_bound(timeout)):
            ended.append(supervisor.pid)
    rest = _forced(project, None, None, timeout, damage)
    reaped = {agent.name: agent for agent in rest.stopped}
    stopped = [reaped.get(name, StoppedAgent(name)) for name in running]
    stopped += [agent for name, agent in reaped.items() if name not in running]
    return DownResult(DownMode.FORCED, tuple(stopped), ended[0] if ended else rest.supervisor_pid,
                      notes=rest.notes if not ended else (damage,))


def _registered(project: ProjectIdentity) -> bool:
    """Whether a live supervisor of the project is in the machine-wide index
    (a supervisor registers once it serves)."""
    from meshcompose.control import index

    try:
        entry = index.entry_for(project.name, project.directory)
    except MeshComposeError:
        return False
    return entry is not None and entry.alive


def _names_live_supervisor(store: state.StateStore) -> bool:
    try:
        return state.supervisor_alive(store.read())
    except state.DamagedStateError:
        return False


def _blind_bound(timeout: float | None) -> float:
    """How long a supervisor asked without its state may take: the agents are
    not known, so one grace and kill wait per wave is not either; a generous whole."""
    return 2 * ((reap.DEFAULT_GRACE if timeout is None else timeout) + KILL_ALLOWANCE_SECONDS) + MARGIN_SECONDS


def _forced(project: ProjectIdentity, doc: state.StateDoc | None, store: state.StateStore | None,
            timeout: float | None, why: str) -> DownResult:
    earlier = store.earlier_runs if store is not None else {}
    killed, outcomes = reap.force_down(project.directory, project.name, doc, earlier, timeout)
    stopped = tuple(StoppedAgent(outcome.name, outcome.forced) for outcome in outcomes if outcome.found)
    note = why + (f"; killed the supervisor (pid {', '.join(map(str, killed))})" if killed else "")
    return DownResult(DownMode.FORCED, stopped, killed[0] if killed else None, notes=(note,))


def _reap_orphans(project: ProjectIdentity, timeout: float | None) -> DownResult:
    found = [outcome for outcome in reap.reap_project(project.directory, project.name, timeout) if outcome.found]
    return DownResult(DownMode.REAPED, tuple(StoppedAgent(outcome.name, outcome.forced) for outcome in found))

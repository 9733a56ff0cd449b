"""`down`: stop every agent, newest dependents first, and end the supervisor;
return only when every process is gone.

With a live supervisor, it is asked over the control socket, and `down`
waits until it and every recorded agent process have exited. With a dead one
(killed by SIGKILL), the agents are reaped from the state file
(`meshcompose.runtime.reap`). Needs only the project directory, so it works
when the project file no longer validates, and stays fast.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from meshcompose.app.project import ProjectIdentity
from meshcompose.app.running import alive, stop_bound
from meshcompose.control import lock, protocol, state
from meshcompose.errors import AlreadyRunningError, ControlError, NotRunningError
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


def down(project: ProjectIdentity, options: DownOptions) -> DownResult:
    """Never "nothing to stop" while someone holds the project lock: an early
    `up -d` holds it before any state file exists, so `down` waits (bounded)
    for its supervisor to publish itself and asks it, or reaps if it died."""
    store = state.StateStore(project.directory, project.name)
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while True:
        doc = store.read()
        if doc is not None and state.supervisor_alive(doc):
            users = () if options.registry else _registry_users(doc)
            if users:
                return _keep_registry(doc, options.timeout, users)
            return _via_supervisor(project, doc, options.timeout)
        if doc is None and not lock.is_held(project.directory, project.name):
            if store.read() is None:  # not written just before the lock was let go
                return DownResult(DownMode.NEVER_RAN)
            continue
        if doc is not None:
            try:
                return _reap_orphans(project, options.timeout)
            except AlreadyRunningError:
                pass  # a supervisor is starting: ask it once it serves
        if time.monotonic() > deadline:
            raise ControlError(
                f"a process holds the project lock but no supervisor served it within {STARTUP_WAIT_SECONDS:g}s",
                hint="run `mesh-compose down` again; the holder's pid is in "
                     f"{lock.lock_file(project.directory, project.name)}")
        time.sleep(POLL_SECONDS)


def _via_supervisor(project: ProjectIdentity, doc: state.StateDoc, timeout: float | None) -> DownResult:
    active = [name for name, record in doc["agents"].items() if alive(record)]
    supervisor = doc["supervisor"]
    assert supervisor is not None  # supervisor_alive said so
    try:
        protocol.request(doc, {"op": "down", "timeout": timeout})
    except NotRunningError:
        return _reap_orphans(project, timeout)  # it died just now
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
        protocol.request(doc, {"op": "stop", "names": names, "timeout": timeout},
                         timeout=stop_bound(doc, names, timeout))
    order = [name for wave in reap.stop_waves({n: doc["agents"][n] for n in names}) for name in wave]
    supervisor = doc["supervisor"]
    return DownResult(DownMode.SUPERVISOR, tuple(StoppedAgent(name) for name in order),
                      supervisor["pid"] if supervisor else None, registry_kept_for=users)


def _reap_orphans(project: ProjectIdentity, timeout: float | None) -> DownResult:
    found = [outcome for outcome in reap.reap_project(project.directory, project.name, timeout) if outcome.found]
    return DownResult(DownMode.REAPED, tuple(StoppedAgent(outcome.name, outcome.forced) for outcome in found))

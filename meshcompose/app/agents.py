"""`kill`, `wait` and `top`: single agents of a running project, by the
processes its state file records. Light, like `stop`: the project file is
not loaded, so they answer when it no longer validates.

`kill` signals the agent's process group directly. The supervisor was not
asked to stop it, so the agent's restart policy decides what follows, as
compose's `kill` does (a killed container is not "stopped by the user").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from meshcompose.app.live import alive, known_names, running_doc
from meshcompose.app.project import ProjectIdentity
from meshcompose.control import state
from meshcompose.errors import NotRunningError
from meshcompose.lifecycle import ENDED_STATES

POLL_SECONDS = 0.2


# -- kill ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KillOptions:
    names: tuple[str, ...] = ()  # empty: every agent
    signal: str = "SIGKILL"


@dataclass(frozen=True)
class KillResult:
    signalled: tuple[str, ...]
    not_running: tuple[str, ...]
    signal: str


def kill(project: ProjectIdentity, options: KillOptions) -> KillResult:
    from meshcompose.proc.identity import ProcessIdentity
    from meshcompose.proc.process import signal_group
    from meshcompose.units import parse_signal

    name = parse_signal(options.signal)
    doc = running_doc(project.directory, project.name, "kill")
    signalled: list[str] = []
    missed: list[str] = []
    for agent in known_names(options.names, doc["agents"]) or list(doc["agents"]):
        record = doc["agents"][agent]
        pid, created = record.get("pid"), record.get("create_time")
        ident = ProcessIdentity(pid, created) if pid and created is not None and alive(record) else None
        (signalled if signal_group(ident, name, record.get("token")) else missed).append(agent)
    return KillResult(tuple(signalled), tuple(missed), name)


# -- wait ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitOptions:
    names: tuple[str, ...]
    timeout: float | None = None  # None: as long as it takes


@dataclass(frozen=True)
class WaitResult:
    exit_codes: tuple[tuple[str, int | None], ...]  # in the order asked; None: it never ran
    timed_out: bool = False

    @property
    def exit_code(self) -> int:
        """Compose's: the first agent's."""
        return 1 if self.timed_out else int(self.exit_codes[0][1] or 0) if self.exit_codes else 0


def wait(project: ProjectIdentity, options: WaitOptions) -> WaitResult:
    """Until each agent has ended (and will not be restarted), or the
    supervisor is gone; then their exit codes."""
    store = state.StateStore(project.directory, project.name)
    doc = store.read()
    if doc is None:
        raise NotRunningError(project.name, hint="start it with `mesh-compose up -d`")
    names = known_names(options.names, doc["agents"])
    deadline = None if options.timeout is None else time.monotonic() + options.timeout
    while not _all_ended(doc, names):
        if deadline is not None and time.monotonic() >= deadline:
            return WaitResult(_codes(doc, names), timed_out=True)
        time.sleep(POLL_SECONDS)
        doc = store.read() or doc
    return WaitResult(_codes(doc, names))


def _all_ended(doc: state.StateDoc, names: Sequence[str]) -> bool:
    if not state.supervisor_alive(doc):
        return not any(alive(doc["agents"][name]) for name in names)
    return all(doc["agents"][name]["status"] in ENDED_STATES for name in names)


def _codes(doc: state.StateDoc, names: Sequence[str]) -> tuple[tuple[str, int | None], ...]:
    return tuple((name, doc["agents"][name].get("exit_code")) for name in names)


# -- top -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TopProcess:
    pid: int
    ppid: int
    cpu_percent: float  # averaged since the process started, as ps(1)
    rss: int
    command: str


@dataclass(frozen=True)
class AgentProcesses:
    name: str
    processes: tuple[TopProcess, ...]


def top(project: ProjectIdentity, names: Sequence[str] = ()) -> tuple[AgentProcesses, ...]:
    """Each running agent's processes, found by the one tree accounting
    (proc.tree: the group, the token and the descendants)."""
    from meshcompose.proc import tree
    from meshcompose.proc.identity import ProcessIdentity

    doc = running_doc(project.directory, project.name, "top")
    table = tree.scan()
    listing = []
    for name in known_names(names, doc["agents"]) or list(doc["agents"]):
        record = doc["agents"][name]
        if not alive(record):
            continue
        ident = ProcessIdentity(record["pid"], record["create_time"])  # type: ignore[arg-type]
        members = table.members(ident, record.get("token"))
        described = (_describe(pid) for pid in sorted(members))
        listing.append(AgentProcesses(name, tuple(proc for proc in described if proc is not None)))
    return tuple(listing)


def _describe(pid: int) -> TopProcess | None:
    import psutil

    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            times = proc.cpu_times()
            elapsed = max(time.time() - proc.create_time(), 0.001)
            command = " ".join(proc.cmdline()) or proc.name()
            return TopProcess(pid, proc.ppid(), round(100.0 * (times.user + times.system) / elapsed, 1),
                              proc.memory_info().rss, command)
    except psutil.Error:
        return None


# -- up --remove-orphans ---------------------------------------------------------------


def remove_orphans(project: ProjectIdentity, defined: Sequence[str], timeout: float | None = None) -> tuple[str, ...]:
    """Stop the running agents of this project that the file no longer
    defines (under any profile), as compose's `up --remove-orphans`; their
    names. Nothing to do when the project is not running."""
    from meshcompose.app.stop import StopOptions, stop

    doc = state.StateStore(project.directory, project.name).read()
    if doc is None or not state.supervisor_alive(doc):
        return ()
    orphans = tuple(name for name, record in doc["agents"].items() if name not in defined and alive(record))
    if orphans:
        stop(project, StopOptions(names=orphans, timeout=timeout))
    return orphans

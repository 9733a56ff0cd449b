"""`logs`: agent output from `.mesh-compose/logs/`, merged by time, and
followed with `-f`.

Reads the files directly, so it works during and after a run, for detached
projects, and when the project file no longer validates (it needs only the
project directory, not the configuration, which would cost jsonschema and
networkx).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from meshcompose.app.project import ProjectIdentity
from meshcompose.control.paths import project_state_path
from meshcompose.errors import MeshComposeError
from meshcompose.logs.logfiles import agents_with_logs
from meshcompose.logs.logread import LogFollower, follow, merge_by_time, tail_records
from meshcompose.logs.logrecord import RUN_STREAM, WATCH_STREAM, Record, parse_time_point, utc_timestamp
from meshcompose.names import members
from meshcompose.privatefiles import check_private_dir

__all__ = ["RUN_STREAM", "WATCH_STREAM", "LogsOptions", "LogsResult", "LogSink", "Record", "logs", "parse_time_point",
           "utc_timestamp"]  # Record: what the CLI renders


@dataclass(frozen=True)
class LogsOptions:
    names: tuple[str, ...] = ()
    follow: bool = False
    tail: int | None = None  # last N lines per agent; None: all
    since: str | None = None  # only records at or after this timestamp (the record format, see since_until)
    until: str | None = None  # only records before it


class LogSink(Protocol):
    """Where `logs` puts records, in time order (the CLI's console)."""

    def begin(self, agents: Sequence[str]) -> None:
        """The agents shown (known before the first record, for alignment)."""

    def show(self, records: Sequence[Record]) -> bool:
        """Render a batch; False when the reader has gone (stop following)."""

    def waiting(self, log_dir: Path) -> None:
        """Following, and no agent has written a log yet."""


@dataclass(frozen=True)
class LogsResult:
    log_dir: Path
    agents: tuple[str, ...]  # whose logs were shown; empty: none yet


def log_dir(project: ProjectIdentity) -> Path:
    return project_state_path(project.directory, project.name) / "logs"


def logs(project: ProjectIdentity, options: LogsOptions, sink: LogSink) -> LogsResult:
    """Shows the history, then (following) new lines until the reader leaves
    or the caller interrupts (KeyboardInterrupt passes through)."""
    where = log_dir(project)
    _check_readable(where)
    known = agents_with_logs(where)
    named = [member for name in options.names for member in members(name, known) or [name]]  # `api`: every replica
    _check_names(named, known, options.follow, where)
    agents: list[str] = named or known
    if not agents and not options.follow:
        return LogsResult(where, ())
    sink.begin(agents)
    follower = LogFollower(where, named or None) if options.follow else None
    try:
        offsets = follower.offsets() if follower else {}
        history = [tail_records(where, name, options.tail, offsets.get(name)) for name in agents]
        window = _window(options)
        if _show_all(window(merge_by_time(history)), sink) and follower is not None:
            _follow(follower, sink, where, window, waiting=not agents, ended=_all_ended(project, agents))
    finally:
        if follower is not None:
            follower.close()
    return LogsResult(where, tuple(agents))


# The history goes to the sink in batches of this many records: `logs` of a
# gigabyte of history holds one batch in memory, not the history.
SHOW_BATCH = 2000
Window = Callable[[Iterable[Record]], Iterator[Record]]


def _show_all(records: Iterable[Record], sink: LogSink) -> bool:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= SHOW_BATCH:
            if not sink.show(batch):
                return False
            batch = []
    return sink.show(batch)


def _window(options: LogsOptions) -> Window:
    """Keeps the records between --since and --until (timestamps compare as text)."""
    since, until = options.since, options.until

    def within(records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            if until is not None and record.when >= until:
                continue
            if since is None or record.when >= since:
                yield record

    return within


def _all_ended(project: ProjectIdentity, agents: Sequence[str]) -> Callable[[], bool]:
    """As compose's `logs -f`: following ends once every followed agent has
    ended (exited, failed or skipped, and not to be restarted), or the
    supervisor is gone. A project that has not run yet is waited for."""
    from meshcompose.control import state
    from meshcompose.lifecycle import ENDED_STATES

    store = state.StateStore(project.directory, project.name)

    def ended() -> bool:
        doc = store.read()
        if doc is None or not agents:
            return False
        if not state.supervisor_alive(doc):
            return True
        records = [doc["agents"].get(name) for name in agents]
        return all(record is not None and record["status"] in ENDED_STATES for record in records)

    return ended


def _follow(follower: LogFollower, sink: LogSink, where: Path, window: Window, *, waiting: bool,
            ended: Callable[[], bool]) -> None:
    if waiting:
        sink.waiting(where)
    for batch in follow(follower, ended=ended):
        if not sink.show(list(window(batch))):
            return


def _check_readable(where: Path) -> None:
    """Logs another user keeps, or cannot be read, are an error, never "has not run here"."""
    check_private_dir(where.parent.parent)  # `.mesh-compose/`, then the project's own directory
    check_private_dir(where.parent)
    try:
        os.listdir(where)
    except FileNotFoundError:
        if where.parent.is_dir() and not os.access(where.parent, os.R_OK | os.X_OK):
            raise MeshComposeError(f"cannot read {where.parent}: permission denied",
                                   hint="run as the user who started the project") from None
    except OSError as error:
        raise MeshComposeError(f"cannot read the logs in {where}: {error.strerror or error}",
                               hint="run as the user who started the project") from None


def _check_names(names: Sequence[str], known: Sequence[str], following: bool, where: Path) -> None:
    for name in names:
        if "/" in name or "\\" in name or name.startswith(".") or not name:
            raise MeshComposeError(f"not an agent name: {name!r}")
        if name not in known and not following:
            raise MeshComposeError(
                f"no logs for agent '{name}' in {where}",
                hint=f"agents with logs: {', '.join(known)}" if known else "the project has not run yet",
            )

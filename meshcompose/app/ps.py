"""`ps`: the agents of a project and their state, from `.mesh-compose/state.json`.

Reads the state file instead of asking the supervisor, so it answers when
the project never ran, while it runs, and after its supervisor died (agents
still alive are then `orphaned`). It must be fast: it imports neither the
configuration stack nor rich, and psutil scans the process table once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from meshcompose.app.project import ProjectIdentity
from meshcompose.control import state
from meshcompose.lifecycle import ENDED_STATES, HEALTH_STATES, RUNNING_STATES, AgentState, unsupervised
from meshcompose.proc.identity import process_alive

if TYPE_CHECKING:
    from meshcompose.proc.tree import TreeUsage

ORPHANED = AgentState.ORPHANED.value
# `ps` must answer even when the registry is dead or hangs.
REGISTRY_TIMEOUT = 0.5


@dataclass(frozen=True)
class PsOptions:
    all: bool = False  # include ended agents
    statuses: tuple[str, ...] = ()  # only these state words
    mesh: bool = True  # ask the registry for the MESH and CAPS columns
    names: tuple[str, ...] = ()  # only these agents (checked: an unknown one is an error)


@dataclass
class Row:
    """One agent as `ps` shows it; the JSON output is this, one per line."""

    Name: str
    Project: str
    State: str  # the state word: running, healthy, exited, orphaned, …
    Status: str  # as shown: `running (healthy)`, `exited (1)`
    Health: str | None
    ExitCode: int | None
    Pid: int | None
    StartedAt: str | None  # RFC 3339, as compose writes dates: 2026-12-07T04:39:40.123456+00:00
    Uptime: float | None  # seconds
    Restarts: int
    CPUPercent: float | None  # average since the process started, as ps(1)
    MemoryBytes: int | None  # RSS summed over the agent's process tree
    Python: str | None
    Venv: bool | None
    Interpreter: str | None
    Message: str | None
    LogPath: str
    Limits: str | None  # e.g. "memory 1.0 GiB (sampled); cpu 0.5 (CPU 1, duty cycle 50%)", "memory 100 MiB (cgroup)"
    Mesh: str | None = None  # registered | unhealthy | None (not listed, or no registry)
    Capabilities: int | None = None
    Deps: str | None = None  # "resolved/total" dependencies, as the registry resolved them
    Port: int | None = None  # the port of its MCP endpoint
    Endpoint: str | None = None
    CapabilityNames: list[str] = field(default_factory=list)  # framework ones left out
    # Each dependency: {"capability", "resolved", "provider" (agent id), "endpoint"}.
    Dependencies: list[dict[str, object]] = field(default_factory=list)
    # What it listens on beyond the loopback host the project asked for, as
    # the supervisor last saw it: ["0.0.0.0:43121"]; [] if nothing (or not running).
    Exposed: list[str] = field(default_factory=list)
    Watch: str | None = None  # watch mode's last word on it: a reload, or an edit it rejected


@dataclass(frozen=True)
class PsResult:
    rows: tuple[Row, ...]  # the ones asked for
    ran: bool = True  # False: the project has not run here
    mesh: bool = False  # the run involves a registry: show MESH and CAPS
    orphaned: tuple[str, ...] = ()  # alive, but their supervisor is gone
    supervisor_pid: int | None = None  # the gone supervisor's, when known


def ps(project: ProjectIdentity, options: PsOptions) -> PsResult:
    doc = state.StateStore(project.directory, project.name).read()
    if doc is None:
        return PsResult((), ran=False)
    supervised = state.supervisor_alive(doc)
    from meshcompose.app.live import known_names

    only = set(known_names(options.names, doc["agents"]))
    records = {name: record for name, record in doc["agents"].items() if not only or name in only}
    alive = {name for name, record in records.items()
             if process_alive(record.get("pid"), record.get("create_time"))}
    usage = tree_usage({name: records[name] for name in alive})
    rows = [agent_row(doc, name, record, supervised, name in alive, usage.get(name))
            for name, record in records.items()]
    if not supervised:
        find_unrecorded_orphans(doc, rows)
    registry_url = doc.get("registry_url")
    mesh = bool(registry_url) and options.mesh
    if registry_url and mesh:
        add_mesh_columns(registry_url, doc["project"], rows)
    orphaned = () if supervised else tuple(row.Name for row in rows if row.State == ORPHANED)
    record = doc.get("supervisor")
    return PsResult(tuple(row for row in rows if wanted(row, options.all, options.statuses)), mesh=mesh,
                    orphaned=orphaned, supervisor_pid=record["pid"] if record else None)


def wanted(row: Row, show_all: bool, statuses: Sequence[str]) -> bool:
    if statuses:
        return row.State in statuses or ("running" in statuses and row.State in RUNNING_STATES)
    return show_all or row.State not in ENDED_STATES


def effective_state(record: state.AgentRecord, supervised: bool, alive: bool) -> str:
    """With a live supervisor its word is the truth; without one, the
    lifecycle's word for a record nobody supervises."""
    recorded = record["status"]
    return recorded if supervised else unsupervised(recorded, alive)


def status_label(state_word: str, record: state.AgentRecord) -> str:
    health = record.get("health") or (state_word if state_word in HEALTH_STATES else None)
    if state_word in RUNNING_STATES:
        return f"running ({health})" if health else "running"
    if state_word in (AgentState.EXITED, AgentState.FAILED) and record.get("exit_code") is not None:
        return f"{state_word} ({record['exit_code']})"
    return state_word


def rfc3339(moment: float | None) -> str | None:
    """An epoch time as an RFC 3339 date in UTC."""
    if moment is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(moment, timezone.utc).isoformat()


def agent_row(doc: state.StateDoc, name: str, record: state.AgentRecord, supervised: bool, alive: bool,
              usage: TreeUsage | None) -> Row:
    word = effective_state(record, supervised, alive)
    started = record.get("started_at")
    return Row(
        Name=name, Project=doc["project"], State=word, Status=status_label(word, record),
        Health=record.get("health"), ExitCode=record.get("exit_code"),
        Pid=record["pid"] if alive else None, StartedAt=rfc3339(started),
        Uptime=max(time.time() - started, 0.0) if alive and started else None,
        Restarts=int(record.get("restarts") or 0),
        CPUPercent=usage.cpu_percent(record["create_time"] or 0.0) if usage else None,
        MemoryBytes=usage.rss if usage else None,
        Python=record.get("python_version"), Venv=record.get("venv"),
        Interpreter=record.get("interpreter"), Message=record.get("message"),
        LogPath=record.get("log_path") or "",
        Limits=record.get("limits"),
        Exposed=[str(address) for address in record.get("exposed") or ()] if alive else [],
        Watch=record.get("watch"),
    )


def find_unrecorded_orphans(doc: state.StateDoc, rows: Sequence[Row]) -> None:
    """An agent whose supervisor died between spawning it and recording its
    pid is still found, by its token or cgroup (as `down` finds it): orphaned."""
    unrecorded = [row for row in rows if row.State != ORPHANED and doc["agents"][row.Name].get("token")]
    if not unrecorded:
        return
    from meshcompose.proc import cgroup
    from meshcompose.proc import tree as proctree

    table = proctree.scan()
    for row in unrecorded:
        record = doc["agents"][row.Name]
        token = record.get("token")
        found = table.members(None, token) | cgroup.members(cgroup.trusted(record.get("cgroup"), token))
        live = sorted(pid for pid in found if pid in table.entries and not table.entries[pid].zombie)
        if live:
            row.State, row.Status, row.Pid = ORPHANED, ORPHANED, live[0]


def add_mesh_columns(registry_url: str, project: str, rows: Sequence[Row]) -> None:
    """What the MCP Mesh registry says of each agent (one short request)."""
    from meshcompose.mesh import registry

    listed = registry.agents(registry_url, timeout=REGISTRY_TIMEOUT) or {}
    for row in rows:
        info = listed.get(registry.agent_id(project, row.Name))
        if info is not None:
            row.Mesh = "registered" if info.healthy else "unhealthy"
            row.Capabilities = info.capabilities
            row.CapabilityNames = [offer.name for offer in info.offers if not offer.framework]
            row.Endpoint = info.endpoint or None
            row.Port = endpoint_port(info.endpoint)
            row.Dependencies = [{"capability": r.capability, "resolved": r.resolved,
                                 "provider": r.provider_id or None, "endpoint": r.endpoint or None}
                                for r in info.resolutions]
            resolved = sum(1 for r in info.resolutions if r.resolved)
            row.Deps = f"{resolved}/{len(info.resolutions)}" if info.resolutions else "-"


def endpoint_port(endpoint: str) -> int | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(endpoint).port if endpoint else None
    except ValueError:
        return None


def tree_usage(records: Mapping[str, state.AgentRecord]) -> dict[str, TreeUsage]:
    """The agents' trees measured exactly as the memory limit measures them
    (proc.tree), in one scan of the process table, and only if any is alive."""
    if not records:
        return {}
    from meshcompose.proc.identity import ProcessIdentity
    from meshcompose.proc.tree import tree_usage as measure

    keys = {name: (ProcessIdentity(record["pid"] or 0, record["create_time"] or 0.0), record.get("token"))
            for name, record in records.items()}  # alive, so both are set
    return measure(keys)

"""`mesh-compose ps [-a] [--format table|json] [-q] [--status S]`.

Reads `.mesh-compose/state.json` directly instead of asking the supervisor:
it answers when the project never ran, while it runs, and after its
supervisor died (agents still alive are then `orphaned`). It must be fast, so
it imports neither the configuration stack nor rich: the table is plain
aligned text, like compose's.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Optional, Sequence

if TYPE_CHECKING:
    from meshcompose.control.state import AgentRecord, StateDoc

STATES = ("waiting", "starting", "running", "healthy", "unhealthy", "restarting", "stopping",
          "exited", "failed", "skipped", "orphaned")  # model.AgentState values; a test keeps them equal
ENDED = frozenset({"exited", "failed", "skipped"})
RUNNING_FAMILY = frozenset({"running", "healthy", "unhealthy"})
COLUMNS = ("NAME", "STATUS", "PID", "UPTIME", "RESTARTS", "CPU%", "MEM", "PYTHON")
MESH_COLUMNS = ("MESH", "CAPS")
# `ps` must answer even when the registry is dead or hangs.
REGISTRY_TIMEOUT = 0.5


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("-a", "--all", action="store_true",
                        help="show every agent, including exited, failed and skipped ones")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default), or json: one object per line")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print agent names")
    parser.add_argument("--status", dest="statuses", action="append", choices=STATES, default=[],
                        metavar="STATUS", help=f"only agents in this state (repeatable): {', '.join(STATES)}")


@dataclass
class Row:
    """One agent as `ps` shows it; the JSON output is this, one per line."""

    Name: str
    Project: str
    State: str  # the state word: running, healthy, exited, orphaned, …
    Status: str  # as shown: `running (healthy)`, `exited (1)`
    Health: Optional[str]
    ExitCode: Optional[int]
    Pid: Optional[int]
    StartedAt: Optional[float]
    Uptime: Optional[float]  # seconds
    Restarts: int
    CPUPercent: Optional[float]  # average since the process started, as ps(1)
    MemoryBytes: Optional[int]  # RSS summed over the agent's process tree
    Python: Optional[str]
    Venv: Optional[bool]
    Interpreter: Optional[str]
    Message: Optional[str]
    LogPath: str
    Limits: Optional[str]  # e.g. "memory 1.0 GiB (sampled RSS, no hard limit); cpu 0.5 (CPU 1, duty cycle 50%)"
    Mesh: Optional[str] = None  # registered | unhealthy | None (not listed, or no registry)
    Capabilities: Optional[int] = None


def run(args: argparse.Namespace) -> int:
    from meshcompose.config import locate
    from meshcompose.control import state

    directory = locate.project_dir(getattr(args, "files", None) or [])
    doc = state.StateStore(directory).read()
    if doc is None:
        _print_empty(args, "no agents running (the project has not run here yet)")
        return 0
    supervised = state.supervisor_alive(doc)
    children = functools.lru_cache(maxsize=None)(children_map)  # scanned once, and only if needed
    rows = [agent_row(doc, name, record, supervised, children) for name, record in doc["agents"].items()]
    if doc.get("registry_url"):
        add_mesh_columns(doc, rows)
    _warn_if_orphaned(doc, rows, supervised)
    shown = [row for row in rows if wanted(row, args.all, args.statuses)]
    if not shown:
        _print_empty(args, "no agents running")
        return 0
    _print_rows(args, shown, mesh=bool(doc.get("registry_url")))
    return 0


def wanted(row: Row, show_all: bool, statuses: Sequence[str]) -> bool:
    if statuses:
        return row.State in statuses or ("running" in statuses and row.State in RUNNING_FAMILY)
    return show_all or row.State not in ENDED


def effective_state(record: "AgentRecord", supervised: bool, alive: bool) -> str:
    """With a live supervisor its word is the truth; without one, a process
    still alive is orphaned and one that is gone has ended, whatever the last
    word was (a `running` agent without a process is not running)."""
    recorded = record["status"]
    if supervised:
        return recorded
    if alive:
        return "orphaned"
    return recorded if recorded in ENDED else "exited"


def status_label(state_word: str, record: "AgentRecord") -> str:
    health = record.get("health") or (state_word if state_word in ("healthy", "unhealthy") else None)
    if state_word in RUNNING_FAMILY:
        return f"running ({health})" if health else "running"
    if state_word in ("exited", "failed") and record.get("exit_code") is not None:
        return f"{state_word} ({record['exit_code']})"
    return state_word


def agent_row(doc: "StateDoc", name: str, record: "AgentRecord", supervised: bool,
              children: Callable[[], Dict[int, List[int]]]) -> Row:
    from meshcompose.control import state

    alive = state.process_alive(record.get("pid"), record.get("create_time"))
    word = effective_state(record, supervised, alive)
    usage = tree_usage(record["pid"], record["create_time"], children()) if alive else None
    started = record.get("started_at")
    return Row(
        Name=name, Project=doc["project"], State=word, Status=status_label(word, record),
        Health=record.get("health"), ExitCode=record.get("exit_code"),
        Pid=record["pid"] if alive else None, StartedAt=started,
        Uptime=max(time.time() - started, 0.0) if alive and started else None,
        Restarts=int(record.get("restarts") or 0),
        CPUPercent=usage[0] if usage else None, MemoryBytes=usage[1] if usage else None,
        Python=record.get("python_version"), Venv=record.get("venv"),
        Interpreter=record.get("interpreter"), Message=record.get("message"),
        LogPath=record.get("log_path") or "",
        Limits=record.get("limits"),
    )


def add_mesh_columns(doc: "StateDoc", rows: Sequence[Row]) -> None:
    """What the MCP Mesh registry says of each agent (one short request)."""
    from meshcompose.mesh import registry

    listed = registry.agents(doc["registry_url"], timeout=REGISTRY_TIMEOUT) or {}
    for row in rows:
        info = listed.get(registry.agent_id(doc["project"], row.Name))
        if info is not None:
            row.Mesh = "registered" if info.healthy else "unhealthy"
            row.Capabilities = info.capabilities


def tree_usage(pid: int, create_time: float, children: Dict[int, List[int]]) -> Optional[tuple]:
    """(CPU % averaged since start, summed RSS) of the agent and its descendants."""
    import psutil

    cpu_seconds, rss = 0.0, 0
    for member in _descendants(pid, children):
        try:
            proc = psutil.Process(member)
            with proc.oneshot():
                times = proc.cpu_times()
                cpu_seconds += times.user + times.system
                rss += proc.memory_info().rss
        except psutil.Error:
            continue
    elapsed = max(time.time() - create_time, 0.001)
    return round(100.0 * cpu_seconds / elapsed, 1), rss


def children_map() -> Dict[int, List[int]]:
    """parent pid -> child pids, from one scan of the process table (asking
    psutil for each agent's children would scan it once per agent)."""
    import psutil

    children: Dict[int, List[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        children.setdefault(proc.info["ppid"], []).append(proc.pid)
    return children


def _descendants(pid: int, children: Dict[int, List[int]]) -> List[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, ()))
    return found


def _warn_if_orphaned(doc: "StateDoc", rows: Iterable[Row], supervised: bool) -> None:
    orphans = [row.Name for row in rows if row.State == "orphaned"]
    if supervised or not orphans:
        return
    record = doc.get("supervisor")
    who = f"the supervisor (pid {record['pid']})" if record else "the supervisor"
    print(f"warning: {who} is gone; {len(orphans)} agent(s) still run orphaned: {', '.join(orphans)} "
          "— `mesh-compose down` stops them", file=sys.stderr)


def _print_empty(args: argparse.Namespace, message: str) -> None:
    if args.format == "table" and not args.quiet:
        print(message)


def _print_rows(args: argparse.Namespace, rows: List[Row], mesh: bool) -> None:
    if args.quiet:
        sys.stdout.write("".join(f"{row.Name}\n" for row in rows))
    elif args.format == "json":
        sys.stdout.write("".join(json.dumps(asdict(row)) + "\n" for row in rows))
    else:
        sys.stdout.write(render_table(rows, mesh))


def table_cells(row: Row, mesh: bool = False) -> List[str]:
    from meshcompose.units import format_duration, format_size

    python = "-"
    if row.Python:
        python = f"{row.Python} ({'venv' if row.Venv else 'system'})" if row.Venv is not None else row.Python
    cells = [
        row.Name, row.Status, str(row.Pid) if row.Pid else "-",
        format_duration(row.Uptime) if row.Uptime is not None else "-", str(row.Restarts),
        f"{row.CPUPercent:.1f}" if row.CPUPercent is not None else "-",
        format_size(row.MemoryBytes) if row.MemoryBytes is not None else "-", python,
    ]
    if mesh:
        cells += [row.Mesh or "—", str(row.Capabilities) if row.Capabilities is not None else "—"]
    return cells


def render_table(rows: Sequence[Row], mesh: bool = False) -> str:
    columns = [*COLUMNS, *MESH_COLUMNS] if mesh else list(COLUMNS)
    lines = [columns, *(table_cells(row, mesh) for row in rows)]
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns))]
    return "".join("   ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() + "\n"
                   for line in lines)

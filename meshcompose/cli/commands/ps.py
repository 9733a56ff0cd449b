"""`mesh-compose ps [AGENT...] [-a] [--format table|json] [-q] [--services]
[--status S] [--filter status=S]`.

Fast: neither the configuration stack nor rich; the table is plain aligned
text, like compose's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

from meshcompose.safetext import terminal_safe

if TYPE_CHECKING:
    from meshcompose.app.ps import PsResult, Row

COLUMNS = ("NAME", "STATUS", "PID", "UPTIME", "RESTARTS", "CPU%", "MEM", "PYTHON")
MESH_COLUMNS = ("MESH", "CAPS", "DEPS", "PORT")
EXPOSED_COLUMN = "EXPOSED"  # only when some agent listens beyond the loopback host asked for
LIMITS_COLUMN = "LIMITS"  # only when some agent has limits: each with what holds it, `(cgroup)` or `(sampled)`
MESSAGE_COLUMN = "MESSAGE"  # last, and only when some agent has one: why it is unhealthy, failed, skipped


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    from meshcompose.lifecycle import STATE_WORDS as STATES

    parser.add_argument("-a", "--all", action="store_true",
                        help="show every agent, including exited, failed and skipped ones")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default), or json: one object per line")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print agent names")
    parser.add_argument("--status", dest="statuses", action="append", choices=STATES, default=[],
                        metavar="STATUS", help=f"only agents in this state (repeatable): {', '.join(STATES)}")
    parser.add_argument("--filter", dest="filters", action="append", default=[], metavar="KEY=VALUE",
                        help="filter as compose does; supported key: status (e.g. --filter status=running)")
    parser.add_argument("--services", "--agents", dest="services", action="store_true",
                        help="only print the agent names (as compose's --services)")
    parser.add_argument("--watch", action="store_true", help="redraw the table in place every second until Ctrl+C")
    parser.add_argument("names", nargs="*", metavar="AGENT", help="only these agents (default: all)")


def filter_statuses(filters: Sequence[str]) -> tuple[str, ...]:
    """`--filter status=running` -> ("running",); anything else is a usage error."""
    from meshcompose.errors import UsageError
    from meshcompose.lifecycle import STATE_WORDS as STATES

    statuses = []
    for item in filters:
        key, sep, value = item.partition("=")
        if key.strip() != "status" or not sep:
            raise UsageError(f"--filter {item!r}: expected status=STATUS (the only filter key supported)")
        if value.strip() not in STATES:
            raise UsageError(f"--filter {item!r}: unknown status {value.strip()!r}; one of {', '.join(STATES)}")
        statuses.append(value.strip())
    return tuple(statuses)


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import ps as app_ps
    from meshcompose.cli.options import project_identity

    statuses = (*args.statuses, *filter_statuses(args.filters))
    options = app_ps.PsOptions(all=args.all, statuses=statuses, names=tuple(args.names), mesh=not args.services)
    if args.watch:
        from meshcompose.cli.watch_table import watch_table

        return watch_table(lambda: app_ps.ps(project_identity(args), options), render_table)
    result = app_ps.ps(project_identity(args), options)
    render(result, quiet=args.quiet or args.services, json_lines=args.format == "json")
    return 0


def render(result: PsResult, *, quiet: bool, json_lines: bool) -> None:
    if result.orphaned:
        who = f"the supervisor (pid {result.supervisor_pid})" if result.supervisor_pid else "the supervisor"
        from meshcompose.units import plural

        count = len(result.orphaned)
        print(f"warning: {who} is gone; {plural(count, 'agent')} still {'runs' if count == 1 else 'run'} orphaned: "
              f"{', '.join(result.orphaned)} — `mesh-compose down` stops them", file=sys.stderr)
    for row in result.rows:
        if row.Exposed:
            print(f"warning: {row.Name} listens beyond loopback on {', '.join(row.Exposed)}, "
                  f"but the project asked for loopback", file=sys.stderr)
    if not result.rows:
        if not (quiet or json_lines):
            print("no agents running" if result.ran else "no agents running (the project has not run here yet)")
    elif quiet:
        sys.stdout.write("".join(f"{row.Name}\n" for row in result.rows))
    elif json_lines:
        sys.stdout.write("".join(json.dumps(asdict(row)) + "\n" for row in result.rows))
    else:
        sys.stdout.write(render_table(result.rows, result.mesh))


def table_cells(row: Row, mesh: bool = False) -> list[str]:
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
        cells += [row.Mesh or "—", str(row.Capabilities) if row.Capabilities is not None else "—",
                  row.Deps or "—", str(row.Port) if row.Port is not None else "—"]
    return cells


def render_table(rows: Sequence[Row], mesh: bool = False) -> str:
    columns = [*COLUMNS, *MESH_COLUMNS] if mesh else list(COLUMNS)
    lines = [columns, *(table_cells(row, mesh) for row in rows)]
    for column, cell in ((EXPOSED_COLUMN, lambda row: ",".join(row.Exposed)),
                         (LIMITS_COLUMN, lambda row: row.Limits or ""),
                         (MESSAGE_COLUMN, lambda row: row.Message or "")):
        if any(cell(row) for row in rows):
            columns.append(column)
            for line, row in zip(lines[1:], rows):
                line.append(cell(row))
    lines = [[terminal_safe(cell, color=False) for cell in line] for line in lines]  # names, messages: text
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns))]
    return "".join("   ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() + "\n"
                   for line in lines)

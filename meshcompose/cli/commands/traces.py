"""`mesh-compose traces [--agent A] [--since T] [-n N] [-f] [--format table|json]`:
the recent MCP Mesh calls of a run with `tracing:`, one line per trace."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshcompose.app.traces import Trace

COLUMNS = ("TRACE", "STARTED", "ROOT", "AGENTS", "SPANS", "DURATION", "STATUS")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    from meshcompose.cli.options import release_option

    release_option(parser, "-f")
    parser.add_argument("--agent", metavar="AGENT", help="only traces this agent took part in")
    parser.add_argument("--since", metavar="TIME",
                        help="only traces started after TIME: RFC 3339, a Unix time, or a duration ago (10m)")
    parser.add_argument("-n", "--limit", type=_count, default=20, metavar="N", help="at most N traces (default 20)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing traces as their calls end")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default), or json: one object per line")


def _count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 1 <= count <= 1000:
        raise argparse.ArgumentTypeError("expected 1 to 1000")
    return count


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import traces as app_traces
    from meshcompose.cli.options import project_identity

    project = project_identity(args)
    options = app_traces.TracesOptions(agent=args.agent, since=args.since, limit=args.limit)
    listing = app_traces.recent(project, options)
    listed = list(reversed(listing.traces))  # oldest first, as a log reads
    json_lines = args.format == "json"
    if json_lines:
        sys.stdout.write("".join(json.dumps(summary(trace)) + "\n" for trace in listed))
    elif listed or args.follow:
        print(table([COLUMNS, *(cells(trace) for trace in listed)]), end="", flush=True)
    else:
        print("no traces yet: call a tool of an agent (`mesh-compose call`), then look again")
    if not args.follow:
        return 0
    for trace in app_traces.follow(project, options, listing.position):
        print(json.dumps(summary(trace)) if json_lines else "   ".join(cells(trace)), flush=True)
    return 0


def summary(trace: Trace) -> dict[str, object]:
    root = trace.root
    return {"TraceId": trace.trace_id, "Start": trace.start, "Root": root.label, "RootAgent": root.agent,
            "Agents": list(trace.agents), "Spans": len(trace.spans), "DurationMs": round(trace.duration_ms, 2),
            "Failed": trace.failed, "Error": next((span.error for span in trace.spans if span.error), None)}


def printable(text: str) -> str:
    from meshcompose.safetext import terminal_safe

    return terminal_safe(text, color=False)


def cells(trace: Trace) -> list[str]:
    started = time.strftime("%H:%M:%S", time.localtime(trace.start))
    root = trace.root
    return [trace.trace_id[:12], started, printable(f"{root.agent}.{root.label}"),
            printable(",".join(trace.agents)), str(len(trace.spans)), milliseconds(trace.duration_ms),
            "failed" if trace.failed else "ok"]


def milliseconds(value: float) -> str:
    return f"{value:.1f}ms" if value < 1000 else f"{value / 1000:.2f}s"


def table(lines: list) -> str:
    widths = [max(len(line[index]) for line in lines) for index in range(len(lines[0]))]
    return "".join("   ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() + "\n"
                   for line in lines)

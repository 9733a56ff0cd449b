"""`mesh-compose trace ID [--format text|json]`: one trace as a waterfall of
its spans across agents (agent, tool or call, start offset, duration, error)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshcompose.app.traces import Trace

BAR_WIDTH = 30


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("trace_id", metavar="ID", help="the trace's id, or its start as `traces` shows it")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import traces as app_traces
    from meshcompose.cli.options import project_identity

    trace = app_traces.one(project_identity(args), args.trace_id)
    if args.format == "json":
        print(json.dumps(as_json(trace), indent=2))
    else:
        print(waterfall(trace), end="")
    return 0


def as_json(trace: Trace) -> dict[str, object]:
    from meshcompose.app.traces import waterfall as rows
    from meshcompose.cli.commands.traces import summary

    return {**summary(trace), "Spans": [
        {"SpanId": row.span.span_id, "ParentId": row.span.parent_id, "Depth": row.depth, "Agent": row.span.agent,
         "AgentId": row.span.agent_id, "Function": row.span.function, "Label": row.span.label,
         "OffsetMs": round(row.offset_ms, 2), "DurationMs": round(row.span.duration_ms, 2),
         "Ok": row.span.ok, "Error": row.span.error} for row in rows(trace)]}


def waterfall(trace: Trace) -> str:
    from meshcompose.app.traces import waterfall as rows
    from meshcompose.cli.commands.traces import milliseconds, printable, table

    total = trace.duration_ms or 1.0
    root = trace.root
    head = (f"trace {trace.trace_id}  {printable(root.agent)}.{printable(root.label)}  "
            f"{milliseconds(trace.duration_ms)}  {'failed' if trace.failed else 'ok'}\n")
    lines = [["OFFSET", "DURATION", "AGENT", "SPAN", "", "ERROR"]]
    for row in rows(trace):
        start = min(BAR_WIDTH - 1, int(row.offset_ms / total * BAR_WIDTH))
        width = max(1, round(row.span.duration_ms / total * BAR_WIDTH))
        bar = (" " * start + "█" * width)[:BAR_WIDTH].ljust(BAR_WIDTH)
        label = "  " * row.depth + printable(row.span.label)
        error = printable(row.span.error or "") if not row.span.ok else ""
        lines.append([milliseconds(row.offset_ms), milliseconds(row.span.duration_ms), printable(row.span.agent),
                      label, bar, ("✗ " + error) if not row.span.ok else ""])
    return head + table(lines)

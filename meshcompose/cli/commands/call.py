"""`mesh-compose call AGENT TOOL [JSON | KEY=VALUE ...] [--format text|json] [--timeout S]`:
call a tool on a running agent over its MCP endpoint and print the result.

Text contents print as they are (control characters made visible); a tool
error prints its text on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshcompose.app.tools import CallResult


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("agent", metavar="AGENT", help="the agent that serves the tool")
    parser.add_argument("tool", metavar="TOOL", help="the tool's name (`mesh-compose tools AGENT` lists them)")
    parser.add_argument("arguments", nargs="*", metavar="JSON | KEY=VALUE",
                        help="one JSON object, or KEY=VALUE words (a value is JSON unless the tool takes a string)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (default): the text contents; json: the whole result")
    from meshcompose.cli.values import positive_duration_argument

    parser.add_argument("--timeout", type=positive_duration_argument, default=30.0, metavar="SECONDS",
                        help="how long the agent may take (default 30)")
    parser.add_argument("--trace", action="store_true",
                        help="then print the call's trace (the run needs `tracing:`), as `mesh-compose trace` does")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import tools as app_tools
    from meshcompose.cli.options import project_identity

    project = project_identity(args)
    trace_id = None
    if args.trace:
        from meshcompose.app import traces as app_traces

        app_traces.require(project)  # before the call: a run without tracing says so first
        trace_id = app_traces.new_trace_id()
    outcome = app_tools.call(project, args.agent, args.tool, args.arguments, args.timeout, trace_id)
    code = show(outcome.result, args)
    if trace_id is not None:
        from meshcompose.cli.commands.trace import waterfall

        sys.stderr.flush()
        sys.stdout.write("\n" + waterfall(app_traces.ended(project, trace_id)))
    return code


def show(result: CallResult, args: argparse.Namespace) -> int:
    """The result as text (or JSON); the exit code: 1 for a tool error."""
    if args.format == "json":
        sys.stdout.write(json.dumps(result.raw, indent=2) + "\n")
        return 1 if result.is_error else 0
    body = "\n".join(visible(piece) for piece in result.texts)
    body += "".join("\n" + json.dumps(item) for item in result.others)
    if result.is_error:
        sys.stderr.write(f"error: tool '{visible(args.tool)}' of '{visible(args.agent)}' failed: {body}\n")
        return 1
    if body:
        sys.stdout.write(body + ("" if body.endswith("\n") else "\n"))
    return 0


def visible(value: str) -> str:
    """A tool's text as text: the project's terminal-safe rule, newlines kept."""
    from meshcompose.safetext import terminal_safe

    return terminal_safe(value, color=False, newlines=True)

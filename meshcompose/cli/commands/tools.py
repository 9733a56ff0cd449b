"""`mesh-compose tools [AGENT...] [--format table|json] [--timeout S] [--all]`: each
registered agent's tools with their input schemas, asked over its MCP endpoint."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    from meshcompose.cli.values import positive_duration_argument

    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default), or json: every tool with its whole input schema")
    parser.add_argument("--timeout", type=positive_duration_argument, default=30.0, metavar="SECONDS",
                        help="how long each agent may take to answer (default 30)")
    parser.add_argument("--all", action="store_true", help="also list the SDK's framework tools")
    parser.add_argument("names", nargs="*", metavar="AGENT", help="only these agents (default: every registered one)")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import tools as app_tools
    from meshcompose.cli.commands.mesh import text
    from meshcompose.cli.options import project_identity

    found = app_tools.tools(project_identity(args), tuple(args.names), args.timeout, framework=args.all)
    if args.format == "json":
        data = [{"agent": entry.agent, "endpoint": entry.endpoint, "error": entry.error,
                 "tools": [{"name": t.name, "description": t.description, "inputSchema": t.input_schema}
                           for t in entry.tools]} for entry in found]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0 if all(entry.error is None for entry in found) else 1
    if not found:
        sys.stdout.write("no agent is registered\n")
    for entry in found:
        sys.stdout.write(f"{text(entry.agent)}  {text(entry.endpoint)}\n")
        if entry.error:
            sys.stdout.write(f"  error: {text(entry.error)}\n")
        for tool in entry.tools:
            sys.stdout.write(f"  {text(tool.name)}({', '.join(text(p) for p in parameters(tool.input_schema))})"
                             + (f"  {text(tool.description)}" if tool.description else "") + "\n")
    return 0 if all(entry.error is None for entry in found) else 1


def parameters(schema: Any) -> list[str]:
    """`name: string = "world"` for each property of an input schema; required ones first, unmarked."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return []
    required = set(schema.get("required") or ())
    out = []
    for name in sorted(properties, key=lambda key: key not in required):
        spec = properties[name] if isinstance(properties[name], dict) else {}
        kind = spec.get("type") or "/".join(str(option.get("type")) for option in spec.get("anyOf", ())
                                             if isinstance(option, dict)) or "any"
        shown = f"{name}: {kind}"
        if "default" in spec:
            shown += f" = {json.dumps(spec['default'])}"
        out.append(shown)
    return out

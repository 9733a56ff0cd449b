"""`mesh-compose env [AGENT...] [--format json] [--install|--no-install]`.

Per Python agent: interpreter path, version, venv or system, the rule that
found it, and missing packages. Exit status 0 when every requirement is met,
4 (EXIT_ENVIRONMENT) when packages are still missing, so CI can use it as a
check. `--install` installs what is missing first (never without asking
otherwise: `env` does not prompt).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Dict, List, Mapping

from meshcompose.errors import EXIT_ENVIRONMENT, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    from meshcompose.cli.environments import add_install_options

    parser.add_argument("agents", nargs="*", metavar="AGENT", help="only these agents (default: all)")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    add_install_options(parser)


def _load(args: argparse.Namespace):
    from meshcompose.cli.project import load_from_args

    return load_from_args(args)


def agent_rows(resolved: Mapping[str, object]) -> List[Dict[str, object]]:
    rows = []
    for name, python in resolved.items():
        rows.append({
            "agent": name, "interpreter": python.executable, "version": python.version_text,
            "implementation": python.implementation, "venv": python.is_venv, "found_via": python.source,
            "requires": python.requires, "installed": dict(python.installed), "missing": list(python.missing),
            "shared_with": [a for a in python.agents if a != name],
        })
    return rows


def _print_table(rows: List[Dict[str, object]], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from meshcompose.cli.render import color_enabled

    console = Console(file=sys.stdout, no_color=not color_enabled(sys.stdout, args.no_color),
                      highlight=False, width=None if sys.stdout.isatty() else 200)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("AGENT", "INTERPRETER", "VERSION", "KIND", "FOUND VIA", "MISSING"):
        table.add_column(column, overflow="fold")
    for row in rows:
        missing = ", ".join(row["missing"]) or "-"
        table.add_row(row["agent"], row["interpreter"], row["version"], "venv" if row["venv"] else "system",
                      row["found_via"], f"[red]{missing}[/]" if row["missing"] else missing)
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from meshcompose.pyenv import resolve
    from meshcompose.cli.environments import ensure_environments

    project = _load(args)
    names = list(args.agents) or None
    if names:
        from meshcompose.errors import UnknownAgentError

        for name in names:
            if name not in project.agents:
                raise UnknownAgentError(name, list(project.agents))
    if args.install:
        resolved = ensure_environments(project, names, args, sys.stderr, interactive=False)
    else:
        resolved = resolve.resolve_project(project, names)
    rows = agent_rows(resolved)
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        _print_table(rows, args)
    return EXIT_ENVIRONMENT if any(row["missing"] for row in rows) else EXIT_OK

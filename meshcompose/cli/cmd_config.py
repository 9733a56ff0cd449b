"""`mesh-compose config`: validate, then print the merged, normalized project."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List

from meshcompose.model import Project


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format (default yaml)")
    parser.add_argument("--services", "--agents", dest="services", action="store_true",
                        help="print the agent names, one per line, in start order")
    parser.add_argument("-q", "--quiet", action="store_true", help="only validate: print nothing, exit 0 or the errors")


def run(args: argparse.Namespace) -> int:
    from meshcompose.cli.project import load_from_args

    project = load_from_args(args)
    check_graph(project)
    if args.quiet:
        return 0
    if args.services:
        sys.stdout.write("".join(f"{name}\n" for name in start_order(project)))
        return 0
    from meshcompose.config.loader import project_to_dict

    document = project_to_dict(project)
    if args.format == "json":
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True))
    return 0


def start_order(project: Project) -> List[str]:
    """Agent names, dependencies first (the planner's waves, flattened)."""
    try:
        from meshcompose.plan import planner
    except ImportError:  # the planner is not there yet: file order
        return list(project.agents)
    if hasattr(planner, "start_order"):
        return [name for wave in planner.start_order(project) for name in wave]
    return list(project.agents)


def check_graph(project: Project) -> None:
    """Cycles and unknown dependencies are the planner's to find; `config -q` must report them too."""
    try:
        from meshcompose.plan import planner
    except ImportError:
        return
    if hasattr(planner, "check"):
        planner.check(project)

"""`mesh-compose events [--json] [AGENT...]`: lifecycle changes as they happen."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object a line (compose's shape)")
    parser.add_argument("names", nargs="*", metavar="AGENT", help="only these agents (default: all)")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app.events import follow
    from meshcompose.cli.options import project_identity

    for event in follow(project_identity(args), tuple(args.names)):
        if args.json:
            line = json.dumps(event)
        else:
            extra = ", ".join(f"{key}={value}" for key, value in event.get("attributes", {}).items()
                              if key not in ("name", "project"))
            line = f"{event.get('time')} agent {event.get('action')} {event.get('service')}" + (
                f" ({extra})" if extra else "")
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return 0

"""`mesh-compose stop [NAME...] [-t SECONDS]`: stop agents of a running
project. Needs only the state file: fast, and works with a broken project file."""

from __future__ import annotations

import argparse

from meshcompose.cli.values import duration_argument


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("names", nargs="*", metavar="AGENT", help="agents to stop (default: all)")
    parser.add_argument("-t", "--timeout", type=duration_argument, metavar="SECONDS",
                        help="stop grace period, instead of each agent's stop_grace_period")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import stop
    from meshcompose.cli.options import project_identity
    from meshcompose.cli.render import print_marked, print_warnings

    result = stop.stop(project_identity(args), stop.StopOptions(names=tuple(args.names), timeout=args.timeout))
    print_warnings(result.warnings)
    print_marked([("✔", name, "stopped" if name in result.was_running else "was not running")
                  for name in result.stopped])
    return 0

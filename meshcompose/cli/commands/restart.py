"""`mesh-compose restart [NAME...] [-t SECONDS]`: stop and start agents of a
running project, waiting like `up -d` until they are up again."""

from __future__ import annotations

import argparse

from meshcompose.cli.values import duration_argument


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("names", nargs="*", metavar="AGENT", help="agents to restart (default: all)")
    parser.add_argument("-t", "--timeout", type=duration_argument, metavar="SECONDS",
                        help="stop grace period, instead of each agent's stop_grace_period")
    parser.add_argument("--wait-timeout", type=duration_argument, default=60.0, metavar="SECONDS",
                        help="how long to wait for the agents to be up (default 60)")


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import restart
    from meshcompose.cli.options import load_project
    from meshcompose.cli.render import print_outcome, print_warnings

    result = restart.restart(load_project(args), restart.RestartOptions(
        names=tuple(args.names), timeout=args.timeout, wait_timeout=args.wait_timeout))
    print_warnings(result.warnings)
    print(f"restarting: {', '.join(result.restarted)}")
    return print_outcome(result.outcome)

"""`mesh-compose scale AGENT=N ...`: run N processes of each agent named in
a running project; the highest-numbered replicas stop first, new ones start
once their dependencies hold, the rest are left alone."""

from __future__ import annotations

import argparse
import sys

from meshcompose.cli.options import add_install_options, add_registry_options
from meshcompose.cli.values import duration_argument


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("counts", nargs="+", metavar="AGENT=N",
                        help="how many processes of the agent to run (0 stops them all)")
    parser.add_argument("-t", "--timeout", type=duration_argument, metavar="SECONDS",
                        help="stop grace period of the replicas scaled away, instead of their stop_grace_period")
    parser.add_argument("--wait-timeout", type=duration_argument, default=60.0, metavar="SECONDS",
                        help="how long to wait for new replicas to be up (default 60)")
    add_registry_options(parser)
    add_install_options(parser)


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import scale
    from meshcompose.cli import options as cli_options
    from meshcompose.cli.render import print_marked, print_outcome

    counts = scale.parse_counts(args.counts)
    project = cli_options.load_project(args)
    result = scale.scale(project, scale.ScaleOptions(
        counts=counts, timeout=args.timeout, wait_timeout=args.wait_timeout,
        registry=cli_options.registry_options(args), install=cli_options.install_options(args),
        notify=lambda message: print(message, file=sys.stderr),
    ))
    for change in result.agents:
        print(f"{change.agent}: {change.before} -> {change.after}")
    print_marked([("✔", name, "stopped") for change in result.agents for name in change.stopped])
    if result.outcome is None:
        return 0
    return print_outcome(result.outcome)

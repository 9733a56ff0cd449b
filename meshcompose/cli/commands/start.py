"""`mesh-compose start [NAME...]`: start agents of a running project (with
their dependencies), waiting like `up -d` until they are up. The same
application call as `up NAME` on a running project."""

from __future__ import annotations

import argparse
import sys

from meshcompose.cli.options import add_install_options, add_registry_options
from meshcompose.cli.values import duration_argument


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("names", nargs="*", metavar="AGENT", help="agents to start (default: all)")
    parser.add_argument("--wait-timeout", type=duration_argument, default=60.0, metavar="SECONDS",
                        help="how long to wait for the agents to be up (default 60)")
    add_registry_options(parser)
    add_install_options(parser)


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import up as app_up
    from meshcompose.app.options import StartOptions
    from meshcompose.cli import options as cli_options
    from meshcompose.cli.render import print_outcome

    project = cli_options.load_project(args)
    result = app_up.start(project, StartOptions(
        names=tuple(args.names), wait_timeout=args.wait_timeout, registry=cli_options.registry_options(args),
        install=cli_options.install_options(args), notify=lambda message: print(message, file=sys.stderr),
    ))
    print(f"starting: {', '.join(result.started)}" if result.started else "already running: nothing to start")
    assert result.outcome is not None  # `start` always waits
    return print_outcome(result.outcome)

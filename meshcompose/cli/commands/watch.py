"""`mesh-compose watch`: start the project in the foreground and restart
agents when their files change (as docker compose's `watch`); the same
application call as `up --watch`."""

from __future__ import annotations

import argparse

from meshcompose.cli.commands import up as up_command
from meshcompose.cli.options import add_install_options, add_registry_options
from meshcompose.cli.values import duration_argument


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("names", nargs="*", metavar="AGENT",
                        help="agents to start and watch (with their dependencies); default: all")
    parser.add_argument("--no-deps", action="store_true", help="do not start the named agents' dependencies")
    parser.add_argument("-t", "--timeout", type=duration_argument, metavar="SECONDS",
                        help="stop grace period for every agent, instead of each one's stop_grace_period")
    parser.add_argument("--no-log-prefix", action="store_true", help="print agent output without the `NAME |` prefix")
    parser.add_argument("--timestamps", action="store_true", help="show a timestamp on every line")
    add_registry_options(parser)
    add_install_options(parser)


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import up as app_up
    from meshcompose.app.options import UpOptions
    from meshcompose.cli import options as cli_options

    project = cli_options.load_project(args)
    result = app_up.watch(project, UpOptions(
        names=tuple(args.names), with_deps=not args.no_deps, stop_timeout=args.timeout,
        registry=cli_options.registry_options(args), install=cli_options.install_options(args),
        console=up_command.console(args, list(project.agents)), notify=up_command.notify, watch=True,
    ))
    return up_command.render(result)

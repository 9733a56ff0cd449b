"""`mesh-compose up`: start the project (or the named agents and their dependencies)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshcompose.app.up import UpResult
    from meshcompose.cli.console_observer import ConsoleObserver

from meshcompose.cli.options import add_install_options, add_registry_options


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("names", nargs="*", metavar="AGENT",
                        help="agents to start (with their dependencies); an existing .py/.yaml file means -f FILE")
    parser.add_argument("-d", "--detach", action="store_true",
                        help="run in the background; return once the agents are up")
    parser.add_argument("--wait-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="with -d: how long to wait for the agents to be up (default 60)")
    parser.add_argument("--no-deps", action="store_true", help="do not start the named agents' dependencies")
    parser.add_argument("--abort-on-exit", action="store_true", help="stop the project when any agent exits")
    parser.add_argument("--exit-code-from", metavar="AGENT",
                        help="return this agent's exit code (implies --abort-on-exit)")
    parser.add_argument("-t", "--timeout", type=float, metavar="SECONDS",
                        help="stop grace period for every agent, instead of each one's stop_grace_period")
    parser.add_argument("--watch", action="store_true",
                        help="restart an agent when its files change (develop.watch, else its *.py files)")
    parser.add_argument("--no-log-prefix", action="store_true", help="print agent output without the `NAME |` prefix")
    parser.add_argument("--timestamps", action="store_true", help="show a timestamp on every line")
    add_registry_options(parser)
    add_install_options(parser)


def run(args: argparse.Namespace) -> int:
    from meshcompose.app import up as app_up
    from meshcompose.app.options import UpOptions
    from meshcompose.cli import options as cli_options

    files, names = cli_options.split_file_arguments(args.names)
    project = cli_options.load_project(args, files)
    shown = None if args.detach else console(args, list(project.agents))
    result = app_up.up(project, UpOptions(
        names=tuple(names), with_deps=not args.no_deps, detach=args.detach, wait_timeout=args.wait_timeout,
        abort_on_exit=args.abort_on_exit, exit_code_from=args.exit_code_from, stop_timeout=args.timeout,
        registry=cli_options.registry_options(args), install=cli_options.install_options(args),
        console=shown, notify=notify, watch=args.watch,
    ))
    return render(result)


def render(result: UpResult) -> int:
    from meshcompose.app.up import UpMode
    from meshcompose.cli.render import print_outcome

    if result.mode is UpMode.FOREGROUND:
        return result.exit_code
    if result.mode is UpMode.HANDED_OVER:
        print(f"asked the running supervisor to start: {', '.join(result.started) or 'nothing (all already up)'}")
    assert result.outcome is not None  # detached and handed over runs wait
    return print_outcome(result.outcome)


def notify(message: str) -> None:
    print(message, file=sys.stderr)


def console(args: argparse.Namespace, names: list[str]) -> ConsoleObserver:
    from meshcompose.cli.console import ConsoleMux
    from meshcompose.cli.console_observer import ConsoleObserver
    from meshcompose.cli.render import color_enabled

    mux = ConsoleMux(sys.stdout, names, color=color_enabled(sys.stdout, args.no_color),
                     prefix=not args.no_log_prefix, timestamps=args.timestamps)
    return ConsoleObserver(mux)

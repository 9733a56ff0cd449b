"""`mesh-compose up`: start the project (or the named agents and their dependencies)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from meshcompose.cli.values import duration_argument

if TYPE_CHECKING:
    from meshcompose.app.up import UpResult
    from meshcompose.app.waiting import WaitOutcome
    from meshcompose.cli.console_observer import ConsoleObserver

from meshcompose.cli.options import add_install_options, add_registry_options


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("names", nargs="*", metavar="AGENT",
                        help="agents to start (with their dependencies); an existing .py/.yaml file means -f FILE")
    parser.add_argument("-d", "--detach", action="store_true",
                        help="run in the background; return once the agents are up")
    parser.add_argument("--wait", action="store_true",
                        help="as compose's: wait for the agents to be running (healthy where they have a "
                             "healthcheck); implies -d, which always waits")
    parser.add_argument("--wait-timeout", type=duration_argument, default=None, metavar="SECONDS",
                        help="with -d: how long to wait for the agents to be up (default: 20 s per start "
                             "wave of the plan, at least 60); the project keeps running if they are not")
    parser.add_argument("--no-deps", action="store_true", help="do not start the named agents' dependencies")
    parser.add_argument("--scale", action="append", default=[], metavar="AGENT=N",
                        help="run N processes of the agent instead of its `replicas` (repeatable)")
    parser.add_argument("--abort-on-exit", action="store_true", help="stop the project when any agent exits")
    parser.add_argument("--exit-code-from", metavar="AGENT",
                        help="return this agent's exit code (implies --abort-on-exit)")
    parser.add_argument("-t", "--timeout", type=duration_argument, metavar="SECONDS",
                        help="stop grace period for every agent, instead of each one's stop_grace_period")
    parser.add_argument("--watch", action="store_true",
                        help="restart an agent when its files change (develop.watch, else its *.py files)")
    parser.add_argument("--no-log-prefix", action="store_true", help="print agent output without the `NAME |` prefix")
    parser.add_argument("--timestamps", action="store_true", help="show a timestamp on every line")
    parser.add_argument("--remove-orphans", action="store_true",
                        help="stop running agents of this project that the file no longer defines")
    parser.add_argument("--dashboard", action="store_true",
                        help="serve the live dashboard beside the run (`mesh-compose dashboard`); it ends with the run")
    add_registry_options(parser)
    add_install_options(parser)


def run(args: argparse.Namespace) -> int:
    from meshcompose.app.detach import standby_supervisor

    detach = args.detach or args.wait
    with standby_supervisor(detach) as standby:  # first: it starts while the rest loads
        from meshcompose.app import up as app_up
        from meshcompose.app.options import UpOptions
        from meshcompose.app.scale import parse_counts
        from meshcompose.cli import options as cli_options

        files, names = cli_options.split_file_arguments(args.names)
        scale = parse_counts(args.scale, "--scale")
        project = cli_options.load_project(args, files)
        if args.remove_orphans:
            _remove_orphans(args, files)
        shown = None if detach else console(args, list(project.agents))
        beside = dashboard_beside().start_beside(args, project, wait=False) if args.dashboard and not detach else None
        try:
            result = app_up.up(project, UpOptions(
                names=tuple(names), with_deps=not args.no_deps, detach=detach, wait_timeout=args.wait_timeout,
                abort_on_exit=args.abort_on_exit, exit_code_from=args.exit_code_from, stop_timeout=args.timeout,
                registry=cli_options.registry_options(args), install=cli_options.install_options(args),
                console=shown, notify=notify, watch=args.watch, standby=standby, scale=scale,
            ))
        finally:
            if beside is not None:
                dashboard_beside().stop(beside)  # the foreground run has ended; a detached one's ends on its own
    code = render(result, result.wait_timeout)
    if args.dashboard and detach:
        dashboard_beside().start_beside(args, project, wait=True)
    return code


def dashboard_beside():
    from meshcompose.cli import dashboard_beside as module

    return module


def render(result: UpResult, wait_timeout: float | None = None) -> int:
    from meshcompose.app.up import UpMode
    from meshcompose.cli.render import print_outcome

    if result.mode is UpMode.FOREGROUND:
        return result.exit_code
    if result.mode is UpMode.HANDED_OVER:  # as compose's `up -d` prints each service: Running, Started, Recreated
        print("".join(f" - {name}  {action.value}\n" for name, action in result.actions), end="")
    assert result.outcome is not None  # detached and handed over runs wait
    code = print_outcome(result.outcome)
    if code:
        explain_not_up(result.outcome, wait_timeout)
    return code


def explain_not_up(outcome: WaitOutcome, wait_timeout: float | None) -> None:
    """`up -d` that did not get every agent up exits 1 but stops nothing (as
    compose's `up --wait`): say which agents, and that the rest keeps running."""
    if outcome.supervisor_exit is not None:
        return  # the supervisor itself is gone: nothing keeps running
    late = [agent.name for agent in outcome.agents if agent.reached is None]
    failed = [agent.name for agent in outcome.agents if agent.reached is False]
    within = f" within {wait_timeout:g}s (--wait-timeout)" if wait_timeout is not None else " in time"
    if late:
        print(f"error: not up{within}: {', '.join(late)}", file=sys.stderr)
    if failed:
        print(f"error: will not come up: {', '.join(failed)}", file=sys.stderr)
    print("the project keeps running: `mesh-compose ps` shows it, `mesh-compose logs` tells why, "
          "`mesh-compose down` stops it", file=sys.stderr)


def _remove_orphans(args: argparse.Namespace, files: list[str]) -> None:
    """Agents of any profile are defined, not orphans (compose's rule)."""
    from meshcompose.app.agents import remove_orphans
    from meshcompose.cli import options as cli_options

    every = cli_options.load_project(argparse.Namespace(**{**vars(args), "profiles": ["*"]}), files)
    from meshcompose.app.project import ProjectIdentity

    removed = remove_orphans(ProjectIdentity(every.directory, every.name), list(every.agents), args.timeout)
    if removed:
        print(f"stopped orphans (no longer in the file): {', '.join(removed)}", file=sys.stderr)


def notify(message: str) -> None:
    print(message, file=sys.stderr)


def console(args: argparse.Namespace, names: list[str]) -> ConsoleObserver:
    from meshcompose.cli.console import ConsoleMux
    from meshcompose.cli.console_observer import ConsoleObserver
    from meshcompose.cli.render import color_enabled

    mux = ConsoleMux(sys.stdout, names, color=color_enabled(sys.stdout, args.no_color),
                     prefix=not args.no_log_prefix, timestamps=args.timestamps)
    return ConsoleObserver(mux)

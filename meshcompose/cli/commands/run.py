"""`mesh-compose run [--no-deps] [-e KEY=VAL] [-w DIR] AGENT [COMMAND...]`.

Without COMMAND: the agent once, in the foreground. With one: that argv in
the agent's environment. The exit code is the command's; nothing stays
behind (compose's `--rm` is implicit)."""

from __future__ import annotations

import argparse
import sys

from meshcompose.cli.options import add_install_options, add_registry_options
from meshcompose.cli.values import duration_argument


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("agent", metavar="AGENT", help="the agent whose environment the command runs in")
    # dest is not "command": main's subparsers store the command's name there.
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND",
                        help="command and arguments (default: the agent's own)")
    parser.add_argument("-e", "--env", dest="environment", action="append", default=[], metavar="KEY=VAL",
                        help="set an environment variable (repeatable); KEY alone takes this shell's value")
    parser.add_argument("-w", "--workdir", metavar="DIR", help="working directory (relative: to the agent's)")
    parser.add_argument("--no-deps", action="store_true", help="do not start the agent's dependencies")
    parser.add_argument("--rm", action="store_true", help="accepted for compose; always the case")
    parser.add_argument("--wait-timeout", type=duration_argument, default=60.0, metavar="SECONDS",
                        help="how long to wait for the dependencies to be up (default 60)")
    add_registry_options(parser)
    add_install_options(parser)


def environment(pairs: list[str]) -> dict[str, str]:
    """`-e KEY=VAL`; `-e KEY` passes this shell's value, as compose (unset: skipped)."""
    import os

    from meshcompose.errors import UsageError

    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key:
            raise UsageError(f"-e {pair!r}: expected KEY=VAL")
        if sep:
            values[key] = value
        elif key in os.environ:
            values[key] = os.environ[key]
    return values


def run(args: argparse.Namespace) -> int:
    from meshcompose.app.oneoff import RunOptions
    from meshcompose.app.oneoff import run as run_agent
    from meshcompose.cli import options as cli_options

    command = tuple(args.argv[1:] if args.argv[:1] == ["--"] else args.argv)
    project = cli_options.load_project(args)
    return run_agent(project, RunOptions(
        agent=args.agent, command=command, environment=environment(args.environment), working_dir=args.workdir,
        with_deps=not args.no_deps, wait_timeout=args.wait_timeout, registry=cli_options.registry_options(args),
        install=cli_options.install_options(args), notify=lambda message: print(message, file=sys.stderr),
    ))

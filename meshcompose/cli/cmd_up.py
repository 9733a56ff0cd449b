"""`mesh-compose up`: start the project (or the named agents and their dependencies)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    from meshcompose.cli.environments import add_install_options

    parser.add_argument("names", nargs="*", metavar="AGENT",
                        help="agents to start (with their dependencies); an existing .py/.yaml file means -f FILE")
    parser.add_argument("-d", "--detach", action="store_true", help="run in the background; return once the agents are up")
    parser.add_argument("--wait-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="with -d: how long to wait for the agents to be up (default 60)")
    parser.add_argument("--no-deps", action="store_true", help="do not start the named agents' dependencies")
    parser.add_argument("--abort-on-exit", action="store_true", help="stop the project when any agent exits")
    parser.add_argument("--exit-code-from", metavar="AGENT",
                        help="return this agent's exit code (implies --abort-on-exit)")
    parser.add_argument("-t", "--timeout", type=float, metavar="SECONDS",
                        help="stop grace period for every agent, instead of each one's stop_grace_period")
    parser.add_argument("--no-log-prefix", action="store_true", help="print agent output without the `NAME |` prefix")
    parser.add_argument("--timestamps", action="store_true", help="show a timestamp on every line")
    # The detached supervisor is this same command, started by `up -d`.
    parser.add_argument("--detached-child", action="store_true", help=argparse.SUPPRESS)
    add_registry_options(parser)
    add_install_options(parser)


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry-url", metavar="URL", help="MCP Mesh registry URL (default: $MCP_MESH_REGISTRY_URL, "
                        "the file's registry section, else http://127.0.0.1:8000)")
    parser.add_argument("--registry-host", metavar="HOST", help="registry host (with --registry-port)")
    parser.add_argument("--registry-port", type=int, metavar="PORT", help="registry port")
    parser.add_argument("--log-level", default="INFO", metavar="LEVEL",
                        help="MCP_MESH_LOG_LEVEL for the agents (default INFO)")


def run(args: argparse.Namespace) -> int:
    from meshcompose.cli.project import load_from_args, split_file_arguments

    files, names = split_file_arguments(args.names)
    if files:
        args.files = [*(args.files or []), *files]
    project = load_from_args(args)
    if args.exit_code_from:
        args.abort_on_exit = True
        if args.exit_code_from not in project.agents:
            from meshcompose.errors import UnknownAgentError

            raise UnknownAgentError(args.exit_code_from, list(project.agents))
    from meshcompose.plan import planner

    planner.check(project)
    selected = planner.select(project, names, with_deps=not args.no_deps)
    from meshcompose.cli.up_run import run_up

    return run_up(project, selected, args)

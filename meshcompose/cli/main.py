"""Entry point: builds the parser from the command table and runs one command.

Each command is a module in `meshcompose.cli.commands` with
`add_arguments(parser, name)` and `run(args) -> int`: parse, build the
command's options, make one `meshcompose.app` call, render the result, return
the exit code. Only the chosen command's module is imported, and it imports
its `app` module inside `run`, so `--help`, `ps` and `logs` never pay for
networkx, jsonschema or anyio. `MeshComposeError` is caught here and only here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from meshcompose import __version__
from meshcompose.errors import EXIT_INTERRUPTED, EXIT_USAGE, MeshComposeError

# (command, module, one-line help), in the order `--help` lists them.
COMMANDS = [
    ("up", "up", "start the project's agents (foreground, or -d to detach)"),
    ("run", "run", "run an agent once in the foreground, or a command in its environment"),
    ("down", "down", "stop every agent in reverse dependency order and end the supervisor"),
    ("ps", "ps", "list the agents and their status"),
    ("ls", "ls", "list the projects running on this machine"),
    ("logs", "logs", "show agent output from the log files (-f to follow)"),
    ("start", "start", "start agents of a running project"),
    ("stop", "stop", "stop agents of a running project"),
    ("restart", "restart", "restart agents of a running project"),
    ("scale", "scale", "run N processes of an agent in a running project (scale AGENT=N ...)"),
    ("kill", "kill", "send a signal to agents of a running project (their restart policy applies)"),
    ("wait", "wait", "block until agents end; print their exit codes (exit code: the first one's)"),
    ("events", "events", "stream lifecycle events of a running project (--json: compose's shape)"),
    ("top", "top", "show each running agent's processes"),
    ("dashboard", "dashboard", "serve a live page of the running project on 127.0.0.1 (URL with a token)"),
    ("watch", "watch", "start the project in the foreground and restart agents when their files change"),
    ("config", "config", "validate and print the merged, normalized project"),
    ("graph", "graph", "print the dependency graph"),
    ("mesh", "mesh", "show what each agent offers and what its dependencies resolved to in the registry"),
    ("tools", "tools", "list the tools of running agents with their input schemas (over MCP)"),
    ("call", "call", "call a tool of a running agent over MCP and print its result"),
    ("env", "env", "show each agent's Python interpreter, version and missing packages"),
    ("mcp", "mcp", "serve the project to an AI assistant over MCP (stdio; read-only unless --allow-control)"),
    ("traces", "traces", "list the recent MCP Mesh calls of a run with `tracing:` (-f to follow)"),
    ("trace", "trace", "show one trace as a waterfall of its spans across agents"),
    ("export", "export", "write Kubernetes manifests that keep the start order (export kubernetes)"),
    ("schema", "schema", "print the JSON Schema of mesh-compose.yaml"),
    ("version", "version", "show the mesh-compose version, Python and platform"),
]


def add_project_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options that pick the project; accepted before and after the command."""
    default = argparse.SUPPRESS if suppress else None
    listing: str | list[str] = argparse.SUPPRESS if suppress else []
    parser.add_argument("-f", "--file", dest="files", action="append", default=listing, metavar="FILE",
                        help="project file: mesh-compose.yaml, a single-agent YAML, or an agent .py (repeatable)")
    parser.add_argument("-p", "--project-name", default=default, metavar="NAME",
                        help="project name (default: `name:` in the file, else the directory name)")
    parser.add_argument("--profile", dest="profiles", action="append", default=listing, metavar="PROFILE",
                        help="enable agents of this profile (repeatable)")
    parser.add_argument("--env-file", dest="env_files", action="append", default=listing, metavar="PATH",
                        help="read interpolation variables from this file instead of .env (repeatable)")
    parser.add_argument("--no-color", action="store_true", default=default if suppress else False,
                        help="plain output without colors")


# Project options that take a value: skipped when looking for the command name.
_VALUE_OPTIONS = frozenset({"-f", "--file", "-p", "--project-name", "--profile", "--env-file"})


def command_index(argv: Sequence[str]) -> int | None:
    """Where the command stands on the command line, found without parsing it
    (the values of project options are skipped, so `-p up ps` is `ps`)."""
    expect_value = False
    for index, token in enumerate(argv):
        if expect_value:
            expect_value = False
        elif token in _VALUE_OPTIONS:
            expect_value = True
        elif not token.startswith("-"):
            return index
    return None


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command named on the command line, if it is one of ours."""
    index = command_index(argv)
    names = {name for name, _, _ in COMMANDS}
    return argv[index] if index is not None and argv[index] in names else None


def build_parser(command: str | None = None, *, listing: bool = True) -> argparse.ArgumentParser:
    """Only `command`'s module is imported to add its arguments: `ps`, `logs`
    and `--help` pay for nothing else. `listing` False leaves the other
    commands out (a parser each costs about 0.4 ms, 10 ms for all of them);
    a command line that names one of ours never reaches them."""
    parser = argparse.ArgumentParser(
        prog="mesh-compose",
        description="Run a mesh of Python agents from one checked-in mesh-compose.yaml.",
    )
    parser.add_argument("--version", action="version", version=f"mesh-compose {__version__}")
    add_project_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name, help_text in COMMANDS:
        if not listing and name != command:
            continue
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        add_project_options(command_parser, suppress=True)
        if name == command:
            module = importlib.import_module(f"meshcompose.cli.commands.{module_name}")
            module.add_arguments(command_parser, name)
            command_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = chosen_command(argv)
    before_command = argv[:command_index(argv) or 0]
    # `mesh-compose --help up` lists every command.
    parser = build_parser(command, listing=command is None or "-h" in before_command or "--help" in before_command)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    if os.environ.get("NO_COLOR"):
        args.no_color = True
    try:
        return int(args._module.run(args) or 0)
    except MeshComposeError as error:
        from meshcompose.cli.render import print_error

        print_error(error, no_color=args.no_color)
        return error.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `mesh-compose logs | head`: the reader left; not an error.
        sys.stderr.close()
        return 0

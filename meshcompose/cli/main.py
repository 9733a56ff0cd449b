"""Entry point: builds the parser from the command table and runs one command.

Each command lives in `meshcompose.cli.cmd_<name>` and provides
`add_arguments(parser)` and `run(args) -> int`. Command modules keep heavy
imports (networkx, jsonschema, anyio) inside `run`, so `--help`, `ps` and
`logs` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Optional, Sequence

from meshcompose import __version__
from meshcompose.errors import EXIT_INTERRUPTED, EXIT_USAGE, MeshComposeError

# (command, module, one-line help), in the order `--help` lists them.
COMMANDS = [
    ("up", "cmd_up", "start the project's agents (foreground, or -d to detach)"),
    ("down", "cmd_down", "stop every agent in reverse dependency order and end the supervisor"),
    ("ps", "cmd_ps", "list the agents and their status"),
    ("logs", "cmd_logs", "show agent output from the log files (-f to follow)"),
    ("start", "cmd_control", "start agents of a running project"),
    ("stop", "cmd_control", "stop agents of a running project"),
    ("restart", "cmd_control", "restart agents of a running project"),
    ("config", "cmd_config", "validate and print the merged, normalized project"),
    ("graph", "cmd_graph", "print the dependency graph"),
    ("env", "cmd_env", "show each agent's Python interpreter, version and missing packages"),
    ("schema", "cmd_schema", "print the JSON Schema of mesh-compose.yaml"),
]


def add_project_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options that pick the project; accepted before and after the command."""
    default = argparse.SUPPRESS if suppress else None
    listing = argparse.SUPPRESS if suppress else []
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mesh-compose",
        description="Run a mesh of Python agents from one checked-in mesh-compose.yaml.",
    )
    parser.add_argument("--version", action="version", version=f"mesh-compose {__version__}")
    add_project_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name, help_text in COMMANDS:
        module = importlib.import_module(f"meshcompose.cli.{module_name}")
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        add_project_options(command_parser, suppress=True)
        module.add_arguments(command_parser, name)
        command_parser.set_defaults(_module=module)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
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

"""Arguments shared by several commands, and their translation into the
application's options. `argparse.Namespace` stops here: commands pass the
typed options built by these functions to `meshcompose.app`.

Extra installer arguments: the environment variable MESH_COMPOSE_PIP_ARGS
(shell-split, passed to pip or uv unchanged, e.g. "--index-url URL"), and the
hidden option `--find-links DIR` (adds `--no-index --find-links DIR`; the
tests use it to install offline).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from meshcompose.app.project import ProjectIdentity, ProjectSelection

if TYPE_CHECKING:  # app.options is imported on use: `ps` and `logs` do not need it
    from meshcompose.app.options import InstallOptions, RegistryOptions
    from meshcompose.cli.prompt import Ask
    from meshcompose.model import Project

# Extensions that make an existing path given as an agent name mean `-f PATH`.
_FILE_SUFFIXES = (".py", ".yaml", ".yml")


# -- the project ------------------------------------------------------------------------


def project_selection(args: argparse.Namespace, extra_files: Sequence[str] = ()) -> ProjectSelection:
    """-f/-p/--profile/--env-file; where a flag is absent, compose's variables
    (as COMPOSE_FILE, COMPOSE_PROJECT_NAME, COMPOSE_PROFILES): flags win."""
    files = tuple(getattr(args, "files", None) or ()) or tuple(_variable_list("MESH_COMPOSE_FILE", os.pathsep))
    env_files = tuple(getattr(args, "env_files", None) or ())
    _check_paths(files, "-f/--file (or MESH_COMPOSE_FILE)")
    _check_paths(env_files, "--env-file")
    return ProjectSelection(
        files=(*files, *extra_files),
        name=getattr(args, "project_name", None) or os.environ.get("MESH_COMPOSE_PROJECT_NAME") or None,
        profiles=tuple(getattr(args, "profiles", None) or ()) or tuple(_variable_list("MESH_COMPOSE_PROFILES", ",")),
        env_files=env_files,
    )


def _check_paths(paths: Sequence[str], option: str) -> None:
    """Paths the system would refuse (a NUL character, a name too long): an error before any use."""
    if not paths:
        return
    from meshcompose.errors import ConfigError, Problem
    from meshcompose.units import path_problem

    problems = [Problem(path.replace("\0", "\\0"), 0, 0, "", problem)
                for path in paths if (problem := path_problem(path))]
    if problems:
        raise ConfigError(problems, hint=f"check the {option} paths")


def _variable_list(variable: str, separator: str) -> list[str]:
    return [item.strip() for item in os.environ.get(variable, "").split(separator) if item.strip()]


def load_project(args: argparse.Namespace, extra_files: Sequence[str] = ()) -> Project:
    """The project picked by -f/-p/--profile/--env-file; its warnings go to stderr."""
    from meshcompose.app import project
    from meshcompose.cli.render import warn

    return project.load(project_selection(args, extra_files), warn=warn)


def project_identity(args: argparse.Namespace) -> ProjectIdentity:
    """The running project's directory and name, without loading the file."""
    from meshcompose.app import project

    identity = project.identify(project_selection(args))
    if identity.note:
        from meshcompose.cli.render import warn

        warn(identity.note)
    return identity


def release_option(parser: argparse.ArgumentParser, option: str) -> None:
    """`logs -f` and `traces -f` mean follow, as compose's `logs -f`: take
    `-f` from the shared project option `-f/--file`, which keeps working in
    its long form (and before the command: `mesh-compose -f FILE logs -f`).
    argparse has no public way."""
    for action in parser._actions:
        if option in action.option_strings:
            action.option_strings = [name for name in action.option_strings if name != option]
    parser._option_string_actions.pop(option, None)


def split_file_arguments(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """`up path/to/agent.py api` -> (["path/to/agent.py"], ["api"]).

    An argument is a file when it names an existing .py/.yaml/.yml file or
    contains a path separator and exists; anything else is an agent name.
    """
    files: list[str] = []
    agents: list[str] = []
    from meshcompose.units import path_problem

    for name in names or ():
        path = Path(name)
        looks_like_file = path.suffix in _FILE_SUFFIXES or "/" in name or "\\" in name
        if looks_like_file and path_problem(name):
            files.append(name)  # refused with the -f paths, by project_selection
            continue
        (files if looks_like_file and _is_file(path) else agents).append(name)
    return files, agents


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # is_file() answers False only for "no such file"; EACCES raises
        return False


# -- the registry -------------------------------------------------------------------------


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry-url", metavar="URL", help="MCP Mesh registry URL (default: $MCP_MESH_REGISTRY_URL, "
                        "the file's registry section, else http://127.0.0.1:8000)")
    parser.add_argument("--registry-host", metavar="HOST", help="registry host (with --registry-port)")
    parser.add_argument("--registry-port", type=int, metavar="PORT", help="registry port")
    parser.add_argument("--log-level", default="INFO", metavar="LEVEL",
                        help="MCP_MESH_LOG_LEVEL for the agents (default INFO)")


def registry_options(args: argparse.Namespace) -> RegistryOptions:
    from meshcompose.app.options import RegistryOptions

    return RegistryOptions(url=args.registry_url, host=args.registry_host, port=args.registry_port,
                           log_level=args.log_level)


# -- Python environments --------------------------------------------------------------------


def add_install_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--install", action="store_true",
                       help="install missing Python packages without asking")
    group.add_argument("--no-install", action="store_true",
                       help="continue without missing Python packages, without asking")
    parser.add_argument("--find-links", action="append", default=[], metavar="DIR", help=argparse.SUPPRESS)


def index_args(args: argparse.Namespace) -> tuple[str, ...]:
    extra = shlex.split(os.environ.get("MESH_COMPOSE_PIP_ARGS", ""))
    for directory in getattr(args, "find_links", None) or []:
        extra += ["--no-index", "--find-links", os.path.abspath(directory)]
    return tuple(extra)


def install_options(args: argparse.Namespace, stream: TextIO | None = None, *, ask: Ask | None = None,
                    interactive: bool | None = None) -> InstallOptions:
    """--install/--no-install, else the prompt when `stream` (standard error
    when None) and stdin are a terminal (`interactive` and `ask` override
    both, for tests); reports on `stream`."""
    from meshcompose.app.options import InstallOptions, InstallPolicy
    from meshcompose.cli import prompt
    from meshcompose.cli.render import EnvironmentConsole

    stream = stream or sys.stderr

    if getattr(args, "install", False):
        policy = InstallPolicy.INSTALL
    elif getattr(args, "no_install", False):
        policy = InstallPolicy.CONTINUE
    else:
        policy = InstallPolicy.ASK
    if interactive is None:
        interactive = sys.stdin.isatty() and hasattr(stream, "isatty") and stream.isatty()
    decide = prompt.decider(ask or prompt.terminal_ask(stream), stream) if interactive else None
    return InstallOptions(policy=policy, decide=decide, index_args=index_args(args),
                          report=EnvironmentConsole(stream, getattr(args, "no_color", False)))

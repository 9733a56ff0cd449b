"""The CLI side of Python environments, shared by `up` and `env`.

Resolves every agent's interpreter, prints one line per distinct
environment, and deals with missing packages: on a terminal it asks once
per environment (i/v/c/q); without one, `--install` installs,
`--no-install` continues, and neither stops with the exact fix command.

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
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, TextIO

from typing import TYPE_CHECKING

from meshcompose import model
from meshcompose.pyenv import install
from meshcompose.errors import ExternallyManagedError, InstallError, MissingPackagesError

if TYPE_CHECKING:  # pyenv pulls in packaging and rich is heavy: imported on use, so `--help` stays fast
    from meshcompose.pyenv.resolve import Environment, ResolvedPython

Ask = Callable[[str], str]
CHOICES = {"i": "install", "v": "venv", "c": "continue", "q": "quit"}


def add_install_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--install", action="store_true",
                       help="install missing Python packages without asking")
    group.add_argument("--no-install", action="store_true",
                       help="continue without missing Python packages, without asking")
    parser.add_argument("--find-links", action="append", default=[], metavar="DIR", help=argparse.SUPPRESS)


def index_args(args: argparse.Namespace) -> List[str]:
    extra = shlex.split(os.environ.get("MESH_COMPOSE_PIP_ARGS", ""))
    for directory in getattr(args, "find_links", None) or []:
        extra += ["--no-index", "--find-links", os.path.abspath(directory)]
    return extra


def _console(stream: TextIO, args: argparse.Namespace):
    from rich.console import Console

    from meshcompose.cli.render import color_enabled

    color = color_enabled(stream, getattr(args, "no_color", False))
    return Console(file=stream, no_color=not color, highlight=False, soft_wrap=True,
                   force_terminal=color or None)


def summary_line(env: Environment) -> str:
    """One line of rich markup: interpreter, version, kind, rule, agents, and what is missing."""
    from rich.markup import escape

    count = len(env.agents)
    agents = escape(f"{count} agent{'s' if count != 1 else ''} ({', '.join(env.agents)})")
    state = f"[red]missing: {escape(', '.join(env.missing))}[/]" if env.missing else "[green]ok[/]"
    return (f"[bold]python {env.version_text}[/] {env.kind} {escape(env.executable)} "
            f"[dim]{escape(f'(via {env.source})')}[/] — {agents} — {state}")


def print_summary(console, envs: Sequence[Environment]) -> None:
    for env in envs:
        console.print(summary_line(env))


def _default_ask(stream: TextIO) -> Ask:
    def ask(prompt: str) -> str:
        stream.write(prompt)
        stream.flush()
        line = sys.stdin.readline()
        return line.strip().lower() if line else "q"  # end of input: nobody is there to agree

    return ask


def _offers_venv(env: Environment) -> bool:
    """A new project .venv only helps when a system Python was picked by the fallback rules."""
    return not env.is_venv and not env.source.startswith(("agent interpreter", "project interpreter"))


def _agents_phrase(agents: Sequence[str]) -> str:
    return f"Agent {agents[0]} needs" if len(agents) == 1 else f"Agents {', '.join(agents)} need"


def _prompt_text(env: Environment, project: model.Project, allowed: Set[str]) -> str:
    where = ("this virtual environment" if env.is_venv else "the system Python (for every user of it)")
    options = {
        "i": f"install them into {where}",
        "v": f"create {project.directory / '.venv'} with Python {env.version_text} and install there",
        "c": "continue without them (the agents may fail to start or reach the registry)",
        "q": "quit",
    }
    keys = [key for key in "ivcq" if key in allowed]
    lines = [
        "",
        f"{_agents_phrase(env.affected_agents)} packages missing from {env.executable}",
        f"  ({env.kind} Python {env.version_text}, found via {env.source})",
        f"  missing: {', '.join(env.missing)}",
    ]
    lines += [f"  {key}  {options[key]}" + (" (default)" if key == keys[0] else "") for key in keys]
    return "\n".join(lines) + f"\nChoice [{'/'.join(keys)}]: "


def ask_choice(env: Environment, project: model.Project, ask: Ask, out: TextIO,
               allowed: Optional[Set[str]] = None) -> str:
    """One of i, v, c, q; Enter means the first allowed (i); anything else asks again."""
    allowed = allowed or ({"i", "c", "q"} | ({"v"} if _offers_venv(env) else set()))
    prompt = _prompt_text(env, project, allowed)
    default = next(key for key in "ivcq" if key in allowed)
    while True:
        answer = ask(prompt).strip().lower() or default
        if answer[:1] in allowed:
            return answer[:1]
        out.write(f"please answer {', '.join(k for k in 'ivcq' if k in allowed)}\n")
        prompt = f"Choice [{'/'.join(k for k in 'ivcq' if k in allowed)}]: "


def missing_error(env: Environment, extra: Sequence[str]) -> MissingPackagesError:
    fix = install.format_command(install.install_command(env.executable, env.missing, index_args=extra))
    return MissingPackagesError(env.executable, env.missing, env.affected_agents, fix)


def _install_with_progress(console, executable: str, requirements: Sequence[str], extra: Sequence[str]) -> None:
    from rich.progress import Progress, SpinnerColumn, TextColumn
    from rich.markup import escape

    marks = {"installing": "installing", "installed": "[green]✓ installed[/]", "failed": "[red]✗ failed[/]"}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console) as bar:
        tasks = {req: bar.add_task(escape(req), total=1) for req in requirements}

        def progress(requirement: str, status: str) -> None:
            done = status != "installing"
            bar.update(tasks[requirement], description=f"{escape(requirement)}  {marks.get(status, status)}",
                       completed=1 if done else 0)

        try:
            install.install_packages(executable, requirements, progress=progress, index_args=extra)
        except InstallError as error:
            bar.stop()
            if error.output.strip():
                console.print(escape(error.output.rstrip()), style="dim")
            raise


def _resolve(project: model.Project, names: Optional[Sequence[str]]) -> Dict[str, ResolvedPython]:
    from meshcompose.pyenv import resolve

    return resolve.resolve_project(project, names)


def _act(choice: str, env: Environment, project: model.Project, console, extra: Sequence[str]) -> None:
    """Carry out one decision."""
    if choice == "q":
        raise missing_error(env, extra)
    if choice == "c":
        console.print(f"continuing without {', '.join(env.missing)} for {', '.join(env.affected_agents)}")
        return
    if choice == "v":
        created = install.create_venv(Path(project.directory), env.executable)
        console.print(f"created {created}")
        return
    console.print(f"installing into {env.executable}")
    _install_with_progress(console, env.executable, env.missing, extra)


def _decide(env: Environment, args: argparse.Namespace, project: model.Project, ask: Ask,
            interactive: bool, stream: TextIO, extra: Sequence[str]) -> str:
    if getattr(args, "install", False):
        return "i"
    if getattr(args, "no_install", False):
        return "c"
    if not interactive:
        raise missing_error(env, extra)
    return ask_choice(env, project, ask, stream)


def _is_interactive(stream: TextIO) -> bool:
    return sys.stdin.isatty() and hasattr(stream, "isatty") and stream.isatty()


def ensure_environments(project: model.Project, names: Optional[Sequence[str]], args: argparse.Namespace,
                        console_stream: TextIO = sys.stderr, *, ask: Optional[Ask] = None,
                        interactive: Optional[bool] = None) -> Dict[str, ResolvedPython]:
    """Resolve, summarize, and settle missing packages; the agents' final interpreters."""
    from meshcompose.pyenv import resolve

    console = _console(console_stream, args)
    extra = index_args(args)
    resolved = _resolve(project, names)
    print_summary(console, resolve.environments(resolved))
    interactive = _is_interactive(console_stream) if interactive is None else interactive
    ask = ask or _default_ask(console_stream)
    wanted: Set[str] = set()  # agents whose packages the user chose to install
    for env in resolve.environments(resolved):
        if env.missing:
            choice = _decide(env, args, project, ask, interactive, console_stream, extra)
            if _carry_out(choice, env, project, console, extra, ask if interactive else None) in ("i", "v"):
                wanted.update(env.affected_agents)
    return _settle(project, names, wanted, console, extra) if wanted else resolved


def _carry_out(choice: str, env: Environment, project: model.Project, console, extra: Sequence[str],
               ask: Optional[Ask]) -> str:
    """Act on `choice`; a PEP 668 refusal on a terminal offers v/c/q instead. Returns what was done."""
    from rich.markup import escape

    try:
        _act(choice, env, project, console, extra)
        return choice
    except ExternallyManagedError as error:
        if ask is None or not _offers_venv(env):
            raise
        console.print(f"{escape(error.message)}\n[dim]{escape(error.hint or '')}[/]")
        choice = ask_choice(env, project, ask, console.file, allowed={"v", "c", "q"})
        _act(choice, env, project, console, extra)
        return choice


def _settle(project: model.Project, names: Optional[Sequence[str]], wanted: Set[str], console,
            extra: Sequence[str]) -> Dict[str, ResolvedPython]:
    """Re-probe; a fresh .venv (choice v) still lacks everything, so fill it, then verify."""
    from meshcompose.pyenv import resolve

    resolved = _resolve(project, names)
    for env in resolve.environments(resolved):
        if env.missing and set(env.affected_agents) & wanted and env.is_venv:
            _install_if_new_venv(env, project, console, extra)
    resolved = _resolve(project, names)
    envs = resolve.environments(resolved)
    print_summary(console, envs)
    for env in envs:
        if set(env.affected_agents) & wanted:
            raise missing_error(env, extra)
    return resolved


def _install_if_new_venv(env: Environment, project: model.Project, console, extra: Sequence[str]) -> None:
    project_venv = os.path.abspath(Path(project.directory) / ".venv")
    if os.path.abspath(env.prefix) == project_venv:
        console.print(f"installing into {env.executable}")
        _install_with_progress(console, env.executable, env.missing, extra)

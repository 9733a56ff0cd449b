"""`run AGENT [COMMAND...]`: one agent once in the foreground, or any command
in an agent's environment (a migration, a test against the mesh), as
compose's `run`.

The agent's dependencies are brought up first (detached, or by the running
supervisor) unless `with_deps` is off. The command then gets exactly what
the agent would get (`app.launches` builds it: interpreter, working
directory, environment with the mesh variables), plus the interpreter's
`bin` first on PATH, so `python`, `pytest` or `alembic` are the venv's. It
runs here with the terminal's stdin/stdout/stderr; its exit code is the
result. Nothing is left behind: `--rm` is implicit.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from meshcompose.app.options import InstallOptions, RegistryOptions, UpOptions
from meshcompose.app.project import Notify, ignore
from meshcompose.errors import MeshComposeError, UnknownAgentError
from meshcompose.model import Project

if TYPE_CHECKING:
    from meshcompose.app.up import UpResult

EXIT_COMMAND_NOT_FOUND = 127  # as a shell says it


class CommandNotFoundError(MeshComposeError):
    exit_code = EXIT_COMMAND_NOT_FOUND


class DependenciesNotUpError(MeshComposeError):
    pass


@dataclass(frozen=True)
class RunOptions:
    agent: str
    command: tuple[str, ...] = ()  # empty: the agent's own command
    environment: Mapping[str, str] = field(default_factory=dict)  # -e KEY=VAL, on top of the agent's
    working_dir: str | None = None  # -w, relative to the agent's working directory
    with_deps: bool = True
    wait_timeout: float = 60.0
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    install: InstallOptions = field(default_factory=InstallOptions)
    notify: Notify = ignore


@dataclass(frozen=True)
class Prepared:
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str]


def run(project: Project, options: RunOptions) -> int:
    """The command's exit code (a signal N gives 128 + N, as a shell does)."""
    prepared = prepare(project, options)
    return execute(prepared)


def prepare(project: Project, options: RunOptions) -> Prepared:
    from meshcompose.app.launches import launches_for, registry_url
    from meshcompose.control import state
    from meshcompose.mesh import tracing
    from meshcompose.plan import launch, planner

    if options.agent not in project.agents:
        raise UnknownAgentError(options.agent, list(project.agents))
    planner.check(project)
    dependencies = [name for name in planner.select(project, [options.agent], with_deps=True)
                    if name != options.agent]
    if dependencies and options.with_deps:
        _start_dependencies(project, dependencies, options)
    launch.preflight([project.agents[options.agent]])
    running = state.StateStore(project.directory, project.name).read()
    url = registry_url(project, options.registry, running)
    traced = tracing.published(running.get("tracing_url") if running else None)
    spec = launches_for(project, [options.agent], url, options.registry, options.install, traced)[options.agent]
    env = {**spec.env, **options.environment}
    if spec.interpreter:  # the venv's (or the interpreter's) scripts win: `pytest` is the agent's
        env["PATH"] = os.pathsep.join([str(Path(spec.interpreter).parent), env.get("PATH", os.defpath)])
    cwd = spec.cwd / options.working_dir if options.working_dir else spec.cwd
    return Prepared(_interpreter_named(options.command, spec.interpreter) or spec.argv, cwd, env)


def _interpreter_named(command: tuple[str, ...], interpreter: str | None) -> tuple[str, ...]:
    """`python` and `python3` in a command are the agent's interpreter, also
    where its directory has only `python3` (Debian's /usr/bin)."""
    if command and interpreter and command[0] in ("python", "python3"):
        return (interpreter, *command[1:])
    return command


def _start_dependencies(project: Project, names: list[str], options: RunOptions) -> None:
    """By `start`'s rule (`up.kept_done`): a dependency that completed is not
    re-run; then waits until each of the agent's conditions holds."""
    from meshcompose.app import up

    result = up.up(project, UpOptions(dependencies_of=options.agent, detach=True, wait_timeout=options.wait_timeout,
                                      registry=options.registry, install=options.install, notify=options.notify))
    options.notify(brought_up(options.agent, result))
    if result.exit_code != 0:
        raise DependenciesNotUpError(f"the dependencies of {options.agent} are not up: {', '.join(names)}",
                                     hint="`mesh-compose ps -a` and `mesh-compose logs` say why")


def brought_up(agent: str, result: UpResult) -> str:
    """`dependencies of api: migrate completed (not re-run), db running`."""
    from meshcompose.app.up import Action

    words = {Action.COMPLETED: "completed (not re-run)", Action.RUNNING: "running",
             Action.STARTED: "started", Action.RECREATED: "recreated"}
    actions = result.actions or tuple((name, Action.STARTED) for name in result.started)
    return f"dependencies of {agent}: " + ", ".join(f"{name} {words[action]}" for name, action in actions)


def execute(prepared: Prepared) -> int:
    """Runs in the foreground: Ctrl+C reaches the command (same process
    group) and we wait for it to finish, as a shell would."""
    if not prepared.cwd.is_dir():
        raise MeshComposeError(f"working directory {prepared.cwd} does not exist")
    try:
        child = subprocess.Popen(list(prepared.argv), cwd=prepared.cwd, env=prepared.env)
    except FileNotFoundError:
        raise CommandNotFoundError(f"command not found: {prepared.argv[0]}",
                                   hint="it is looked up on the agent's PATH (its interpreter's bin first)") from None
    except PermissionError:
        raise CommandNotFoundError(f"command not executable: {prepared.argv[0]}") from None
    while True:
        try:
            code = child.wait()
            break
        except KeyboardInterrupt:
            continue  # the command got the SIGINT too; its exit decides
    return 128 - code if code < 0 else code

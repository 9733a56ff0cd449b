"""Every selected Python agent's interpreter, settled before anything starts.

Resolves the interpreters (one probe per distinct one), reports them, and
deals with missing packages once per environment, as `InstallOptions` say:
`--install` installs, `--no-install` continues, otherwise `decide` is asked
(the CLI's i/v/c/q prompt); with nobody to ask, it stops with the exact fix
command. `--install` and that fix command make the prompt's default choice:
a new project .venv when a system Python was picked. An install refused by an
externally managed system Python (PEP 668) is asked again with a new project
.venv as the way out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from meshcompose import model
from meshcompose.app.options import Decision, InstallOptions, InstallPolicy, MissingPackages
from meshcompose.errors import ExternallyManagedError, MissingPackagesError
from meshcompose.mesh.meshplan import needs_registry
from meshcompose.pyenv import install, resolve
from meshcompose.pyenv.resolve import Environment, ResolvedPython

Resolved = dict[str, ResolvedPython]
AFTER_REFUSAL = (Decision.VENV, Decision.CONTINUE, Decision.QUIT)


def ensure_environments(project: model.Project, names: Sequence[str] | None,
                        options: InstallOptions) -> Resolved:
    """The agents' final interpreters (`names` None: every agent)."""
    resolved = resolve.resolve_project(project, names)
    options.report.summary(resolve.environments(resolved))
    wanted: set[str] = set()  # agents whose packages the user chose to install
    for env in resolve.environments(resolved):
        if env.missing:
            done = _carry_out(_decide(env, project, options), env, project, options)
            if done in (Decision.INSTALL, Decision.VENV):
                wanted.update(env.affected_agents)
    return _settle(project, names, wanted, options) if wanted else resolved


def offers_venv(env: Environment) -> bool:
    """A new project .venv only helps when a system Python was picked by the fallback rules."""
    return not env.is_venv and not env.source.startswith(("agent interpreter", "project interpreter"))


def choices(env: Environment) -> tuple:
    """What may be answered, the default first: the safe one. A new .venv
    leaves a system interpreter untouched; inside a venv, installing there is safe."""
    if offers_venv(env):
        return (Decision.VENV, Decision.INSTALL, Decision.CONTINUE, Decision.QUIT)
    return (Decision.INSTALL, Decision.CONTINUE, Decision.QUIT)


def missing_error(env: Environment, project: model.Project, options: InstallOptions) -> MissingPackagesError:
    """The error with the commands the default choice would run."""
    if offers_venv(env):
        commands = install.venv_install_commands(Path(project.directory), env.executable, env.missing,
                                                 index_args=options.index_args)
    else:
        commands = [install.install_command(env.executable, env.missing, index_args=options.index_args)]
    fix = " && ".join(install.format_command(argv) for argv in commands)
    return MissingPackagesError(env.executable, env.missing, env.affected_agents, fix)


def _decide(env: Environment, project: model.Project, options: InstallOptions) -> Decision:
    if options.policy is InstallPolicy.INSTALL:
        return choices(env)[0]  # what Enter at the prompt does
    if options.policy is InstallPolicy.CONTINUE:
        return Decision.CONTINUE
    if options.decide is None:
        raise missing_error(env, project, options)
    return options.decide(MissingPackages(env, Path(project.directory), choices(env), in_mesh=in_mesh(env, project)))


def in_mesh(env: Environment, project: model.Project) -> bool:
    return any(needs_registry(project.agents[name]) for name in env.affected_agents if name in project.agents)


def _carry_out(choice: Decision, env: Environment, project: model.Project, options: InstallOptions) -> Decision:
    """Act on `choice`; a PEP 668 refusal, with someone to ask, offers v/c/q instead."""
    try:
        _act(choice, env, project, options)
        return choice
    except ExternallyManagedError as error:
        if options.decide is None or not offers_venv(env):
            raise
        options.report.refused(error)
        choice = options.decide(MissingPackages(env, Path(project.directory), AFTER_REFUSAL, refusal=error,
                                                in_mesh=in_mesh(env, project)))
        _act(choice, env, project, options)
        return choice


def _act(choice: Decision, env: Environment, project: model.Project, options: InstallOptions) -> None:
    if choice is Decision.QUIT:
        raise missing_error(env, project, options)
    if choice is Decision.CONTINUE:
        options.report.message(f"continuing without {', '.join(env.missing)} for {', '.join(env.affected_agents)}")
    elif choice is Decision.VENV:
        created = install.create_venv(Path(project.directory), env.executable)
        options.report.message(f"created {created}")
    else:
        _install(env.executable, env.missing, options)


def _install(executable: str, requirements: Sequence[str], options: InstallOptions) -> None:
    options.report.message(f"installing into {executable}")
    with options.report.installing(executable, requirements) as progress:
        install.install_packages(executable, requirements, progress=progress, index_args=options.index_args)


def _settle(project: model.Project, names: Sequence[str] | None, wanted: set[str],
            options: InstallOptions) -> Resolved:
    """Re-probe; a fresh .venv (choice v) still lacks everything, so fill it, then verify."""
    project_venv = os.path.abspath(Path(project.directory) / ".venv")
    for env in resolve.environments(resolve.resolve_project(project, names)):
        fresh_venv = env.is_venv and os.path.abspath(env.prefix) == project_venv
        if env.missing and set(env.affected_agents) & wanted and fresh_venv:
            _install(env.executable, env.missing, options)
    resolved = resolve.resolve_project(project, names)
    envs = resolve.environments(resolved)
    options.report.summary(envs)
    for env in envs:
        if set(env.affected_agents) & wanted:
            raise missing_error(env, project, options)
    return resolved
